"""One source per figure, a summary that does not contradict the pages, an English report in
English (issue 14b). Hand-made figures and tiny bases; values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from test_cohorts import AS_OF, contractual

from analysis.data.config import DatasetConfig, parse_config
from analysis.errors import ConfigError
from analysis.metrics.cohorts import cohort_decay
from analysis.models.auc_compare import auc_difference, weighted_auc
from analysis.reporting.i18n import dataset_title, fmt_kpi, t
from analysis.reporting.narrative import alerts_markdown, decisions_markdown
from analysis.reporting.outputs import to_jsonable
from analysis.reporting.risk_text import auc_comparison_text, reason_text
from analysis.reporting.summary import executive_summary


# ----------------------------------------------------------------------------- one source
def test_sidecar_keeps_an_amount_to_the_euro():
    # 6 significant digits turned 4 260 387,35 into 4 260 390: the index then disagreed with page 01
    assert to_jsonable(4260387.35) == 4260387.35
    assert fmt_kpi("revenue", to_jsonable(4260387.35), "fr") == fmt_kpi("revenue", 4260387.35, "fr") == "4 260 387 €"
    assert to_jsonable(0.123456789) == 0.123457 and to_jsonable(12345.678) == 12345.68


def _base_figures(**kw) -> dict:
    figures = {"customers": 10, "active_customers": 8, "month": "2026-10",
               "kpis_month": {"active_customers": 8, "churn_rate": 0.1},
               "kpis_prev_month": {"active_customers": 9}, "alerts": [], "decisions": ["keep_course"],
               "quarantined_rows": 21}
    return {**figures, **kw}


def test_quarantined_rows_are_an_alert_on_page_01_and_in_the_summary_alike():
    fig = _base_figures()
    es = executive_summary({"01_base_health": fig}, "fr")
    page = alerts_markdown(fig, "fr") + "\n" + decisions_markdown(fig, "fr")
    quarantine = "21 lignes de l'export ont été mises de côté par la validation (voir le rapport de validation)."
    assert es["alerts"] == [quarantine] and f"- {quarantine}" in page
    # no "no alert this month" beside that alert, in the summary's decisions nor on the page
    for text in (*es["decisions"], page):
        assert t("report_no_alert", "fr") not in text and t("bh_alerts_none", "fr") not in text
    assert es["decisions"][0].startswith("Aucune alerte sur les indicateurs ce mois-ci : garder le cap ; "
                                         "vérifier d'abord les 21 lignes")
    assert "1. " + es["decisions"][0] in page
    assert "taux d'attrition 10,0 % ; 1 alerte." in page  # the data-quality alert is counted
    assert "**Alertes du mois : octobre 2026**" in page and "2026-10" not in page  # the month in words
    # without quarantined rows, keep_course keeps its plain wording and no alert is listed
    clean = _base_figures(quarantined_rows=0)
    assert executive_summary({"01_base_health": clean}, "en")["decisions"][0] == t("kpi_decision_keep_course", "en")
    assert t("bh_alerts_none", "en") in alerts_markdown(clean, "en")


# ----------------------------------------------------------------------------- reasons
def _share_reasons(prev: float, last: float) -> pd.DataFrame:
    return pd.DataFrame({"reason_1": ["share"], "reason_1_values": [f"prev={prev};last={last}"],
                         "reason_2": ["recency"], "reason_2_values": ["days=45"]})


def test_a_share_reason_always_shows_a_visible_change():
    # 0,04 % -> 0,012 % rounds to "0,0 % à 0,0 %" at one decimal: two decimals show the change
    assert reason_text(_share_reasons(0.0004, 0.00012), "fr").iloc[0] == (
        "Part du chiffre d'affaires passée de 0,04 % à 0,01 % ; aucune interaction significative depuis 45 jours")
    assert reason_text(_share_reasons(0.006, 0.001), "en").iloc[0].startswith(
        "Share of revenue fell from 0.6% to 0.1%; ")
    assert reason_text(_share_reasons(0.00105, 0.00104), "en").iloc[0].startswith(
        "Share of revenue fell from 0.105% to 0.104%")
    # a change invisible even at three decimals (0,0110 % -> 0,0112 %) is not a reason
    assert reason_text(_share_reasons(0.000110, 0.000112), "fr").iloc[0] == \
        "Aucune interaction significative depuis 45 jours"


# ----------------------------------------------------------------------------- AUC interval
def test_weighted_auc_is_sklearns_with_sample_weights():
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.2
    s = np.round(rng.random(300) + 0.3 * y, 1)  # many ties
    w = rng.integers(0, 4, size=(5, 300))
    got = weighted_auc(y, s, w)
    assert got == pytest.approx([roc_auc_score(y, s, sample_weight=row) for row in w], abs=1e-12)
    # by hand: positives 0.9 and 0.4, negatives 0.1 and 0.4 -> (1 + 1 + 1 + 0.5) / 4
    assert weighted_auc([1, 1, 0, 0], [0.9, 0.4, 0.1, 0.4], np.ones(4)) == pytest.approx(3.5 / 4)


def test_auc_difference_interval_and_wording():
    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.3).astype(int)
    frame = pd.DataFrame({"label": y, "customer_id": np.arange(n) // 2,  # two rows per customer
                          "model": y + rng.normal(0, 0.5, n), "noise": rng.random(n),
                          "same": y + rng.normal(0, 0.5, n)})
    strong = auc_difference(frame, "model", "noise", random_state=1)
    exact = roc_auc_score(y, frame["model"]) - roc_auc_score(y, frame["noise"])
    assert strong["diff"] == pytest.approx(exact) and strong["low"] < exact < strong["high"]
    assert strong["significant"] and strong["low"] > 0 and strong["n_customers"] == 200 and strong["n"] == 400
    assert auc_difference(frame, "model", "noise", random_state=1) == strong  # seeded
    close = auc_difference(frame, "model", "same", random_state=1)  # two equally good scores
    assert close["low"] < 0 < close["high"] and not close["significant"] and close["p"] > 0.05
    text = auc_comparison_text({"recency": close}, "en")[0]
    assert text.startswith("Against the time since the last contact alone: AUC ")
    assert "only a tendency, the difference is not significant; not a finding" in text
    assert auc_comparison_text({"bgnbd": strong}, "en")[0].endswith(
        "bootstrap over 200 customers, 1,000 draws; p ≤ 0.001): the model ranks better.")  # no draw below 0
    # the summary: "times in 100" with the interval, worded as a tendency when it straddles 0
    risk = {"auc_model": 0.82, "auc_recency": 0.72, "auc_bgnbd": 0.58, "best_model": "logit", "n_priority_1": 0,
            "top_priorities": [],
            "auc_vs_baselines": {"recency": {"diff": 0.1, "low": 0.07, "high": 0.13, "significant": True},
                                 "bgnbd": {"diff": 0.004, "low": -0.01, "high": 0.02, "significant": False}}}
    lines = executive_summary({"04_churn_risk": risk}, "fr")["risk"]
    assert lines[1] == ("Avance du modèle, en fois sur 100 : +10 sur la seule ancienneté du dernier contact "
                        "(intervalle à 95 % : +7 à +13) ; +0,4 sur la prévision fondée sur la seule fréquence "
                        "d'achat (intervalle à 95 % : -1 à +2 : une tendance, non significative).")


# ----------------------------------------------------------------------------- dataset title
def test_dataset_title_in_the_reports_language():
    cfg = parse_config({"name": "Échantillon", "language": "fr",
                        "title": {"fr": "Échantillon", "en": "Sample"}}, source="dataset.yml")
    assert dataset_title(cfg, "en") == "Sample" and dataset_title(cfg, "fr") == "Échantillon"
    only_name = parse_config({"name": "Échantillon B2B", "language": "fr"}, source="dataset.yml")
    assert dataset_title(only_name, "fr") == "Échantillon B2B"
    assert dataset_title(only_name, "en") == "Customer-base export"  # neutral, never the French name
    assert dataset_title(DatasetConfig(name="acme_export"), "fr") == "acme_export"  # folder name, no yml
    one_text = parse_config({"title": "Export Acme", "language": "fr"}, source="dataset.yml")
    assert one_text.title == {"fr": "Export Acme"} and dataset_title(one_text, "en") == "Customer-base export"
    with pytest.raises(ConfigError, match="title is .*expected a text, or one text per report language"):
        parse_config({"title": {"de": "Kunden"}})


# ----------------------------------------------------------------------------- 03's count
def test_cohort_decay_says_who_it_leaves_out():
    # X signed up 2025-06-01 and left 2025-12-01, before the export's first event (2026-01-05):
    # not in the lifetimes; Y (2025-09-01, still a customer) is left-truncated but followed
    extra = pd.DataFrame({"customer_id": ["X", "Y"], "signup_date": ["2025-06-01", "2025-09-01"],
                          "churn_date": ["2025-12-01", None], "size": ["small", "small"]})
    decay = cohort_decay(contractual(extra_customers=extra), AS_OF, segment_by="none")
    assert decay.n_signed_up == 8  # A-F, X, Y (G signs up after as_of)
    assert len(decay.lifetimes) == 7 and decay.n_lost_before_export == 1
    kf = decay.key_figures()
    assert (kf["n_signed_up"], kf["n_lost_before_export"], kf["n_customers"]) == (8, 1, 7)
    # no look-ahead: a customer and an order after as_of change nothing
    later = pd.DataFrame({"customer_id": ["Z"], "signup_date": ["2026-05-20"], "churn_date": [None],
                          "size": ["large"]})
    again = cohort_decay(contractual(extra_customers=pd.concat([extra, later], ignore_index=True)), AS_OF,
                         segment_by="none")
    assert (again.n_signed_up, again.n_lost_before_export) == (8, 1)


# ----------------------------------------------------------------------------- exception texts
def test_an_error_on_a_page_is_told_in_the_pages_language():
    from analysis.reporting.error_text import error_text

    err = "NotEnoughDataError: no customer signed up before 2026-01-01; choose a later as_of date."
    assert error_text(err, "fr") == ("pas assez de données pour cette analyse à cette date (détail technique, "
                                     "en anglais : " + err + ")")
    assert error_text(err, "en").startswith("not enough data for this analysis at this date (technical detail: ")
    assert error_text("KeyError: 'x'", "fr").startswith("une erreur inattendue du programme (")
    assert error_text("personal data (email) is shown in the notebook's output", "fr").startswith(
        "la page aurait montré des données personnelles")


def test_objectives_in_the_reports_language():
    from analysis.reporting.reactivation import okr_markdown

    kr = {"metric": "revenue", "population": "lapsed", "target": 10, "period": "2026-Q3"}
    both = parse_config({"language": "fr", "objectives": [
        {"objective": {"fr": "Réactiver les inactifs", "en": "Re-activate the lapsed"}, "key_results": [kr]},
        {"objective": "Fidéliser", "key_results": [kr]}]})
    assert both.objectives[0].objective == "Réactiver les inactifs"  # the text in the dataset's language
    progress = pd.DataFrame({"objective": ["Réactiver les inactifs", "Fidéliser"], "kr": [1, 1],
                             "metric": ["revenue"] * 2, "population": ["lapsed"] * 2, "period": ["2026-Q3"] * 2,
                             "value": [5.0, 12.0], "target": [10.0, 10.0], "status": ["closed"] * 2,
                             "achieved": [False, True], "on_track": [False, True]})
    en = okr_markdown(progress, "en", "EUR", both).splitlines()
    # population and period in words (issue #14: no raw code such as "lapsed" or "2026-Q3" on a client page)
    assert en[0] == ("- **Re-activate the lapsed**, KR1: revenue on *customers gone quiet* over Q3 2026: €5 for a "
                     "target of €10 (missed).")
    assert en[2].startswith("- **Objective 2**, KR1: ")  # French only: named neutrally, not in French
    assert okr_markdown(progress, "fr", "EUR", both).splitlines()[2].startswith("- **Fidéliser**, KR1 : ")
    with pytest.raises(ConfigError, match=r"objectives\[0\]\.objective is"):
        parse_config({"objectives": [{"objective": {"es": "x"}, "key_results": [kr]}]})
