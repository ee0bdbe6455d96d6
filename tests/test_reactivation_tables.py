"""Notebook 05's client tables and words (issue #14): translated headers (sentence case) and
codes, no index, local numbers with no-break spaces, a dash with a footnote for a missing
value; alt text and table text with the report's decimals and spaces. Hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.reporting.client_tables import NNBSP, formatted_table, french_spaces
from analysis.reporting.plots.describe import describe_figure
from analysis.reporting.reactivation import (
    campaign_markdown,
    plan_markdown,
    summary_sentences,
    sunset_markdown,
)
from analysis.reporting.reactivation_tables import (
    action_text,
    balance_table,
    effects_client_table,
    group_sizes_table,
    incremental_value_table,
    period_text,
    population_text,
    reaction_table,
    separate_list_table,
)

n = NNBSP


def _effects() -> pd.DataFrame:
    return pd.DataFrame({
        "campaign_id": ["RA-1", "RA-1", "RA-2"], "variant": ["A", "A", "A"],
        "outcome": ["purchase", "revenue", "purchase"], "n_treatment": [1234, 1234, 50], "n_control": [63, 63, 0],
        "treatment_value": [0.755, 712.4, 0.689], "control_value": [0.571, 383.0, np.nan],
        "abs_lift": [0.184, 329.4, np.nan], "abs_lift_low": [0.035, 84.0, np.nan],
        "abs_lift_high": [0.328, 575.0, np.nan], "status": ["ok", "ok", "no_control"],
        "action": "email_sequence", "action_date": pd.Timestamp("2026-02-10"), "window_days": 30,
        "significant": [True, True, False], "before_value": 0.0, "roi_status": "no_margin_rate"})


def test_effects_table_french() -> None:
    """One row per campaign and variant: the purchase row and the revenue row of RA-1 side by side."""
    styler = effects_client_table(_effects(), "fr", "EUR")
    data, page = styler.data, styler.to_html()
    assert list(data.columns) == ["campagne", "variante", "contactés", "témoins", "taux d'achat des contactés",
                                  "taux d'achat des témoins", "écart de taux d'achat [intervalle à 95 %]",
                                  "écart de chiffre d'affaires par client [intervalle à 95 %]", "statut"]
    assert len(data) == 2
    assert data.iloc[0].tolist() == ["RA-1", "A", f"1{n}234", "63", f"75,5{n}%", f"57,1{n}%",
                                     f"+18,4{n}pts [+3,5{n}; +32,8]", f"329{n}€ [84{n}€{n}; 575{n}€]", "Mesuré"]
    assert data.iloc[1].tolist()[3:8] == ["0", f"68,9{n}%", "–", "–", "–"]   # no control group, no revenue row
    assert "tables/effects.csv" in page
    # headers shown in sentence case, no row index, nothing raw
    assert ">Campagne</th>" in page and f"[intervalle à 95{n}%]" in page    # no break before "%"
    assert "row_heading" not in page and "NaN" not in page and "0.755" not in page


def test_effects_table_english() -> None:
    data = effects_client_table(_effects(), "en", "EUR").data
    assert data.iloc[0].tolist()[2:8] == ["1,234", "63", "75.5%", "57.1%", "+18.4 pts [+3.5; +32.8]",
                                          "€329 [€84; €575]"]


def test_effects_table_leaves_open_windows_out() -> None:
    effects = _effects().assign(status=["ok", "ok", "window_open"])
    assert effects_client_table(effects, "en", "EUR").data.iloc[:, 0].tolist() == ["RA-1"]


def test_balance_table() -> None:
    """One row per campaign and variant: imbalanced comparisons counted, the largest |difference| named."""
    balance = pd.DataFrame({"campaign_id": ["RA-1", "RA-1", "RA-1", "RA-2"], "variant": ["A", "A", "A", "A"],
                            "covariate": ["frequency", "value", "recency", "tenure"],
                            "mean_treatment": [2.382978, 1746.43, 30.0, 700.0],
                            "mean_control": [1.920634, 1371.16, 41.0, 702.0],
                            "smd": [0.3754, -0.0049, -0.4102, 0.01], "flagged": [True, False, True, False]})
    styler = balance_table(balance, "fr")
    assert styler.data.values.tolist() == [["RA-1", "A", "2 sur 3", "-0,41", "Jours depuis la dernière interaction"],
                                          ["RA-2", "A", "0 sur 1", "0,01", "Jours depuis l'inscription"]]
    assert "tables/balance.csv" in styler.to_html()
    assert balance_table(balance, "en").data.iloc[0].tolist()[2:] == ["2 of 3", "-0.41", "Days since last interaction"]


def test_group_sizes_table() -> None:
    sizes = pd.DataFrame({"control": [4, 22], "treatment": [33, 1960]},
                         index=pd.Index(["high", "standard"], name="value_tier")).rename_axis(columns="group")
    styler = group_sizes_table(sizes, "fr")
    assert list(styler.data.columns) == ["Niveau de valeur", "à contacter", "témoins", "total"]
    assert styler.data.values.tolist() == [[f"Forte valeur (top 20{n}%)", "33", "4", "37"],
                                          ["Valeur standard", f"1{n}960", "22", f"1{n}982"]]
    assert ">À contacter</th>" in styler.to_html()


def test_reaction_tables() -> None:
    by_owner = pd.DataFrame({"owner": ["crm", "unknown"], "alerts": [269, 3], "acted": [269, 3],
                             "median_days": [29.0, 4.0], "p75_days": [64.0, 5.5], "p90_days": [78.0, 6.2],
                             "known": [269, 3], "share_over_7": [0.78, 0.0], "no_action": [0, 0]})
    data = reaction_table(by_owner, "owner", "fr").data
    assert data.values.tolist() == [["crm", "269", "29", "64", "78", f"78{n}%"],
                                    ["Non renseigné", "3", "4", "6", "6", f"0{n}%"]]
    by_alert = pd.DataFrame({"indicator": ["value", "nps"], "alerts": [1721, 5], "acted": [180, 0],
                             "median_days": [28.0, np.nan], "p75_days": [64.0, np.nan], "p90_days": [85.0, np.nan],
                             "known": [1659, 0], "share_over_7": [0.98, np.nan], "no_action": [1541, 5]})
    styler = reaction_table(by_alert, "indicator", "en")
    assert styler.data.values.tolist() == [["Value erosion", "1,721", "180", "1,541", "28", "64", "85", "98%"],
                                           ["NPS drop", "5", "0", "5", "–", "–", "–", "–"]]
    assert "no alert of this row was followed by an action" in styler.to_html()


def test_separate_list_and_incremental_value_tables() -> None:
    off = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "days_since_last": [210, 190, 21], "cycles": [3, 2, 1],
                        "failed_in_a_row": [3, 2, 1], "last_cycle": pd.to_datetime(["2026-08-10", "2026-05-10", None]),
                        "list_status": ["removal_candidate", "separate_list", "separate_list"],
                        "inactivity_action": ["removal", "separate_list", "none"]})
    styler = separate_list_table(off, "fr", n=2)
    assert styler.data.values.tolist() == [
        ["C1", "210", "3", "3", "10/08/2026", "Candidat à la suppression", "Retirer de la base active"],
        ["C2", "190", "2", "2", "10/05/2026", "Liste séparée", "Déplacer vers une liste à part"]]
    assert "2 premières lignes sur 3" in styler.to_html().replace(n, " ")
    eiv = pd.DataFrame({"customer_id": ["C9"], "uplift": [0.0234], "value": [1250.0], "expected_incremental_value": [29.25]})
    assert incremental_value_table(eiv, "en").data.values.tolist() == [["C9", "2.3%", "€1,250", "€29"]]


def test_codes_in_words() -> None:
    assert action_text("email_sequence", "fr") == "séquence d'e-mails" and action_text("own_code", "fr") == "own_code"
    assert population_text("lapsed_buyers", "en") == "past buyers with no recent purchase"
    assert population_text("plan=Pro", "fr") == "offre = Pro"
    assert period_text("2026-Q3", "fr") == "T3 2026" and period_text("2026-Q3", "en") == "Q3 2026"
    assert period_text("2026-10", "fr") == "octobre 2026" and period_text("2026", "en") == "2026"
    assert period_text("2026-07-01..2026-09-30", "fr", "2026-07-01", "2026-10-01") == "du 01/07/2026 au 30/09/2026"


def test_notebook_05_sentences_have_no_raw_codes_and_real_plurals() -> None:
    text = campaign_markdown(_effects(), "fr", "EUR")
    assert "email_sequence" not in text and "(séquence d&#x27;e-mails, 10/02/2026)" in text
    # French typography: no line break inside a number, before its unit or before ";"
    assert f"{n}234 clients contactés" in text and f"un écart de +18,4{n}points [+3,5{n}; +32,8]" in text
    assert "+18.4 points [+3.5; +32.8]" in campaign_markdown(_effects(), "en", "EUR")
    lists = pd.DataFrame({"cycles": [1, 0, 2], "list_status": ["separate_list", "active_list", "active_list"]})
    assert "1 est sur la liste séparée et 0 est candidat à la suppression" in sunset_markdown(lists, 2, "fr")
    lists2 = lists.assign(list_status=["separate_list", "separate_list", "removal_candidate"])
    assert "2 are on the separate list and 1 is a removal candidate" in sunset_markdown(lists2, 2, "en")

    class Plan:  # the fields plan_markdown reads
        assignments, mde_purchase = pd.DataFrame({"customer_id": ["a", "b"]}), None
        n_treatment, n_control = 0, 0

    assert "lapsed_buyers" not in plan_markdown(Plan(), "lapsed_buyers", 0.1, 0, "fr")
    assert "anciens acheteurs sans achat récent" in plan_markdown(Plan(), "lapsed_buyers", 0.1, 0, "fr")


def test_alt_text_numbers_in_the_report_language() -> None:
    facts = {"title": "Qini", "panels": [{"title": "Qini", "xlabel": "part", "ylabel": "acheteurs",
                                          "x": ["0", "100"], "y": ["\u22122.5", "12.5"], "series": [], "kind": "chart"}]}
    fr = describe_figure(facts, "fr")
    assert "de \u22122,5 à 12,5" in fr and "2.5" not in fr
    assert "from \u22122.5 to 12.5" in describe_figure(facts, "en")
    facts["panels"][0]["y"] = ["0.0", "1000.0"]
    assert "de 0,0 à 1 000,0" in describe_figure(facts, "fr")
    assert "from 0.0 to 1,000.0" in describe_figure(facts, "en")
    facts["panels"][0]["y"] = ["0 %", "40 %"]                                   # already local: unchanged
    assert "de 0 % à 40 %" in describe_figure(facts, "fr")


def test_french_spaces_in_text_cells_and_sentence_case_headers() -> None:
    # the 01 dashboard's reading column and the tuning intervals are text cells
    frame = pd.DataFrame({"indicateur": ["Taux de rebond dur"], "lecture": ["sous 2,00 %"],
                          "précision": ["61 % → 61 % [44 % ; 76 %]"]})
    styler = formatted_table(frame, "fr")
    assert styler.data.iloc[0].tolist()[1:] == [f"sous 2,00{n}%", f"61{n}% → 61{n}% [44{n}%{n}; 76{n}%]"]
    page = styler.to_html()
    assert ">Indicateur</th>" in page and ">Lecture</th>" in page and ">Précision</th>" in page
    assert formatted_table(frame, "en").data.iloc[0, 1] == "sous 2,00 %"       # English text untouched
    assert french_spaces("3 000 clients en 12 jours") == f"3{n}000 clients en 12{n}jours"


def test_english_labels_of_notebook_05_have_english_spacing() -> None:
    import re

    from analysis.reporting.i18n import texts

    french = {k: v["en"] for k, v in texts().items() if k.startswith("rea_") and re.search(r"\d %", v["en"])}
    assert french == {}                                                      # "95% interval", not "95 % interval"


def test_notebook_05_figures_in_the_report_language() -> None:
    from matplotlib.figure import Figure

    from analysis.reporting.plots.describe import figure_facts
    from analysis.reporting.plots.reactivation import qini_plot, reaction_plot

    delays = pd.DataFrame({"delay_days": [1.0, 9.0, np.nan], "status": ["acted", "acted", "no_action"]})
    ax = reaction_plot(delays, lang="fr")
    assert (ax.get_title() or ax.get_title("left")) == "Jours entre une alerte et la première action (2 alertes suivies d'une action)"
    curves = pd.DataFrame({"share": [0, 0.5, 1] * 2, "qini": [0, -0.25, 0.15, 0, 0.075, 0.15],
                           "ranking": ["uplift_model"] * 3 + ["random"] * 3})
    ax = qini_plot(curves, "fr", ax=Figure().subplots())
    ax.figure.canvas.draw()                                   # tick labels as drawn
    labels = [lbl.get_text() for lbl in ax.get_yticklabels() if lbl.get_text()]
    assert labels and all("." not in s for s in labels) and any("," in s for s in labels), labels
    y = figure_facts(ax)["panels"][0]["y"]
    assert y and "." not in "".join(y)


def test_alt_text_series_counts_with_plurals() -> None:
    facts = {"title": "T", "panels": [{"title": "T", "xlabel": "", "ylabel": "", "x": [], "y": [], "kind": "chart",
                                       "series": [{"label": "au moins un indicateur", "kind": "points", "n": 1},
                                                  {"label": "perdus", "kind": "bars", "n": 1},
                                                  {"label": "tous", "kind": "line", "n": 1200}]}]}
    assert describe_figure(facts, "fr").endswith(
        "Représenté : au moins un indicateur (1 point), perdus (1 barre), tous (courbe, 1 200 points).")
    assert describe_figure(facts, "en").endswith("Shown: au moins un indicateur (1 point), perdus (1 bar), "
                                                 "tous (line, 1,200 points).")


def test_many_campaigns_are_counted_and_only_real_effects_written_out() -> None:
    """8 variants: 2 real effects, 3 not distinguishable from chance, 2 without control, 1 open:
    one counting sentence, then a sentence for each real effect and the open one only."""
    rows = []
    for i, (status, sig) in enumerate([("ok", True), ("ok", False), ("ok", True), ("too_small", False),
                                       ("ok", False), ("no_control", False), ("no_control", False),
                                       ("window_open", False)]):
        rows.append({"campaign_id": f"K{i}", "variant": "A", "outcome": "purchase", "n_treatment": 100,
                     "n_control": 0 if status == "no_control" else 100, "treatment_value": 0.5,
                     "control_value": np.nan if status == "no_control" else 0.3, "abs_lift": 0.2,
                     "abs_lift_low": 0.05 if sig else -0.05, "abs_lift_high": 0.35, "status": status,
                     "action": "email_sequence", "action_date": pd.Timestamp("2026-01-10") + pd.Timedelta(days=i),
                     "window_days": 14, "significant": sig, "before_value": 0.0, "roi_status": "no_cost"})
    text = campaign_markdown(pd.DataFrame(rows), "en", "EUR")
    assert text.startswith("8 campaign variants: 2 with a real effect on the purchase rate against their control "
                           "group (each below, with its value and return), 3 not distinguishable from chance, "
                           "2 without a control group (descriptive only), 1 still within their measurement window.")
    assert [f"**K{i} · A**" in text for i in range(8)] == [True, False, True, False, False, False, False, True]
    assert text.count("\n- ") == 3
    # no real effect: nothing is announced "below"
    none = pd.DataFrame(rows).assign(significant=False)
    for lang, below in (("en", "each below"), ("fr", "chacune ci-dessous")):
        head = campaign_markdown(none, lang, "EUR").split("\n")[0]
        assert below not in head and head.startswith("8 variantes de campagne : 0 avec" if lang == "fr" else
                                                     "8 campaign variants: 0 with a real effect")


def test_holm_verdicts_and_the_correction_said_once() -> None:
    """3 measured variants (Holm family of 3) and one without control: K0 survives the correction
    (p 0.001 -> 0.003), K1's interval [+0.5; +35.0] excludes 0 but p 0.03 -> 0.06 does not, K2's
    interval includes 0. The correction is named once, with the family size."""
    rows = []
    for i, (status, low, p, p_holm, sig) in enumerate([("ok", 0.05, 0.001, 0.003, True), ("ok", 0.005, 0.03, 0.06, False),
                                                       ("ok", -0.05, 0.4, 0.4, False),
                                                       ("no_control", np.nan, np.nan, np.nan, False)]):
        rows.append({"campaign_id": f"K{i}", "variant": "A", "outcome": "purchase", "n_treatment": 100,
                     "n_control": 0 if status == "no_control" else 100, "treatment_value": 0.5,
                     "control_value": np.nan if status == "no_control" else 0.3, "abs_lift": 0.2,
                     "abs_lift_low": low, "abs_lift_high": 0.35, "status": status, "p_value": p, "p_holm": p_holm,
                     "action": "email_sequence", "action_date": pd.Timestamp("2026-01-10") + pd.Timedelta(days=i),
                     "window_days": 14, "significant": sig, "before_value": 0.0, "roi_status": "no_cost"})
    text = campaign_markdown(pd.DataFrame(rows), "en", "EUR")
    lines = text.split("\n\n")
    assert lines[0].endswith("[+5.0; +35.0], a real effect.")
    assert lines[1].endswith("[+0.5; +35.0], not distinguishable from chance once the 3 comparisons are taken "
                             "into account: not a finding.")
    assert lines[2].endswith("[-5.0; +35.0], not distinguishable from chance: not a finding.")
    assert lines[-1] == ("A real effect is announced only after Holm's correction over the 3 comparisons of this "
                         "page (purchase rate): the risk that even one announced effect is due to chance stays "
                         "under 5%. Each interval is at 95% for its comparison on its own.")
    assert text.count("Holm") == 1
    fr = campaign_markdown(pd.DataFrame(rows), "fr", "EUR")
    assert "impossible à distinguer du hasard une fois les 3 comparaisons prises en compte : ce n'est pas" in fr
    assert "correction de Holm sur les 3" in fr
    # the executive summary's campaign sentence says the same of a headline that did not survive
    head = {"campaign_id": "K1", "variant": "A", "outcome": "purchase", "purchase_lift": 0.2,
            "purchase_lift_ci": [0.005, 0.35], "significant": False, "n_comparisons": 3}
    assert summary_sentences({"campaigns": {"headline": head}}, "en")[0].endswith(
        "not distinguishable from chance once the 3 comparisons are taken into account: not a finding.")

