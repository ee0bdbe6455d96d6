"""The call list as an Excel workbook (``call_list.xlsx``, beside ``scores.csv``).

``scores.csv`` is for programs (dot decimals, codes such as ``personal_call``, full
precision); a French Excel misreads it. :func:`write_call_list_xlsx` writes the same rows
for people: typed cells (numbers stay numbers, so Excel sorts and sums them and shows them
with the reader's own separators), percent and currency formats, tiers, priorities and
actions in the report's language, the reasons wrapped, a frozen header row, a filter, and
column widths that fit.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.reporting.client_tables import sentence_case
from analysis.reporting.i18n import CURRENCY_SYMBOLS, check_lang, t, texts

__all__ = ["CALL_LIST_COLUMNS", "call_list_frame", "write_call_list_xlsx", "read_scores"]

#: (column of scores.csv, header label key, kind, width in characters); kinds: text, pct, money, code:<prefix>.
CALL_LIST_COLUMNS: tuple[tuple[str, str, str, int], ...] = (
    ("customer_id", "risk_col_customer", "text", 14),
    ("status", "risk_col_status", "code:risk_status_", 16),
    ("priority", "risk_col_priority", "code:sig_priority_", 14),
    ("churn_probability", "risk_col_probability", "pct", 14),
    ("risk_tier", "risk_col_risk_tier", "code:sig_risk_", 14),
    ("value", "risk_col_value", "money", 16),
    ("expected_value_at_risk", "risk_col_value_at_risk", "money", 18),
    ("recommended_action", "risk_col_action", "code:sig_action_", 34),
    ("reasons", "risk_col_reasons", "text", 80),
)


def read_scores(run_dir: str | Path) -> pd.DataFrame | None:
    """The scores of a report folder (``scores.parquet`` if there, else ``scores.csv``), ids as text."""
    run_dir = Path(run_dir)
    if (run_dir / "scores.parquet").exists():
        frame = pd.read_parquet(run_dir / "scores.parquet")
    elif (run_dir / "scores.csv").exists():
        frame = pd.read_csv(run_dir / "scores.csv", dtype={"customer_id": "string"}, keep_default_na=True)
    else:
        return None
    frame["customer_id"] = frame["customer_id"].astype("string")
    return frame


def _label(prefix: str, code, lang: str) -> str | None:
    if code is None or code is pd.NA or (isinstance(code, float) and code != code):
        return None
    entry = texts().get(f"{prefix}{code}")
    # translated codes and headers in sentence case, as in the client tables of the pages
    return sentence_case(entry[lang]) if isinstance(entry, dict) and lang in entry else str(code)


def call_list_frame(frame: pd.DataFrame, lang: str = "fr") -> pd.DataFrame:
    """The rows of the call list, typed, with translated headers and codes (no formatting:
    numbers stay numbers). Columns of :data:`CALL_LIST_COLUMNS` absent from ``frame`` are
    left out; rows keep their order (the call list's, highest priority first)."""
    check_lang(lang)
    out = {}
    for col, key, kind, _ in CALL_LIST_COLUMNS:
        if col not in frame.columns:
            continue
        s = frame[col]
        if kind.startswith("code:"):
            prefix = kind.split(":", 1)[1]
            mapping = {c: _label(prefix, c, lang) for c in pd.unique(s.dropna())}
            s = s.map(mapping).astype("object")
        elif kind in ("pct", "money"):
            s = pd.to_numeric(s, errors="coerce").astype("float64")
        else:
            s = s.astype("string").astype("object").where(s.notna(), None)
        out[sentence_case(t(key, lang))] = s.to_numpy()
    return pd.DataFrame(out)


def _money_format(lang: str, currency: str) -> str:
    sym = CURRENCY_SYMBOLS.get(currency, currency)
    # Excel shows "#,##0" with the reader's separators (1 234 in French, 1,234 in English)
    return f'#,##0\\ "{sym}"' if lang == "fr" or len(sym) > 1 else f'"{sym}"#,##0'


def write_call_list_xlsx(frame: pd.DataFrame, path: str | Path, lang: str = "fr", currency: str = "EUR") -> Path:
    """Write the call list of ``frame`` (the rows of ``scores.csv``) as an Excel workbook.

    Parameters
    ----------
    frame : columns of :data:`CALL_LIST_COLUMNS` (any subset; ``customer_id`` needed):
        ``churn_probability`` a share 0-1, ``value`` and ``expected_value_at_risk`` amounts,
        ``priority`` / ``risk_tier`` / ``recommended_action`` codes, ``reasons`` text.
    path : the ``.xlsx`` file written.
    lang : language of the headers, the sheet name and the codes.
    currency : ISO code of the amounts.

    Returns
    -------
    Path of the workbook: one sheet, header row frozen and filtered, probabilities as
    ``0%``, amounts as ``#,##0 €``, reasons wrapped.
    """
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    if "customer_id" not in frame.columns:
        raise KeyError("write_call_list_xlsx: the frame has no customer_id column.")
    table = call_list_frame(frame, lang)
    kinds = [(kind, width) for col, _, kind, width in CALL_LIST_COLUMNS if col in frame.columns]
    path = Path(path)
    sheet = t("xlsx_sheet_call_list", lang)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        table.to_excel(writer, sheet_name=sheet, index=False)
        ws = writer.sheets[sheet]
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
        header_fill = PatternFill("solid", fgColor="DCE9F5")
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        money = _money_format(lang, currency)
        for i, (kind, width) in enumerate(kinds, start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = width
            fmt = {"pct": "0%", "money": money}.get(kind)
            wrap = kind == "text" and width >= 40
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                if fmt:
                    cell.number_format = fmt
                if cell.data_type == "f":  # text from the data that starts with "=": text, never a formula
                    cell.data_type = "s"
                cell.alignment = Alignment(wrap_text=wrap or kind.startswith("code:"), vertical="top")
    return path
