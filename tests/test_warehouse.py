"""The DuckDB warehouse and the SQL aggregates: hand-worked values on a tiny base, the same
frames as the pandas reference on the tiny base and on the sample (1e-9), no look-ahead, the
bucketed file layout, and the retro-audit's partitioned replay."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.data.warehouse import Warehouse
from analysis.errors import ConfigError
from analysis.metrics import aggregates as ag
from analysis.metrics import cohorts as co
from analysis.metrics import kpis, signals
from analysis.models.audit import replay_indicators

AS_OF = "2026-04-01"


def _tiny_frames(late: bool = False) -> dict[str, pd.DataFrame]:
    """Three customers, two campaigns, orders with a refund; ``late`` adds rows on/after AS_OF."""
    customers = pd.DataFrame({
        "customer_id": ["A", "B", "C"], "signup_date": ["2026-01-01", "2026-01-01", "2026-02-10"],
        "churn_date": [None, None, "2026-03-10"], "plan": ["p1", "p2", None]})
    # C's zero order on 31 March makes the export end then (observed_until), with or without later rows
    orders = pd.DataFrame({"customer_id": ["A", "B", "B", "C"], "order_id": ["o1", "o2", "o3", "o6"],
                           "order_date": ["2026-01-10", "2026-03-05", "2026-03-20", "2026-03-31"],
                           "amount": [100.0, 50.0, -10.0, 0.0]})
    rows = [("A", "K1", "2026-02-15 10:00:00", "sent"), ("A", "K1", "2026-02-15 10:00:05", "delivered"),
            ("A", "K1", "2026-02-15 10:00:08", "open"),  # 3 s after delivery, no click: a machine open
            ("B", "K1", "2026-02-15 10:00:00", "sent"), ("B", "K1", "2026-02-15 10:00:05", "delivered"),
            ("B", "K1", "2026-02-16 09:00:00", "open"), ("B", "K1", "2026-02-16 09:01:00", "click"),
            ("C", "K1", "2026-02-15 10:00:00", "sent"), ("C", "K1", "2026-02-15 10:00:05", "bounce_hard"),
            ("A", "K2", "2026-03-03 10:00:00", "sent"), ("A", "K2", "2026-03-03 10:00:04", "delivered"),
            ("B", "K2", "2026-03-03 10:00:00", "sent"), ("B", "K2", "2026-03-03 10:00:04", "delivered"),
            ("B", "K2", "2026-03-04 12:00:00", "unsubscribe")]
    if late:
        customers = pd.concat([customers, pd.DataFrame({
            "customer_id": ["D"], "signup_date": ["2026-04-03"], "churn_date": [None], "plan": ["p9"]})])
        customers.loc[customers["customer_id"] == "A", "churn_date"] = "2026-04-10"  # not yet known at AS_OF
        orders = pd.concat([orders, pd.DataFrame({"customer_id": ["A", "D"], "order_id": ["o4", "o5"],
                                                  "order_date": ["2026-04-01", "2026-04-05"],
                                                  "amount": [500.0, 70.0]})])
        rows += [("A", "K2", "2026-04-01 00:00:00", "click"), ("B", "K3", "2026-04-02 10:00:00", "sent"),
                 ("D", "K3", "2026-04-03 10:00:00", "sent"), ("A", "K2", "2026-04-02 10:00:00", "spam_complaint")]
    email = pd.DataFrame(rows, columns=["customer_id", "campaign_id", "event_time", "event"])
    return {"customers": customers, "orders": orders, "email_events": email}


@pytest.fixture(scope="module")
def tiny() -> tuple[analysis.Dataset, Warehouse]:
    ds = analysis.from_frames(**_tiny_frames())
    return ds, Warehouse.from_dataset(ds)


def test_email_kpis_by_hand(tiny):
    _, wh = tiny
    em = kpis.email_kpis(wh, AS_OF).set_index("month")
    assert list(em.index.strftime("%Y-%m")) == ["2026-01", "2026-02", "2026-03"]
    feb, mar = em.loc["2026-02-01"], em.loc["2026-03-01"]
    assert (feb["sent"], feb["delivered"], feb["openers"], feb["clickers"], feb["hard_bounces"]) == (3, 2, 2, 1, 1)
    assert feb["deliverability"] == pytest.approx(2 / 3, abs=1e-12)
    assert feb["hard_bounce_rate"] == pytest.approx(1 / 3, abs=1e-12)
    assert (feb["open_rate"], feb["click_rate"], feb["ctor"]) == (1.0, 0.5, 0.5)
    assert (mar["sent"], mar["delivered"], mar["openers"], mar["unsubscribes"]) == (2, 2, 0, 1)
    assert (mar["open_rate"], mar["unsubscribe_rate"]) == (0.0, 0.5)
    assert np.isnan(em.loc["2026-01-01", "deliverability"])  # no send: NaN, never 0
    # inactivity at 30 days, March (reference 1 April): A's last open 15 Feb and B's click
    # 16 Feb are both before 2 March, and both were first emailed before it: 2 of 2
    assert (mar["contacts"], mar["inactive_30"], mar["inactivity_rate_30"]) == (2, 2, 1.0)
    # at 60 days (reference - 60 = 31 Jan) both were first emailed after it: none yet inactive
    assert (mar["inactive_60"], feb["inactive_30"]) == (0, 0)
    corrected = kpis.email_kpis(wh, AS_OF, open_correction=True).set_index("month").loc["2026-02-01"]
    assert (corrected["openers"], corrected["open_rate"], corrected["ctor"]) == (1, 0.5, 1.0)


def test_customer_kpis_and_base_by_hand(tiny):
    _, wh = tiny
    ck = ag.customer_kpis(wh, AS_OF).set_index("month")
    assert ck["customers"].tolist() == [2, 3, 3]
    assert ck["active_customers"].tolist() == [2, 3, 2]
    assert ck["new_customers"].tolist() == [2, 1, 0]
    assert ck["lost_customers"].tolist() == [0, 0, 1]
    assert np.isnan(ck["churn_rate"].iloc[0]) and ck["churn_rate"].iloc[1] == 0.0
    assert ck["churn_rate"].iloc[2] == pytest.approx(1 / 3, abs=1e-12)  # C, of A, B, C active on 1 March
    assert ck["revenue"].tolist() == [100.0, 0.0, 40.0]  # March: 50 - 10 refunded
    # end of March: A last interacted on 15 Feb (44 days: level 30), B bought on 5 March (27 days: level 0)
    assert (ck["level_0_share"].iloc[2], ck["level_30_share"].iloc[2]) == (0.5, 0.5)
    base = ag.base_summary(wh, AS_OF)
    assert (base["customers"], base["active_customers"]) == (3, 2)
    assert base["tables"]["email_events"] == 14


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False,
                                  rtol=1e-9, atol=1e-12)


def _same_dataclass(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            _same(x, y)
        elif dataclasses.is_dataclass(x):
            _same_dataclass(x, y)
        elif isinstance(x, dict):
            assert x.keys() == y.keys(), f.name
            for k in x:
                assert x[k] == y[k] or x[k] == pytest.approx(y[k], rel=1e-9), (f.name, k)
        else:
            assert x == y or x == pytest.approx(y, rel=1e-9), f.name


@pytest.mark.parametrize("by", ["month", "campaign"])
@pytest.mark.parametrize("segment", [None, "plan", "email_segment"])
@pytest.mark.parametrize("open_correction", [False, True])
def test_email_kpis_equal_pandas_on_tiny(tiny, by, segment, open_correction):
    ds, wh = tiny
    _same(kpis.email_kpis(ds, AS_OF, by, segment=segment, open_correction=open_correction),
          kpis.email_kpis(wh, AS_OF, by, segment=segment, open_correction=open_correction))


def test_no_look_ahead(tiny):
    _, wh = tiny
    late = analysis.from_frames(**_tiny_frames(late=True))
    late_wh = Warehouse.from_dataset(late)
    for f in (lambda w: kpis.email_kpis(w, AS_OF), lambda w: kpis.email_kpis(w, AS_OF, "campaign", "email_segment"),
              lambda w: ag.customer_kpis(w, AS_OF), lambda w: ag.email_segment_shares(w, AS_OF),
              lambda w: ag.month_transitions(w, AS_OF), lambda w: co.customer_lifetimes(w, AS_OF),
              lambda w: co.retention_matrix(w, AS_OF, metric="revenue"),
              lambda w: co.retention_matrix(w, AS_OF, metric="activity")):
        _same(f(wh), f(late_wh))
    a, b = ag.base_summary(wh, AS_OF), ag.base_summary(late_wh, AS_OF)
    assert (a["customers"], a["active_customers"]) == (b["customers"], b["active_customers"])


def test_email_segment_of_the_sql_refuses_a_personal_column(tiny):
    _, wh = tiny
    with pytest.raises(ConfigError, match="not a column of the customers table"):
        kpis.email_kpis(wh, AS_OF, segment="nothing")


# ------------------------------------------------------------------ the sample, over Parquet
@pytest.fixture(scope="module")
def sample() -> tuple[analysis.Dataset, Warehouse]:
    """The sample and its warehouse over the validated Parquet copy (the project's cache)."""
    ds = analysis.load(analysis.SAMPLE_DIR)  # validates and writes the cache entry if needed
    wh = analysis.warehouse(analysis.SAMPLE_DIR)
    yield ds, wh
    wh.close()


def test_sample_warehouse_reads_the_parquet_copy(sample):
    ds, wh = sample
    assert wh.tables == tuple(ds.tables)
    assert {t: wh.rows(t) for t in wh.tables} == {t: len(f) for t, f in ds.tables.items()}
    assert wh.segment_columns() == ds.segment_columns() and wh.personal_columns() == ds.personal_columns()
    assert wh.report.rows_quarantined == ds.report.rows_quarantined


def test_sample_base_health_equals_pandas(sample):
    ds, wh = sample
    _same_dataclass(kpis.base_health(ds, "2026-11-01"), kpis.base_health(wh, "2026-11-01"))


def test_sample_cohort_decay_equals_pandas(sample):
    ds, wh = sample
    _same_dataclass(co.cohort_decay(ds, "2026-11-01", "Q", metric="revenue"),
                    co.cohort_decay(wh, "2026-11-01", "Q", metric="revenue"))


def test_bucketed_layout_gives_the_same_tables(tiny, tmp_path):
    """``<entry>/tables/<table>/*.parquet`` (several files per table) reads as one table."""
    ds, _ = tiny
    (tmp_path / "tables").mkdir()
    (tmp_path / "entry.json").write_text(json.dumps({
        "tables": sorted(ds.tables), "quarantine": [], "report": {"tables": {}, "notes": []},
        "observed_from": ds.observed_from.isoformat(), "observed_until": ds.observed_until.isoformat()}),
        encoding="utf-8")
    for name, frame in ds.tables.items():
        (tmp_path / "tables" / name).mkdir()
        half = len(frame) // 2
        frame.iloc[:half].to_parquet(tmp_path / "tables" / name / "bucket-0000.parquet")
        frame.iloc[half:].to_parquet(tmp_path / "tables" / name / "bucket-0001.parquet")
    wh = Warehouse.from_entry(tmp_path, ds.config)
    assert wh.tables == tuple(ds.tables) and wh.rows("email_events") == 14
    _same(kpis.customer_kpis(ds, AS_OF), kpis.customer_kpis(wh, AS_OF))
    _same(kpis.email_kpis(ds, AS_OF, segment="plan"), kpis.email_kpis(wh, AS_OF, segment="plan"))


def test_replay_on_partitions_equals_whole_base(sample):
    ds, _ = sample
    past = ds.before("2026-11-01")
    dates = pd.DatetimeIndex(["2026-03-02", "2026-09-07"])
    ids = past.customers["customer_id"].iloc[::40]
    got = replay_indicators(past, ids, dates, part_size=25)  # three partitions
    whole = signals.indicators(past, dates)
    want = whole.loc[whole["customer_id"].isin(set(ids))].reset_index(drop=True)
    _same(want, got)
    assert got.attrs["unavailable"] == whole.attrs["unavailable"]


def test_retro_audit_over_the_warehouse_equals_pandas(sample):
    """Lost clients, the matched retained group (same draw), the replay and every result."""
    from analysis.models.audit import RetroAudit

    ds, wh = sample
    want = RetroAudit(n_lost=12, random_state=3).fit(ds, "2026-11-01")
    got = RetroAudit(n_lost=12, random_state=3).fit(wh, "2026-11-01")
    assert len(got.dataset_.customers) == got.windows_["customer_id"].nunique()  # only the audited clients
    for k, v in vars(want).items():
        if k == "dataset_":
            continue
        w = getattr(got, k)
        if isinstance(v, pd.DataFrame):
            _same(v, w)
        elif isinstance(v, pd.Series):
            pd.testing.assert_series_equal(v, w)
        elif isinstance(v, float) and np.isnan(v):
            assert np.isnan(w), k
        else:
            assert v == w or v == pytest.approx(w, rel=1e-9), k


def test_warehouse_over_the_bucketed_copy(tmp_path, monkeypatch):
    """Over #16a's bucketed validated copy (three buckets): the same KPIs as in memory."""
    from notebook_runs import tiny_base

    from analysis.data.partitions import load_partitioned

    monkeypatch.setenv("CHURN_RADAR_CACHE_DIR", str(tmp_path / "cache"))
    folder = tiny_base(tmp_path / "base")
    ds = analysis.load(folder, cache=False)
    wh = Warehouse.from_partitioned(load_partitioned(folder, n_buckets=3))
    assert {t: wh.rows(t) for t in wh.tables} == {t: len(f) for t, f in ds.tables.items()}
    _same_dataclass(kpis.base_health(ds, AS_OF), kpis.base_health(wh, AS_OF))
    sub = wh.subset(["c1", "c4"])
    assert sorted(sub.customers["customer_id"]) == ["c1", "c4"] and len(sub.orders) == 2
