"""validation.txt in the report's language: French words, numbers, dates and plurals."""

from __future__ import annotations

import pytest

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


# ----------------------------------------------------------------------------- the data layer's notes
NBSP = " "  # fmt_num's French thousands separator (a plain space in text files)


def test_notes_said_again_in_french_by_hand() -> None:
    from analysis.reporting.validation_text import note_text

    assert note_text("2 NPS score(s) are not integers from 0 to 10 (row 2162: '11', row 2361: '11').", "fr") == (
        "note : 2 notes NPS ne sont pas des entiers de 0 à 10 (ligne 2162 : '11', ligne 2361 : '11').")
    assert note_text("1 intervention cost(s) below zero (row 9: -5.0).", "fr") == (
        "note : 1 coût d'intervention négatif (ligne 9 : -5.0).")
    assert note_text("1,255 row(s) identical to an earlier row kept as distinct events "
                     "(tables.orders.duplicates: keep).", "fr") == (
        f"note : 1{NBSP}255 lignes identiques à une ligne précédente conservées comme des événements distincts "
        "(tables.orders.duplicates: keep).")
    assert note_text("order_date mixes date formats: 1,234 as ISO8601, 5 as %d/%m/%Y; all were read, day first.",
                     "fr") == (f"note : order_date mélange plusieurs formats de date (1{NBSP}234 au format ISO8601, "
                               "5 au format %d/%m/%Y) ; toutes ont été lues, le jour avant le mois.")
    assert note_text("observed_until not set: the export is taken to end on 1998-06-30, its last event.", "fr") == (
        "note : observed_until non renseigné : l'export est considéré comme finissant le 30/06/1998, "
        "date de son dernier événement.")
    assert note_text("table(s) not provided: nps, usage; the indicators and sections that need them are skipped.",
                     "fr") == ("note : tables non fournies : réponses NPS, usage produit ; les indicateurs et les "
                               "sections qui en ont besoin sont omis.")
    # English keeps its words, with real plurals; an unknown wording stays, marked as English
    assert note_text("1 NPS score(s) are not integers from 0 to 10 (row 4: '11').", "en") == (
        "note: 1 NPS score is not an integer from 0 to 10 (row 4: '11').")
    assert note_text("a wording nobody wrote.", "fr") == "note technique (en anglais) : a wording nobody wrote."


def test_detected_dialect_in_plain_words() -> None:
    from analysis.reporting.validation_text import detected_text

    assert detected_text({"format": "csv", "encoding": "cp1252", "sep": ";", "decimal": ",",
                          "date_format:order_date": "%d/%m/%Y"}, "fr") == (
        "CSV, encodage cp1252, séparateur point-virgule, décimales après une virgule, "
        "dates de order_date au format %d/%m/%Y")
    assert detected_text({"format": "csv", "sep": "\t"}, "en") == "CSV, tab separator"


def _messy_exports(root):
    """Two small exports that make the data layer write most of its notes: dates in two formats
    and unreadable, amounts that are not numbers, no amount column, blank sessions, a negative
    cost, a paid control, an unknown group, customers missing from customers.csv, a blank
    signup date, no customers table, no observed_until."""
    a = root / "a"
    a.mkdir()
    (a / "customers.csv").write_text("customer_id,signup_date,email\nC1,2025-01-05,a@x.fr\nC2,,b@x.fr\n")
    (a / "orders.csv").write_text("customer_id,order_date,amount\nC1,2025-02-01,10\nC1,03/02/2025,12\n"
                                  "C2,2025-02-09,abc\nC3,not a date,5\nC3,2025-04-01,7\n")
    (a / "usage.csv").write_text("customer_id,event_date,sessions\nC1,2025-02-01,\nC2,2025-02-02,3\n")
    (a / "interventions.csv").write_text("customer_id,action_date,action,group,cost\nC1,2025-03-01,call,treatment,-5\n"
                                         "C2,2025-03-01,call,control,2\nC1,2025-03-02,call,pilote,1\n")
    (a / "nps.csv").write_text("customer_id,response_date,score\nC1,2025-03-01,11\nC2,2025-03-01,8\n")
    (a / "email_events.csv").write_text("customer_id,campaign_id,event_time,event\nC1,K1,2025-03-01,forward\nC1,K1,2025-03-01,open\n")
    b = root / "b"
    b.mkdir()
    (b / "orders.csv").write_text("customer_id,order_date\n17850.0,2025-02-01\n17851.0,2025-03-01\n")
    return a, b


@pytest.mark.filterwarnings("ignore:.*no business_model is set")
def test_every_note_of_real_loads_is_said_in_french(tmp_path) -> None:
    """The notes written while loading the sample, the messy exports above and the retail
    fixture all have a French wording: none is left as an English technical detail."""
    from retail_lines import write_retail

    import analysis
    from analysis.paths import SAMPLE_DIR
    from analysis.reporting.validation_text import NOTE_PATTERNS, note_text

    notes = []
    for folder in (*_messy_exports(tmp_path), write_retail(tmp_path / "retail"), SAMPLE_DIR):
        report = analysis.load(folder).report
        notes += report.notes + [n for r in report.tables.values() for n in r.notes]
    codes = {code for n in notes for code, rx in NOTE_PATTERNS if rx.fullmatch(n)}
    assert len(codes) >= 17, sorted(codes)
    untranslated = [n for n in notes if note_text(n, "fr").startswith("note technique")]
    assert not untranslated
