"""The churn classifier: metrics, time split, backtest against baselines, scores, reasons, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

import analysis
from analysis.data.config import DatasetConfig, Thresholds
from analysis.models.classifier import (
    SCORE_COLUMNS,
    captured_positives,
    evaluate_scores,
    reason_codes,
    recall_at,
    score,
    time_split,
    top_lift,
)
from analysis.reporting.risk_text import reason_text

AS_OF = "2025-07-01"


def synthetic(n: int = 240, contractual: bool = True, amounts: bool = True, seed: int = 0):
    """A small base where customers slow down before they leave (orders only)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"K{i:04d}" for i in range(n)])
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    life = rng.exponential(300, n).astype(int) + 20
    end = signup + pd.to_timedelta(life, unit="D")
    rate = rng.gamma(2.0, 1.5, n) / 30.0  # orders per day
    horizon_end = pd.Timestamp("2025-09-30")
    span = (end.where(end < horizon_end, horizon_end) - signup).days.to_numpy()
    counts = rng.poisson(rate * span) + 1
    cid = np.repeat(np.arange(n), counts)
    # orders thin out in the last 60 days before the end (the signal the model should find)
    u = rng.random(cid.size) ** 0.7
    day = (u * span[cid]).astype(int)
    dates = signup[cid] + pd.to_timedelta(day, unit="D")
    frame = {"customer_id": ids[cid], "order_date": dates}
    if amounts:
        frame["amount"] = rng.gamma(2.0, 40.0, cid.size).round(2)
    orders = pd.DataFrame(frame)
    orders = orders.loc[orders["order_date"] < horizon_end]
    customers = pd.DataFrame({
        "customer_id": ids, "signup_date": signup,
        "churn_date": end.where(contractual & (end < horizon_end)),
        "size": rng.choice(["small", "large"], n), "name": [f"Person {i}" for i in range(n)],
    })
    cfg = DatasetConfig(business_model="contractual" if contractual else "non_contractual",
                        personal_columns=("name",), thresholds=Thresholds(churn_horizon_days=60))
    return analysis.from_frames(customers=customers, orders=orders, config=cfg)


# ----------------------------------------------------------------------------- metrics
def test_captured_positives_breaks_ties_in_expectation():
    y = [1, 0, 1, 0, 0, 1]
    s = [9, 5, 5, 5, 5, 1]
    # top 1: the 9 (positive). Top 3: the 9 plus 2 of the four tied 5s (one positive in
    # four): 1 + 2 * 1/4 = 1.5. Top 6: all three positives.
    assert captured_positives(y, s, [0, 1, 3, 5, 6]).tolist() == [0.0, 1.0, 1.5, 2.0, 3.0]
    # lift of the top half (3 rows): 1.5/3 positives against a base rate of 3/6
    assert top_lift(y, s, 0.5) == pytest.approx(1.0)
    assert recall_at(y, s, 1) == pytest.approx(1 / 3)
    assert recall_at(y, s, 100) == pytest.approx(1.0)


def test_top_decile_lift_by_hand():
    y = np.array([1] * 3 + [0] * 17)  # base rate 0.15
    s = np.arange(20, 0, -1)           # the three positives ranked first
    # top 10 % = 2 rows, both positive: rate 1.0 / 0.15
    assert top_lift(y, s, 0.1) == pytest.approx(1 / 0.15)


def test_evaluate_scores_matches_sklearn():
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame({"as_of": pd.Timestamp("2025-01-01"), "label": rng.integers(0, 2, n)})
    frame["days"] = (rng.integers(0, 120, n) + 40 * frame["label"]).astype(float)
    frame["prob"] = 1 / (1 + np.exp(-(frame["days"] - 80) / 30))
    m = evaluate_scores(frame, {"recency": "days", "model": "prob"}, capacity=50, prob_cols=("prob",))
    assert m.loc["recency", "auc"] == pytest.approx(roc_auc_score(frame["label"], frame["days"]))
    assert m.loc["recency", "average_precision"] == pytest.approx(
        average_precision_score(frame["label"], frame["days"]))
    assert np.isnan(m.loc["recency", "brier"])
    assert m.loc["model", "brier"] == pytest.approx(((frame["prob"] - frame["label"]) ** 2).mean())


# ----------------------------------------------------------------------------- split
def test_time_split_keeps_a_gap_and_falls_back_to_holdout():
    snaps = pd.date_range("2024-03-01", "2025-05-01", freq="MS")
    sp = time_split(snaps, 60)
    assert sp.test == (pd.Timestamp("2025-05-01"),)
    assert not sp.holdout
    assert max(sp.train) + pd.Timedelta(days=60) <= min(sp.test)
    assert sp.calib == (pd.Timestamp("2025-03-01"),) and max(sp.fit) < min(sp.calib)
    # CDNOW at 1997-12-31, 180 days: no gap possible, customers are held out instead
    cd = time_split(pd.date_range("1997-02-01", "1997-07-01", freq="MS"), 180)
    assert cd.holdout and cd.test == (pd.Timestamp("1997-07-01"),)
    assert cd.calib == (pd.Timestamp("1997-06-01"),) and cd.fit[0] == pd.Timestamp("1997-02-01")


# ----------------------------------------------------------------------------- backtest
@pytest.fixture(scope="module")
def contractual_result():
    return score(synthetic(), AS_OF, 60, capacity=20, random_state=0, max_snapshots=10)


def test_no_training_window_reaches_past_as_of(contractual_result):
    sp = contractual_result.backtest.split
    h = pd.Timedelta(days=60)
    for d in sp.train + sp.test:
        assert d + h <= pd.Timestamp(AS_OF)
    assert max(sp.train) + h <= min(sp.test)


def test_backtest_baseline_equals_independent_computation(contractual_result):
    ds = synthetic()
    bt = contractual_result.backtest
    (test_date,) = bt.split.test
    # independent: active customers at the test snapshot, label = churn in [d, d + 60),
    # recency = days since the last order before d (since signup if none)
    c = ds.customers.set_index("customer_id")
    active = c.loc[(c["signup_date"] < test_date) & ~(c["churn_date"] < test_date)]
    y = ((active["churn_date"] >= test_date) & (active["churn_date"] < test_date + pd.Timedelta(days=60))).astype(int)
    o = ds.orders.loc[ds.orders["order_date"] < test_date]
    last = o.groupby("customer_id")["order_date"].max().reindex(active.index)
    days = (test_date - last.fillna(active["signup_date"])).dt.days
    pred = bt.predictions.set_index("customer_id")
    assert sorted(pred.index) == sorted(active.index)
    assert pred["label"].to_dict() == y.to_dict()
    assert pred["days_since_last"].to_dict() == days.to_dict()
    assert bt.metrics.loc["recency", "auc"] == pytest.approx(roc_auc_score(y, days))
    assert bt.metrics.loc["recency", "average_precision"] == pytest.approx(average_precision_score(y, days))
    bg = pred["score_bgnbd"].dropna()
    assert bt.metrics.loc["bgnbd", "auc"] == pytest.approx(roc_auc_score(y.loc[bg.index], bg))
    assert bt.metrics.loc["logit", "auc"] == pytest.approx(roc_auc_score(y, pred.loc[y.index, "prob_logit"]))


def test_scores_contract(contractual_result):
    r = contractual_result
    s = r.scores
    assert list(s.columns) == SCORE_COLUMNS
    assert s["customer_id"].is_unique
    assert s["churn_probability"].between(0, 1).all()
    assert np.allclose(s["expected_value_at_risk"], s["churn_probability"] * s["value"])
    assert set(s["priority"]) <= {"P1", "P2", "P3"}
    assert r.call_list["priority"].is_monotonic_increasing  # call order: P1 first
    assert not r.call_list["recommended_action"].isin(["separate_list", "removal"]).any()
    assert r.value_basis == "revenue_12m"
    ds = synthetic()
    c = ds.customers
    active = c.loc[(c["signup_date"] < AS_OF) & ~(c["churn_date"] < AS_OF), "customer_id"]
    assert sorted(s["customer_id"]) == sorted(active)
    # status from the days since the last order (watch 30, inactive 90, horizon 60 here)
    d = s["days_since_last"]
    expect = np.where(d < 30, "active", np.where(d < 60, "watch", "lapsed"))
    assert s["status"].tolist() == expect.tolist()
    assert not any("Person" in str(v) for v in s.to_numpy().ravel())
    summ = r.key_figures()
    for key in ("horizon_days", "capacity", "train_snapshots", "test_snapshots", "auc_model", "auc_recency",
                "auc_bgnbd", "ap_model", "lift_top_decile_model", "lift_top_decile_recency",
                "lift_top_decile_bgnbd", "brier_model", "recall_at_capacity", "best_model", "n_scored",
                "n_priority_1", "top_priorities"):
        assert key in summ
    assert len(summ["top_priorities"]) == 10


def test_score_is_deterministic_and_ignores_the_future():
    ds = synthetic(n=160, contractual=False, amounts=False, seed=4)
    a = score(ds, AS_OF, 60, capacity=10, max_snapshots=8)
    extra = pd.DataFrame({"customer_id": ds.orders["customer_id"].iloc[:50].to_numpy(),
                          "order_date": pd.Timestamp(AS_OF) + pd.to_timedelta(np.arange(50) % 30, unit="D")})
    ds2 = analysis.from_frames(customers=ds.customers, orders=pd.concat([ds.orders[["customer_id", "order_date"]], extra]),
                               config=ds.config)
    b = score(ds2, AS_OF, 60, capacity=10, max_snapshots=8)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert a.value_basis == "orders_12m"
    assert a.key_figures()["auc_bgnbd"] is not None
    from analysis.reporting.summary import missing_keys

    assert missing_keys("04_churn_risk", a.key_figures()) == []  # every figure the executive summary reads
    assert missing_keys("04_churn_risk", {k: v for k, v in a.key_figures().items() if k != "n_priority_1"}) \
        == ["n_priority_1"]


def test_reason_codes_then_plain_words():
    frame = pd.DataFrame({
        "days_since_last": [45.0, 5.0, 3.0],
        "alert_interval": [1.0, 0.0, np.nan], "interval_recent_days": [45.0, 20.0, np.nan],
        "interval_prev_days": [20.0, 19.0, np.nan],
        "alert_nps": [1.0, 0.0, np.nan], "nps_prev": [9.0, 8.0, np.nan], "nps_last": [5.0, 8.0, np.nan],
        "alert_share": [1.0, 0.0, 0.0], "revenue_share_q": [0.021, 0.1, 0.1], "revenue_share_prev_q": [0.052, 0.1, 0.1],
    })
    codes = reason_codes(frame)
    assert codes.loc[0, ["reason_1", "reason_2", "reason_3"]].tolist() == ["nps", "interval", "recency"]
    assert codes.loc[0, ["reason_1_values", "reason_2_values", "reason_3_values"]].tolist() == [
        "prev=9;last=5", "recent=45;prev=20", "days=45"]
    assert codes.loc[1, "reason_1"] is pd.NA
    r = reason_text(codes, "en")
    assert r.iloc[0] == ("NPS fell from 9 to 5; orders every 45 days instead of 20; "
                         "no significant interaction for 45 days")
    assert r.iloc[1].startswith("No single warning signal")
    fr = reason_text(reason_codes(frame, max_reasons=1), "fr")
    assert fr.iloc[0] == "NPS passé de 9 à 5"
    # French: " ; " with a space before the semicolon (client tables make it a no-break space)
    assert reason_text(codes, "fr").iloc[0].startswith("NPS passé de 9 à 5 ; commande tous les 45 jours")
    # the share reason (4th by default order) with one decimal, language formats
    share = reason_codes(frame, importance=pd.DataFrame({"feature": ["alert_share"], "importance_mean": [1.0]}))
    assert share.loc[0, "reason_1"] == "share"
    assert reason_text(share, "fr").iloc[0].startswith("Part du chiffre d'affaires passée de 5,2 % à 2,1 %")


def test_cli_score_orders_only_without_amounts(tmp_path):
    from typer.testing import CliRunner

    from analysis.cli import app

    ds = synthetic(n=160, contractual=False, amounts=False, seed=2)
    folder = tmp_path / "base"
    folder.mkdir()
    ds.orders[["customer_id", "order_date"]].to_csv(folder / "orders.csv", index=False)
    (folder / "dataset.yml").write_text("business_model: non_contractual\nthresholds: {churn_horizon_days: 60}\n")
    out = tmp_path / "scores.csv"
    res = CliRunner().invoke(app, ["score", str(folder), "--as-of", AS_OF, "--horizon", "60",
                                   "--out", str(out), "--capacity", "15"])
    assert res.exit_code == 0, res.output
    assert "recency" in res.output and "bgnbd" in res.output and "logit" in res.output
    got = pd.read_csv(out)
    assert list(got.columns) == [*SCORE_COLUMNS, "reasons"]
    assert "backtest AUC all: model" in res.output and "active90:" in res.output
    assert len(got) > 0 and got["churn_probability"].between(0, 1).all()
    bad = CliRunner().invoke(app, ["score", str(folder), "--as-of", "2024-02-01", "--out", str(out)])
    assert bad.exit_code == 1 and "No snapshot fits" in bad.output
