"""Already-written tables (notebooks 01, 02) and the AUC-by-population table (04) shown as
client tables; feature labels of the BG/NBD inputs. Expected strings are written by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.reporting.client_tables import (
    NNBSP,
    client_table,
    formatted_table,
    population_columns,
    population_rows,
)
from analysis.reporting.plots.risk import feature_label
from analysis.reporting.tables import segment_table


def test_formatted_table_french_no_index_dash_footnote_escaped() -> None:
    frame = pd.DataFrame({"table": ["commandes", "<b>clients</b>"], "lignes lues": ["65 735", "3 000"],
                          "du": ["03/11/2020", None], "part": ["97,4 %", "–"]}, index=[17, 42])
    styler = formatted_table(frame, "fr")
    n = NNBSP
    assert styler.data.iloc[0].tolist() == ["commandes", f"65{n}735", "03/11/2020", f"97,4{n}%"]
    assert styler.data.iloc[1].tolist() == ["<b>clients</b>", f"3{n}000", "–", "–"]
    page = styler.to_html()
    assert "– dans « du », « part » : non disponible." in page
    assert ">17<" not in page and ">42<" not in page
    assert "<b>clients</b>" not in page and "&lt;b&gt;clients&lt;/b&gt;" in page
    assert "None" not in page and "NaN" not in page


def test_formatted_table_english_keeps_english_numbers_and_none_is_none() -> None:
    frame = pd.DataFrame({"revenue": ["€4,260,390", "€12"], "reading": ["good: at least 95.0%", ""]})
    styler = formatted_table(frame, "en")
    assert styler.data["revenue"].tolist() == ["€4,260,390", "€12"]
    assert styler.caption is None                 # an empty reading is not a missing value
    assert formatted_table(None, "en") is None


def test_population_table_translated_without_index() -> None:
    metrics = pd.DataFrame(
        {"auc": [0.8244, 0.8198, 0.7171, np.nan]},
        index=pd.MultiIndex.from_tuples([("hgb", "all"), ("hgb", "active90"), ("recency", "all"),
                                         ("recency", "active90")], names=["method", "population"]))
    rows = population_rows(metrics)
    shown = client_table(rows, population_columns(rows), "fr")
    assert list(shown.data.columns) == ["méthode", "tous les clients notés", "actifs dans les 90 derniers jours"]
    assert shown.data.iloc[0].tolist() == ["Arbres boostés", "0,82", "0,82"]
    assert shown.data.iloc[1].tolist() == ["Jours depuis la dernière interaction", "0,72", "–"]
    english = client_table(rows, population_columns(rows), "en").data
    assert english.iloc[0].tolist() == ["Gradient-boosted trees", "0.82", "0.82"]


def test_segment_table_header_is_the_attribute_label() -> None:
    table = pd.DataFrame({"segment": ["Pro"], "sent": [1879], "open_rate": [0.344]})
    fr = segment_table(table, "plan", "fr")
    assert list(fr.columns) == ["offre", "envoyés", "Taux d'ouverture"]
    assert fr.iloc[0].tolist()[:2] == ["Pro", "1 879"]
    assert list(segment_table(table, "plan", "en").columns)[0] == "plan"


def test_bgnbd_features_have_plain_labels() -> None:
    assert feature_label("bgnbd_p_alive", "fr") == "probabilité que le client achète encore (modèle d'historique d'achats)"
    assert feature_label("bgnbd_p_alive", "en") == "probability the customer is still buying (purchase-history model)"
    for name in ("bgnbd_p_no_purchase", "recency_over_age", "purchase_gap_cv"):
        assert feature_label(name, "fr") != name and feature_label(name, "en") != name


def test_frequency_threshold_has_a_real_plural() -> None:
    from analysis.reporting.tuning import threshold_text

    one = {"freq_drop": 0.6, "freq_months": 1}
    two = {"freq_drop": 0.4, "freq_months": 2}
    assert threshold_text("frequency", one, "en") == "interactions down 60% over 1 month"
    assert threshold_text("frequency", two, "en") == "interactions down 40% over 2 months"
    assert threshold_text("frequency", two, "fr") == "interactions en baisse de 40 % sur 2 mois"


def test_silent_churners_table_counts_with_thousands_separator() -> None:
    from types import SimpleNamespace

    from analysis.reporting.tables import audit_silent_table

    silent = pd.DataFrame({"customer_id": ["C1"], "churn_date": [pd.Timestamp("2026-08-26")], "tenure_days": [1879],
                           "last_interaction": [pd.Timestamp("2026-08-25")], "revenue_12m": [4272.4],
                           "indicators_evaluable": ["recency, value"], "plan": ["Pro"]})
    audit = SimpleNamespace(silent_=silent, clients_=silent.drop(columns="plan"))
    fr = audit_silent_table(audit, "fr")
    assert fr.iloc[0].tolist() == ["C1", "26/08/2026", "1 879", "25/08/2026", "4 272 €",
                                   "délai depuis la dernière interaction, érosion de la valeur", "Pro"]
    assert formatted_table(fr, "fr").data.iloc[0, 2] == "1\u202f879"          # a number that never breaks
    assert audit_silent_table(audit, "en").iloc[0, 2] == "1,879"


def test_an_empty_table_keeps_its_headers() -> None:
    """A table with no rows (no silent churner on CDNOW) still renders, headers only."""
    styler = formatted_table(pd.DataFrame({"Client": pd.Series([], dtype=object), "Raisons": []}), "fr")
    assert styler.data.empty and ">Client</th>" in styler.to_html()
