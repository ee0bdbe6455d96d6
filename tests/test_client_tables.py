"""Client tables: translated headers and codes, local formats, dashes with a footnote, no
index, no truncation, escaped values; plurals. Expected strings are written by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.reporting.client_tables import (
    NNBSP,
    ColumnSpec,
    client_table,
    format_cell,
    french_spaces,
)
from analysis.reporting.i18n import plural

LONG_REASON = ("part du chiffre d'affaires passée de 0,6 % à 0,1 % sur les 90 derniers jours, "
               "aucune commande depuis 75 jours, dernière note NPS 3 (détracteur)")


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C001", "<b>C002</b>"],
            "churn_probability": [0.953, 0.0004],
            "value": [1879.4, np.nan],
            "orders": [12, 1879],
            "last_order": pd.to_datetime(["2026-10-31", None]),
            "month": pd.to_datetime(["2026-10-01", "2026-01-01"]),
            "recommended_action": ["personal_call", "unknown_code"],
            "reasons": [LONG_REASON, "x"],
        },
        index=[17, 42],
    )


SPEC = [
    ColumnSpec("customer_id", "report_col_customer"),
    ColumnSpec("churn_probability", "report_col_probability", kind="pct", digits=0),
    ColumnSpec("value", "report_col_value", kind="money"),
    ColumnSpec("orders", "orders", kind="count"),
    ColumnSpec("last_order", "table_col_last_order", kind="date"),
    ColumnSpec("month", "month", kind="month"),
    ColumnSpec("recommended_action", "report_col_action", codes="sig_action_"),
    ColumnSpec("reasons", "report_col_reasons"),
]


def test_format_cell_french_and_english() -> None:
    n = NNBSP
    assert format_cell(12345.6, "number", "fr", digits=1) == f"12{n}345,6"
    assert format_cell(12345.6, "number", "en", digits=1) == "12,345.6"
    assert format_cell(0.95, "pct", "fr") == f"95{n}%"
    assert format_cell(0.95, "pct", "en") == "95%"
    assert format_cell(0.0182, "pct", "fr", digits=1) == f"1,8{n}%"
    assert format_cell(4260390.4, "money", "fr", "EUR") == f"4{n}260{n}390{n}€"
    assert format_cell(4260390.4, "money", "en", "EUR") == "€4,260,390"
    assert format_cell(1879, "count", "fr") == f"1{n}879"
    assert format_cell(1879, "count", "en") == "1,879"
    assert format_cell("2026-11-01", "date", "fr") == "01/11/2026"
    assert format_cell("2026-11-01", "date", "en") == "2026-11-01"
    assert format_cell("2026-10-15", "month", "fr") == "octobre 2026"
    assert format_cell("2026-10-15", "month", "en") == "October 2026"
    assert format_cell(np.nan, "pct", "fr") == "–" and format_cell(pd.NaT, "date", "en") == "–"
    assert format_cell(-0.0001, "pct", "en", digits=1) == "0.0%"   # no "-0.0%"


def test_french_table_headers_codes_formats_and_footnote(frame: pd.DataFrame) -> None:
    styler = client_table(frame, SPEC, lang="fr", currency="EUR")
    data = styler.data
    n = NNBSP
    assert list(data.columns[:3]) == ["Client", "Probabilité de départ", "Valeur"]
    assert data.iloc[0].tolist()[1:] == [f"95{n}%", f"1{n}879{n}€", "12", "31/10/2026", "octobre 2026",
                                         "Appel personnel du responsable de compte", french_spaces(LONG_REASON)]
    assert data.iloc[1].tolist()[1:7] == [f"0{n}%", "–", f"1{n}879", "–", "janvier 2026", "unknown_code"]
    page = styler.to_html()
    # footnote for the two columns with a dash; nothing left as NaN / NaT / None
    assert "– dans « Valeur », « Dernière commande » : non disponible." in page
    assert "NaN" not in page and "NaT" not in page and "None" not in page
    # no row index (17, 42 are not shown), full text, escaped value
    assert ">17<" not in page and ">42<" not in page
    reason = french_spaces(LONG_REASON)  # spaces inside numbers and before units: no-break
    assert reason.replace("'", "&#x27;") in page or reason.replace("'", "&#39;") in page
    assert "..." not in page and "…" not in page
    assert "&lt;b&gt;C002&lt;/b&gt;" in page and "<b>C002</b>" not in page
    assert "white-space: normal" in page and "overflow-wrap: anywhere" in page


def test_english_table(frame: pd.DataFrame) -> None:
    styler = client_table(frame, SPEC, lang="en", currency="EUR")
    data = styler.data
    assert list(data.columns[:3]) == ["Customer", "Churn probability", "Value"]
    assert data.iloc[0].tolist()[1:7] == ["95%", "€1,879", "12", "2026-10-31", "October 2026",
                                          "Personal call by the account owner"]
    assert data.iloc[1, 3] == "1,879"
    assert "– in “Value”, “Last order”: not available." in styler.to_html()


def test_unknown_column_or_kind_is_an_error(frame: pd.DataFrame) -> None:
    with pytest.raises(KeyError, match="no column nope"):
        client_table(frame, [ColumnSpec("nope", "report_col_customer")], lang="fr")
    with pytest.raises(ValueError, match="kind 'percent'"):
        ColumnSpec("value", "report_col_value", kind="percent")


def test_real_plurals() -> None:
    assert plural("table_n_alerts", 1, "fr") == "1 alerte"
    assert plural("table_n_alerts", 0, "fr") == "0 alerte"      # French: 0 is singular
    assert plural("table_n_alerts", 2, "fr") == "2 alertes"
    assert plural("table_n_alerts", 0, "en") == "0 alerts"      # English: 0 is plural
    assert plural("table_n_alerts", 1, "en") == "1 alert"
    assert plural("table_n_cohorts", 3000, "fr") == "3 000 cohortes"
    assert plural("table_n_cohorts", 3000, "en") == "3,000 cohorts"


def test_retention_table_with_intervals_and_one_footnote_per_reason() -> None:
    from analysis.reporting.client_tables import retention_columns

    km = pd.DataFrame({"group": ["2026-08", "2026-10"], "n": [1879, 82], "events": [1, 0],
                       "median_months": [np.nan, np.nan],
                       "retention_3m": [0.9811, np.nan], "lower_3m": [0.881, np.nan], "upper_3m": [1.0, np.nan]})
    styler = client_table(km, retention_columns("coh_cohort", times=(3,), group_kind="month"), lang="fr")
    n = NNBSP
    assert styler.data.iloc[0].tolist() == ["août 2026", f"1{n}879", "1", "–", f"98{n}% (88–100{n}%)"]
    assert styler.data.iloc[1].tolist() == ["octobre 2026", "82", "0", "–", "–"]
    page = styler.to_html()
    assert "– dans « durée de vie médiane (mois) » : non atteinte, plus de la moitié de ces clients le sont encore." in page
    en = client_table(km, retention_columns("coh_cohort", times=(3,), group_kind="month"), lang="en")
    assert en.data.iloc[0].tolist()[-1] == "98% (88–100%)" and en.data.iloc[0, 0] == "August 2026"


def test_call_list_and_priority_counts_tables() -> None:
    from analysis.reporting.client_tables import call_list_columns, priority_count_columns

    calls = pd.DataFrame({"customer_id": ["C1"], "status": ["watch"], "churn_probability": [0.754], "risk_tier": ["critical"],
                          "value": [128156.22], "expected_value_at_risk": [96664.5], "priority": ["P1"],
                          "recommended_action": ["personal_call"], "reasons": [LONG_REASON]})
    row = client_table(calls, call_list_columns(), lang="en").data.iloc[0].tolist()
    assert row == ["C1", "At watch", "75%", "Critical risk", "€128,156", "€96,664", "P1: immediate human intervention",
                   "Personal call by the account owner", LONG_REASON]
    orders = client_table(calls, call_list_columns(money=False), lang="fr").data.iloc[0].tolist()
    assert orders[4:6] == [f"128{NNBSP}156", f"96{NNBSP}664"]           # an order count, no currency
    counts = pd.DataFrame({"value_tier": ["high"], "low": [438], "medium": [9], "high": [5], "critical": [1879]})
    shown = client_table(counts, priority_count_columns(), lang="fr").data
    assert list(shown.columns) == ["Niveau de valeur", "Risque faible", "Risque moyen", "Risque élevé", "Risque critique"]
    assert shown.iloc[0].tolist() == [f"Forte valeur (top 20{NNBSP}%)", "438", "9", "5", f"1{NNBSP}879"]


def test_model_metrics_table() -> None:
    from analysis.reporting.client_tables import model_metrics_columns

    metrics = pd.DataFrame({"auc": [0.8226, 0.717], "lift_top_decile": [6.238, 4.696], "brier": [0.0331, np.nan],
                            "recall_at_capacity": [0.545, 0.411], "n": [2220, 2220], "base_rate": [0.045, 0.045]},
                           index=pd.Index(["hgb", "recency"], name="method"))
    shown = client_table(metrics.reset_index(), model_metrics_columns(metrics), lang="fr")
    n = NNBSP
    assert list(shown.data.columns) == ["méthode", "AUC ROC", "lift du premier décile", "score de Brier",
                                        "rappel à capacité", "clients testés", "part perdue"]
    assert shown.data.iloc[0].tolist() == ["Arbres boostés", "0,82", "6,2", "0,033", f"55{n}%", f"2{n}220", f"4,5{n}%"]
    assert shown.data.iloc[1].tolist()[:4] == ["Jours depuis la dernière interaction", "0,72", "4,7", "–"]
    assert "pas de score de Brier pour une règle qui classe les clients" in shown.to_html()


def test_at_risk_table_is_a_client_table() -> None:
    from analysis.reporting.client_tables import at_risk_client_table
    from analysis.reporting.plots.cohorts import plot_survival

    rows = pd.DataFrame({"group": ["2024-11 – 2025-04"] * 3 + ["2025-05 – 2025-10"] * 3,
                         "months": [0.0, 3.0, 6.0] * 2, "at_risk": [1417, 411, 398, 474, 471, 0]})
    fr = at_risk_client_table(rows, "fr")
    assert list(fr.data.columns) == ["cohorte d'acquisition", "à 0 mois", "à 3 mois", "à 6 mois"]
    assert fr.data.values.tolist() == [["novembre 2024 – avril 2025", f"1{NNBSP}417", "411", "398"],
                                       ["mai 2025 – octobre 2025", "474", "471", "0"]]
    quarterly = at_risk_client_table(rows, "fr", period="Q").data.iloc[:, 0].tolist()
    assert quarterly == ["T4 2024 – T2 2025", "T2 2025 – T4 2025"]      # cohorts named by their first month
    assert at_risk_client_table(rows, "en", period="Q").data.iloc[0, 0] == "Q4 2024 – Q2 2025"
    page = fr.to_html()
    assert ">Cohorte d&#x27;acquisition</th>" in page or ">Cohorte d&#39;acquisition</th>" in page
    assert "row_heading" not in page and "Clients encore suivis à chaque âge" in page
    seg = rows.assign(group=["Pro"] * 3 + ["<b>Starter</b>"] * 3)
    en = at_risk_client_table(seg, "en", attribute="plan")
    assert list(en.data.columns)[:2] == ["plan", "at 0 months"] and en.data.iloc[1, 1] == "1,417"
    assert "&lt;b&gt;Starter&lt;/b&gt;" in en.to_html()
    curves = pd.DataFrame({"group": ["2024-11 – 2025-04"] * 2 + ["2025-05"] * 2, "months": [0, 3] * 2,
                           "survival": [1.0, 0.9] * 2, "lower": [1.0, 0.8] * 2, "upper": [1.0, 0.95] * 2})
    assert [ln.get_label() for ln in plot_survival(curves, lang="fr").get_lines()] == ["11/2024 – 04/2025", "05/2025"]
