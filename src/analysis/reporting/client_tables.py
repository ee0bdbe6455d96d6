"""Client-ready tables: a numeric or coded frame turned into a table built for reading.

One function, :func:`client_table`, takes the frame a calculation returns (numbers, dates,
codes such as ``personal_call``) and a column spec, and returns a pandas ``Styler`` that a
notebook displays (and nbconvert exports) as HTML:

- headers and codes translated from ``locales/*.yml`` (the spec names the label key of each
  header and the label prefix of each coded column);
- no row index;
- counts, numbers, shares, amounts, dates and months formatted in the report's language
  (French ``12 345,6``, ``95 %``, ``12 345 €``, ``31/10/2026``, ``octobre 2026`` with
  narrow no-break spaces, so a number never breaks across lines; English ``12,345.6``,
  ``95%``, ``€12,345``, ``2026-10-31``, ``October 2026``);
- no ``NaN``: a missing value is a dash, explained by a footnote under the table;
- full text, wrapped inside its cell (never cut with ``...``);
- every data value HTML-escaped (values come from client data and config files).

Example::

    spec = [
        ColumnSpec("customer_id", "report_col_customer"),
        ColumnSpec("churn_probability", "report_col_probability", kind="pct", digits=0),
        ColumnSpec("value", "report_col_value", kind="money"),
        ColumnSpec("recommended_action", "report_col_action", codes="sig_action_"),
    ]
    client_table(priorities, spec, lang="fr", currency="EUR")

Plurals ("1 alerte", "2 alertes") come from :func:`analysis.reporting.i18n.plural`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from analysis.reporting.i18n import check_lang, fmt_date, fmt_money, fmt_num, fmt_pct, t, texts

__all__ = ["KINDS", "NNBSP", "MISSING", "ColumnSpec", "format_cell", "client_table", "retention_columns",
           "french_spaces", "sentence_case", "at_risk_client_table",
           "call_list_columns", "call_list_rows", "priority_count_columns", "model_metrics_columns",
           "formatted_table", "population_rows", "population_columns"]

#: What a column holds, hence how its cells are written.
KINDS = ("text", "count", "number", "pct", "money", "date", "month")
#: U+202F NARROW NO-BREAK SPACE: French thousands separator and space before ``%`` / ``€``.
NNBSP = "\u202f"
#: What a missing value is written as (an en dash), explained by the table's footnote.
MISSING = "–"

_NUMERIC_KINDS = {"count", "number", "pct", "money"}
_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}


@dataclass(frozen=True)
class ColumnSpec:
    """How one column of the source frame is shown.

    Parameters
    ----------
    column : name of the column in the source frame.
    label : locale key of the header (``t(label, lang)``); a key unknown to the locale
        files is an error, so headers are never raw column names.
    kind : one of :data:`KINDS`: ``text`` (as is, or translated by ``codes``), ``count``
        (whole number), ``number`` (``digits`` decimals), ``pct`` (a share 0-1 shown in %),
        ``money`` (in the table's currency), ``date`` or ``month``.
    digits : decimals of ``number``, ``pct`` and ``money`` cells.
    codes : for coded text columns: a locale key prefix (``"sig_action_"`` turns
        ``personal_call`` into ``t("sig_action_personal_call")``) or a ``{code: label key}``
        mapping. A code with no label is shown as it is (escaped).
    missing_note : locale key of the footnote explaining why cells of this column can be
        empty (default: the generic ``table_missing_note``).
    low, high : columns holding the bounds of an interval around the value; the cell reads
        ``96,9 % (88,1–99,2 %)`` (same kind and digits as the value).
    """

    column: str
    label: str
    kind: str = "text"
    digits: int = 0
    codes: str | Mapping[str, str] | None = None
    missing_note: str | None = None
    low: str | None = None
    high: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column '{self.column}': kind '{self.kind}' is not one of {', '.join(KINDS)}.")


def _french_spaces(text: str) -> str:
    """Regular spaces inside a formatted French number (thousands, before % and €) made
    narrow no-break spaces, so ``12 345 €`` never breaks across two lines."""
    return text.replace(" ", NNBSP)


def _month(value: Any, lang: str) -> str:
    ts = value.to_timestamp() if isinstance(value, pd.Period) else pd.Timestamp(str(value))
    return f"{_MONTHS[lang][ts.month - 1]} {ts.year}"


def format_cell(value: Any, kind: str, lang: str, currency: str = "EUR", digits: int = 0) -> str:
    """One value written for a client table (``–`` when missing).

    >>> format_cell(12345.6, "number", "fr", digits=1) == "12\u202f345,6"
    True
    >>> format_cell(0.95, "pct", "en")
    '95%'
    """
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return MISSING
    if kind == "count":
        out = fmt_num(round(float(value)), lang, 0)
    elif kind == "number":
        out = fmt_num(value, lang, digits)
    elif kind == "pct":
        out = fmt_pct(value, lang, digits)
    elif kind == "money":
        out = fmt_money(value, lang, currency, digits)
    elif kind == "date":
        return fmt_date(value, lang)
    elif kind == "month":
        return _month(value, lang)
    else:
        return str(value)
    if out.startswith("-") and not any(ch.isdigit() and ch != "0" for ch in out):
        out = out[1:]  # no "-0 %"
    return _french_spaces(out) if lang == "fr" else out


def _translate_codes(values: pd.Series, codes: str | Mapping[str, str], lang: str) -> pd.Series:
    known = texts()
    mapping: dict[Any, str] = {}
    for code in pd.unique(values.dropna()):
        key = codes.get(str(code)) if isinstance(codes, Mapping) else f"{codes}{code}"
        entry = known.get(key) if key else None
        # a translated code starts with a capital, as the headers (a client's own value is left as it is)
        mapping[code] = sentence_case(entry[lang]) if isinstance(entry, dict) and lang in entry else str(code)
    return values.map(mapping)


def _column_cells(frame: pd.DataFrame, spec: ColumnSpec, lang: str, currency: str) -> pd.Series:
    values = frame[spec.column]
    if spec.kind == "text" and spec.codes is not None:
        values = _translate_codes(values, spec.codes, lang)
    cells = values.map(lambda v: format_cell(v, spec.kind, lang, currency, spec.digits)).astype(object)
    if spec.low and spec.high:
        low = frame[spec.low].map(lambda v: format_cell(v, spec.kind, lang, currency, spec.digits))
        high = frame[spec.high].map(lambda v: format_cell(v, spec.kind, lang, currency, spec.digits))
        unit = {"pct": "%", "money": ""}.get(spec.kind, "")
        if unit:  # "88,1–99,2 %": the unit once, after the upper bound
            low = low.str.replace(f"{NNBSP}{unit}" if lang == "fr" else unit, "", regex=False)
        shown = values.notna() & frame[spec.low].notna() & frame[spec.high].notna()
        cells = cells.where(~shown, cells + " (" + low + "–" + high + ")")
    return cells


def client_table(frame: pd.DataFrame, columns: Iterable[ColumnSpec | Mapping[str, Any]], lang: str = "fr",
                 currency: str = "EUR", *, notes: Iterable[str] = (), max_text_width: str = "32em") -> Styler:
    """A client-ready HTML table of ``frame``.

    Parameters
    ----------
    frame : the source rows (any index; it is not shown). Only the spec's columns are shown,
        in the spec's order.
    columns : one :class:`ColumnSpec` (or a dict of its fields) per column shown.
    lang : ``fr`` or ``en``.
    currency : ISO code of ``money`` columns.
    notes : extra footnotes (already translated text), shown under the table.
    max_text_width : CSS width at which text cells wrap.

    Returns
    -------
    pandas.io.formats.style.Styler
        Cells are formatted strings; ``styler.data`` is the formatted frame, ``to_html()``
        gives the escaped HTML. The footnotes (one per column with missing values, then
        ``notes``) are the table's caption, shown below it.

    Raises
    ------
    KeyError
        If a spec names a column the frame lacks, or a header key missing in the locale files.
    """
    check_lang(lang)
    specs = [c if isinstance(c, ColumnSpec) else ColumnSpec(**c) for c in columns]
    absent = [c for s in specs for c in (s.column, s.low, s.high) if c and c not in frame.columns]
    if absent:
        raise KeyError(f"client_table: the frame has no column {', '.join(absent)} "
                       f"(it has {', '.join(map(str, frame.columns))}).")
    headers = [t(s.label, lang) for s in specs]
    if len(set(headers)) < len(headers):
        raise ValueError(f"client_table: two columns have the same header ({', '.join(headers)}).")
    shown = pd.DataFrame(
        {h: _column_cells(frame, s, lang, currency).to_numpy() for h, s in zip(headers, specs, strict=True)},
        columns=headers,
    )
    by_note: dict[str, list[str]] = {}   # one footnote per reason, naming every column it covers
    for h, s in zip(headers, specs, strict=True):
        if frame[s.column].isna().any():
            by_note.setdefault(t(s.missing_note or "table_missing_note", lang), []).append(h)
    quote = ("« {} »" if lang == "fr" else "“{}”").format
    footnotes = [t("table_missing_footnote", lang, dash=MISSING, column=", ".join(quote(c) for c in cols), note=note)
                 for note, cols in by_note.items()]
    footnotes.extend(notes)

    numeric = [h for h, s in zip(headers, specs, strict=True) if s.kind in _NUMERIC_KINDS]
    dates = [h for h, s in zip(headers, specs, strict=True) if s.kind in ("date", "month")]
    return _styled(shown, numeric, dates, footnotes, max_text_width, lang)


#: In French, the regular space inside a written number or between a number and its unit
#: (``12 345``, ``95 %``, ``12 €``, ``3 pts``, ``12 jours``) and before ``;`` ``:`` ``!`` ``?``.
_FR_NUMBER_SPACE = re.compile(
    r"(?<=\d) (?=\d{3}(?!\d))"
    r"|(?<=\d) (?=(?:%|€|\$|£|pts?\b|points?\b|jours?\b|mois\b|semaines?\b|ans?\b))"
    r"|(?<=\S) (?=[;!?](?:\s|$))")


def french_spaces(text: str) -> str:
    """``text`` with the spaces French typography keeps on one line made narrow no-break
    spaces (U+202F): inside a number (``12 345``), between a number and its unit (``95 %``,
    ``12 €``, ``3 pts``, ``12 jours``) and before ``;`` ``!`` ``?``, so that a table cell or
    a sentence never breaks there.

    >>> french_spaces("sous 2,00 % [12 ; 1 879 €]") == "sous 2,00\u202f% [12\u202f; 1\u202f879\u202f€]"
    True
    """
    return _FR_NUMBER_SPACE.sub(NNBSP, text)


def sentence_case(header: str) -> str:
    """The house style of a table header (STYLE.md: sentence case): first letter capital,
    the rest as written in the locale files (``taux d'ouverture`` -> ``Taux d'ouverture``,
    ``NPS`` stays ``NPS``)."""
    return header[:1].upper() + header[1:]


#: Text cells up to this many characters are kept on one line (:func:`_styled`).
SHORT_TEXT = 24


def _styled(shown: pd.DataFrame, numeric: list[str], dates: list[str], footnotes: list[str],
            max_text_width: str = "32em", lang: str | None = None) -> Styler:
    """The house style of a client table: no index, escaped cells and headers in sentence
    case, numbers right-aligned and never broken (in French, every space inside a number or
    before a unit is a narrow no-break space), text wrapped, footnotes as a caption below."""
    headers = list(shown.columns)
    if lang == "fr":
        shown = shown.map(lambda v: french_spaces(v) if isinstance(v, str) else v)
        footnotes = [french_spaces(n) for n in footnotes]
    styler = shown.style.hide(axis="index").format(escape="html")
    # headers come from the locale files, but are escaped too (a label may hold "<" or "&");
    # shown in sentence case whatever the case of the label (the data keeps the label)
    styler = styler.format_index((lambda h: sentence_case(french_spaces(h))) if lang == "fr" else sentence_case,
                                 escape="html", axis="columns")
    text = [h for h in headers if h not in numeric and h not in dates]
    styles = [
        {"selector": "", "props": "border-collapse: collapse; table-layout: auto; margin: .4rem 0;"},
        {"selector": "th", "props": "text-align: left; vertical-align: bottom; padding: .3rem .6rem; "
                                    "border-bottom: 2px solid #0072B2; white-space: normal;"},
        {"selector": "td", "props": "vertical-align: top; padding: .25rem .6rem; border-bottom: 1px solid #ddd;"},
        {"selector": "caption", "props": "caption-side: bottom; text-align: left; font-size: .85em; "
                                         "color: #555; padding-top: .3rem;"},
    ]
    styler = styler.set_table_styles(styles, overwrite=True)
    if numeric:
        styler = styler.set_properties(subset=numeric, **{"text-align": "right", "white-space": "nowrap"})
    if dates:
        styler = styler.set_properties(subset=dates, **{"text-align": "left", "white-space": "nowrap"})
    # short labels (a plan, a region, a status) stay on one line and take only their width;
    # long text (reasons, lists of indicators) wraps within max_text_width, never narrower
    # than 12em, so that a wide table still fits the page
    longest = {h: max(shown[h].map(lambda v: len(v) if isinstance(v, str) else 0).tolist(), default=0) for h in text}
    short = [h for h in text if longest[h] <= SHORT_TEXT]
    long = [h for h in text if longest[h] > SHORT_TEXT]
    if short:
        styler = styler.set_properties(subset=short, **{"text-align": "left", "white-space": "nowrap"})
    if long:
        styler = styler.set_properties(subset=long, **{
            "text-align": "left", "white-space": "normal", "overflow-wrap": "anywhere",
            "word-wrap": "break-word", "max-width": max_text_width, "min-width": "12em"})
    if footnotes:
        styler = styler.set_caption("<br>".join(html.escape(n) for n in footnotes))
    return styler


def retention_columns(group_label: str, times: Iterable[float] = (3, 6, 12),
                      group_kind: str = "text", attribute: str | None = None) -> list[ColumnSpec]:
    """The column spec of a retention table (:func:`analysis.metrics.cohorts.km_at`): the group
    (headed by the locale key ``group_label``), customers, lost, median lifetime (a dash with
    "not reached" when more than half are still customers), then the retention at each age
    with its 95 % interval (a dash with "cohort too young" beyond the longest observation).
    ``group_kind="month"`` writes monthly cohorts in the language's month style; with
    ``attribute`` (a customer column such as ``plan``), the group is headed by that
    attribute's ``attr_<name>`` label when there is one."""
    if attribute and f"attr_{attribute}" in texts():
        group_label = f"attr_{attribute}"
    cols = [ColumnSpec("group", group_label, kind=group_kind),
            ColumnSpec("n", "table_col_customers", kind="count"),
            ColumnSpec("events", "table_col_lost", kind="count"),
            ColumnSpec("median_months", "table_col_median_months", kind="number", digits=1,
                       missing_note="table_note_median_not_reached")]
    for at in times:
        key = f"{at:g}m"
        cols.append(ColumnSpec(f"retention_{key}", f"table_col_retention_{key}", kind="pct", digits=0,
                               low=f"lower_{key}", high=f"upper_{key}", missing_note="table_note_too_young"))
    return cols


def call_list_columns(money: bool = True) -> list[ColumnSpec]:
    """The column spec of the call list (:func:`call_list_rows`): customer, status, churn probability, risk tier, value and expected value at risk (amounts when
    ``money``, else numbers: the value is then an order count), priority, action, reasons."""
    value = {"kind": "money"} if money else {"kind": "number", "digits": 0}
    return [ColumnSpec("customer_id", "risk_col_customer"),
            ColumnSpec("status", "risk_col_status", codes="risk_status_"),
            ColumnSpec("churn_probability", "risk_col_probability", kind="pct", digits=0),
            ColumnSpec("risk_tier", "risk_col_risk_tier", codes="sig_risk_"),
            ColumnSpec("value", "risk_col_value", **value),
            ColumnSpec("expected_value_at_risk", "risk_col_value_at_risk", **value),
            ColumnSpec("priority", "risk_col_priority", codes="sig_priority_"),
            ColumnSpec("recommended_action", "risk_col_action", codes="sig_action_"),
            ColumnSpec("reasons", "risk_col_reasons")]


def priority_count_columns(risk_tiers: Iterable[str] = ("low", "medium", "high", "critical")) -> list[ColumnSpec]:
    """The column spec of :func:`analysis.metrics.priority.priority_counts` after ``reset_index()``:
    the value tier, then the number of customers in each risk tier."""
    return [ColumnSpec("value_tier", "sig_value_tier", codes="sig_value_")] + [
        ColumnSpec(tier, f"sig_risk_{tier}", kind="count") for tier in risk_tiers]


#: How each backtest metric is written: (kind, digits, footnote key for a missing value).
_METRIC_FORMATS: dict[str, tuple[str, int, str | None]] = {
    "auc": ("number", 2, None), "average_precision": ("number", 2, None),
    "lift_top_decile": ("number", 1, None), "brier": ("number", 3, "table_note_brier_rule"),
    "recall_at_capacity": ("pct", 0, None), "n": ("count", 0, None), "base_rate": ("pct", 1, None),
}


def model_metrics_columns(metrics: pd.DataFrame) -> list[ColumnSpec]:
    """The column spec of the backtest metrics (:attr:`analysis.models.classifier.Backtest.metrics`
    after ``reset_index()``): the method (translated), then every metric that has a
    ``risk_metric_<name>`` label, each in its own format (AUC with 2 decimals, recall in %...).
    A Brier score is missing for a ranking rule that gives no probability: its dash says so."""
    known = texts()
    cols = [ColumnSpec("method", "risk_method", codes="risk_method_")]
    for name in metrics.columns:
        if f"risk_metric_{name}" in known and name != "method":
            kind, digits, note = _METRIC_FORMATS.get(str(name), ("number", 3, None))
            cols.append(ColumnSpec(str(name), f"risk_metric_{name}", kind=kind, digits=digits, missing_note=note))
    return cols


def call_list_rows(result, lang: str = "fr", n: int = 20) -> pd.DataFrame:
    """The first ``n`` rows of ``result.call_list`` (a :class:`analysis.models.classifier.ScoreResult`)
    with their ``reasons`` in words (:func:`analysis.reporting.risk_text.reason_text`), for
    :func:`client_table` with :func:`call_list_columns`."""
    from analysis.reporting.risk_text import reason_text

    top = result.call_list.head(n)
    return top.assign(reasons=reason_text(top, lang).to_numpy())


#: A cell already written as a number, share or amount (``1 879``, ``12,5 %``, ``€4,260``, ``∞``).
_NUMBER_CELL = re.compile(r"^(?:[-+]?[€$£]?[\d\s\u202f\u00a0.,]*\d[\d\s\u202f\u00a0.,]*\s?[%€$£]?|∞|[-+]?[€$£][\d.,]+)$")
#: A cell already written as a date (``31/10/2026`` or ``2026-10-31``).
_DATE_CELL = re.compile(r"^(?:\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})$")


def formatted_table(frame: pd.DataFrame | None, lang: str = "fr", *, notes: Iterable[str] = (),
                    max_text_width: str = "32em") -> Styler | None:
    """A client table of a frame that is already text in the report's language (translated
    headers, values written by :mod:`analysis.reporting.i18n`), such as
    :func:`analysis.reporting.tables.base_tables`.

    Same house style as :func:`client_table`: no row index, escaped cells, a dash (with a
    footnote) for a missing value, numbers right-aligned with French spaces made narrow
    no-break spaces (``1 879`` never breaks), text wrapped. ``None`` stays ``None``.

    >>> formatted_table(pd.DataFrame({"Lignes": ["1 879", None]}), "fr").data["Lignes"].tolist()
    ['1\u202f879', '–']
    """
    check_lang(lang)
    if frame is None:
        return None
    headers = [str(c) for c in frame.columns]
    if len(set(headers)) < len(headers):
        raise ValueError(f"formatted_table: two columns have the same header ({', '.join(headers)}).")
    shown = pd.DataFrame(index=range(len(frame)), columns=headers, dtype=object)
    numeric, dates, with_dash = [], [], []
    for h, col in zip(headers, frame.columns, strict=True):
        raw = frame[col].reset_index(drop=True)
        cells = raw.map(lambda v: MISSING if v is None or v is pd.NA or v is pd.NaT
                        or (isinstance(v, float) and v != v) else str(v)).astype(object)
        filled = cells[(cells != MISSING) & (cells != "")]
        if len(filled) and filled.str.fullmatch(_DATE_CELL).all():
            dates.append(h)
        elif len(filled) and filled.str.fullmatch(_NUMBER_CELL).all():
            numeric.append(h)
            if lang == "fr":
                cells = cells.str.replace(" ", NNBSP, regex=False).str.replace("\u00a0", NNBSP, regex=False)
        if (cells == MISSING).any():
            with_dash.append(h)
        shown[h] = cells.to_numpy()
    quote = ("« {} »" if lang == "fr" else "“{}”").format
    footnotes = [t("table_missing_footnote", lang, dash=MISSING, column=", ".join(quote(c) for c in with_dash),
                   note=t("table_missing_note", lang))] if with_dash else []
    footnotes.extend(notes)
    return _styled(shown, numeric, dates, footnotes, max_text_width, lang)


def population_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """:attr:`analysis.models.classifier.Backtest.population_metrics` as one row per method
    (``method``) with the ROC AUC of each population in its own column (``all``, ``active90``)."""
    auc = metrics["auc"].unstack("population")
    return auc[[c for c in ("all", "active90") if c in auc.columns]].rename_axis(index="method").reset_index()


def population_columns(rows: pd.DataFrame) -> list[ColumnSpec]:
    """The column spec of :func:`population_rows`: the method (translated), then the AUC of
    each population (2 decimals, as in the metrics table) headed by its ``risk_population_`` label."""
    return [ColumnSpec("method", "risk_method", codes="risk_method_")] + [
        ColumnSpec(c, f"risk_population_{c}", kind="number", digits=2) for c in rows.columns if c != "method"]


_MONTH_GROUP = re.compile(r"^(\d{4}-\d{2})(?:\s+[–-]\s+(\d{4}-\d{2}))?$")


def _group_label(value: Any, lang: str, period: str = "M") -> str:
    """A cohort group written in the language's style (``2024-11 – 2025-04`` -> ``novembre
    2024 – avril 2025``; quarterly cohorts, named by their first month: ``T4 2024`` / ``Q4
    2024``); any other group (a segment value) as it is."""
    m = _MONTH_GROUP.match(str(value))
    if not m:
        return str(value)
    if period == "Q":
        quarter = (lambda ts: f"T{ts.quarter} {ts.year}") if lang == "fr" else (lambda ts: f"Q{ts.quarter} {ts.year}")
        return " – ".join(quarter(pd.Timestamp(part)) for part in m.groups() if part)
    return " – ".join(_month(part, lang) for part in m.groups() if part)


def at_risk_client_table(at_risk: pd.DataFrame, lang: str = "fr", attribute: str | None = None,
                         period: str = "M") -> Styler:
    """The customers still followed at each age under a survival plot
    (:func:`analysis.metrics.cohorts.at_risk_table`: ``group``, ``months``, ``at_risk``) as a
    client table: one row per group (cohorts in the language's month style, or quarter style
    when ``period`` is ``Q``, or the values of the customer ``attribute``, headed by its
    ``attr_<name>`` label), one column per age
    ("à 6 mois" / "at 6 months"), counts in the language's format.

    >>> rows = pd.DataFrame({"group": ["2024-11 – 2025-04"] * 2, "months": [0.0, 3.0], "at_risk": [1417, 411]})
    >>> at_risk_client_table(rows, "fr").data.values.tolist()
    [['novembre 2024 – avril 2025', '1\u202f417', '411']]
    """
    check_lang(lang)
    wide = at_risk.pivot(index="group", columns="months", values="at_risk")
    if attribute is None:
        header = t("coh_cohort", lang)
    else:
        header = t(f"attr_{attribute}", lang) if f"attr_{attribute}" in texts() else str(attribute)
    frame = pd.DataFrame({header: [_group_label(g, lang, period) for g in wide.index]})
    for m in wide.columns:
        frame[t("table_col_at_age", lang, months=fmt_num(m, lang, 0 if float(m).is_integer() else 1))] = [
            fmt_num(v, lang) for v in wide[m].to_numpy()]
    return formatted_table(frame, lang, notes=[t("table_note_still_followed", lang)])
