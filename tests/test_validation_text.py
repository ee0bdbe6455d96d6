"""validation.txt in the report's language: French words, numbers, dates and plurals."""

from __future__ import annotations

from analysis.data.validation import TableReport, ValidationReport
from analysis.reporting.validation_text import validation_text


def _report() -> ValidationReport:
    orders = TableReport(table="orders", file="/somewhere/orders.csv", rows_read=3001, rows_kept=2999,
                         quarantined={"duplicate_row": 1, "unparseable_date:order_date": 1}, customers=1879,
                         date_min="2026-01-01", date_max="2026-10-31", refunds=2)
    return ValidationReport(tables={"orders": orders})


def test_french_validation_text() -> None:
    text = validation_text(_report(), "fr").splitlines()
    assert text[0] == ("Validation de l'export : 2 lignes mises de côté au total "
                       "(quarantine/, avec le motif et la ligne de chacune).")
    assert text[2] == "commandes (orders.csv)"
    assert text[3] == ("    lignes lues 3 001, conservées 2 999, mises de côté 2 ; clients 1 879 ; "
                       "dates du 01/01/2026 au 31/10/2026")
    assert "    mise de côté : 1 ligne, doublon exact d'une ligne précédente" in text
    assert "    mise de côté : 1 ligne, date illisible (order_date)" in text
    assert "    2 remboursements (montants négatifs) conservés comme remboursements, pas comme achats" in text


def test_english_validation_text() -> None:
    text = validation_text(_report(), "en").splitlines()
    assert text[3] == "    rows read 3,001, kept 2,999, set aside 2; customers 1,879; dates from 2026-01-01 to 2026-10-31"
    assert "    set aside: 1 row, exact duplicate of an earlier row" in text
