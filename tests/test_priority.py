"""Value tiers, risk tiers, priority matrix and recommended actions, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.data.config import DatasetConfig, Thresholds
from analysis.metrics.priority import (
    priority_counts,
    priority_matrix,
    recommended_action,
    risk_tiers,
    value_tiers,
)

D = pd.Timestamp("2025-01-01")


def ago(n: int) -> str:
    return (D - pd.Timedelta(days=n)).strftime("%Y-%m-%d")


@pytest.fixture
def ds():
    # 10 customers; 12-month net revenue: c0 1000, c1 900 (1000 - 100 refund), c2 500, c3..c8 100, c9 none
    rows = [("c0", ago(10), 1000.0), ("c1", ago(200), 1000.0), ("c1", ago(100), -100.0), ("c2", ago(364), 500.0),
            ("c2", ago(366), 7000.0)]  # more than 12 months before D: not counted
    rows += [(f"c{i}", ago(50), 100.0) for i in range(3, 9)]
    rows += [("c0", ago(0), 5000.0)]  # on the as-of date: not read
    orders = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    cust = pd.DataFrame({"customer_id": [f"c{i}" for i in range(10)] + ["late"],
                         "signup_date": ["2023-01-01"] * 10 + [ago(-5)],
                         "contract_value": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]})
    return analysis.from_frames(customers=cust, orders=orders)


def test_value_tiers_12_month_net_revenue(ds):
    vt = value_tiers(ds, D)
    assert list(vt.columns) == ["customer_id", "value", "value_tier"]
    assert list(vt["customer_id"]) == [f"c{i}" for i in range(10)]  # "late" signs up after D
    assert list(vt["value"]) == [1000.0, 900.0, 500.0] + [100.0] * 6 + [0.0]
    # 9 customers with revenue: rank 1/9 <= 20 % < 2/9; c9 (no revenue) is never high
    assert list(vt["value_tier"].astype(str)) == ["high"] + ["standard"] * 9
    vt40 = value_tiers(ds, D, top_share=0.4)  # 1/9, 2/9, 3/9 <= 40 %; the six tied at rank 4/9 are not
    assert list(vt40["value_tier"].astype(str)) == ["high"] * 3 + ["standard"] * 7


def test_value_tiers_user_column_and_share(ds):
    vt = value_tiers(ds, D, value="contract_value", top_share=0.3)
    assert list(vt["value"]) == [float(i) for i in range(1, 11)]
    assert list(vt.loc[vt["value_tier"] == "high", "customer_id"]) == ["c7", "c8", "c9"]


def test_value_tiers_errors(ds):
    with pytest.raises(analysis.DataError, match="nope"):
        value_tiers(ds, D, value="nope")
    with pytest.raises(analysis.ConfigError, match="top_share"):
        value_tiers(ds, D, top_share=1.5)
    no_amount = analysis.from_frames(orders=pd.DataFrame({"customer_id": ["a"], "order_date": [ago(3)]}))
    with pytest.raises(analysis.NotEnoughDataError, match="amount"):
        value_tiers(no_amount, D)


def test_risk_tiers_from_probability_and_alerts():
    p = pd.Series([0.0, 0.0999, 0.10, 0.3, 0.5, 0.99, None])
    assert list(risk_tiers(p).astype("string").fillna("NA")) == ["low", "low", "medium", "high", "critical", "critical", "NA"]
    a = pd.Series([0, 1, 2, 3, 6], dtype="int64")
    assert list(risk_tiers(a).astype(str)) == ["low", "medium", "high", "critical", "critical"]
    with pytest.raises(analysis.DataError):
        risk_tiers(pd.Series([0.5, 2.0]), kind="probability")


def test_recommended_action_by_thresholds():
    f = pd.DataFrame({
        "days_since_last": [5, 5, 30, 59, 60, 90, 179, 180, 299, 300, 400, 400],
        "lost": [False] * 11 + [True],
        "any_alert": pd.array([False, True] + [False] * 10, dtype="boolean"),
    })
    got = list(recommended_action(f, Thresholds()))
    assert got == ["none", "watch", "watch", "watch", "wake_up_sequence", "personal_call", "personal_call",
                   "separate_list", "separate_list", "removal", "removal", "removal"]
    # contractual: an ended contract gets no action
    cfg = DatasetConfig(business_model="contractual")
    assert list(recommended_action(f, cfg))[-1] == "none"
    # unknown inactivity: no recommendation rather than a guess
    unknown = recommended_action(pd.DataFrame({"days_since_last": [np.nan, 10.0], "lost": False}))
    assert unknown.isna().tolist() == [True, False]
    # three failed cycles before removal: 180 + 3 x 60 = 360
    assert list(recommended_action(f, Thresholds(), failed_cycles=3))[9:11] == ["separate_list", "removal"]


def test_recommended_action_escalates_high_value_at_risk():
    f = pd.DataFrame({"days_since_last": [40, 40, 70], "lost": False,
                      "value_tier": ["high", "standard", "high"], "risk_tier": ["critical", "critical", "low"]})
    assert list(recommended_action(f)) == ["personal_call", "watch", "wake_up_sequence"]


def test_priority_matrix_from_alerts_and_probability():
    f = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "n_alerts": pd.Series([3, 2, 1, 0, 3, 0], dtype="int64"),
        "value_tier": ["high", "high", "high", "high", "standard", "standard"],
        "days_since_last": [100, 10, 65, 3, 200, 10],
        "lost": False,
    })
    m = priority_matrix(f)
    got = {r.customer_id: (r.risk_tier, r.priority, r.recommended_action) for r in m.itertuples()}
    assert got == {
        "a": ("critical", "P1", "personal_call"), "b": ("high", "P1", "personal_call"),
        "c": ("medium", "P2", "wake_up_sequence"), "d": ("low", "P3", "none"),
        "e": ("critical", "P2", "separate_list"), "f": ("low", "P3", "none"),
    }
    # by priority, then risk (highest first), then value tier
    assert list(m["customer_id"]) == ["a", "b", "e", "c", "d", "f"]
    counts = priority_counts(m)
    assert counts.loc["high", "critical"] == 1 and counts.loc["standard", "low"] == 1 and counts.to_numpy().sum() == 6

    probs = f.drop(columns="n_alerts").assign(p=[0.6, 0.3, 0.05, 0.2, 0.9, 0.01], value=[9, 8, 7, 6, 1, 0])
    m2 = priority_matrix(probs.drop(columns="value_tier"), risk_col="p", value_col="value", top_share=0.2)
    tiers = dict(zip(m2["customer_id"], m2["value_tier"].astype(str), strict=True))
    assert tiers == {"a": "high", "b": "standard", "c": "standard", "d": "standard", "e": "standard", "f": "standard"}
    pr = dict(zip(m2["customer_id"], m2["priority"].astype(str), strict=True))
    assert pr == {"a": "P1", "b": "P2", "c": "P3", "d": "P3", "e": "P2", "f": "P3"}
    # b is P2 (high risk) but active 10 days ago without alert: inactivity alone asks nothing,
    # the matrix puts it on the call list, so it is watched; P3 customers keep "none"
    act = dict(zip(m2["customer_id"], m2["recommended_action"].astype(str), strict=True))
    assert act == {"a": "personal_call", "b": "watch", "c": "wake_up_sequence", "d": "none",
                   "e": "separate_list", "f": "none"}


def test_priority_matrix_names_missing_columns():
    with pytest.raises(analysis.DataError, match="n_alerts"):
        priority_matrix(pd.DataFrame({"customer_id": ["a"], "value_tier": ["high"]}))


def test_every_tier_priority_action_and_segment_has_both_labels():
    from analysis.metrics import priority, signals
    from analysis.reporting.i18n import t
    keys = [f"sig_indicator_{k}" for k in signals.INDICATORS]
    keys += [f"sig_segment_{s}" for s in (*signals.EMAIL_SEGMENTS, signals.NO_SEGMENT)]
    keys += [f"sig_value_{v}" for v in priority.VALUE_TIERS] + [f"sig_risk_{r}" for r in priority.RISK_TIERS]
    keys += [f"sig_priority_{p}" for p in priority.PRIORITIES] + [f"sig_action_{a}" for a in priority.ACTIONS]
    keys += [f"sig_nps_{c}" for c in signals.NPS_CATEGORIES]
    for key in keys:
        assert t(key, "fr") and t(key, "en") and t(key, "fr") != key
