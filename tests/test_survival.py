"""Discrete-time hazard (analysis.models.survival) on hand-checkable fixtures."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from analysis.errors import NotEnoughDataError
from analysis.models.survival import DiscreteTimeHazard, person_period, time_to_next_event

# horizon 90 days in 3 bins of 30: (time to next event, days observed after the snapshot)
T = np.array([10, 45, np.nan, np.nan, 50, np.nan, 75], dtype=float)
OBS = np.array([200, 200, 200, 40, 65, 20, 200], dtype=float)


def test_person_period_rows_by_hand():
    row, b, ev = person_period(T, OBS, 90, 3)
    got = sorted(zip(row.tolist(), b.tolist(), ev.tolist(), strict=True))
    assert got == [(0, 0, 1),                      # event in bin 0, leaves the risk set
                   (1, 0, 0), (1, 1, 1),
                   (2, 0, 0), (2, 1, 0), (2, 2, 0),  # never bought, fully observed
                   (3, 0, 0),                        # censored after 40 days: bin 0 only
                   (4, 0, 0), (4, 1, 1),             # 65 days observed, event on day 50
                   (6, 0, 0), (6, 1, 0), (6, 2, 1)]  # row 5 (20 days observed) contributes nothing


def test_hazards_are_the_bin_event_rates_without_features():
    # bin 0: 6 at risk, 1 event; bin 1: 4 at risk (rows 1,2,4,6), 2 events; bin 2: 2 at risk, 1 event
    X = pd.DataFrame({"x": np.zeros(len(T))})
    m = DiscreteTimeHazard(90, 3, estimator=LogisticRegression(C=1e8, max_iter=5000)).fit(X, T, OBS)
    assert m.n_person_periods_ == 12
    np.testing.assert_allclose(m.hazards(X.head(1))[0], [1 / 6, 1 / 2, 1 / 2], atol=1e-4)
    np.testing.assert_allclose(m.predict_proba(X.head(1))[0], [1 - 5 / 24, 5 / 24], atol=1e-4)


def test_survival_monotone_in_horizon_and_follows_the_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    t = rng.exponential(30 * np.exp(x))  # a larger x: a later next purchase
    obs = rng.uniform(10, 200, size=400)
    t[t >= obs] = np.nan                 # not seen before the scoring date: censored
    X = pd.DataFrame({"x": x})
    m = DiscreteTimeHazard(90, 3).fit(X, t, obs)
    s = m.predict_survival(pd.DataFrame({"x": [-1.0, 0.0, 1.0]}))
    assert (np.diff(s, axis=1) <= 0).all()
    assert s[0, -1] < s[1, -1] < s[2, -1]


def test_one_outcome_is_one_clear_error():
    with pytest.raises(NotEnoughDataError, match="only one outcome"):
        DiscreteTimeHazard(90, 3).fit(pd.DataFrame({"x": [0.0, 1.0]}), [np.nan, np.nan], [200, 200])


def test_time_to_next_event_reads_nothing_on_or_after_as_of():
    rows = pd.DataFrame({"as_of": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-02-01"]),
                         "customer_id": ["a", "b", "a"]})
    ev = pd.DataFrame({"customer_id": ["a", "a", "b", "a"],
                       "time": pd.to_datetime(["2019-12-01", "2020-01-11", "2020-03-05", "2020-03-10"])})
    t = time_to_next_event(rows, ev, "2020-03-01")
    # a: next on 2020-01-11 (10 days); b: next on 2020-03-05, after as_of -> censored;
    # a at 2020-02-01: next on 2020-03-10, after as_of -> censored
    np.testing.assert_array_equal(t.to_numpy(), [10.0, np.nan, np.nan])
    before = ev.loc[ev["time"] < pd.Timestamp("2020-03-01")]
    pd.testing.assert_series_equal(time_to_next_event(rows, before, "2020-03-01"), t)


def test_hazard_scores_unchanged_when_rows_after_as_of_are_removed():
    from analysis.models.survival import hazard_scores

    rng = np.random.default_rng(1)
    ids = [f"c{i}" for i in range(60)]
    dates = pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"])
    feats = pd.DataFrame({"as_of": np.repeat(dates, len(ids)), "customer_id": ids * len(dates)})
    feats["x"] = rng.normal(size=len(feats))
    ev = pd.DataFrame({"customer_id": rng.choice(ids, 300),
                       "time": pd.Timestamp("2019-12-01") + pd.to_timedelta(rng.integers(0, 250, 300), unit="D")})
    p, m = hazard_scores(feats, ev, "2020-04-01", 60, ["x"], n_bins=2)
    assert len(p) == len(ids) and p.between(0, 1).all() and m.n_person_periods_ > 0
    p2, _ = hazard_scores(feats, ev.loc[ev["time"] < pd.Timestamp("2020-04-01")], "2020-04-01", 60, ["x"], n_bins=2)
    pd.testing.assert_series_equal(p, p2)
