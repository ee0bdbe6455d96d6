"""The six indicators at one date in DuckDB SQL (``analysis.metrics.signals_sql``): values
worked out by hand on a tiny base (no orders, one order, a refund, a cancellation, a
customer signing up after the as-of date), the same frame as the pandas reference
``signals.indicators`` (1e-9, identical alerts and dtypes) on that base, on the sample at two
dates and on CDNOW, and no look-ahead (rows on or after the as-of date change nothing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.data.config import SignalParams, parse_config
from analysis.data.warehouse import Warehouse
from analysis.errors import ConfigError
from analysis.metrics import signals, signals_sql

AS_OF = "2026-04-01"
CONFIG = {"tables": {"orders": {"cancellation_pattern": "^C"}}}


def _frames(late: bool = False) -> dict[str, pd.DataFrame]:
    """A with seven purchases, a cancellation (id C7) and a refund (negative amount); B never
    ordered; C one order and two uses of the product; D signs up after AS_OF (``late`` only,
    with rows on and after AS_OF for A and C)."""
    customers = pd.DataFrame({"customer_id": ["A", "B", "C"],
                              "signup_date": ["2025-01-05", "2025-06-01", "2026-02-01"],
                              "churn_date": [None, "2026-05-01", None], "plan": ["gold", "basic", "basic"]})
    orders = pd.DataFrame({
        "customer_id": ["A"] * 9 + ["C"],
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "C7", "R8", "o9", "c1"],
        "order_date": ["2025-03-01", "2025-05-01", "2025-07-01", "2025-09-01", "2025-11-01", "2026-01-01",
                       "2026-01-10", "2026-02-01", "2026-03-01", "2026-02-10"],
        "amount": [100.0, 100.0, 100.0, 100.0, 100.0, 200.0, -50.0, -30.0, 40.0, 80.0]})
    nps = pd.DataFrame({"customer_id": ["A", "A"], "response_date": ["2025-12-01", "2026-02-15"],
                        "score": [9, 5], "trigger": ["periodic", "periodic"]})
    usage = pd.DataFrame({"customer_id": ["C", "C"], "event_date": ["2026-03-20", "2026-03-25"],
                          "feature": ["reports", "export"], "sessions": [2.0, 1.0]})
    if late:
        customers = pd.concat([customers, pd.DataFrame({"customer_id": ["D"], "signup_date": ["2026-04-05"],
                                                        "churn_date": [None], "plan": ["gold"]})], ignore_index=True)
        customers.loc[customers["customer_id"] == "A", "churn_date"] = "2026-04-20"
        orders = pd.concat([orders, pd.DataFrame({
            "customer_id": ["A", "A", "D"], "order_id": ["o10", "C11", "d1"],
            "order_date": ["2026-04-01", "2026-05-01", "2026-04-06"], "amount": [999.0, -100.0, 70.0]})],
            ignore_index=True)
        nps = pd.concat([nps, pd.DataFrame({"customer_id": ["A"], "response_date": ["2026-04-01"],
                                            "score": [0], "trigger": ["support"]})], ignore_index=True)
        usage = pd.concat([usage, pd.DataFrame({"customer_id": ["C"], "event_date": ["2026-04-01"],
                                                "feature": ["api"], "sessions": [9.0]})], ignore_index=True)
    return {"customers": customers, "orders": orders, "nps": nps, "usage": usage}


def _tiny(late: bool = False, **config) -> tuple[analysis.Dataset, Warehouse]:
    ds = analysis.from_frames(**_frames(late), config=parse_config({**CONFIG, **config}))
    return ds, Warehouse.from_dataset(ds)


def assert_same(ref: pd.DataFrame, got: pd.DataFrame) -> None:
    """Same columns, dtypes and NA places; floats to 1e-9, everything else identical."""
    assert list(got.columns) == list(ref.columns)
    assert len(got) == len(ref)
    assert got.attrs.get("unavailable") == ref.attrs.get("unavailable")
    for col in ref.columns:
        a, b = ref[col], got[col]
        assert b.dtype == a.dtype, col
        assert (a.isna().to_numpy() == b.isna().to_numpy()).all(), col
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-9, equal_nan=True,
                                       err_msg=col)
        else:
            known = a.notna().to_numpy()
            assert (a[known].to_numpy() == b[known].to_numpy()).all(), col


# ------------------------------------------------------------------ by hand
def test_tiny_base_by_hand():
    _, wh = _tiny()
    t = signals_sql.indicators(wh, AS_OF).set_index("customer_id")
    assert list(t.index) == ["A", "B", "C"]  # D is not signed up yet, and only in the late rows
    a, b, c = t.loc["A"], t.loc["B"], t.loc["C"]
    # A: purchases 1 Mar 25 ... 1 Jan 26 and 1 Mar 26; C7 (a cancellation) and R8 (a refund) are not purchases
    assert (a["days_since_last"], a["recency_level"], bool(a["alert_recency"])) == (31, 30, True)
    assert (a["freq_30"], a["freq_60"], a["freq_90"]) == (0, 1, 2)  # 1 Jan 2026 is as_of - 90: inside
    # baseline: 1 Sep, 1 Nov, 1 Jan in [4 Aug 2025, 31 Jan 2026), over 6 months
    assert a["freq_baseline"] == pytest.approx(0.5, abs=1e-12)
    assert (a["freq_change_m1"], a["freq_change_m2"]) == (pytest.approx(-1.0), pytest.approx(1.0))
    assert not a["alert_frequency"]  # the month before did not drop
    # value: net 12 months = 100 x 4 + 200 - 50 - 30 + 40; baskets of purchases only
    assert a["revenue_12m"] == pytest.approx(560.0, abs=1e-9)
    assert (a["basket_3m"], a["basket_prev_6m"]) == (pytest.approx(120.0), pytest.approx(100.0))
    assert a["basket_change"] == pytest.approx(0.2, abs=1e-12) and not a["alert_basket"]
    # intervals: last three purchases 1 Nov -> 1 Mar (120 days, 2 gaps) = 60 (> 31 days since);
    # the 4 gaps before: 1 Mar -> 1 Nov 2025 = 245 days
    assert (a["interval_recent_days"], a["interval_prev_days"]) == (60.0, 61.25)
    assert a["interval_drift"] == pytest.approx(60 / 61.25 - 1, abs=1e-12) and not a["alert_interval"]
    # share: A nets 200 - 50 - 30 + 40 = 160 of the base's 240 (C's 80) since 1 Jan; 100 of 100 before
    assert (a["revenue_share_q"], a["revenue_share_prev_q"]) == (pytest.approx(2 / 3), pytest.approx(1.0))
    assert not a["alert_share"] and not a["alert_value"]
    # NPS 9 then 5: a drop of 4, promoter to detractor
    assert (a["nps_last"], a["nps_prev"], a["nps_change"], a["nps_category"]) == (5, 9, -4, "detractor")
    assert (a["days_since_nps"], bool(a["alert_nps"])) == (45.0, True)
    assert (a["usage_score"], a["usage_dui"], a["usage_score_prev"]) == (0.0, 0.0, 0.0)
    assert pd.isna(a["usage_change"]) and not a["alert_usage"]  # nothing to fall from
    assert (a["n_alerts"], bool(a["any_alert"]), a["days_since_strong"]) == (2, True, 31.0)
    # B never ordered: measured from signup (304 days), a zero baseline, no value history
    assert (b["days_since_last"], b["recency_level"], b["freq_90"], b["freq_baseline"]) == (304, 180, 0, 0.0)
    assert pd.isna(b["freq_change_m1"]) and not b["alert_frequency"]
    assert (b["revenue_12m"], b["revenue_share_q"], b["revenue_share_prev_q"]) == (0.0, 0.0, 0.0)
    assert pd.isna(b["basket_3m"]) and pd.isna(b["alert_value"]) and pd.isna(b["days_since_strong"])
    assert pd.isna(b["nps_last"]) and pd.isna(b["alert_nps"])
    assert (b["n_alerts"], bool(b["lost"])) == (1, False)  # churn date 1 May: not yet known
    # C: one order (10 Feb) then uses of the product on 20 and 25 March (interactions, strong)
    assert (c["days_since_last"], c["freq_30"], c["freq_60"], c["days_since_strong"]) == (7, 2, 3, 7.0)
    assert pd.isna(c["freq_baseline"]) and pd.isna(c["alert_frequency"])  # 59 days observed
    assert (c["basket_3m"], c["revenue_share_q"]) == (80.0, pytest.approx(1 / 3))
    assert pd.isna(c["interval_drift"]) and pd.isna(c["alert_value"])
    # usage: 3 sessions, both features the base used in March, last use 7 days ago
    assert (c["usage_sessions_30"], c["usage_dui"], c["days_since_use"]) == (3.0, 1.0, 7.0)
    assert c["usage_score"] == pytest.approx(100 * (3 / 20 + 1 + (1 - 7 / 30)) / 3, abs=1e-12)
    assert pd.isna(c["usage_score_prev"]) and pd.isna(c["alert_usage"])  # 59 < 60 days observed
    assert t.attrs["unavailable"] == ["email"]
    assert pd.isna(t["alert_email"]).all() and t["email_sends_10"].isna().all()


def test_tiny_base_equals_pandas_and_reads_nothing_after_as_of():
    ds, wh = _tiny()
    got = signals_sql.indicators(wh, AS_OF)
    assert_same(signals.indicators(ds, [AS_OF]), got)
    _, late = _tiny(late=True)
    with_late = signals_sql.indicators(late, AS_OF)
    assert_same(got, with_late)  # rows on/after as_of, and D signed up after it, change nothing
    assert_same(signals.indicators(ds, ["2026-02-20"]), signals_sql.indicators(wh, "2026-02-20"))


def test_config_overrides_and_params_as_pandas():
    ds, wh = _tiny(thresholds={"disabled": ["recency"]})
    got = signals_sql.indicators(wh, AS_OF)
    assert got["alert_recency"].isna().all() and got.attrs["disabled"] == ["recency"]
    assert_same(signals.indicators(ds, [AS_OF]), got)
    # per-segment thresholds: gold customers are alerted after 400 days without interaction only
    ds, wh = _tiny(thresholds={"segments": {"plan": {"gold": {"recency_alert_days": 400}}}})
    got = signals_sql.indicators(wh, AS_OF)
    assert got.set_index("customer_id")["alert_recency"].to_dict() == {"A": False, "B": True, "C": False}  # C: 7 days
    assert_same(signals.indicators(ds, [AS_OF]), got)
    p = SignalParams(freq_months=1, basket_drop=0.1, recency_alert_days=60, nps_drop=5)
    assert_same(signals.indicators(ds, [AS_OF], p), signals_sql.indicators(wh, AS_OF, p))


def test_one_date_only():
    _, wh = _tiny()
    with pytest.raises(ConfigError, match="one as-of date"):
        signals_sql.indicators(wh, ["2026-03-01", AS_OF])


# ------------------------------------------------------------------ the sample and CDNOW, over Parquet
@pytest.fixture(scope="module")
def sample() -> tuple[analysis.Dataset, Warehouse]:
    ds = analysis.load(analysis.SAMPLE_DIR)
    wh = analysis.warehouse(analysis.SAMPLE_DIR)
    yield ds, wh
    wh.close()


@pytest.mark.parametrize("as_of", ["2026-11-01", "2026-03-15"])
def test_sample_equals_pandas(sample, as_of):
    ds, wh = sample
    got = signals_sql.indicators(wh, as_of)
    ref = signals.indicators(ds, [as_of])
    assert_same(ref, got)
    assert got["alert_value"].sum() > 100 and got["alert_email"].sum() > 0  # alerts do fire there


def test_cdnow_equals_pandas():
    folder = analysis.PROJECT_ROOT / "examples" / "cdnow"
    ds = analysis.load(folder)
    with analysis.warehouse(folder) as wh:
        got = signals_sql.indicators(wh, "1998-01-01")
    assert_same(signals.indicators(ds, ["1998-01-01"]), got)
    assert got.attrs["unavailable"] == ["email", "nps", "usage"]
    assert len(got) == 23_570 and got["alert_interval"].sum() > 1000


def test_orders_without_amounts_and_no_orders_table():
    frames = _frames()
    frames["orders"] = frames["orders"].drop(columns=["amount"])
    ds = analysis.from_frames(**frames)
    wh = Warehouse.from_dataset(ds)
    got = signals_sql.indicators(wh, AS_OF)
    assert got.attrs["unavailable"] == ["email", "value"]  # no amounts: no value indicator
    assert got["revenue_12m"].isna().all() and got["alert_value"].isna().all()
    assert_same(signals.indicators(ds, [AS_OF]), got)
    # without amounts (and without the cancellation pattern) C7 and R8 are purchases; A's last is still 1 March
    assert got.set_index("customer_id").loc["A", "days_since_last"] == 31
    frames.pop("orders")
    ds = analysis.from_frames(**frames)
    got = signals_sql.indicators(Warehouse.from_dataset(ds), AS_OF)
    assert got.attrs["unavailable"] == ["email", "value"]
    assert_same(signals.indicators(ds, [AS_OF]), got)


def test_only_some_tables():
    _, wh = _tiny()
    frames = _frames()
    ds = analysis.from_frames(customers=frames["customers"], orders=frames["orders"], config=parse_config(CONFIG))
    got = signals_sql.indicators(wh, AS_OF, tables=("orders",))  # NPS and usage are in the warehouse, not read
    assert got.attrs["unavailable"] == ["email", "nps", "usage"]
    assert_same(signals.indicators(ds, [AS_OF]), got)
    # without the uses of the product, C's last interaction is its order of 10 February
    assert got.set_index("customer_id").loc["C", "days_since_last"] == 50


# ------------------------------------------------------------------ configured windows, row order
def test_freq_windows_name_the_columns_by_hand():
    """freq_windows other than (30, 60, 90) used to break the pandas reference (KeyError
    'freq_60'); the counts are now named after the configured windows, in both engines."""
    ds, wh = _tiny()
    p = SignalParams(freq_windows=(20, 45, 100))
    ref = signals.indicators(ds, [AS_OF], p)
    assert list(ref.columns) == list(signals.indicator_columns(p))
    assert [c for c in ref.columns if c.startswith("freq_") and c[5:].isdigit()] == ["freq_20", "freq_45", "freq_100"]
    t = ref.set_index("customer_id")
    # A: purchases 1 Jan and 1 Mar 2026 (C7, a cancellation, and R8, a refund, are not interactions)
    # 20 days = [12 Mar, 1 Apr): none; 45 days = [15 Feb, ...): 1 Mar; 100 days = [22 Dec 2025, ...): both
    assert (t.loc["A", "freq_20"], t.loc["A", "freq_45"], t.loc["A", "freq_100"]) == (0, 1, 2)
    # C: order 10 Feb, uses 20 and 25 Mar
    assert (t.loc["C", "freq_20"], t.loc["C", "freq_45"], t.loc["C", "freq_100"]) == (2, 2, 3)
    assert (t.loc["B", "freq_20"], t.loc["B", "freq_45"], t.loc["B", "freq_100"]) == (0, 0, 0)
    assert ref["freq_20"].dtype == np.int64
    assert_same(ref, signals_sql.indicators(wh, AS_OF, p))
    # the default windows keep the contract names
    assert signals.indicator_columns(SignalParams()) == (*signals.CONTRACT_COLUMNS, *signals.EXTRA_COLUMNS)


def test_freq_windows_repeated_is_one_config_error():
    ds, wh = _tiny()
    p = SignalParams(freq_windows=(30, 30, 90))
    with pytest.raises(ConfigError, match=r"freq_windows is \[30, 30, 90\]"):
        signals.indicators(ds, [AS_OF], p)
    with pytest.raises(ConfigError, match=r"freq_windows is \[30, 30, 90\]"):
        signals_sql.indicators(wh, AS_OF, p)


def test_rows_in_customer_id_order_whatever_the_file_order():
    """The SQL result comes from a hash join in no order; it is put in customer_id order (code
    points, as the pandas reference) by the rank computed in the query."""
    ids = ["b2", "B1", "a10", "é1", "a9", "A", "Z"]
    customers = pd.DataFrame({"customer_id": ids, "signup_date": "2025-01-05", "churn_date": None})
    orders = pd.DataFrame({"customer_id": ["a9", "a9", "Z", "é1", "b2"], "order_id": ["1", "2", "3", "4", "5"],
                           "order_date": ["2026-01-05", "2026-03-01", "2026-02-01", "2025-12-01", "2026-03-20"],
                           "amount": [10.0, 30.0, 5.0, 7.0, 2.0]})
    ds = analysis.from_frames(customers=customers, orders=orders)
    got = signals_sql.indicators(Warehouse.from_dataset(ds), AS_OF)
    assert list(got["customer_id"]) == ["A", "B1", "Z", "a10", "a9", "b2", "é1"]
    assert list(got["days_since_last"]) == [451, 451, 59, 451, 31, 12, 121]
    assert_same(signals.indicators(ds, [AS_OF]), got)


def test_no_customer_signed_up_yet_gives_an_empty_frame_as_pandas():
    ds, wh = _tiny()
    got = signals_sql.indicators(wh, "2024-01-01")  # before every signup
    assert len(got) == 0
    assert_same(signals.indicators(ds, ["2024-01-01"]), got)
