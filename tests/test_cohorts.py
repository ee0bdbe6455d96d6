"""Cohort decay (analysis.metrics.cohorts): values worked out by hand on tiny bases.

Contractual base, as_of 2026-05-01 (April is the last complete month):

    customer  signup      churn       orders (amount)
    A         2026-01-10  2026-03-15  01-10 100, 02-10 100, 03-10 100
    B         2026-01-20  -           01-20 50, 02-20 80, 03-20 80, 03-25 -30 (refund), 04-20 80
    C         2026-01-05  2026-01-25  01-05 40
    D         2026-02-03  2026-04-01  02-03 60, 03-03 60
    E         2026-02-14  -           02-14 20, 04-14 40
    F         2026-04-10  -           04-10 30
    G         2026-05-10  2026-06-01  05-10 500   (after as_of: never read)

Segments: A, B, C small; D, E, F large.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test

from analysis import from_frames
from analysis.data.config import DatasetConfig, Thresholds
from analysis.errors import ConfigError, NotEnoughDataError
from analysis.metrics.cohorts import (
    MONTH_DAYS,
    at_risk_table,
    cohort_groups,
    cohort_summary,
    customer_lifetimes,
    km_at,
    km_curves,
    logrank_p,
    pooled_curve,
    retention_matrix,
    retention_trend,
    segment_decay,
    to_wide,
)
from analysis.reporting.i18n import texts

AS_OF = "2026-05-01"
NAN = np.nan


def contractual_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The hand-worked contractual base A..G: customers and orders (one refund, B's -30)."""
    customers = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D", "E", "F", "G"],
        "signup_date": ["2026-01-10", "2026-01-20", "2026-01-05", "2026-02-03", "2026-02-14",
                        "2026-04-10", "2026-05-10"],
        "churn_date": ["2026-03-15", None, "2026-01-25", "2026-04-01", None, None, "2026-06-01"],
        "size": ["small", "small", "small", "large", "large", "large", "large"],
    })
    orders = pd.DataFrame({
        "customer_id": ["A", "A", "A", "B", "B", "B", "B", "B", "C", "D", "D", "E", "E", "F", "G"],
        "order_date": ["2026-01-10", "2026-02-10", "2026-03-10",
                       "2026-01-20", "2026-02-20", "2026-03-20", "2026-03-25", "2026-04-20",
                       "2026-01-05", "2026-02-03", "2026-03-03", "2026-02-14", "2026-04-14",
                       "2026-04-10", "2026-05-10"],
        "amount": [100, 100, 100, 50, 80, 80, -30, 80, 40, 60, 60, 20, 40, 30, 500.0],
        "order_id": [f"o{i}" for i in range(15)],
    })
    return customers, orders


def contractual(extra_customers=None, extra_orders=None, amounts=True):
    customers, orders = contractual_frames()
    if extra_customers is not None:
        customers = pd.concat([customers, extra_customers], ignore_index=True)
    if extra_orders is not None:
        orders = pd.concat([orders, extra_orders], ignore_index=True)
    if not amounts:
        orders = orders.drop(columns="amount")
    cfg = DatasetConfig(business_model="contractual", observed_until="2026-06-30")
    return from_frames(customers=customers, orders=orders, config=cfg)


def non_contractual(extra_orders=None):
    """Horizon 30 days. P buys 01-05, 01-20 (lost 02-19); Q buys 01-10, 03-01, 04-25 (a 50-day
    pause, came back: never lost; censored); R buys 02-01 (lost 03-03); S buys 04-15 (censored)."""
    orders = pd.DataFrame({
        "customer_id": ["P", "P", "Q", "Q", "Q", "R", "S"],
        "order_date": ["2026-01-05", "2026-01-20", "2026-01-10", "2026-03-01", "2026-04-25",
                       "2026-02-01", "2026-04-15"],
        "amount": [10, 10, 20, 20, 20, 5, 7.0],
    })
    if extra_orders is not None:
        orders = pd.concat([orders, extra_orders], ignore_index=True)
    cfg = DatasetConfig(business_model="non_contractual", observed_until="2026-06-30",
                        thresholds=Thresholds(churn_horizon_days=30))
    return from_frames(orders=orders, config=cfg)


def cells(matrix):
    return to_wide(matrix).to_numpy(dtype="float64")


# ---------------------------------------------------------------- lifetimes and durations
def test_lifetimes_contractual_by_hand():
    life = customer_lifetimes(contractual(), AS_OF).set_index("customer_id")
    assert list(life.index) == ["A", "B", "C", "D", "E", "F"]  # G signed up after as_of
    # A 01-10 -> 03-15; B 01-20 -> 05-01 (censored); C 01-05 -> 01-25; D 02-03 -> 04-01;
    # E 02-14 -> 05-01 (censored); F 04-10 -> 05-01 (censored)
    assert life["duration_days"].tolist() == [64, 101, 20, 57, 76, 21]
    assert life["event"].tolist() == [True, False, True, True, False, False]
    assert life["cohort"].dt.strftime("%Y-%m").tolist() == ["2026-01"] * 3 + ["2026-02"] * 2 + ["2026-04"]
    assert np.allclose(life["duration_months"], life["duration_days"] / (365.25 / 12))
    assert life.loc["A", "size"] == "small"


def test_lifetimes_non_contractual_by_hand():
    life = customer_lifetimes(non_contractual(), AS_OF).set_index("customer_id")
    # P: last 01-20 + 30 = 02-19 (event, 45 days); Q: last 04-25 + 30 = 05-25 >= as_of:
    # censored at 05-01, 111 days; R: 02-01 + 30 = 03-03 (event, 30 days); S: censored, 16 days
    assert life["churn_date"].tolist() == [pd.Timestamp("2026-02-19"), pd.NaT,
                                           pd.Timestamp("2026-03-03"), pd.NaT]
    assert life["event"].tolist() == [True, False, True, False]
    assert life["duration_days"].tolist() == [45, 111, 30, 16]


def test_censoring_at_end_of_export_when_as_of_is_later():
    ds = contractual()
    ds.observed_until = pd.Timestamp("2026-03-31")  # the export ends before as_of
    life = customer_lifetimes(ds, AS_OF).set_index("customer_id")
    assert list(life.index) == ["A", "B", "C", "D", "E"]  # F signed up after the export's end
    assert life.loc["B", "end_date"] == pd.Timestamp("2026-04-01")
    assert life.loc["B", "duration_days"] == 71  # 01-20 -> 04-01
    # D's contract ends 04-01, the first day not observed: not known yet, censored there
    assert not life.loc["D", "event"] and life.loc["D", "duration_days"] == 57


# ------------------------------------------------------------------------ retention matrices
def test_customer_retention_matrix_monthly_by_hand():
    m = retention_matrix(contractual(), AS_OF, "M", "customers")
    wide = to_wide(m)
    assert [c.strftime("%Y-%m") for c in wide.index] == ["2026-01", "2026-02", "2026-04"]
    assert list(wide.columns) == [0, 1, 2, 3]  # the January cohort is observable to April
    # Jan: C lost in month 0, A in month 2 (churn 03-15); Feb: D lost 04-01, retained end of March
    expected = np.array([
        [2 / 3, 2 / 3, 1 / 3, 1 / 3],
        [1.0, 1.0, 1 / 2, NAN],
        [1.0, NAN, NAN, NAN],  # acquired in the last complete month: one observable cell
    ])
    np.testing.assert_allclose(cells(m), expected, equal_nan=True)
    assert m["cohort_size"].groupby(m["cohort"]).first().tolist() == [3, 2, 1]
    assert m.loc[~m["observable"], "numerator"].isna().all()


def test_customer_retention_matrix_quarterly_aligns_each_customer_on_own_month():
    m = retention_matrix(contractual(), AS_OF, "Q", "customers")
    # Q1 = A, B, C, D, E; its last signup month is February, so ages 0..2 are observable.
    # age 0: C lost; age 1: still A, B, D, E; age 2 (A: end of March, D: end of April): B, E
    np.testing.assert_allclose(cells(m), [[4 / 5, 4 / 5, 2 / 5], [1.0, NAN, NAN]], equal_nan=True)


def test_revenue_retention_nets_refunds_in_their_month():
    m = retention_matrix(contractual(), AS_OF, "M", "revenue")
    # Jan cohort revenue: Jan 100+50+40 = 190; Feb 100+80 = 180; Mar 100+80-30 (refund) = 150;
    # Apr 80. Feb cohort: Feb 60+20 = 80; Mar 60; Apr 40. Apr cohort: 30.
    expected = np.array([
        [1.0, 180 / 190, 150 / 190, 80 / 190],
        [1.0, 60 / 80, 40 / 80, NAN],
        [1.0, NAN, NAN, NAN],
    ])
    np.testing.assert_allclose(cells(m), expected, equal_nan=True)
    np.testing.assert_allclose(to_wide(m, "numerator").iloc[0], [190, 180, 150, 80])
    pooled = pooled_curve(m)
    np.testing.assert_allclose(pooled["value"], [1.0, 240 / 270, 190 / 270, 80 / 190])
    assert pooled["n_cohorts"].tolist() == [3, 2, 2, 1]


def test_activity_matrix_counts_significant_interactions_not_refunds():
    m = retention_matrix(contractual(), AS_OF, "M", "activity")
    # Jan cohort: Jan A B C; Feb A B; Mar A B (B's refund is no purchase); Apr B
    np.testing.assert_allclose(cells(m)[:2], [[1.0, 2 / 3, 2 / 3, 1 / 3], [1.0, 1 / 2, 1 / 2, NAN]],
                               equal_nan=True)


def test_non_contractual_retention_and_activity_decay():
    ds = non_contractual()
    cust = retention_matrix(ds, AS_OF, "M", "customers")
    # Jan: P lost 02-19 (retained at end of January only); Q paused 50 days but came back:
    # never lost. Feb: R lost 03-03. Apr: S, one observable cell.
    np.testing.assert_allclose(cells(cust), [[1, 1 / 2, 1 / 2, 1 / 2], [1, 0, 0, NAN], [1, NAN, NAN, NAN]],
                               equal_nan=True)
    act = retention_matrix(ds, AS_OF, "M", "activity")
    np.testing.assert_allclose(cells(act), [[1, 0, 1 / 2, 1 / 2], [1, 0, 0, NAN], [1, NAN, NAN, NAN]],
                               equal_nan=True)


def test_revenue_needs_amounts_and_parameters_are_checked():
    with pytest.raises(NotEnoughDataError, match="amount"):
        retention_matrix(contractual(amounts=False), AS_OF, "M", "revenue")
    with pytest.raises(ConfigError, match="cohort_period"):
        retention_matrix(contractual(), AS_OF, "W", "customers")
    with pytest.raises(ConfigError, match="metric"):
        retention_matrix(contractual(), AS_OF, "M", "margin")
    with pytest.raises(NotEnoughDataError):
        customer_lifetimes(contractual(), "2025-01-01")


# ------------------------------------------------------------------------- no look-ahead
def test_no_look_ahead():
    ds = contractual()
    future_c = pd.DataFrame({"customer_id": ["H"], "signup_date": ["2026-05-02"], "churn_date": [None],
                             "size": ["small"]})
    future_o = pd.DataFrame({"customer_id": ["B", "E", "H", "A"],
                             "order_date": ["2026-05-01", "2026-05-20", "2026-05-02", "2026-06-01"],
                             "amount": [-500.0, 900, 70, 10], "order_id": ["f1", "f2", "f3", "f4"]})
    ds2 = contractual(future_c, future_o)
    ds2.customers.loc[ds2.customers["customer_id"].eq("E"), "churn_date"] = pd.Timestamp("2026-05-15")
    pd.testing.assert_frame_equal(customer_lifetimes(ds, AS_OF), customer_lifetimes(ds2, AS_OF))
    for metric in ("customers", "revenue", "activity"):
        pd.testing.assert_frame_equal(retention_matrix(ds, AS_OF, "M", metric),
                                      retention_matrix(ds2, AS_OF, "M", metric))
    assert cohort_summary(ds, AS_OF, segment_by="size") == cohort_summary(ds2, AS_OF, segment_by="size")
    from analysis.metrics.cohorts import cohort_decay

    d1, d2 = cohort_decay(ds, AS_OF, segment_by="size"), cohort_decay(ds2, AS_OF, segment_by="size")
    assert d1.key_figures() == d2.key_figures()
    for frame in ("matrix", "group_at_risk", "cohort_table", "segment_table", "revenue", "activity"):
        pd.testing.assert_frame_equal(getattr(d1, frame), getattr(d2, frame))
    # non-contractual: a purchase after as_of must not bring P (lost 02-19) back
    nc = non_contractual(pd.DataFrame({"customer_id": ["P", "R"], "order_date": ["2026-05-01", "2026-05-03"],
                                       "amount": [10.0, 10.0]}))
    pd.testing.assert_frame_equal(customer_lifetimes(non_contractual(), AS_OF), customer_lifetimes(nc, AS_OF))


# ------------------------------------------------------------------------- Kaplan-Meier
def test_kaplan_meier_by_hand_on_five_customers():
    life = customer_lifetimes(contractual(), AS_OF, "Q")
    curves = km_curves(life, "cohort")
    q1 = curves.loc[curves["group"].eq("2026-01")]
    # Q1 = C 20 lost, D 57 lost, A 64 lost, E 76 censored, B 101 censored (days)
    np.testing.assert_allclose(q1["months"] * MONTH_DAYS, [0, 20, 57, 64, 76, 101])
    np.testing.assert_allclose(q1["survival"], [1, 4 / 5, 4 / 5 * 3 / 4, 4 / 5 * 3 / 4 * 2 / 3, 0.4, 0.4])
    assert q1["at_risk"].tolist() == [5, 5, 4, 3, 2, 1]
    table = km_at(curves, life, "cohort", (1, 2, 3, 6)).set_index("group")
    assert table.loc["2026-01", "retention_1m"] == pytest.approx(0.8)     # 30.4 days
    assert table.loc["2026-01", "retention_2m"] == pytest.approx(0.6)     # 60.9 days
    assert table.loc["2026-01", "retention_3m"] == pytest.approx(0.4)     # 91.3 days
    assert np.isnan(table.loc["2026-01", "retention_6m"])                 # beyond 101 days
    assert table.loc["2026-01", "median_months"] == pytest.approx(64 / MONTH_DAYS)
    assert table.loc["2026-01", "n"] == 5 and table.loc["2026-01", "events"] == 3
    assert np.isnan(table.loc["2026-04", "median_months"])               # F alone, censored


def test_kaplan_meier_matches_lifelines_on_random_durations():
    rng = np.random.default_rng(7)
    n = 300
    life = pd.DataFrame({"duration_months": np.round(rng.exponential(8, n), 1),
                         "event": rng.random(n) < 0.7,
                         "seg": rng.choice(["a", "b"], n)})
    times = (1.5, 3, 6, 12)
    curves = km_curves(life, "seg", alpha=0.1)
    table = km_at(curves, life, "seg", times).set_index("group")
    for seg in ("a", "b"):
        sel = life["seg"].eq(seg)
        kmf = KaplanMeierFitter(alpha=0.1).fit(life.loc[sel, "duration_months"], life.loc[sel, "event"])
        expected = kmf.survival_function_at_times(list(times)).to_numpy()
        got = table.loc[seg, [f"retention_{t:g}m" for t in times]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected)
        ci = kmf.confidence_interval_survival_function_
        lo = [ci.iloc[:, 0].loc[ci.index <= t].iloc[-1] for t in times]
        np.testing.assert_allclose(table.loc[seg, [f"lower_{t:g}m" for t in times]].to_numpy(dtype=float), lo)
        assert table.loc[seg, "median_months"] == pytest.approx(kmf.median_survival_time_)
        risk = at_risk_table(life.loc[sel], None, list(kmf.event_table.index)).set_index("months")
        np.testing.assert_array_equal(risk["at_risk"].to_numpy(), kmf.event_table["at_risk"].to_numpy())


def test_at_risk_table_by_hand():
    life = customer_lifetimes(contractual(), AS_OF, "Q")
    risk = at_risk_table(life, "cohort", (0, 1, 2, 3))
    q1 = risk.loc[risk["group"].eq("2026-01")]
    # durations (months): C 0.66 lost, D 1.87 lost, A 2.10 lost, E 2.50 censored, B 3.32 censored
    assert q1["at_risk"].tolist() == [5, 4, 3, 1]
    assert q1["lost"].tolist() == [0, 1, 2, 3]
    assert q1["censored"].tolist() == [0, 0, 0, 1]


def test_segment_decay_and_logrank():
    life = customer_lifetimes(contractual(), AS_OF)
    table, res = segment_decay(life, "size", at_months=2)
    # at 60.9 days: small (C 20 lost, A 64 lost, B 101 censored): C only -> 2/3;
    # large (F 21 censored, D 57 lost, E 76 censored): D lost with D and E at risk -> 1/2
    got = table.set_index("group")["retention_2m"]
    assert got["small"] == pytest.approx(2 / 3) and got["large"] == pytest.approx(1 / 2)
    assert res["fastest_segment"] == "large"
    assert res["fastest_segment_retention"] == pytest.approx(0.5)
    small, large = life["size"].eq("small"), life["size"].eq("large")
    ref = logrank_test(life.loc[small, "duration_months"], life.loc[large, "duration_months"],
                       life.loc[small, "event"], life.loc[large, "event"])
    assert res["logrank_p"] == pytest.approx(ref.p_value)
    _, res12 = segment_decay(life, "size", at_months=12)  # nobody observed 12 months
    assert res12["fastest_segment"] is None
    with pytest.raises(ConfigError, match="segment_by"):
        segment_decay(life, "email", 12)


# ---------------------------------------------------------------------- trend and summary
def _trend_matrix(rates, sizes, observable):
    cohorts = pd.date_range("2025-01-01", periods=len(rates), freq="MS")
    return pd.DataFrame({"cohort": cohorts, "age": 3, "observable": observable,
                         "numerator": np.array(rates) * np.array(sizes), "denominator": sizes})


def test_retention_trend_by_hand():
    m = _trend_matrix([0.5, 0.6, 0.7, 0.9, 0.8, 0.1], [10, 10, 10, 20, 10, 10],
                      [True, True, True, True, True, False])
    tr = retention_trend(m, age=3, n=6, min_delta=2.0)
    # 5 mature cohorts -> 2 per side: recent = (18 + 8) / 30, older = (6 + 7) / 20
    assert tr["n_per_side"] == 2
    assert tr["recent"] == pytest.approx(26 / 30) and tr["older"] == pytest.approx(13 / 20)
    assert tr["trend_delta"] == pytest.approx(100 * (26 / 30 - 13 / 20))
    assert tr["trend"] == "improving"
    assert retention_trend(_trend_matrix([0.8, 0.6], [10, 10], [True, True]))["trend"] == "worsening"
    assert retention_trend(_trend_matrix([0.80, 0.81], [100, 100], [True, True]))["trend"] == "stable"
    assert retention_trend(_trend_matrix([0.8], [10], [True]))["trend"] is None


def test_retention_trend_p_value_by_hand():
    # recent 90 / 100 retained, older 80 / 100: pooled 0.85, z = 0.1 / sqrt(0.85 * 0.15 * 2 / 100) = 1.9803,
    # two-sided p = erfc(z / sqrt 2) = 0.0477
    tr = retention_trend(_trend_matrix([0.8, 0.9], [100, 100], [True, True]))
    z = 0.1 / math.sqrt(0.85 * 0.15 * 2 / 100)
    assert tr["trend"] == "improving" and tr["trend_p"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert tr["trend_p"] == pytest.approx(0.0477, abs=1e-4)
    # 8 / 10 -> 6 / 10: "worsening" by 20 points, but p = 0.33 (not significant)
    small = retention_trend(_trend_matrix([0.8, 0.6], [10, 10], [True, True]))
    z = 0.2 / math.sqrt(0.7 * 0.3 * 2 / 10)
    assert small["trend_p"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert small["trend_p"] == pytest.approx(0.3291, abs=1e-4)
    # everyone retained on both sides: no test
    assert retention_trend(_trend_matrix([1.0, 1.0], [10, 10], [True, True]))["trend_p"] is None


def test_cohort_summary_keys_and_values():
    s = cohort_summary(contractual(), AS_OF, "M", segment_by="size")
    assert s["cohort_period"] == "M" and s["n_cohorts"] == 3 and s["n_customers"] == 6
    # base-wide KM: C 20 lost (6 at risk), F 21 censored, D 57 lost (4), A 64 lost (3)
    assert s["retention_3m"] == pytest.approx(5 / 6 * 3 / 4 * 2 / 3)
    assert s["retention_6m"] is None and s["retention_12m"] is None
    assert s["median_lifetime_months"] == pytest.approx(64 / MONTH_DAYS)
    # customer retention at age 3: only the January cohort is mature -> no trend
    assert s["trend"] is None and s["trend_metric"] == "customers"
    assert s["fastest_segment"] is None and 0 < s["logrank_p"] <= 1
    assert cohort_summary(non_contractual(), AS_OF)["trend_metric"] == "activity"


def test_cohort_decay_is_one_call_with_the_summary_figures():
    from analysis.metrics.cohorts import cohort_decay
    from analysis.reporting.narrative import cohort_takeaways
    from analysis.reporting.summary import missing_keys

    ds = contractual()
    run = cohort_decay(ds, AS_OF, "M", segment_by="size", metric="revenue")
    assert run.segment == "size" and run.heat_metric == "revenue"
    kf = run.key_figures()
    assert {k: v for k, v in kf.items() if k in run.summary} == cohort_summary(ds, AS_OF, "M", segment_by="size")
    assert kf["heatmap_metric"] == "revenue" and kf["as_of"] == pd.Timestamp(AS_OF).date().isoformat()
    assert missing_keys("03_cohort_decay", kf) == []
    pd.testing.assert_frame_equal(run.matrix, retention_matrix(ds, AS_OF, "M", "revenue"))
    assert run.group_at_risk["months"].max() <= run.lifetimes["duration_months"].max()
    assert run.segment_table is not None and set(run.segment_at_risk["group"]) == set(run.lifetimes["size"].dropna())
    assert cohort_decay(ds, AS_OF, segment_by="none").segment_table is None
    # the takeaways are words from these figures: 3-month retention printed per 100 customers
    assert f"{100 * kf['retention_3m']:.0f}" in cohort_takeaways(kf, "en")


def test_cohort_groups_bins_consecutive_cohorts():
    c = pd.Series(pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-01-01"]))
    assert cohort_groups(c, 2).tolist() == ["2026-01 – 2026-02", "2026-01 – 2026-02",
                                             "2026-03 – 2026-04", "2026-03 – 2026-04",
                                             "2026-01 – 2026-02"]
    assert cohort_groups(c, 10).tolist() == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-01"]


# ------------------------------------------------------------------------- labels, plots
def test_cohort_labels_have_both_languages():
    from importlib import resources

    import yaml

    own = yaml.safe_load((resources.files("analysis.reporting") / "locales" / "cohorts.yml").read_text("utf-8"))
    for key in own:
        assert set(texts()[key]) == {"en", "fr"}, key


def test_plots_return_axes_and_hide_immature_cells():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.reporting.plots.cohorts import (
        plot_curves_by_age,
        plot_retention_at,
        plot_retention_heatmap,
        plot_survival,
    )

    ds = contractual()
    m = retention_matrix(ds, AS_OF, "M", "customers")
    ax = plot_retention_heatmap(m, lang="fr")
    from matplotlib.collections import QuadMesh

    shown = next(c for c in ax.collections if isinstance(c, QuadMesh)).get_array()  # seaborn's heatmap
    np.testing.assert_array_equal(np.ma.getmaskarray(shown), ~to_wide(m, "observable").to_numpy(dtype=bool))
    # one printed percentage per observable cell (January cohort: 2 of 3 still there at the end of month 0)
    assert len(ax.texts) == int(to_wide(m, "observable").to_numpy(dtype=bool).sum())
    assert ax.texts[0].get_text().replace("\u202f", " ") == "67 %"
    life = customer_lifetimes(ds, AS_OF)
    curves = km_curves(life, "size")
    assert plot_survival(curves, lang="en").get_ylabel() == "share not lost"
    assert plot_curves_by_age(retention_matrix(ds, AS_OF, "M", "revenue")).lines
    assert plot_retention_at(km_at(curves, life, "size")).get_xlabel()
    plt.close("all")


# ------------------------------------------------------------------ left truncation, log-rank
def test_logrank_equals_lifelines_without_entry():
    rng = np.random.default_rng(3)
    n = 400
    d = np.round(rng.exponential(6, n), 0) + 1  # many ties
    e = rng.random(n) < 0.6
    g = rng.choice(["x", "y", "z"], n)
    ref = multivariate_logrank_test(d, g, e).p_value
    assert logrank_p(d, e, g) == pytest.approx(ref, rel=1e-9)


def test_logrank_with_delayed_entry_by_hand():
    # a: (entry 0, 2, lost), (entry 1.5, 3, lost); b: (0, 1, lost), (0, 4, censored)
    # t=1: at risk a 1 (the second enters at 1.5), b 2 -> O-E = -1/3, V = 2/9
    # t=2: a 2, b 1 -> O-E = 1/3, V = 2/9;  t=3: a 1, b 1 -> O-E = 1/2, V = 1/4
    # chi2 = (1/2)^2 / (25/36) = 0.36
    from scipy.stats import chi2

    p = logrank_p([2, 3, 1, 4], [True, True, True, False], ["a", "a", "b", "b"], [0, 1.5, 0, 0])
    assert p == pytest.approx(chi2.sf(0.36, 1))
    assert np.isnan(logrank_p([1, 2], [True, False], ["a", "a"]))


def test_left_truncated_customers_enter_at_observation_start():
    # The export's first event is 2026-01-05: customers Y (signed up 2025-07-01) and Z
    # (2025-10-01, contract ended 2025-12-01, before the window) are left-truncated.
    extra = pd.DataFrame({"customer_id": ["Y", "Z"], "signup_date": ["2025-07-01", "2025-10-01"],
                          "churn_date": ["2026-02-15", "2025-12-01"], "size": ["small", "large"]})
    ds = contractual(extra_customers=extra)
    life = customer_lifetimes(ds, AS_OF).set_index("customer_id")
    assert "Z" not in life.index  # lost before anything was observed
    assert life.loc["Y", "left_truncated"] and not life.loc["A", "left_truncated"]
    assert life.loc["Y", "entry_months"] == pytest.approx(188 / MONTH_DAYS)  # 2025-07-01 -> 2026-01-05
    assert life.loc["Y", "duration_days"] == 229 and life.loc["Y", "event"]
    # the cohort matrix ignores Y: identical to the base without it
    pd.testing.assert_frame_equal(retention_matrix(ds, AS_OF), retention_matrix(contractual(), AS_OF))
    # KM with delayed entry: Y is at risk only from 6.2 months, after every other duration,
    # and is lost at 7.5 months: S drops from 5/12 to 0 there; before, the curve is unchanged
    life = life.reset_index()
    curves = km_curves(life)
    np.testing.assert_allclose(curves["survival"].iloc[-1], 0.0)
    base = km_curves(customer_lifetimes(contractual(), AS_OF))
    early = curves.loc[curves["months"] <= 101 / MONTH_DAYS, "survival"].to_numpy()
    np.testing.assert_allclose(early, base["survival"].to_numpy())
    risk = at_risk_table(life, None, (0, 7)).set_index("months")
    assert risk.loc[0.0, "at_risk"] == 6 and risk.loc[7.0, "at_risk"] == 1


def test_group_without_km_estimate_is_left_out_with_a_warning():
    # group "old": the only customer at risk is lost at 1, then another enters at 2:
    # lifelines cannot estimate S after 1 (S = 0 with later entries); group "new" is fine
    life = pd.DataFrame({"duration_months": [1.0, 3.0, 1.0, 2.0], "event": [True, False, True, False],
                         "entry_months": [0.0, 2.0, 0.0, 0.0], "g": ["old", "old", "new", "new"]})
    with pytest.warns(UserWarning, match="old"):
        curves = km_curves(life, "g")
    assert set(curves["group"]) == {"new"} and curves.attrs["skipped"] == ["old"]
    table = km_at(curves, life, "g", (1,)).set_index("group")
    assert table.loc["new", "retention_1m"] == pytest.approx(0.5)
    assert np.isnan(table.loc["old", "retention_1m"])
    with pytest.raises(NotEnoughDataError), pytest.warns(UserWarning):
        km_curves(life.loc[life["g"].eq("old")], "g")
