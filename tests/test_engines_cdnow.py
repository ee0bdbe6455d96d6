"""Both engines give the same numbers on CDNOW too (issue 16): the local partitioned engine
with several buckets against the in-memory code, on a real transaction log.

CDNOW (``examples/cdnow``: 23,570 customers, 69,659 orders, non-contractual, 180-day
horizon): the six indicators and the features of the whole base at two dates, computed on 4
buckets of the bucketed validated copy, equal the in-memory ones (1e-9); the scores of a
subset (the customers of 2 of 16 hash buckets, about 3,000 with every one of their real
rows: the full base takes ~25 s in memory, see ``benchmarks/engines_equal.py``) scored on 3
buckets equal the in-memory scores. Spark on CDNOW is in ``tests/test_spark.py`` (one
SparkSession). Also: a bucket whose customers have no row of a table the base has gives
their values as customers without rows (0 revenue), not NaN; the bucketed copy warns when no
``business_model`` is set, as :func:`analysis.load` does.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from test_partitions import _close

import analysis
from analysis.data.dataset import Dataset
from analysis.data.partitions import bucket_of, iter_partitions, load_partitioned
from analysis.metrics.signals import indicators
from analysis.models.classifier import forward_evaluation, score
from analysis.models.features import KEYS, features
from analysis.models.partitioned import (
    fit_bgnbd,
    forward_evaluation_partitioned,
    plan_run,
    rfm_part,
    score_partitioned,
)
from analysis.paths import EXAMPLES_DIR

CDNOW = EXAMPLES_DIR / "cdnow"
AS_OF = "1998-01-01"  # + 180 days = 30 June 1998, the export's last day: the forward check is possible
DATES = pd.to_datetime(["1997-07-01", AS_OF])


def cdnow_subset(ds: Dataset, buckets=(0, 1), of: int = 16) -> Dataset:
    """The customers of ``buckets`` of ``of`` hash buckets, with every row of theirs."""
    keep = {t: f.loc[np.isin(bucket_of(f["customer_id"], of), list(buckets))].reset_index(drop=True)
            for t, f in ds.tables.items()}
    return Dataset(**keep, config=ds.config, report=ds.report, path=ds.path,
                   observed_from=ds.observed_from, observed_until=ds.observed_until)


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    """CDNOW in memory and as a bucketed validated copy (4 buckets, a cache folder of its own)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURN_RADAR_CACHE_DIR", str(tmp_path_factory.mktemp("cdnow-cache")))
    try:
        yield analysis.load(CDNOW, cache=False), load_partitioned(CDNOW, n_buckets=4)
    finally:
        mp.undo()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEYS, kind="stable").reset_index(drop=True)


def test_bucketed_copy_of_cdnow_holds_every_row(cdnow):
    ds, pds = cdnow
    assert (len(ds.customers), len(ds.orders)) == (23_570, 69_659)  # the published counts
    parts = list(iter_partitions(pds))
    assert [len(p.customers) > 0 for p in parts] == [True] * 4
    assert sum(len(p.orders) for p in parts) == 69_659 and sum(len(p.customers) for p in parts) == 23_570
    rep = pds.report.tables["orders"]
    assert rep.rows_read == rep.rows_kept + rep.rows_quarantined == ds.report.tables["orders"].rows_read


def test_indicators_of_cdnow_on_four_buckets_equal_the_in_memory_ones(cdnow):
    ds, pds = cdnow
    want = _sorted(indicators(ds, DATES))
    got = _sorted(pd.concat([indicators(p, DATES) for p in iter_partitions(pds)], ignore_index=True))
    assert len(want) == 2 * 23_570 - int((ds.customers["signup_date"] >= DATES[0]).sum())
    _close(want, got)
    # and they are not trivially equal: the base's revenue share of a quarter is a whole-base figure
    assert want["revenue_share_q"].gt(0).sum() > 1000 and want["revenue_12m"].notna().all()


def test_partitioned_indicators_of_cdnow_read_nothing_on_or_after_as_of(cdnow):
    ds, pds = cdnow
    past = ds.before(pd.Timestamp(AS_OF))
    assert len(past.orders) < len(ds.orders)
    at = pd.DatetimeIndex([pd.Timestamp(AS_OF)])
    full = _sorted(pd.concat([indicators(p, at) for p in iter_partitions(pds)], ignore_index=True))
    cut = _sorted(pd.concat([indicators(p, at) for p in iter_partitions(past, n_buckets=4)], ignore_index=True))
    _close(full, cut)


def test_features_of_cdnow_on_four_buckets_equal_the_in_memory_ones(cdnow):
    """With each date's BG/NBD fitted on the summaries of every bucket (the buyer sample of
    the in-memory fit), the feature rows are the in-memory ones."""
    ds, pds = cdnow
    plan = plan_run(pds, AS_OF)
    assert plan.horizon_days == 180 and not plan.config.contractual
    parts = list(iter_partitions(pds))
    fits = fit_bgnbd([rfm_part(p, plan) for p in parts], plan, dates=DATES)
    whole_fits: list = []
    want = features(ds, DATES, horizon_days=180, bgnbd_fits=whole_fits)
    assert fits.records == whole_fits and [r["status"] for r in whole_fits] == ["ok", "ok"]
    got = pd.concat([features(p, DATES, horizon_days=180, bgnbd=fits.models) for p in parts], ignore_index=True)
    got = got.reindex(columns=want.columns)
    dummies = [c for c in want.columns if c.startswith(("is_", "seg_"))]
    got[dummies] = got[dummies].fillna(0.0)  # a partition lacks the one-hot columns of absent levels
    _close(want, _sorted(got))
    assert want["bgnbd_expected_purchases"].notna().all()


@pytest.fixture(scope="module")
def subset_scores(cdnow):
    ds, _ = cdnow
    sub = cdnow_subset(ds)
    return sub, score(sub, AS_OF), score_partitioned(sub, AS_OF, n_buckets=3, progress=lambda _: None)


def test_scores_of_a_cdnow_subset_on_three_buckets_equal_the_in_memory_ones(subset_scores):
    sub, want, got = subset_scores
    assert 2_500 < len(sub.customers) < 3_500 and len(want.scores) == len(sub.customers)
    assert got.training_rows == got.labelled_rows  # the cap is not binding: every row, as in memory
    pd.testing.assert_frame_equal(got.backtest.metrics, want.backtest.metrics, rtol=1e-9)
    _close(want.scores, got.scores)
    assert got.bgnbd_fits == want.bgnbd_fits and got.n_known == want.n_known


def test_forward_check_of_a_cdnow_subset_on_three_buckets_equals_the_in_memory_one(subset_scores):
    sub, want, got = subset_scores
    a, b = forward_evaluation(sub, want), forward_evaluation_partitioned(sub, got, n_buckets=3)
    assert a is not None and a.loc[("all", "model"), "n"] == len(sub.customers)
    pd.testing.assert_frame_equal(a, b, rtol=1e-9)


# --------------------------------------------------------- a bucket without rows of a table
def _shop() -> dict[str, pd.DataFrame]:
    """Six customers; with 2 buckets, only the customers of bucket 0 bought or got email."""
    ids = [f"C{i}" for i in range(1, 7)]
    buck = bucket_of(pd.Series(ids, dtype="string"), 2)
    assert set(buck) == {0, 1}
    buyers = [c for c, b in zip(ids, buck, strict=True) if b == 0]
    customers = pd.DataFrame({"customer_id": ids, "signup_date": "2026-01-05"})
    orders = pd.DataFrame({"customer_id": buyers, "order_date": "2026-03-02", "amount": 40.0})
    email = pd.DataFrame({"customer_id": buyers, "campaign_id": "K1", "event_time": "2026-03-10 10:00",
                          "event": "delivered"})
    return {"customers": customers, "orders": orders, "email_events": email}


def test_a_bucket_without_orders_gives_customers_without_orders_not_nan(tmp_path, monkeypatch):
    from analysis.data.config import DatasetConfig

    frames = _shop()
    ds = analysis.from_frames(**frames, config=DatasetConfig(business_model="non_contractual"))
    at = pd.DatetimeIndex(["2026-04-01"])
    want = _sorted(indicators(ds, at))
    idle = set(frames["customers"]["customer_id"]) - set(frames["orders"]["customer_id"])
    # by hand: no order in the 12 months before 1 April: revenue 0 (not NaN), 0 % of the quarter's revenue
    rows = want.set_index("customer_id")
    assert (rows.loc[sorted(idle), "revenue_12m"] == 0.0).all()
    assert (rows.loc[sorted(idle), "revenue_share_q"] == 0.0).all()
    assert (rows.drop(index=sorted(idle))["revenue_12m"] == 40.0).all()
    parts = list(iter_partitions(ds, n_buckets=2))
    assert parts[1].orders.empty and len(parts[1].customers) == len(idle)
    _close(want, _sorted(pd.concat([indicators(p, at) for p in parts], ignore_index=True)))
    # the same from a folder, through the bucketed copy (which tables the base has: its files)
    monkeypatch.setenv("CHURN_RADAR_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "shop"
    folder.mkdir()
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "dataset.yml").write_text("business_model: non_contractual\n", encoding="utf-8")
    pds = load_partitioned(folder, n_buckets=2)
    got = _sorted(pd.concat([indicators(p, at) for p in iter_partitions(pds)], ignore_index=True))
    _close(_sorted(indicators(analysis.load(folder, cache=False), at)), got)
    feats = pd.concat([features(p, at, horizon_days=90) for p in iter_partitions(pds)], ignore_index=True)
    assert feats.loc[feats["customer_id"].isin(idle), "revenue_12m"].eq(0.0).all()


def test_bucketed_copy_warns_without_a_business_model(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURN_RADAR_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "shop"
    folder.mkdir()
    _shop()["orders"].to_csv(folder / "orders.csv", index=False)
    for _ in range(2):  # written, then reused: both warn
        with pytest.warns(UserWarning, match="no business_model is set.*business_model: non_contractual"):
            load_partitioned(folder, n_buckets=2)
    (folder / "dataset.yml").write_text("business_model: contractual\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_partitioned(folder, n_buckets=2)  # declared: the user chose contractual


# ------------------------------------------------------------------ KPIs and cohort tables
def test_kpis_and_cohort_tables_of_cdnow_over_the_bucketed_copy_equal_the_in_memory_ones(cdnow):
    """The local engine's aggregates: DuckDB SQL over the 4-bucket copy (the twins of
    :mod:`analysis.metrics.aggregates`) give the in-memory customer KPIs, survival inputs and
    retention matrices (customers and revenue) of CDNOW."""
    from analysis.data.warehouse import Warehouse
    from analysis.metrics import cohorts, kpis

    ds, pds = cdnow
    with Warehouse.from_partitioned(pds) as wh:
        assert wh.rows("orders") == 69_659
        want = kpis.customer_kpis(ds, AS_OF)
        pd.testing.assert_frame_equal(kpis.customer_kpis(wh, AS_OF), want, check_exact=False, rtol=1e-9,
                                      atol=1e-12)
        pd.testing.assert_frame_equal(cohorts.customer_lifetimes(wh, AS_OF), cohorts.customer_lifetimes(ds, AS_OF))
        for metric in ("customers", "revenue"):
            pd.testing.assert_frame_equal(cohorts.retention_matrix(wh, AS_OF, metric=metric),
                                          cohorts.retention_matrix(ds, AS_OF, metric=metric),
                                          check_exact=False, rtol=1e-9, atol=1e-12)
    # by hand: CDNOW's customers all first bought in Q1 1997 (new in Jan, Feb, Mar only),
    # and December 1997 revenue is the sum of that month's orders
    assert want["new_customers"].sum() == 23_570 and want.loc[want["month"] >= "1997-04-01", "new_customers"].eq(0).all()
    dec = ds.orders.loc[ds.orders["order_date"].dt.strftime("%Y-%m") == "1997-12", "amount"].sum()
    assert want.set_index("month").loc["1997-12-01", "revenue"] == pytest.approx(dec, rel=1e-12)


def test_customer_kpi_counts_of_buckets_add_up_to_the_whole_base(cdnow):
    """The per-bucket counts (what the Spark engine gathers) summed, then the rates: the KPIs."""
    from analysis.metrics.kpis import customer_kpi_counts, customer_kpis, customer_kpis_from_counts

    ds, pds = cdnow
    parts = [customer_kpi_counts(p, AS_OF) for p in iter_partitions(pds)]
    summed = pd.concat(parts).groupby("month", as_index=False).sum()
    levels = (0, *ds.config.thresholds.levels())
    pd.testing.assert_frame_equal(customer_kpis_from_counts(summed, levels), customer_kpis(ds, AS_OF),
                                  check_exact=False, rtol=1e-9, atol=1e-12)
    whole = customer_kpi_counts(ds, AS_OF)
    pd.testing.assert_frame_equal(summed.drop(columns="revenue"), whole.drop(columns="revenue"))
    # churn rate = churned from the month's start / active at its start (hand check on one month)
    row = whole.set_index("month").loc["1997-12-01"]
    got = customer_kpis(ds, AS_OF).set_index("month").loc["1997-12-01", "churn_rate"]
    assert got == row["churned_from_start"] / row["active_at_start"] and 0 < got < 1
