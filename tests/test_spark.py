"""The Spark engine in local mode gives the local engine's numbers (issue 16).

One module-scoped SparkSession (``local[2]``, 2 shuffle partitions). PySpark and a Java
runtime are installed by ``make`` (the ``spark`` extra) and ``.ci/run`` (``default-jre-headless``):
in CI (``CI=true``) a missing one FAILS these tests; elsewhere they are skipped with the reason.

The reference is the local partitioned engine (:func:`analysis.models.partitioned.score_partitioned`)
on the same bucketed copy of ``data/sample``, itself tested against the in-memory engine in
``tests/test_partitions.py``; the indicators are compared with the in-memory
:func:`analysis.metrics.signals.indicators` of the whole sample. The run uses 4 snapshot dates
(``max_snapshots=4``) to keep the module within a few tens of seconds. The README's
``spark-submit`` command line is tested in ``tests/test_spark_submit.py``.
"""

from __future__ import annotations

import os
import shutil
import zlib

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ConfigError, EngineError

AS_OF = "2026-11-01"
CUT = "2026-06-01"  # a date inside the export, for the no-look-ahead test
N_BUCKETS = 3
PLAN = {"max_snapshots": 4}


def _spark_or_skip():
    """Skip (locally) or fail (in CI) without PySpark or Java."""
    try:
        import pyspark  # noqa: F401
        ok = shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))
        why = "no Java runtime (apt-get install default-jre-headless)"
    except ImportError:
        ok, why = False, "PySpark is not installed (pip install 'churn-radar[spark]')"
    if not ok:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the Spark tests must run in CI: {why}")
        pytest.skip(why)


@pytest.fixture(scope="module")
def spark():
    _spark_or_skip()
    from analysis.data.spark import SparkSettings, spark_session

    settings = SparkSettings(conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"})
    with spark_session(settings) as session:
        yield session


@pytest.fixture(scope="module")
def pds(tmp_path_factory):
    """The sample's bucketed validated copy (3 buckets) in a cache folder of its own."""
    from analysis.data.partitions import load_partitioned
    from analysis.paths import SAMPLE_DIR

    cache = tmp_path_factory.mktemp("spark-cache")
    old = os.environ.get("CHURN_RADAR_CACHE_DIR")
    os.environ["CHURN_RADAR_CACHE_DIR"] = str(cache)
    try:
        yield load_partitioned(SAMPLE_DIR, n_buckets=N_BUCKETS)
    finally:
        if old is None:
            os.environ.pop("CHURN_RADAR_CACHE_DIR", None)
        else:
            os.environ["CHURN_RADAR_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def source(spark, pds):
    from analysis.models.spark_engine import spark_source

    return spark_source(spark, pds)


# ------------------------------------------------------------------ settings (no Spark needed)
def test_spark_settings_from_dataset_yml_and_the_command_line():
    from analysis.data.spark import parse_spark_conf, parse_spark_settings

    s = parse_spark_settings({"spark.master": "spark://h:7077", "spark.executor.memory": "8g",
                              "spark.sql.shuffle.partitions": 200, "tables.orders": "s3a://b/orders/"})
    assert (s.master, s.conf, s.tables) == ("spark://h:7077", {"spark.executor.memory": "8g",
                                                                "spark.sql.shuffle.partitions": "200"},
                                            {"orders": "s3a://b/orders/"})
    merged = s.merged(parse_spark_conf(["spark.master=local[4]", "spark.executor.memory = 2g"]))
    assert merged.master == "local[4]" and merged.conf["spark.executor.memory"] == "2g"
    for bad in ({"master": "local"}, {"tables.order": "x"}):
        with pytest.raises(ConfigError, match="dataset.yml: engine.spark"):
            parse_spark_settings(bad)
    with pytest.raises(ConfigError, match="--spark-conf 'executor=1'"):
        parse_spark_conf(["executor=1"])


def test_without_pyspark_the_error_names_what_to_install(monkeypatch):
    import builtins

    from analysis.data import spark as sp

    real = builtins.__import__

    def no_pyspark(name, *args, **kwargs):
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(EngineError, match=r"pip install 'churn-radar\[spark\]'"):
        sp.require_spark()


def test_without_java_the_error_names_a_java_runtime(monkeypatch):
    _spark_or_skip()
    from analysis.data import spark as sp

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(sp.shutil, "which", lambda _name: None)
    with pytest.raises(EngineError, match="Java runtime.*default-jre-headless"):
        sp.require_spark()


def test_cli_engine_spark_without_pyspark_is_one_line_naming_the_extra(monkeypatch, tmp_path, capsys):
    import builtins

    from analysis.cli import main
    from analysis.paths import SAMPLE_DIR

    real = builtins.__import__

    def no_pyspark(name, *args, **kwargs):
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    code = main(["score", str(SAMPLE_DIR), "--as-of", AS_OF, "--out", str(tmp_path / "s.csv"), "--engine", "spark"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "pip install 'churn-radar[spark]'" in err[0] and err[0].startswith("error: ")
    assert not (tmp_path / "s.csv").exists()


# ------------------------------------------------------------------ Spark in local mode
def test_spark_buckets_are_the_local_engines_buckets(spark, source):
    """F.crc32 in Spark = zlib.crc32 of the UTF-8 id = the bucket file the local engine wrote."""
    from pyspark.sql import functions as F

    from analysis.data.spark import bucket_column

    seen = source.frame.select("bucket", "_file").distinct().toPandas()
    assert len(seen) > 1
    assert (seen["_file"].str.extract(r"bucket-(\d+)")[0].astype(int) == seen["bucket"]).all()
    ids = ["17850", "00042", "é-ü", "C-1"]
    got = (spark.createDataFrame(pd.DataFrame({"customer_id": ids}))
           .select(bucket_column(F.col("customer_id"), 7).alias("b")).toPandas()["b"].tolist())
    assert got == [zlib.crc32(i.encode("utf-8")) % 7 for i in ids]


@pytest.fixture(scope="module")
def spark_indicators(spark, source):
    from analysis.models.spark_engine import indicators_spark

    return indicators_spark(spark, source, [pd.Timestamp(CUT), pd.Timestamp(AS_OF)])


def test_indicators_at_one_date_equal_the_in_memory_ones(spark_indicators, pds):
    import analysis
    from analysis.metrics.signals import indicators

    dates = [pd.Timestamp(CUT), pd.Timestamp(AS_OF)]
    got = spark_indicators
    ref = indicators(analysis.load(pds.path), dates)
    ref = ref.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)
    assert len(got) == len(ref) and got["as_of"].eq(pd.Timestamp(AS_OF)).sum() == 3000
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=0, atol=1e-9)


def test_spark_indicators_read_nothing_on_or_after_as_of(spark, source, spark_indicators):
    """Removing every event on or after as_of from the Spark tables changes no indicator."""
    from dataclasses import replace

    from pyspark.sql import functions as F

    from analysis.data.schema import TABLES
    from analysis.models.spark_engine import indicators_spark

    cut = pd.Timestamp(CUT)
    keep = F.lit(True)
    for table, spec in TABLES.items():
        col = f"{table}__{spec.time_column}"
        if spec.time_column and col in source.frame.columns:
            keep = keep & ~((F.col("_table") == table) & (F.col(col) >= F.lit(cut.value)))
    past = replace(source, frame=source.frame.filter(keep))
    assert past.frame.count() < source.frame.count()
    full = spark_indicators.loc[spark_indicators["as_of"] == cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(indicators_spark(spark, past, [cut]), full, check_exact=True)


@pytest.fixture(scope="module")
def scored(spark, source, pds, tmp_path_factory):
    from analysis.models.partitioned import score_partitioned
    from analysis.models.spark_engine import score_spark

    out = tmp_path_factory.mktemp("spark-scores") / "scores"
    run = score_spark(spark, source, AS_OF, scores_path=out, collect=True, **PLAN)
    local = score_partitioned(pds, AS_OF, **PLAN)
    return run, local, out


def test_spark_scores_equal_the_local_engines(scored):
    run, local, _ = scored
    a, b = run.result.scores, local.scores
    assert len(a) == len(b) == run.n_scored == 2345
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=False, rtol=0, atol=1e-9)
    assert a["status"].tolist() == b["status"].tolist()
    assert run.fitted.backtest.best_model == local.backtest.best_model
    np.testing.assert_allclose(run.fitted.backtest.metrics["auc"].to_numpy(),
                               local.backtest.metrics["auc"].to_numpy(), rtol=0, atol=1e-12)


def test_spark_call_list_from_spark_equals_the_local_one(scored):
    """The call list ordered and cut in Spark (not from the collected scores) is the local one."""
    run, local, _ = scored
    top = run.call.scores.reset_index(drop=True)
    assert len(top) == local.capacity == 150
    pd.testing.assert_frame_equal(top, local.call_list.reset_index(drop=True), check_exact=False, rtol=0, atol=1e-9)


def test_spark_writes_every_score_as_parquet(scored):
    run, local, out = scored
    written = pd.read_parquet(out)
    assert len(written) == len(local.scores)
    assert set(written["customer_id"]) == set(local.scores["customer_id"])
    merged = written.merge(local.scores, on="customer_id", suffixes=("", "_local"))
    np.testing.assert_allclose(merged["churn_probability"], merged["churn_probability_local"], rtol=0, atol=1e-9)


# ------------------------------------------------------------------ CDNOW: a real transaction log
CDNOW_AS_OF = "1998-01-01"  # + 180 days = 30 June 1998, the export's last day: the forward check runs
CDNOW_DATES = [pd.Timestamp("1997-07-01"), pd.Timestamp(CDNOW_AS_OF)]
CDNOW_YML = ("business_model: non_contractual\ncurrency: USD\nlanguage: en\nobserved_until: 1998-06-30\n"
             "thresholds:\n  churn_horizon_days: 180\n")


@pytest.fixture(scope="module")
def cdnow(spark, pds):
    """Full CDNOW in memory, its bucketed copy (4 buckets) and its Spark source (the ``pds``
    fixture has set this module's cache folder)."""
    import analysis
    from analysis.data.partitions import load_partitioned
    from analysis.models.spark_engine import spark_source
    from analysis.paths import EXAMPLES_DIR

    ds = analysis.load(EXAMPLES_DIR / "cdnow", cache=False)
    cpds = load_partitioned(EXAMPLES_DIR / "cdnow", n_buckets=4)
    src = spark_source(spark, cpds)
    yield ds, cpds, src
    src.release()


def test_spark_indicators_of_cdnow_equal_the_in_memory_ones(spark, cdnow):
    from analysis.metrics.signals import indicators
    from analysis.models.spark_engine import indicators_spark

    ds, _, src = cdnow
    got = indicators_spark(spark, src, CDNOW_DATES)
    ref = indicators(ds, CDNOW_DATES).sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)
    assert got["as_of"].eq(pd.Timestamp(CDNOW_AS_OF)).sum() == 23_570
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=0, atol=1e-9)


def test_spark_survival_inputs_and_retention_matrix_of_cdnow_equal_the_in_memory_ones(spark, cdnow):
    from analysis.metrics.cohorts import customer_lifetimes, retention_matrix
    from analysis.models.spark_engine import lifetimes_spark, retention_matrix_spark

    ds, _, src = cdnow
    life = lifetimes_spark(spark, src, CDNOW_AS_OF)
    pd.testing.assert_frame_equal(life, customer_lifetimes(ds, CDNOW_AS_OF), check_exact=True)
    got = retention_matrix_spark(spark, src, CDNOW_AS_OF, lifetimes=life)
    want = retention_matrix(ds, CDNOW_AS_OF)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-12)
    # by hand: everybody first bought in Q1 1997, so three monthly cohorts holding the 23,570 customers
    sizes = got.groupby("cohort")["cohort_size"].first()
    assert list(sizes.index.strftime("%Y-%m")) == ["1997-01", "1997-02", "1997-03"] and sizes.sum() == 23_570
    assert (got.loc[got["age"].eq(0), "value"] == 1.0).all()  # nobody is lost in the month of signup


def test_spark_retention_matrix_reads_nothing_on_or_after_as_of(spark, cdnow):
    """The survival inputs at 1997-10-01 from the Spark tables cut at that date are the same."""
    from dataclasses import replace

    from pyspark.sql import functions as F

    from analysis.models.spark_engine import lifetimes_spark

    _, _, src = cdnow
    cut = pd.Timestamp("1997-10-01")
    past = replace(src, frame=src.frame.filter(~((F.col("_table") == "orders")
                                                 & (F.col("orders__order_date") >= F.lit(cut.value)))))
    pd.testing.assert_frame_equal(lifetimes_spark(spark, past, cut), lifetimes_spark(spark, src, cut),
                                  check_exact=True)


@pytest.fixture(scope="module")
def cdnow_subset(cdnow, tmp_path_factory):
    """The customers of 2 of 16 hash buckets of CDNOW (about 3,000, all their rows) as an
    export of its own, in memory and as a bucketed copy of 3 buckets."""
    import analysis
    from analysis.data.partitions import bucket_of, load_partitioned

    ds = cdnow[0]
    folder = tmp_path_factory.mktemp("cdnow-subset")
    for table, frame in ds.tables.items():
        frame.loc[np.isin(bucket_of(frame["customer_id"], 16), [0, 1])].to_parquet(
            folder / f"{table}.parquet", index=False)
    (folder / "dataset.yml").write_text(CDNOW_YML, encoding="utf-8")
    return folder, analysis.load(folder, cache=False), load_partitioned(folder, n_buckets=3)


@pytest.fixture(scope="module")
def cdnow_scored(spark, cdnow_subset):
    from analysis.models.classifier import forward_evaluation, score
    from analysis.models.spark_engine import score_spark, spark_source

    _, sub, spds = cdnow_subset
    src = spark_source(spark, spds)
    run = score_spark(spark, src, CDNOW_AS_OF, collect=True, evaluate=True)
    src.release()
    want = score(sub, CDNOW_AS_OF)
    return run, want, forward_evaluation(sub, want)


def test_spark_scores_of_a_cdnow_subset_equal_the_in_memory_ones(cdnow_subset, cdnow_scored):
    run, want, _ = cdnow_scored
    sub = cdnow_subset[1]
    assert 2_500 < len(sub.customers) < 3_500 and run.n_scored == len(want.scores) == len(sub.customers)
    assert run.fitted.n_training_rows == run.fitted.n_labelled_rows  # below the cap: every row, as in memory
    pd.testing.assert_frame_equal(run.fitted.backtest.metrics, want.backtest.metrics, rtol=1e-9)
    pd.testing.assert_frame_equal(run.result.scores.reset_index(drop=True), want.scores.reset_index(drop=True),
                                  check_exact=False, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(run.call_list, want.call_list.reset_index(drop=True),
                                  check_exact=False, rtol=0, atol=1e-9)


def test_spark_forward_check_of_a_cdnow_subset_equals_the_in_memory_one(cdnow_scored):
    run, want, fwd = cdnow_scored
    assert fwd is not None and run.forward is not None
    assert fwd.loc[("all", "model"), "n"] == len(want.scores)  # every customer, not only the call list
    pd.testing.assert_frame_equal(run.forward, fwd, check_exact=False, rtol=1e-9, atol=1e-12)
    assert 0.5 < fwd.loc[("all", "model"), "auc"] < 1.0


def test_spark_forward_check_is_none_when_the_export_stops_too_early(spark, source, scored):
    """On the sample, as_of + 90 days runs past the export's end: nothing is measured."""
    from analysis.models.spark_engine import forward_spark

    run, local, _ = scored
    assert run.call.as_of + pd.Timedelta(days=run.call.horizon_days) > source.context["observed_until"]
    assert run.forward is None and forward_spark(spark, source, source.frame, run.call, local.scores) is None


def test_spark_customer_kpis_equal_the_in_memory_ones(spark, cdnow, source, pds):
    """Per-bucket counts in Spark, summed on the driver: the in-memory customer KPIs, on CDNOW
    (non-contractual) and on the sample (contracts, churn dates, every table)."""
    import analysis
    from analysis.metrics.kpis import customer_kpis
    from analysis.models.spark_engine import customer_kpis_spark

    ds, _, src = cdnow
    for got, want in ((customer_kpis_spark(spark, src, CDNOW_AS_OF), customer_kpis(ds, CDNOW_AS_OF)),
                      (customer_kpis_spark(spark, source, AS_OF), customer_kpis(analysis.load(pds.path), AS_OF))):
        assert len(got) > 10 and got["lost_customers"].sum() > 0
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-12)


def test_cli_score_engine_spark_evaluate_prints_the_in_memory_forward_check(cdnow_subset, cdnow_scored, tmp_path,
                                                                           capsys):
    """``churn-radar score --engine spark --evaluate`` (the module's session reused): the forward
    AUC line of the in-memory scores, every score written by Spark, the call list in OUT."""
    from analysis.cli import _auc_line, main

    folder = cdnow_subset[0]
    _, want, fwd = cdnow_scored
    out = tmp_path / "calls.csv"
    code = main(["score", str(folder), "--as-of", CDNOW_AS_OF, "--out", str(out), "--engine", "spark",
                 "--buckets", "3", "--evaluate", "--quiet"])
    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert _auc_line("forward AUC", fwd, "model") in printed
    every = pd.read_parquet(tmp_path / "calls-all-scores").merge(want.scores, on="customer_id", suffixes=("", "_mem"))
    assert len(every) == len(want.scores)
    np.testing.assert_allclose(every["churn_probability"], every["churn_probability_mem"], rtol=0, atol=1e-9)
    calls = pd.read_parquet(out.with_suffix(".parquet"))
    assert calls["customer_id"].tolist() == want.call_list["customer_id"].head(len(calls)).tolist()


def test_spark_features_of_cdnow_equal_the_in_memory_ones(spark, cdnow):
    """BG/NBD fitted on the summaries gathered from Spark, then the features per bucket in Spark:
    the in-memory feature rows of the whole of CDNOW (the fits of the in-memory path too)."""
    from analysis.models.features import features
    from analysis.models.partitioned import fit_bgnbd, plan_run
    from analysis.models.spark_engine import _rfm, features_spark, map_buckets

    ds, cpds, src = cdnow
    plan = plan_run(cpds, CDNOW_AS_OF)
    fits = fit_bgnbd(map_buckets(spark, src, _rfm, plan), plan, dates=CDNOW_DATES)
    whole_fits: list = []
    want = features(ds, CDNOW_DATES, horizon_days=180, bgnbd_fits=whole_fits)
    assert fits.records == whole_fits
    got = features_spark(spark, src, CDNOW_DATES, 180, fits.models)
    want = want.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-9)


# ------------------------------------------------------------------ email KPIs and retention matrices (not per customer)
@pytest.fixture(scope="module")
def sample(pds):
    """The whole sample in memory (the reference of the aggregates)."""
    import analysis

    return analysis.load(pds.path)


def _before(source, cut: pd.Timestamp):
    """``source`` without any event on or after ``cut`` (every dated table)."""
    from dataclasses import replace

    from pyspark.sql import functions as F

    from analysis.data.schema import TABLES

    keep = F.lit(True)
    for table, spec in TABLES.items():
        col = f"{table}__{spec.time_column}"
        if spec.time_column and col in source.frame.columns:
            keep = keep & ~((F.col("_table") == table) & (F.col(col) >= F.lit(cut.value)))
    return replace(source, frame=source.frame.filter(keep))


def test_spark_email_kpis_equal_the_in_memory_ones(spark, source, sample):
    """Per month; per month and a segment table that changes every month (broadcast); per
    campaign and engagement segment (the segment on the send day): the in-memory frame (a
    customer attribute by campaign: the no-look-ahead test below). A campaign's time is its
    first send over the whole base, not per bucket."""
    from analysis.metrics.kpis import complete_months, email_kpis
    from analysis.models.spark_engine import email_kpis_spark

    months = pd.DataFrame({"as_of": complete_months(sample, AS_OF)})
    table = sample.customers[["customer_id", "plan"]].merge(months, how="cross")
    table["segment"] = table["plan"].astype(str) + np.where(table["as_of"].dt.month % 2 == 0, "/even", "/odd")
    got = {}
    for by, segment in (("month", None), ("month", table), ("campaign", "email_segment")):
        key = (by, None if segment is None else "table" if isinstance(segment, pd.DataFrame) else segment)
        got[key] = email_kpis_spark(spark, source, AS_OF, by=by, segment=segment)
        want = email_kpis(sample, AS_OF, by=by, segment=segment)
        assert len(got[key]) > 10 and got[key]["sent"].sum() > 10_000
        pd.testing.assert_frame_equal(got[key], want, check_exact=False, rtol=1e-9, atol=1e-12)
    assert got["month", "table"]["segment"].str.endswith("/odd").any()
    # by hand from the raw events: distinct (campaign, customer) pairs sent to, first send per campaign
    ev = sample.email_events.loc[sample.email_events["event_time"] < pd.Timestamp(AS_OF)]
    sent = ev.loc[ev["event"] == "sent"]
    by_campaign = got["campaign", "email_segment"]
    assert by_campaign["sent"].sum() == len(sent[["campaign_id", "customer_id"]].drop_duplicates())
    first = sent.groupby("campaign_id", observed=True)["event_time"].min()
    times = by_campaign.groupby("campaign_id")["campaign_time"].first()
    assert len(times) == len(first) and (times.to_numpy() == first.reindex(times.index).to_numpy()).all()


def test_spark_email_kpis_with_the_machine_open_correction_equal_the_in_memory_ones(spark, source, sample):
    from dataclasses import replace

    from analysis.metrics.kpis import email_kpis
    from analysis.models.spark_engine import email_kpis_spark

    # the sample's opens come minutes after delivery: with a one-hour window many are machine opens
    th = replace(sample.config.kpi_thresholds, machine_open_seconds=3600)
    got = email_kpis_spark(spark, source, AS_OF, by="campaign", open_correction=True, thresholds=th)
    want = email_kpis(sample, AS_OF, by="campaign", open_correction=True, thresholds=th)
    assert got["openers"].sum() < email_kpis(sample, AS_OF, by="campaign")["openers"].sum()
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-12)


def test_spark_email_kpis_read_nothing_on_or_after_as_of(spark, source, sample):
    """Every event on or after CUT removed from the Spark tables: the KPIs at CUT of the whole
    sample in memory (the opens after CUT of campaigns sent before it are not read)."""
    from analysis.metrics.kpis import email_kpis
    from analysis.models.spark_engine import email_kpis_spark

    cut = pd.Timestamp(CUT)
    full = email_kpis(sample, cut, by="campaign", segment="plan")
    assert len(full) > 5 and full["campaign_time"].max() < cut
    pd.testing.assert_frame_equal(email_kpis_spark(spark, _before(source, cut), cut, by="campaign", segment="plan"),
                                  full, check_exact=False, rtol=1e-9, atol=1e-12)


def test_spark_email_kpis_refuse_what_the_in_memory_code_refuses(spark, source):
    from analysis.models.spark_engine import email_kpis_spark

    with pytest.raises(ConfigError, match="by is 'week'"):
        email_kpis_spark(spark, source, AS_OF, by="week")
    with pytest.raises(ConfigError, match="segment 'colour' is not a column of the customers table"):
        email_kpis_spark(spark, source, AS_OF, segment="colour")
    with pytest.raises(ConfigError, match="'email' cannot be used as a segment"):
        email_kpis_spark(spark, source, AS_OF, segment="email")


def test_spark_revenue_and_activity_matrices_equal_the_in_memory_ones(spark, source, sample):
    """Monthly and quarterly cohorts of the sample (a quarter's cohort ends at different months
    in different buckets: the observable cells are those of the whole base)."""
    from analysis.metrics.cohorts import retention_matrix
    from analysis.models.spark_engine import retention_matrix_spark

    for metric, period in (("revenue", "M"), ("activity", "Q")):
        got = retention_matrix_spark(spark, source, AS_OF, period, metric)
        want = retention_matrix(sample, AS_OF, period, metric)
        assert got["observable"].sum() > 20 and got["numerator"].sum() > 0
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-9)
    with pytest.raises(ConfigError, match="metric is 'margin'"):
        retention_matrix_spark(spark, source, AS_OF, metric="margin")


def test_spark_revenue_matrix_reads_nothing_on_or_after_as_of(spark, source, sample):
    """Every event on or after CUT removed from the Spark tables: the matrix at CUT of the whole
    sample in memory."""
    from analysis.metrics.cohorts import retention_matrix
    from analysis.models.spark_engine import retention_matrix_spark

    cut = pd.Timestamp(CUT)
    full = retention_matrix(sample, cut, metric="revenue", max_age=6)
    assert full["observable"].any() and len(full) == full["cohort"].nunique() * 7
    pd.testing.assert_frame_equal(retention_matrix_spark(spark, _before(source, cut), cut, metric="revenue",
                                                         max_age=6), full, check_exact=False, rtol=1e-9, atol=1e-9)


def test_spark_revenue_and_activity_matrices_of_cdnow_equal_the_in_memory_ones(spark, cdnow):
    from analysis.metrics.cohorts import retention_matrix
    from analysis.models.spark_engine import retention_matrix_spark

    ds, _, src = cdnow
    got = retention_matrix_spark(spark, src, CDNOW_AS_OF, metric="revenue")
    pd.testing.assert_frame_equal(got, retention_matrix(ds, CDNOW_AS_OF, metric="revenue"),
                                  check_exact=False, rtol=1e-9, atol=1e-9)
    # by hand: the January 1997 cohort's month-0 revenue is the net amount of its customers' January orders
    jan = ds.customers.loc[ds.customers["signup_date"].dt.to_period("M") == pd.Period("1997-01"), "customer_id"]
    o = ds.orders
    want = o.loc[o["customer_id"].isin(jan) & (o["order_date"].dt.to_period("M") == pd.Period("1997-01")), "amount"]
    cell = got.loc[(got["cohort"] == pd.Timestamp("1997-01-01")) & got["age"].eq(0)].iloc[0]
    assert cell["numerator"] == pytest.approx(want.sum(), rel=1e-12) and cell["value"] == 1.0
    act = retention_matrix_spark(spark, src, CDNOW_AS_OF, metric="activity")
    pd.testing.assert_frame_equal(act, retention_matrix(ds, CDNOW_AS_OF, metric="activity"),
                                  check_exact=False, rtol=1e-9, atol=1e-9)
    assert (act.loc[act["age"].eq(0), "value"] == 1.0).all()  # everybody bought in their signup month


def test_spark_machine_open_correction_on_dates_only_is_one_clear_error(spark, source):
    """Events at midnight everywhere: the in-memory error. At midnight in one bucket only (the
    others timed): refused on Spark, naming the buckets, rather than a different figure."""
    from dataclasses import replace

    from pyspark.sql import functions as F

    from analysis.errors import DataError
    from analysis.models.spark_engine import email_kpis_spark

    day = 86_400 * 10**9
    t = F.col("email_events__event_time")
    for which, match in ((F.lit(True), "holds dates only"), (F.col("bucket") == 0, "1 of 3 Spark bucket")):
        dated = replace(source, frame=source.frame.withColumn("email_events__event_time",
                                                              F.when(which, t - t % day).otherwise(t)))
        with pytest.raises(DataError, match=match):
            email_kpis_spark(spark, dated, AS_OF, open_correction=True)


def test_spark_quarterly_matrix_when_a_buckets_cohorts_end_earlier(spark, source, sample):
    """Bucket 0 without its customers signed up in the last month of a quarter: its quarterly
    cohorts end a month earlier than the base's, so it could observe one more age; the matrix
    keeps the whole base's observable cells (the in-memory matrix of the same customers)."""
    from dataclasses import replace

    from pyspark.sql import functions as F

    from analysis.data.partitions import bucket_of
    from analysis.metrics.cohorts import retention_matrix
    from analysis.models.spark_engine import retention_matrix_spark

    c = sample.customers
    drop = c.loc[(bucket_of(c["customer_id"], N_BUCKETS) == 0) & (c["signup_date"].dt.month % 3 == 0), "customer_id"]
    assert 100 < len(drop) < 1_000
    gone = F.lit(False)
    for table in sample.tables:
        gone = gone | ((F.col("_table") == table) & F.col(f"{table}__customer_id").isin(*drop.tolist()))
    fewer = replace(source, frame=source.frame.filter(~gone))
    kept = {t: f.loc[~f["customer_id"].isin(drop)].reset_index(drop=True) for t, f in sample.tables.items()}
    want = retention_matrix(replace(sample, **kept), AS_OF, "Q", "revenue")
    got = retention_matrix_spark(spark, fewer, AS_OF, "Q", "revenue")
    assert got["observable"].sum() > 10
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-9)
    # the case is real: bucket 0 alone observes cells that the base does not
    zero = c.loc[(bucket_of(c["customer_id"], N_BUCKETS) == 0) & ~c["customer_id"].isin(drop), "customer_id"]
    alone = retention_matrix(replace(sample, **{t: f.loc[f["customer_id"].isin(zero)].reset_index(drop=True)
                                                for t, f in sample.tables.items()}), AS_OF, "Q", "revenue")
    both = alone.merge(want, on=["cohort", "age"], suffixes=("_0", ""))
    assert (both["observable_0"] & ~both["observable"]).sum() > 0
