"""Uplift model: Qini curve by hand, a known heterogeneous effect found on held-out rows, too-small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.dataset import from_frames
from analysis.models.uplift import TwoModelUplift, evaluate_uplift, qini_coefficient, qini_curve


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
