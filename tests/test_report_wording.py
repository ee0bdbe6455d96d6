"""Wording of the reports' sentences (issue 14b): real plurals, a difference worded as a finding
only when its test is significant, alarms with their counts. Hand-made figures, exact sentences."""

from __future__ import annotations

from analysis.reporting.narrative import cohort_takeaways, decisions_markdown
from analysis.reporting.reactivation import summary_sentences


def _cohort_figures(**kw) -> dict:
    figures = {"retention_3m": 0.9, "retention_6m": 0.8, "retention_12m": 0.7, "median_lifetime_months": None,
               "trend": "stable", "trend_delta": -0.8, "trend_n_per_side": 1, "trend_recent": 0.98,
               "trend_older": 0.99, "trend_age": 3, "trend_metric": "customers", "segment_by": "plan",
               "fastest_segment": "Starter", "fastest_segment_retention_12m": 0.85, "logrank_p": 0.140841}
    return {**figures, **kw}


def test_cohort_trend_plurals():
    one = cohort_takeaways(_cohort_figures(), "fr").splitlines()[2]
    assert one == ("- **Stable** : à 3 mois, 98 % (" + _metric("fr") + ") pour la cohorte la plus récente, "
                   "contre 99 % pour la précédente (-0,8 points).")
    six = cohort_takeaways(_cohort_figures(trend_n_per_side=6), "en").splitlines()[2]
    assert "for the 6 most recent cohorts, against 99% for the 6 before" in six
    assert "(s)" not in cohort_takeaways(_cohort_figures(trend_n_per_side=6), "fr")


def _metric(lang):
    from analysis.reporting.i18n import t

    return t("coh_metric_customers", lang)


def test_cohort_segment_is_a_finding_only_below_005():
    lines = cohort_takeaways(_cohort_figures(), "fr").splitlines()
    assert lines[-1] == ("- Par plan, **Starter** tend à s'éroder plus vite (85 % encore clients après 12 mois), "
                         "mais l'écart entre segments n'est pas significatif (tendance, non significative : "
                         "log-rank p = 0,141) ; ce n'est pas un constat.")
    lines = cohort_takeaways(_cohort_figures(logrank_p=0.004), "en").splitlines()
    assert lines[-1].startswith("- By plan, **Starter** decays fastest: 85% still customers after 12 months "
                                "(log-rank test across segments: p = 0.004;")


def test_decisions_markdown_counts_alerts_with_plurals():
    figures = {"month": "2026-10", "kpis_month": {"active_customers": 120, "churn_rate": 0.02},
               "kpis_prev_month": {"active_customers": 100}, "decisions": [],
               "alerts": [{"kind": "threshold", "code": "open_rate", "kpi": "open_rate", "value": 0.05,
                           "threshold": 0.1}]}
    text = decisions_markdown(figures, "fr")
    assert "taux d'attrition 2,0 % ; 1 alerte." in text
    figures["alerts"] = figures["alerts"] * 2
    assert "churn rate 2.0%; 2 alerts." in decisions_markdown(figures, "en")
    figures["alerts"] = []
    assert "; 0 alerte." in decisions_markdown(figures, "fr")  # French 0 is singular


def test_okr_line_agrees_with_its_count():
    okr = [{"status_code": "achieved"}, {"status_code": "missed"}, {"status_code": "missed"}]
    assert summary_sentences({"okr": okr}, "fr") == ["Résultats clés : 1 atteint ou en bonne voie sur 3."]
    okr[1]["status_code"] = "on_track"
    assert summary_sentences({"okr": okr}, "fr") == ["Résultats clés : 2 atteints ou en bonne voie sur 3."]


def test_reactivation_intro_counts_campaigns_with_real_plurals():
    import pandas as pd

    from analysis.reporting import reactivation as words

    iv = pd.DataFrame({"customer_id": ["A", "B", "C"], "campaign_id": ["K1", "K1", "K2"],
                       "action_date": pd.to_datetime(["2026-01-05", "2026-01-05", "2026-03-01"])})
    effects = pd.DataFrame({"campaign_id": ["K1", "K2"], "n_control": [10, 0]})
    one = words.intro_markdown(iv.iloc[:2], effects, "2026-02-01", "fr")
    assert "3" not in one and "1 campagne," in one and "(s)" not in one
    two = words.intro_markdown(iv, effects, "2026-04-01", "en")
    assert "3 actions of the team on 3 customers, 2 campaigns, 1 with a randomised control group" in two
    # the action of 2026-03-01 is not read as of 2026-02-01 (the first day not read)
    assert "2 actions de l'équipe sur 2 clients, 1 campagne, dont 1 avec" in one
