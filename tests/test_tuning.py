"""Threshold tuning of the retro-audit (issue #15) on tiny hand-made bases.

The separable base, worked out by hand: 50 "main" customers signed up on 2023-01-02 buy
every Monday for 100 (and 12 larger customers signed up in 2025, another tenure band,
hold the top value tier, so that lost and retained clients are all "standard" and can be
matched). The 20 lost clients L00..L19 cancel on 2026-02-16 + 4 i days (all within 90
days, so no lost client is ever a control of another); 24 weeks before its cancellation
each one's basket falls to 55 (-45 %). The 30 retained clients' baskets all fall to 72
(-28 %) on 2025-10-06. The basket alert compares the mean basket of the last 90 days with
the 180 days before: it reaches -45 % for a lost client about 13 weeks after its drop
(lead about 11 weeks), and a retained client's change is below -25 % from 2025-12-22 to
2026-01-25 only (inside every control window, at least 4 weeks before the pseudo-churn
dates 2026-02-16 .. 2026-05-02). So the default 25 % fires for everyone (precision 1 / (1 + 3)
= 0.25 with three controls per lost client) and any basket threshold from 28 % to 45 %
separates the groups perfectly: 30 % is the first such candidate of the grid.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

import analysis
from analysis.data.config import parse_config
from analysis.errors import ConfigError
from analysis.metrics import signals
from analysis.models import tuning
from analysis.models.audit import RetroAudit

AS_OF = "2026-09-01"
SIGNUP = "2023-01-02"
FIRST_ORDER = pd.Timestamp("2024-06-03")
LAST_DAY = pd.Timestamp("2026-08-31")
RETAINED_DROP = pd.Timestamp("2025-10-06")


def _weekly(cid: str, start: pd.Timestamp, stop: pd.Timestamp, amount) -> pd.DataFrame:
    days = pd.date_range(start, stop - pd.Timedelta(days=1), freq="7D")
    amt = amount(days) if callable(amount) else np.full(len(days), float(amount))
    return pd.DataFrame({"customer_id": cid, "order_date": days, "amount": amt})


def _separable(churn_days_after: int = 0, spacing: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    lost = [f"L{i:02d}" for i in range(20)]
    kept = [f"R{i:02d}" for i in range(30)]
    whales = [f"W{i:02d}" for i in range(12)]
    churn = {c: pd.Timestamp("2026-02-16") + pd.Timedelta(days=spacing * i + churn_days_after) for i, c in enumerate(lost)}
    customers = pd.DataFrame({
        "customer_id": lost + kept + whales,
        "signup_date": [SIGNUP] * 50 + ["2025-03-03"] * 12,
        "churn_date": [churn[c].date().isoformat() for c in lost] + [None] * 42,
        "plan": ["pro"] * 62,
    })
    parts = []
    for c in lost:
        drop = churn[c] - pd.Timedelta(weeks=24)
        parts.append(_weekly(c, FIRST_ORDER, churn[c], lambda d, drop=drop: np.where(d < drop, 100.0, 55.0)))
    for c in kept:
        parts.append(_weekly(c, FIRST_ORDER, LAST_DAY, lambda d: np.where(d < RETAINED_DROP, 100.0, 72.0)))
    for c in whales:
        parts.append(_weekly(c, pd.Timestamp("2025-03-03"), LAST_DAY, 5000.0))
    return customers, pd.concat(parts, ignore_index=True)


def _noise(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same shape, but every main customer's basket falls by a random share (0-60 %) at
    a random date, whether it is lost or not, and amounts are noisy."""
    customers, _ = _separable()
    rng = np.random.default_rng(seed)
    ids = customers["customer_id"].tolist()
    churn = pd.to_datetime(customers.set_index("customer_id")["churn_date"])
    parts = []
    for c in ids:
        if c.startswith("W"):
            parts.append(_weekly(c, pd.Timestamp("2025-03-03"), LAST_DAY, 5000.0))
            continue
        stop = churn[c] if pd.notna(churn[c]) else LAST_DAY
        drop = pd.Timestamp("2025-06-01") + pd.Timedelta(days=int(rng.integers(0, 365)))
        size = rng.uniform(0.0, 0.6)
        noise = rng.lognormal(0.0, 0.3, size=200)
        parts.append(_weekly(c, FIRST_ORDER, stop, lambda d, drop=drop, size=size, noise=noise:
                             np.where(d < drop, 100.0, 100.0 * (1 - size)) * noise[:len(d)]))
    return customers, pd.concat(parts, ignore_index=True)


def _fit(customers, orders, as_of=AS_OF, **kw):
    ds = analysis.from_frames(customers=customers, orders=orders)
    audit = RetroAudit(n_lost=100, ratio=3, random_state=0).fit(ds, as_of)
    return ds, audit, tuning.ThresholdTuner(n_boot=500, **kw).fit(audit, ds)


@pytest.fixture(scope="module")
def separable():
    return _fit(*_separable())


def _rec(tuner, indicator, scope=tuning.BASE):
    r = tuner.recommendations_
    return r.loc[r["scope"].eq(scope) & r["indicator"].eq(indicator)].iloc[0]


def test_default_candidate_reproduces_the_audit(separable):
    ds, audit, tuner = separable
    g = tuner.grid_
    default = g.loc[g["period"].eq("all") & g["scope"].eq("base") & g["is_default"]].set_index("indicator")
    per = audit.per_indicator_.set_index("indicator")
    for ind in ("frequency", "recency", "value"):
        for col in ("recall", "false_alarm_rate", "precision", "median_lead_weeks"):
            a, b = default.loc[ind, col], per.loc[ind, col]
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b), (ind, col)
    # every lost and every retained window fired with the default 25 %: precision 1 / (1 + 3)
    assert default.loc["value", "recall"] == 1.0 and default.loc["value", "false_alarm_rate"] == 1.0
    assert default.loc["value", "precision"] == pytest.approx(0.25)


def test_tuner_finds_the_separating_threshold(separable):
    ds, audit, tuner = separable
    rec = _rec(tuner, "value")
    assert rec["status"] == "adopted"
    params = tuner.params_of(int(rec["adopted"]))
    assert params["basket_drop"] == 0.30
    # evaluation period (the 10 later departures and their 30 controls), worked out above
    assert rec["n_lost_tune"] == 10 and rec["n_lost_eval"] == 10
    assert rec["eval_precision_default"] == pytest.approx(0.25)
    assert rec["eval_precision_tuned"] == 1.0 and rec["eval_recall_tuned"] == 1.0
    assert rec["eval_false_alarm_rate_tuned"] == 0.0
    # every resample holds 1 lost + 3 retained per case: the gain is 0.75 in all of them
    assert (rec["gain"], rec["gain_low"], rec["gain_high"]) == pytest.approx((0.75, 0.75, 0.75))
    block = tuner.thresholds_block({"churn_horizon_days": 90})
    assert block["basket_drop"] == 0.30 and block["churn_horizon_days"] == 90
    assert "value" in tuner.watch()


def test_block_is_accepted_by_the_config_and_applied_by_the_signals(separable):
    ds, audit, tuner = separable
    block = tuner.thresholds_block({"churn_horizon_days": 90}, switch_off=True)
    text = yaml.safe_dump({"thresholds": block}, sort_keys=False)
    cfg = parse_config(yaml.safe_load(text))
    assert cfg.signal_params.basket_drop == 0.30 and cfg.thresholds.churn_horizon_days == 90
    tuned_ds = analysis.from_frames(customers=ds.customers, orders=ds.orders, config=cfg)
    dates = pd.DatetimeIndex(["2026-01-12", "2026-05-04"])
    with_config = signals.indicators(tuned_ds, dates)
    explicit = signals.indicators(ds, dates, params=signals.SignalParams(basket_drop=0.30))
    pd.testing.assert_series_equal(with_config["alert_basket"], explicit["alert_basket"])
    # retained clients' -28 % no longer fires; it did with the default 25 %
    r = with_config.loc[with_config["customer_id"].str.startswith("R") & with_config["as_of"].eq("2026-01-12")]
    assert not r["alert_basket"].any()
    default = signals.indicators(ds, dates)
    assert default.loc[r.index, "alert_basket"].all()


def test_apply_thresholds_equals_recomputing_the_indicators(separable):
    ds, _, _ = separable
    dates = pd.date_range("2025-11-03", "2026-06-01", freq="28D")
    p = signals.SignalParams(freq_drop=0.2, freq_months=1, basket_drop=0.4, interval_drift=0.5, share_drop=0.3,
                             recency_alert_days=5)
    direct = signals.indicators(ds, dates, params=p)
    replayed = signals.apply_thresholds(signals.indicators(ds, dates), p.resolved(ds))
    for col in (*signals.INDICATORS.values(), "alert_basket", "alert_interval", "alert_share", "n_alerts"):
        pd.testing.assert_series_equal(replayed[col], direct[col], check_names=False)


@pytest.mark.parametrize("seed", [3, 4])
def test_pure_noise_keeps_the_defaults(seed):
    # seeds where the tuning period prefers another value threshold than the default (seed 3
    # even with a bootstrap gain above 0, but no lift above 1 on the later period): the
    # evaluation period must keep the default
    ds, audit, tuner = _fit(*_noise(seed))
    r = tuner.recommendations_
    value = _rec(tuner, "value")
    assert value["tuned"] != value["default"]
    assert not r["status"].eq("adopted").any()
    assert (r["adopted"].dropna() == r.loc[r["adopted"].notna(), "default"]).all()
    defaults = tuner.params_of(int(value["default"]))
    block = tuner.thresholds_block()
    assert all(block[k] == v for k, v in defaults.items())


def test_no_look_ahead():
    customers, orders = _separable()
    as_of = pd.Timestamp("2026-06-01")
    _, _, full = _fit(customers, orders, as_of=as_of)
    cut = customers.assign(churn_date=customers["churn_date"].where(pd.to_datetime(customers["churn_date"]) < as_of))
    _, _, past = _fit(cut, orders.loc[orders["order_date"] < as_of], as_of=as_of)
    pd.testing.assert_frame_equal(full.recommendations_, past.recommendations_)
    pd.testing.assert_frame_equal(full.grid_, past.grid_)


def test_segments_need_the_documented_minimum(separable):
    ds, audit, tuner = separable
    # one segment value "pro" holding every client: 10 lost per period < 30, no segment scope
    assert set(tuner.recommendations_["scope"]) == {tuning.BASE}
    small = tuning.ThresholdTuner(n_boot=500, min_segment_lost=10).fit(audit, ds)
    assert set(small.recommendations_["scope"]) == {tuning.BASE, "plan=pro"}
    seg = _rec(small, "value", "plan=pro")
    assert small.params_of(int(seg["adopted"]))["basket_drop"] == 0.30
    # same threshold as the base: nothing written per segment
    assert "segments" not in small.thresholds_block()


def test_katz_interval_matches_scipy():
    from scipy.stats.contingency import relative_risk

    lo, hi = tuning.katz_lift_ci([10, 7], [50, 40], [30, 12], [150, 120])
    for i, cells in enumerate([(10, 50, 30, 150), (7, 40, 12, 120)]):
        ci = relative_risk(*cells).confidence_interval(0.95)
        assert (lo[i], hi[i]) == pytest.approx((ci.low, ci.high))


def test_config_rejects_bad_thresholds():
    with pytest.raises(ConfigError, match="basket_drop"):
        parse_config({"thresholds": {"basket_drop": 1.5}})
    with pytest.raises(ConfigError, match="disabled"):
        parse_config({"thresholds": {"disabled": ["weather"]}})
    with pytest.raises(ConfigError, match="segments.plan.pro"):
        parse_config({"thresholds": {"segments": {"plan": {"pro": {"colour": 1}}}}})
    cfg = parse_config({"thresholds": {"interval_drift": 1000, "disabled": ["email"],
                                       "segments": {"plan": {"pro": {"nps_drop": 3}}}}})
    assert cfg.signal_params.interval_drift == 1000.0 and cfg.thresholds.disabled == ("email",)
    assert cfg.thresholds.segments == {"plan": {"pro": {"nps_drop": 3}}}


def test_objective_must_be_known(separable):
    ds, audit, _ = separable
    with pytest.raises(ConfigError, match="objective"):
        tuning.ThresholdTuner(objective="accuracy").fit(audit, ds)


def test_cli_audit_tune_writes_block_and_grid(tmp_path, capsys):
    from analysis.cli import main

    customers, orders = _separable()
    folder = tmp_path / "base"
    folder.mkdir()
    customers.to_csv(folder / "customers.csv", index=False)
    orders.assign(order_date=orders["order_date"].dt.strftime("%Y-%m-%d")).to_csv(folder / "orders.csv", index=False)
    out = tmp_path / "suggested" / "thresholds.yml"
    assert main(["audit", str(folder), "--as-of", AS_OF, "--tune", "--out", str(out), "--lang", "fr"]) == 0
    cfg = parse_config(yaml.safe_load(out.read_text(encoding="utf-8")))
    assert cfg.signal_params.basket_drop == 0.30
    assert "Seuils suggérés" in out.read_text(encoding="utf-8")
    grid = pd.read_csv(tmp_path / "suggested" / "thresholds_grid.csv")
    n_candidates = len(tuning.default_grid())
    assert len(grid) == 3 * n_candidates  # base scope x periods all, tune, evaluate
    assert grid["is_tuned"].sum() == 3 * 1  # the value candidate, in each period
    printed = capsys.readouterr().out
    assert "adopted" in printed and "written" in printed
    assert main(["audit", str(folder), "--as-of", AS_OF, "--tune"]) == 1
    assert "needs --out" in capsys.readouterr().err


def test_executive_summary_names_the_indicators_to_watch():
    from analysis.reporting.summary import executive_summary

    es = executive_summary({"02_retro_audit": {"tuning_watch": ["usage", "value"], "tuning_uninformative": ["email"]}},
                           "en")
    assert any("product usage, value erosion" in s for s in es["audit"])
    assert any("email attention" in s and "switched off" in s for s in es["audit"])
    assert executive_summary({"02_retro_audit": {}}, "en")["audit"] == []


def test_configured_segments_and_switched_off_indicators_reach_the_signals(separable):
    ds, _, _ = separable
    customers = ds.customers.assign(plan=np.where(ds.customers["customer_id"].str.startswith("R0"), "basic", "pro"))
    cfg = parse_config({"thresholds": {"disabled": ["recency"],
                                       "segments": {"plan": {"basic": {"basket_drop": 0.30}}}}})
    tuned = analysis.from_frames(customers=customers, orders=ds.orders, config=cfg)
    dates = pd.DatetimeIndex(["2026-01-12"])
    got = signals.indicators(tuned, dates).set_index("customer_id")
    # R00..R09 (plan basic) no longer fire at -28 %; R10..R29 (pro) still do with the default 25 %
    assert not got.loc[[f"R{i:02d}" for i in range(10)], "alert_basket"].any()
    assert got.loc[[f"R{i:02d}" for i in range(10, 30)], "alert_basket"].all()
    assert got["alert_recency"].isna().all()
    assert got.attrs["disabled"] == ["recency"]


def test_apply_thresholds_nps_and_usage():
    # NPS answers: A 9 -> 6 (promoter to detractor, -3), B 8 -> 5 (-3), C 7 -> 6 (-1), D 9 -> 8 (-1);
    # usage: A..D use two features daily until 2026-02-01, then A and B stop, C uses one feature
    customers = pd.DataFrame({"customer_id": list("ABCD"), "signup_date": "2025-06-02"})
    nps = pd.DataFrame({"customer_id": list("ABCDABCD"),
                        "response_date": ["2025-09-01"] * 4 + ["2026-01-05"] * 4,
                        "score": [9, 8, 7, 9, 6, 5, 6, 8]})
    days = pd.date_range("2025-06-02", "2026-02-28", freq="D")
    rows = [(c, d, f) for c in "ABCD" for d in days for f in ("x", "y")
            if d < pd.Timestamp("2026-02-01") or (c == "C" and f == "x") or c == "D"]
    usage = pd.DataFrame(rows, columns=["customer_id", "event_date", "feature"])
    ds = analysis.from_frames(customers=customers, nps=nps, usage=usage)
    dates = pd.DatetimeIndex(["2026-01-20", "2026-02-20", "2026-03-01"])
    base = signals.indicators(ds, dates)
    for p in (signals.SignalParams(nps_drop=1, usage_drop=0.15), signals.SignalParams(nps_drop=4, usage_drop=0.5),
              signals.SignalParams(nps_drop=3, usage_drop=0.3)):
        direct = signals.indicators(ds, dates, params=p)
        replayed = signals.apply_thresholds(base, p.resolved(ds))
        for col in ("alert_nps", "alert_usage", "n_alerts"):
            pd.testing.assert_series_equal(replayed[col], direct[col], check_names=False)
    # hand check at 2026-01-20: NPS drop >= 4 fires only for A (promoter turned detractor)
    strict = signals.apply_thresholds(base, signals.SignalParams(nps_drop=4).resolved(ds))
    jan = strict.loc[strict["as_of"].eq("2026-01-20")].set_index("customer_id")["alert_nps"]
    assert jan.tolist() == [True, False, False, False]


def test_recall_at_a_false_alarm_budget(separable):
    ds, audit, _ = separable
    tuner = tuning.ThresholdTuner(objective="recall", far_budget=0.10, n_boot=500).fit(audit, ds)
    rec = _rec(tuner, "value")
    # the default fires for every retained window (false-alarm rate 1 > 10 %): the tuned one
    # must win on false alarms; basket 30 % keeps recall 1 with no false alarm
    assert rec["gain_measure"] == "far_reduction" and rec["status"] == "adopted"
    assert tuner.params_of(int(rec["adopted"]))["basket_drop"] == 0.30
    assert (rec["gain"], rec["gain_low"]) == pytest.approx((1.0, 1.0))


def test_wilson_interval_matches_scipy():
    from scipy.stats import binomtest

    ks, ns = [0, 1, 7, 30, 50], [50, 3, 40, 30, 120]
    lo, hi = tuning.wilson_ci(ks, ns)
    for i, (k, n) in enumerate(zip(ks, ns, strict=True)):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert (lo[i], hi[i]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert np.isnan(tuning.wilson_ci([0], [0])[0][0])


def test_recommendation_words(separable):
    from analysis.reporting import tuning as words

    ds, audit, tuner = separable
    sentences = words.recommendation_sentences(tuner, "en")
    value = next(s for s in sentences if s.startswith("**value erosion**: use"))
    assert "basket down more than 30%" in value and "precision goes from 25% to 100%" in value
    assert "gain in precision: +75.0 points, interval +75.0 to +75.0" in value   # a gain of shares: points
    fr = words.recommendation_table(tuner, "fr")
    assert len(fr) == 3 and "Adopter le seuil ajusté" in fr.iloc[2].tolist()
    assert fr.iloc[2]["précision (défaut → ajusté [intervalle])"].startswith("25 % → 100 %")
    # the gain in points, the lift and both bounds with the same decimals (2 below 10, 1 above)
    assert fr.iloc[2]["gain [intervalle]"] == "+75,0 points [+75,0 ; +75,0]"
    assert fr.iloc[2]["lift du seuil ajusté [intervalle]"] == "∞ [3,77 ; 928,0]"
    text = words.thresholds_yaml(tuner, lang="en")
    assert yaml.safe_load(text)["thresholds"]["basket_drop"] == 0.30
    assert "# disabled: [frequency, recency]" in text  # never fired: uninformative, left commented
    assert all(line.startswith("    ") for line in words.yaml_markdown(tuner, "en").splitlines())
    assert words.segments_text(tuner, "en").startswith("No segment has 30 lost clients")
    assert words._md_safe("<b>x*</b>") == "&lt;b&gt;x\\*&lt;/b&gt;"


def test_segment_with_its_own_threshold_is_written_per_segment():
    # Clients with an even number are on plan "basic", signed up on 2024-09-02 (another tenure
    # band, so they are matched among themselves), and their retained clients' baskets fall by
    # 36 % instead of 28 %: on the whole base only 40 % separates lost (-45 %) from retained,
    # while plan "pro" alone is separated by 30 % already (the first such grid candidate).
    customers, orders = _separable()
    num = customers["customer_id"].str[1:].astype(int)
    basic = num.mod(2).eq(0) & ~customers["customer_id"].str.startswith("W")
    customers = customers.assign(plan=np.where(basic, "basic", "pro"),
                                 signup_date=np.where(basic, "2024-09-02", customers["signup_date"]))
    basic_ids = set(customers.loc[basic, "customer_id"])
    orders = orders.loc[~(orders["customer_id"].isin(basic_ids) & (orders["order_date"] < pd.Timestamp("2024-09-02")))]
    low = (orders["customer_id"].isin(basic_ids) & orders["customer_id"].str.startswith("R")
           & (orders["order_date"] >= RETAINED_DROP))
    orders = orders.assign(amount=orders["amount"].where(~low, 64.0))
    ds, audit, tuner = _fit(customers, orders, min_segment_lost=5, segments=("plan",))
    base = tuner.params_of(int(_rec(tuner, "value")["adopted"]))
    pro = _rec(tuner, "value", "plan=pro")
    assert base["basket_drop"] == 0.40
    assert pro["status"] == "adopted" and tuner.params_of(int(pro["adopted"]))["basket_drop"] == 0.30
    block = tuner.thresholds_block()
    assert block["basket_drop"] == 0.40
    assert block["segments"] == {"plan": {"pro": tuner.params_of(int(pro["adopted"]))}}
    cfg = parse_config(yaml.safe_load(yaml.safe_dump({"thresholds": block})))
    assert cfg.thresholds.segments["plan"]["pro"]["basket_drop"] == 0.30


def test_departures_on_one_date_keep_the_defaults():
    ds, audit, tuner = _fit(*_separable(spacing=0))
    assert not tuner.split_ok_
    r = tuner.recommendations_.set_index("indicator")
    assert r.loc["value", "status"] == "too_few_departures"
    assert r.loc["value", "adopted"] == r.loc["value", "default"]
    from analysis.reporting import tuning as words

    assert "too few dates" in words.intro_text(tuner, "en")
    assert tuner.thresholds_block()["basket_drop"] == 0.25
