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
from analysis.reporting.i18n import CURRENCY_SYMBOLS, check_lang, fmt_num, t, texts

__all__ = ["CALL_LIST_COLUMNS", "XLSX_MAX_ROWS", "call_list_frame", "write_call_list_xlsx", "read_scores", "count_scores", "write_scores"]

#: Rows of ``call_list.xlsx`` at most: the first in call order. A team calls a few hundred
#: customers a month; a sheet of hundreds of thousands of rows is slow to open and filter,
#: and Excel itself stops at 1,048,576 rows. Every customer stays in ``scores.csv`` and
#: ``scores.parquet``.
XLSX_MAX_ROWS = 100_000

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


def read_scores(run_dir: str | Path, max_rows: int | None = None) -> pd.DataFrame | None:
    """The scores of a report folder (``scores.parquet`` if there, else ``scores.csv``), ids as
    text; ``max_rows``: only the first rows (read batch by batch, not the whole file)."""
    run_dir = Path(run_dir)
    if (run_dir / "scores.parquet").exists():
        if max_rows is None:
            frame = pd.read_parquet(run_dir / "scores.parquet")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(run_dir / "scores.parquet")
            batches, n = [], 0
            for batch in pf.iter_batches(batch_size=min(max(int(max_rows), 1), 65_536)):  # until max_rows
                batches.append(batch)
                n += batch.num_rows
                if n >= max_rows:
                    break
            table = pa.Table.from_batches(batches, schema=pf.schema_arrow).slice(0, max_rows)
            frame = table.to_pandas()
    elif (run_dir / "scores.csv").exists():
        frame = pd.read_csv(run_dir / "scores.csv", dtype={"customer_id": "string"}, keep_default_na=True,
                            nrows=max_rows)
    else:
        return None
    frame["customer_id"] = frame["customer_id"].astype("string")
    return frame


def count_scores(run_dir: str | Path) -> int:
    """Rows of the report folder's scores (Parquet metadata when there, else the CSV's lines)."""
    run_dir = Path(run_dir)
    if (run_dir / "scores.parquet").exists():
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(run_dir / "scores.parquet").metadata.num_rows)
    if (run_dir / "scores.csv").exists():
        return len(pd.read_csv(run_dir / "scores.csv", usecols=[0], dtype="string"))
    return 0


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


def write_call_list_xlsx(frame: pd.DataFrame, path: str | Path, lang: str = "fr", currency: str = "EUR",
                        max_rows: int | None = XLSX_MAX_ROWS, total: int | None = None) -> Path:
    """Write the call list of ``frame`` (the rows of ``scores.csv``) as an Excel workbook.

    The sheet is streamed (openpyxl's write-only mode): rows go to the file as they are
    made, so memory does not grow with the list.

    Parameters
    ----------
    frame : columns of :data:`CALL_LIST_COLUMNS` (any subset; ``customer_id`` needed):
        ``churn_probability`` a share 0-1, ``value`` and ``expected_value_at_risk`` amounts,
        ``priority`` / ``risk_tier`` / ``recommended_action`` codes, ``reasons`` text; rows in
        call order.
    path : the ``.xlsx`` file written.
    lang : language of the headers, the sheet name and the codes.
    currency : ISO code of the amounts.
    max_rows : at most this many rows, the first in call order (None: every row). The
        workbook is the list the team works through; every customer stays in ``scores.csv``
        and ``scores.parquet``.
    total : customers in the whole list when ``frame`` holds only its first rows
        (default ``len(frame)``).

    Returns
    -------
    Path of the workbook: one sheet, header row frozen and filtered, probabilities as
    ``0%``, amounts as ``#,##0 €``, reasons wrapped; when rows were left out, a second sheet
    says how many rows the first one holds, of how many, and where the others are.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.filters import AutoFilter

    if "customer_id" not in frame.columns:
        raise KeyError("write_call_list_xlsx: the frame has no customer_id column.")
    total = len(frame) if total is None else int(total)
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.iloc[:max_rows]
    table = call_list_frame(frame, lang)
    kinds = [(kind, width) for col, _, kind, width in CALL_LIST_COLUMNS if col in frame.columns]
    path = Path(path)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(t("xlsx_sheet_call_list", lang))
    for i, (_, width) in enumerate(kinds, start=1):  # before the first row: written with the sheet's top
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter = AutoFilter(ref=f"A1:{get_column_letter(len(kinds))}{len(table) + 1}")
    money = _money_format(lang, currency)
    # one styled template cell per column; its style is shared by every cell of the column
    header = WriteOnlyCell(ws)
    header.font = Font(bold=True)
    header.fill = PatternFill("solid", fgColor="DCE9F5")
    header.alignment = Alignment(wrap_text=True, vertical="top")
    styles = []
    for kind, width in kinds:
        cell = WriteOnlyCell(ws)
        fmt = {"pct": "0%", "money": money}.get(kind)
        if fmt:
            cell.number_format = fmt
        cell.alignment = Alignment(wrap_text=(kind == "text" and width >= 40) or kind.startswith("code:"),
                                   vertical="top")
        styles.append(cell._style)

    def styled(value, style):
        cell = WriteOnlyCell(ws, value=value)
        cell._style = style
        if cell.data_type == "f":  # text from the data that starts with "=": text, never a formula
            cell.data_type = "s"
        return cell

    ws.append([styled(name, header._style) for name in table.columns])
    columns = [table[c].to_numpy() for c in table.columns]
    numeric = [kind in ("pct", "money") for kind, _ in kinds]
    for r in range(len(table)):  # rows streamed to the file, at most max_rows of them
        ws.append([styled(None if (num and col[r] != col[r]) else col[r], style)
                   for col, style, num in zip(columns, styles, numeric, strict=True)])
    if len(table) < total:
        note = wb.create_sheet(t("xlsx_sheet_note", lang))
        note.column_dimensions["A"].width = 100
        note.append([t("xlsx_note_capped", lang, shown=fmt_num(len(table), lang), total=fmt_num(total, lang))])
    wb.save(path)
    return path


def write_scores(result, lang: str, path: str | Path, chunk: int = 200_000) -> Path:
    """``scores.csv`` of a :class:`~analysis.models.classifier.ScoreResult` (formulas
    neutralised, reasons in words) and its exact copy ``scores.parquet``.

    Up to ``chunk`` rows, exactly :func:`~analysis.reporting.safety.write_people_csv` of
    :func:`~analysis.reporting.risk_text.scores_table`. Beyond, the same rows are written
    ``chunk`` at a time (CSV appended, Parquet row groups): the reasons of a million
    customers never exist at once as text in memory.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analysis.reporting.risk_text import reason_text, scores_table
    from analysis.reporting.safety import neutralise_formulas, write_people_csv

    path = Path(path)
    scores = result.scores
    if len(scores) <= chunk:
        return write_people_csv(scores_table(result, lang), path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = schema = None
    try:
        for start in range(0, len(scores), chunk):  # a few chunks of rows
            s = scores.iloc[start:start + chunk].copy()
            s["reasons"] = reason_text(s, lang).to_numpy()
            neutralise_formulas(s).to_csv(path, index=False, mode="w" if start == 0 else "a", header=start == 0)
            exact = s.astype({c: "string" for c in s.columns if s[c].dtype == object or
                              isinstance(s[c].dtype, pd.StringDtype)}).reset_index(drop=True)
            table = pa.Table.from_pandas(exact, preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path.with_suffix(".parquet"), schema)
            writer.write_table(table.cast(schema))
    finally:
        if writer is not None:
            writer.close()
    return path
