"""The call list as an Excel workbook: typed cells, formats, translated headers and codes,
frozen header; and a PDF printed by headless Chromium from a page."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from analysis.reporting.workbook import read_scores, write_call_list_xlsx

SCORES = pd.DataFrame({
    "customer_id": ["00042", "C7"],
    "churn_probability": [0.7542709450088602, 0.05],
    "risk_tier": ["critical", "low"],
    "value": [128156.22, 0.0],
    "expected_value_at_risk": [96664.51316816338, 0.0],
    "priority": ["P1", "P3"],
    "recommended_action": ["personal_call", "none"],
    "reasons": ["part du chiffre d'affaires passée de 0,6 % à 0,1 % ; commande tous les 56 jours au lieu de 14", ""],
})


def test_french_workbook_is_typed_formatted_and_frozen(tmp_path) -> None:
    SCORES.to_csv(tmp_path / "scores.csv", index=False)
    frame = read_scores(tmp_path)
    assert frame["customer_id"].tolist() == ["00042", "C7"]        # zero-padded id kept as text
    path = write_call_list_xlsx(frame, tmp_path / "call_list.xlsx", lang="fr", currency="EUR")
    ws = load_workbook(path)["Liste d'appels"]
    assert [c.value for c in ws[1]] == ["Client", "Priorité", "Probabilité de départ", "Risque", "Valeur",
                                        "Valeur à risque attendue", "Action recommandée", "Pourquoi"]
    row = [c.value for c in ws[2]]
    assert row[0] == "00042" and row[1] == "P1 : intervention humaine immédiate"
    assert row[2] == pytest.approx(0.7542709450088602)       # a number, not "75 %" text
    assert row[3] == "Risque critique"
    assert row[4] == pytest.approx(128156.22) and isinstance(row[5], float)
    assert row[6] == "Appel personnel du responsable de compte"
    assert row[7].startswith("part du chiffre d'affaires")
    assert ws["C2"].number_format == "0%"
    assert ws["E2"].number_format == '#,##0\\ "€"'
    assert ws["H2"].alignment.wrap_text
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:H3"
    assert ws.column_dimensions["H"].width == 80


def test_english_workbook(tmp_path) -> None:
    path = write_call_list_xlsx(SCORES, tmp_path / "call_list.xlsx", lang="en", currency="USD")
    ws = load_workbook(path)["Call list"]
    assert ws["A1"].value == "Customer" and ws["D2"].value == "Critical risk"
    assert ws["E2"].number_format == '"$"#,##0'


def test_pdf_of_a_page(tmp_path) -> None:
    """Headless Chromium prints a page to a PDF (the renderer of --pdf); .ci/run installs it."""
    from analysis.reporting.pdf import render_pdf

    page = tmp_path / "page.html"
    page.write_text('<!DOCTYPE html><html lang="fr"><body><h1>Rapport</h1><table><tr><td>1 879</td></tr>'
                    "</table></body></html>", encoding="utf-8")
    pdf = render_pdf(page, tmp_path / "pdf" / "page.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"/Type /Page" in data


def test_index_links_the_call_list_files_and_describes_figures(tmp_path) -> None:
    import json

    from analysis.reporting.summary import render_index

    SCORES.to_csv(tmp_path / "scores.csv", index=False)
    write_call_list_xlsx(SCORES, tmp_path / "call_list.xlsx", lang="fr")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "04_churn_risk_gains.png").write_bytes(b"\x89PNG")
    facts = {"title": "Gains", "panels": [{"title": "Gains", "xlabel": "part contactée", "ylabel": "",
                                            "x": ["0 %", "100 %"], "y": [], "series": [], "kind": "chart"}]}
    (tmp_path / "figures" / "04_churn_risk_gains.json").write_text(json.dumps(facts), encoding="utf-8")
    manifest = {"as_of": "2026-11-01", "dataset": {"name": "x", "customers": 2},
                "notebooks": [{"name": "04_churn_risk", "status": "ok", "duration_s": 1.0,
                               "files": {"html": "04_churn_risk.html", "pdf": "pdf/04_churn_risk.pdf"}}]}
    page = render_index(tmp_path, manifest, {}, lang="fr", index_pdf="pdf/index.pdf").read_text(encoding="utf-8")
    assert 'href="call_list.xlsx"' in page and "tous les clients notés (2), dans l&#39;ordre d&#39;appel" in page
    assert 'href="scores.csv"' in page and 'href="pdf/index.pdf"' in page and 'href="pdf/04_churn_risk.pdf"' in page
    assert 'alt="Graphique « Gains ». Axe horizontal : part contactée, de 0 % à 100 %."' in page


def test_text_starting_with_equals_is_never_a_formula(tmp_path) -> None:
    hostile = SCORES.assign(customer_id=['=HYPERLINK("http://x","clic")', "C7"])
    path = write_call_list_xlsx(hostile, tmp_path / "call_list.xlsx", lang="fr")
    cell = load_workbook(path)["Liste d'appels"]["A2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x","clic")'


LONG = pd.concat([SCORES, SCORES.assign(customer_id=["C8", "C9"])], ignore_index=True)  # 4 rows, call order


def test_capped_workbook_keeps_the_first_rows_and_says_where_the_others_are(tmp_path) -> None:
    path = write_call_list_xlsx(LONG, tmp_path / "call_list.xlsx", lang="fr", max_rows=3)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Liste d'appels", "À lire"]
    ws = wb["Liste d'appels"]
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == ["00042", "C7", "C8"]  # C9 left out
    assert ws.auto_filter.ref == "A1:H4" and ws.freeze_panes == "A2"
    assert ws["C4"].number_format == "0%" and ws["C4"].value == pytest.approx(0.7542709450088602)
    assert ws["E3"].value == 0.0 and ws["E3"].number_format == '#,##0\\ "€"'
    note = wb["À lire"]["A1"].value
    assert note.startswith("La feuille contient les 3 premiers clients") and "sur 4 notés" in note
    assert "scores.csv" in note
    # below the cap: one sheet, every row
    full = load_workbook(write_call_list_xlsx(LONG, tmp_path / "full.xlsx", lang="en", max_rows=4))
    assert full.sheetnames == ["Call list"] and full["Call list"].max_row == 5


def test_read_scores_reads_only_the_first_rows_and_counts_them_all(tmp_path) -> None:
    from analysis.reporting.workbook import count_scores

    many = pd.concat([LONG.assign(customer_id=LONG["customer_id"] + f"-{i}") for i in range(5)], ignore_index=True)
    many.to_parquet(tmp_path / "scores.parquet", index=False, row_group_size=3)
    got = read_scores(tmp_path, max_rows=7)
    assert got["customer_id"].tolist() == many["customer_id"].head(7).tolist()
    pd.testing.assert_frame_equal(got.drop(columns="customer_id"), many.head(7).drop(columns="customer_id"))
    assert count_scores(tmp_path) == 20
    many.to_csv(tmp_path / "only.csv", index=False)
    (tmp_path / "scores.parquet").unlink()
    (tmp_path / "only.csv").rename(tmp_path / "scores.csv")
    assert read_scores(tmp_path, max_rows=2)["customer_id"].tolist() == ["00042-0", "C7-0"]
    assert count_scores(tmp_path) == 20


def test_report_workbook_capped_is_named_in_the_manifest_and_the_index(tmp_path, monkeypatch) -> None:
    from analysis.reporting import workbook
    from analysis.reporting.runner import _write_call_list_workbook
    from analysis.reporting.summary import render_index

    LONG.to_csv(tmp_path / "scores.csv", index=False)
    LONG.to_parquet(tmp_path / "scores.parquet", index=False)
    monkeypatch.setattr(workbook, "XLSX_MAX_ROWS", 3)
    lines: list[str] = []
    files = _write_call_list_workbook(tmp_path, "fr", "EUR", lines.append)
    assert files == {"xlsx": "call_list.xlsx", "xlsx_rows": 3, "scores_rows": 4}
    assert lines == ["[report] call list: the first 3 of 4 rows -> call_list.xlsx (every row in scores.csv)"]
    assert load_workbook(tmp_path / "call_list.xlsx")["Liste d'appels"].max_row == 4
    manifest = {"as_of": "2026-11-01", "dataset": {"name": "x", "customers": 4}, "notebooks": [], "files": files}
    page = render_index(tmp_path, manifest, {}, lang="fr").read_text(encoding="utf-8")
    assert "les 3 premiers des 4 clients notés, dans l&#39;ordre d&#39;appel" in page
    assert "les 4 clients notés pour d&#39;autres programmes" in page and "les mêmes 4 lignes" not in page
    monkeypatch.setattr(workbook, "XLSX_MAX_ROWS", 4)
    assert _write_call_list_workbook(tmp_path, "fr", "EUR", lines.append) == {"xlsx": "call_list.xlsx"}
