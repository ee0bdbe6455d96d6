"""Snapshots, labels and features of the churn classifier, and the BG/NBD baseline wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.data.config import DatasetConfig, Thresholds
from analysis.errors import ConfigError, NotEnoughDataError
from analysis.models.baselines import BGNBDBaseline, bgnbd_scores, rfm_summary
from analysis.models.features import feature_columns, features, labels, snapshot_dates

NONCONTRACT = DatasetConfig(business_model="non_contractual", thresholds=Thresholds(churn_horizon_days=90))


def _orders(rows):
    return pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])


# ----------------------------------------------------------------------------- labels
def test_contractual_labels_by_hand():
    customers = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D", "E", "F"],
        "signup_date": ["2024-01-01"] * 4 + ["2024-03-05", "2024-01-01"],
        "churn_date": ["2024-03-15", "2024-02-10", "2024-03-31", None, None, "2024-03-01"],
    })
    orders = _orders([("A", "2024-01-10", 10.0), ("D", "2024-01-12", 5.0)])
    ds = analysis.from_frames(customers=customers, orders=orders)
    lab = labels(ds, ["2024-03-01"], 30, as_of="2024-06-01").set_index("customer_id")["label"]
    # A churns inside [03-01, 03-31); C on 03-31, the first day after the window; D never;
    # F on the snapshot day itself (not yet lost at 03-01, lost within the window).
    # B was lost before the snapshot, E had not signed up: neither is labelled.
    assert lab.to_dict() == {"A": 1, "C": 0, "D": 0, "F": 1}


def test_non_contractual_labels_by_hand():
    orders = _orders([
        ("A", "2024-02-20", 1.0), ("A", "2024-03-10", 1.0),   # buys again in the window -> kept
        ("B", "2024-02-15", 1.0), ("B", "2024-04-15", 1.0),   # next purchase after the window -> lost
        ("C", "2024-02-25", 1.0), ("C", "2024-03-31", 1.0),   # next purchase on the end day (excluded) -> lost
        ("D", "2024-02-25", 1.0), ("D", "2024-03-01", 1.0),   # purchase on the snapshot day (included) -> kept
        ("E", "2023-10-01", 1.0),                              # silent > 90 days at the snapshot: already lost
        ("G", "2024-01-05", 1.0),                              # 56 days of silence, nothing after -> lost
    ])
    ds = analysis.from_frames(orders=orders, config=NONCONTRACT)
    lab = labels(ds, ["2024-03-01"], 30, as_of="2024-06-01").set_index("customer_id")["label"]
    assert lab.to_dict() == {"A": 0, "B": 1, "C": 1, "D": 0, "E": 1, "G": 1}


def test_labels_refuse_a_window_past_as_of():
    ds = analysis.from_frames(orders=_orders([("A", "2024-01-10", 1.0)]), config=NONCONTRACT)
    labels(ds, ["2024-03-01"], 31, as_of="2024-04-01")  # ends exactly on as_of: allowed
    with pytest.raises(ConfigError, match="not fully observed"):
        labels(ds, ["2024-03-01"], 32, as_of="2024-04-01")


def test_labels_ignore_events_after_as_of():
    base = _orders([("A", "2024-02-20", 1.0), ("B", "2024-02-20", 1.0)])
    ds = analysis.from_frames(orders=base, config=NONCONTRACT)
    late = pd.concat([base, _orders([("A", "2024-05-01", 1.0), ("B", "2024-07-01", 1.0)])])
    ds_late = analysis.from_frames(orders=late, config=NONCONTRACT)
    a = labels(ds, ["2024-03-01"], 60, as_of="2024-05-01")
    b = labels(ds_late, ["2024-03-01"], 60, as_of="2024-05-01")
    pd.testing.assert_frame_equal(a, b)
    assert a["label"].tolist() == [1, 1]


# ----------------------------------------------------------------------------- snapshots
def test_snapshot_windows_end_by_as_of():
    orders = _orders([("A", "1997-01-01", 1.0), ("A", "1998-06-01", 1.0)])
    ds = analysis.from_frames(orders=orders, config=NONCONTRACT)
    snaps = snapshot_dates(ds, "1997-12-31", 180, min_history_days=30, max_snapshots=None)
    # CDNOW design: first month start after 30 days of history, last one whose 180-day
    # window ends by 1997-12-31 (1997-07-04 at the latest).
    assert [d.date().isoformat() for d in snaps] == [
        "1997-02-01", "1997-03-01", "1997-04-01", "1997-05-01", "1997-06-01", "1997-07-01"]
    assert (snaps + pd.Timedelta(days=180) <= pd.Timestamp("1997-12-31")).all()
    with pytest.raises(NotEnoughDataError, match="No snapshot fits"):
        snapshot_dates(ds, "1997-03-01", 180)


# ----------------------------------------------------------------------------- features
def _rich_frames():
    rng = np.random.default_rng(3)
    ids = [f"C{i}" for i in range(12)]
    customers = pd.DataFrame({
        "customer_id": ids, "signup_date": "2023-01-02", "churn_date": None,
        "sector": ["retail", "industry", "services"] * 4, "email": [f"x{i}@example.com" for i in range(12)],
    })
    days = pd.to_datetime("2023-01-05") + pd.to_timedelta(rng.integers(0, 500, 200), unit="D")
    orders = pd.DataFrame({"customer_id": rng.choice(ids, 200), "order_date": days,
                           "amount": rng.gamma(2.0, 50.0, 200).round(2)})
    email = pd.DataFrame({"customer_id": np.repeat(ids, 20), "campaign_id": np.tile([f"K{k}" for k in range(20)], 12),
                          "event_time": np.tile(pd.date_range("2023-02-01", periods=20, freq="14D"), 12),
                          "event": rng.choice(["delivered", "open", "click"], 240)})
    nps = pd.DataFrame({"customer_id": rng.choice(ids, 30), "score": rng.integers(0, 11, 30),
                        "response_date": pd.to_datetime("2023-02-01") + pd.to_timedelta(rng.integers(0, 450, 30), unit="D"),
                        "trigger": "periodic"})
    usage = pd.DataFrame({"customer_id": rng.choice(ids, 300), "feature": rng.choice(["a", "b", "c"], 300),
                          "event_date": pd.to_datetime("2023-01-10") + pd.to_timedelta(rng.integers(0, 480, 300), unit="D")})
    return dict(customers=customers, orders=orders, email_events=email, nps=nps, usage=usage)


def test_no_look_ahead_in_features():
    frames = _rich_frames()
    dates = ["2023-11-01", "2024-02-01"]
    before = features(analysis.from_frames(**frames), dates, horizon_days=60)
    cut = pd.Timestamp("2024-02-01")
    future = {
        "orders": pd.DataFrame({"customer_id": ["C0", "C1", "C5"], "order_date": [cut, cut, cut + pd.Timedelta(days=40)],
                                "amount": [999.0, 5.0, 1.0]}),
        "email_events": pd.DataFrame({"customer_id": ["C0", "C2"], "campaign_id": ["Z1", "Z2"],
                                      "event_time": [cut, cut + pd.Timedelta(days=3)], "event": ["click", "open"]}),
        "nps": pd.DataFrame({"customer_id": ["C3"], "score": [0], "response_date": [cut], "trigger": ["support"]}),
        "usage": pd.DataFrame({"customer_id": ["C4", "C4"], "feature": ["z", "a"], "event_date": [cut, cut + pd.Timedelta(days=9)]}),
    }
    extended = {k: (pd.concat([v, future[k]], ignore_index=True) if k in future else v) for k, v in frames.items()}
    after = features(analysis.from_frames(**extended), dates, horizon_days=60)
    assert len(before) == 24
    pd.testing.assert_frame_equal(before, after)


def test_features_columns_missing_indicators_and_no_personal_data():
    frames = _rich_frames()
    ds = analysis.from_frames(customers=frames["customers"], orders=frames["orders"])
    f = features(ds, ["2024-02-01"], horizon_days=60)
    cols = feature_columns(f)
    # tables absent: their groups are flagged missing for everyone, values stay NaN (not zero)
    assert (f["missing_email"] == 1).all() and (f["missing_nps"] == 1).all() and (f["missing_usage"] == 1).all()
    assert f["open_rate_10"].isna().all() and f["nps_last"].isna().all()
    assert {"tenure_days", "days_since_last", "n_purchases_total", "revenue_12m", "freq_30",
            "seg_sector_retail", "seg_sector_industry"} <= set(cols)
    assert not any("email" == c or c.startswith("seg_email") for c in f.columns)
    # lifetime purchase count checked against the orders directly
    direct = frames["orders"].loc[pd.to_datetime(frames["orders"]["order_date"]) < "2024-02-01"].groupby("customer_id").size()
    got = f.set_index("customer_id")["n_purchases_total"]
    assert got.to_dict() == {k: float(direct.get(k, 0)) for k in got.index}


# ----------------------------------------------------------------------------- BG/NBD
def test_bgnbd_wrapper_reproduces_published_cdnow_parameters():
    from lifetimes.datasets import load_cdnow_summary

    summary = load_cdnow_summary(index_col=[0])
    p = BGNBDBaseline().fit(summary).params_
    # Fader, Hardie & Lee (2005), CDNOW 1/10th sample, weeks: r, alpha, a, b
    assert p["r"] == pytest.approx(0.243, abs=1e-3)
    assert p["alpha"] == pytest.approx(4.414, abs=1e-3)
    assert p["a"] == pytest.approx(0.793, abs=1e-3)
    assert p["b"] == pytest.approx(2.426, abs=1e-3)


def test_rfm_summary_by_hand():
    orders = pd.DataFrame({
        "customer_id": pd.array(["A", "A", "A", "B", "A"], dtype="string"),
        "order_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-08", "2024-03-01"]),
        "is_refund": [False, False, False, False, False],
    })
    signup = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-22"]),
                       index=pd.Index(["A", "B", "N"], dtype="string"))
    s = rfm_summary(orders, "2024-01-29", signup=signup)
    # A: purchase days 01-01 and 01-15 (the same-day repeat counts once; 03-01 is after as_of)
    assert s.loc["A"].tolist() == [1.0, 2.0, 4.0]
    assert s.loc["B"].tolist() == [0.0, 0.0, 3.0]
    assert s.loc["N"].tolist() == [0.0, 0.0, 1.0]  # no purchase: born at signup


def test_bgnbd_scores_need_enough_buyers():
    ds = analysis.from_frames(orders=_orders([("A", "2024-01-10", 1.0)]), config=NONCONTRACT)
    with pytest.raises(NotEnoughDataError, match="BG/NBD"):
        bgnbd_scores(ds, ["2024-02-01"], 90)
    assert bgnbd_scores(ds, ["2024-02-01"], 90, errors="skip").empty
