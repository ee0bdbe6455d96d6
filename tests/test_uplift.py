"""Uplift model: Qini curve by hand, a known heterogeneous effect found on held-out rows, too-small data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.data.dataset import from_frames
from analysis.models.uplift import (
    TwoModelUplift,
    evaluate_uplift,
    qini_coefficient,
    qini_curve,
    uplift_training_rows,
)


def test_qini_curve_by_hand():
    # ranked: treated buyer, treated non-buyer, control buyer, control non-buyer
    c = qini_curve([1, 0, 1, 0], [1, 1, 0, 0], [4, 3, 2, 1], points=5)
    assert c["n"].tolist() == [0, 1, 2, 3, 4]
    # Q(k) = Y_t(k) - Y_c(k) N_t(k) / N_c(k); 0 while no control is reached
    assert c["qini"].tolist() == [0.0, 0.0, 0.0, 1 - 1 * 2 / 1, 1 - 1 * 2 / 2]
    # area between the curve and the random line (here Q(N) = 0): trapezoids of -1 at 3/4
    assert qini_coefficient(c) == pytest.approx(-0.25)


def test_two_model_uplift_finds_a_known_heterogeneous_effect_on_held_out_rows():
    rng = np.random.default_rng(7)
    n = 6000
    seg = rng.random(n) < 0.5                      # the action works on half the customers only
    noise = rng.normal(size=n)
    t = rng.random(n) < 0.6
    p = 0.3 + np.where(t & seg, 0.25, 0.0)
    y = rng.random(n) < p
    X = np.column_stack([seg.astype(float), noise])
    train = np.arange(n) < 4200
    model = TwoModelUplift().fit(X[train], y[train], t[train])
    up = model.predict(X[~train])
    assert up[seg[~train]].mean() == pytest.approx(0.25, abs=0.06)
    assert up[~seg[~train]].mean() == pytest.approx(0.0, abs=0.06)
    q_model = qini_coefficient(qini_curve(y[~train], t[~train], up))
    q_oracle = qini_coefficient(qini_curve(y[~train], t[~train], seg[~train] + 1e-9 * noise[~train]))
    assert q_oracle > 0 and q_model > 0.8 * q_oracle    # beats random (0) and nearly matches the truth


def test_uplift_says_when_the_data_are_too_small():
    cust = pd.DataFrame({"customer_id": [f"X{i}" for i in range(40)], "signup_date": "2025-01-01"})
    iv = pd.DataFrame({"customer_id": cust["customer_id"], "action_date": "2026-01-05", "action": "email_sequence",
                       "campaign_id": "K1", "group": ["treatment", "control"] * 20})
    orders = pd.DataFrame({"customer_id": cust["customer_id"][:10], "order_date": "2026-01-10", "amount": 10.0})
    ev = evaluate_uplift(from_frames(customers=cust, orders=orders, interventions=iv), "2026-03-01")
    assert ev.status == "too_small" and ev.model is None and ev.reason.startswith("rows:")


def test_qini_interval_matches_the_curve_and_separates_signal_from_noise():
    from analysis.models.uplift import qini_interval

    rng = np.random.default_rng(11)
    n = 3000
    seg = rng.random(n) < 0.5
    t = rng.random(n) < 0.5
    y = rng.random(n) < 0.3 + np.where(t & seg, 0.3, 0.0)
    score = seg + 1e-9 * rng.random(n)
    est, lo, hi = qini_interval(y, t, score, n_boot=300)
    full = qini_curve(y, t, score, points=n + 1)                 # every k: same area as the estimate
    assert est == pytest.approx(qini_coefficient(full))
    assert 0 < lo < est < hi                                      # a real signal: above random
    noise = rng.random(n)                                         # a ranking unrelated to the effect
    est0, lo0, hi0 = qini_interval(y, t, noise, n_boot=300)
    assert lo0 < 0 < hi0


def test_qini_interval_resamples_whole_customers():
    from analysis.models.uplift import qini_interval

    rng = np.random.default_rng(5)
    n = 400
    t = rng.random(n) < 0.5
    y = rng.random(n) < 0.3 + 0.3 * t
    score = rng.random(n)
    # every row its own group: the same interval as no groups at all
    assert qini_interval(y, t, score, n_boot=200, groups=[f"{i:04d}" for i in range(n)]) == qini_interval(y, t, score, n_boot=200)
    # one customer per pair of identical rows: drawing customers keeps pairs together, so the
    # estimate is unchanged and the interval is wider than when the rows are drawn one by one
    y2, t2, s2 = np.repeat(y, 2), np.repeat(t, 2), np.repeat(score, 2)
    est, lo, hi = qini_interval(y2, t2, s2, n_boot=400, groups=np.repeat(np.arange(n), 2))
    est_r, lo_r, hi_r = qini_interval(y2, t2, s2, n_boot=400)
    assert est == est_r
    assert (hi - lo) > 1.2 * (hi_r - lo_r)                   # about sqrt(2) wider: half as many independent units


# --------------------------------------------------------------------- the committed sample
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def sample_uplift():
    import analysis

    ds = analysis.load(SAMPLE_DIR)
    return ds, evaluate_uplift(ds, "2026-11-01")


def test_uplift_beats_random_targeting_on_the_samples_held_out_customers(sample_uplift):
    """The criterion of issue 12: on held-out customers, the Qini coefficient of ranking by the
    model's uplift is above 0 (random targeting) with its whole 95 % customer-bootstrap interval.

    Honest because the model never saw these customers (disjoint by customer id), the coefficient
    is recomputed here from the held-out rows with :func:`qini_curve` (a separate code path), and a
    ranking unrelated to the effect gives an interval around 0. The generator's true effect
    (``analysis.data.sample``: TPE respond, PME a little, ETI and GE not at all) is what the
    model must find: its predicted uplift is highest for TPE on held-out customers.
    Measured on seed 42 (this sample): 21.7 [10.8; 31.0] over 1,404 held-out rows of 604 customers;
    churn-risk targeting 12.0 [2.0; 22.3]: the model is ahead, but the paired difference (+9.8
    [-2.6; +21.5]) is not significant, so beating churn-risk targeting is not claimed (the
    report says so).
    """
    ds, ev = sample_uplift
    assert ev.status == "ok"
    rows = uplift_training_rows(ds, "2026-11-01")
    test_ids = set(ev.test["customer_id"])
    train_ids = set(rows.loc[~rows["customer_id"].isin(test_ids), "customer_id"])
    assert ev.n_train + ev.n_test == len(rows) and ev.n_test == len(ev.test) > 1000
    assert not test_ids & train_ids                              # held out by customer
    assert len(test_ids) == round(0.5 * rows["customer_id"].nunique())   # half of the customers
    full = qini_curve(ev.test["y"], ev.test["treated"], ev.test["uplift"], points=len(ev.test) + 1)
    assert ev.qini["uplift_model"] == pytest.approx(qini_coefficient(full))
    lo, hi = ev.qini_ci["uplift_model"]
    assert 0 < lo < ev.qini["uplift_model"] < hi and ev.beats_random
    d, dlo, dhi = ev.qini_vs_churn_risk
    assert d == pytest.approx(ev.qini["uplift_model"] - ev.qini["churn_risk"]) and dlo < d < dhi
    assert ev.beats_churn_risk == (dlo > 0)
    # the model learned the documented heterogeneity: small accounts first
    size = ev.test["customer_id"].map(ds.customers.set_index("customer_id")["size"].astype(object))
    by_size = ev.test["uplift"].groupby(size).mean()
    assert by_size["TPE"] > 0.15 and by_size["TPE"] > 2 * max(by_size["PME"], by_size["ETI"], by_size["GE"])
    # a ranking unrelated to the effect (seeded noise) does not beat random on the same rows
    from analysis.models.uplift import qini_interval

    noise = np.random.default_rng(0).random(len(ev.test))
    _, lo0, hi0 = qini_interval(ev.test["y"], ev.test["treated"], noise, groups=ev.test["customer_id"])
    assert lo0 < 0 < hi0


def test_uplift_on_the_sample_reads_nothing_on_or_after_as_of(sample_uplift):
    # as of 2026-07-01: campaigns up to RA-202606 are closed; everything from July on is removed
    ds, _ = sample_uplift
    full = evaluate_uplift(ds, "2026-07-01")
    past = evaluate_uplift(ds.before("2026-07-01"), "2026-07-01")
    assert full.status == past.status == "ok" and full.n_test == past.n_test
    pd.testing.assert_frame_equal(full.test, past.test)
    assert full.qini == past.qini and full.qini_ci == past.qini_ci


def test_qini_difference_interval_is_paired():
    from analysis.models.uplift import qini_difference_interval, qini_interval

    rng = np.random.default_rng(3)
    n = 2000
    seg = rng.random(n) < 0.5
    t = rng.random(n) < 0.5
    y = rng.random(n) < 0.3 + np.where(t & seg, 0.3, 0.0)
    oracle, noise = seg + 1e-9 * rng.random(n), rng.random(n)
    assert qini_difference_interval(y, t, oracle, oracle) == (0.0, 0.0, 0.0)   # same ranking: no difference
    d, lo, hi = qini_difference_interval(y, t, oracle, noise, n_boot=300)
    qa, qb = qini_interval(y, t, oracle, n_boot=300)[0], qini_interval(y, t, noise, n_boot=300)[0]
    assert d == pytest.approx(qa - qb) and 0 < lo < d < hi                     # the oracle beats noise


def test_uplift_text_claims_only_what_the_intervals_support():
    from analysis.models.uplift import UpliftEvaluation
    from analysis.reporting.reactivation import uplift_markdown

    def ev(model_ci, diff):
        return UpliftEvaluation("ok", None, 100, 100, pd.DataFrame(), {"uplift_model": 5.0, "churn_risk": 2.0},
                                None, pd.DataFrame(), {"uplift_model": model_ci, "churn_risk": (-1.0, 5.0)}, [], diff)

    both = uplift_markdown(ev((1.0, 9.0), (3.0, 0.5, 6.0)), "en")
    random_only = uplift_markdown(ev((1.0, 9.0), (3.0, -0.5, 6.0)), "en")
    neither = uplift_markdown(ev((-1.0, 9.0), (3.0, 0.5, 6.0)), "en")
    assert "better than both" in both
    assert "better than random, but not demonstrably better" in random_only and "3.00 [-0.50; 6.00]" in random_only
    assert "not distinguishable from random" in neither
