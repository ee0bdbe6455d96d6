"""Validation: from raw exported rows to typed tables, with nothing lost silently.

Every rule either fixes a value in a documented way (ids read as floats, blank
``sessions``), keeps a row with a flag (refunds), or moves the row to quarantine with
a ``reason``. For every table, ``rows_read == rows_kept + rows_quarantined``.

Quarantine reasons
------------------
``missing_value:<col>``         a required column is blank on that row
``unparseable_date:<col>``      the date matches none of the accepted formats
``invalid_number:<col>``        not a number (decimal comma accepted)
``score_out_of_range``          NPS score not an integer in 0-10
``unknown_event``               email event not in :data:`analysis.data.schema.EMAIL_EVENTS`
``duplicate_row``               exact copy of an earlier row (the first is kept)
``duplicate_customer_id``       a second row for a customer already listed
``churn_before_signup``         customers: churn_date earlier than signup_date
``before_signup``               an event dated before the customer's signup_date
``after_dataset_end``           an event dated after ``observed_until``
``unknown_group``               interventions: ``group`` is neither treatment nor control
``control_with_cost``           interventions: a control row (not contacted) carries a cost
``negative_cost``               interventions: a cost below zero
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.schema import EMAIL_EVENTS, INTERVENTION_GROUPS, TABLES, TableSpec
from analysis.errors import DataError

__all__ = ["TableReport", "ValidationReport", "validate_table", "parse_dates", "normalise_ids",
           "aggregate_orders"]

#: Date formats tried, in order, when ``date_format`` is ``auto``: ISO first, then the
#: day-first formats of French exports. Month-first dates must be declared explicitly.
DATE_FORMATS: tuple[str, ...] = (
    "ISO8601",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y%m%d",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
)

EVENT_ALIASES: dict[str, str] = {
    "send": "sent", "sends": "sent", "deliver": "delivered", "delivery": "delivered",
    "opened": "open", "opens": "open", "clicked": "click", "clicks": "click",
    "replied": "reply", "soft_bounce": "bounce_soft", "hard_bounce": "bounce_hard",
    "unsubscribed": "unsubscribe", "unsub": "unsubscribe", "complaint": "spam_complaint",
    "spam": "spam_complaint",
}
#: Other spellings of ``interventions.group`` read as the contract's two values.
GROUP_ALIASES: dict[str, str] = {
    "treated": "treatment", "test": "treatment", "contacted": "treatment",
    "holdout": "control", "hold_out": "control", "temoin": "control", "témoin": "control",
}
EXAMPLES = 5
#: Characters of a value echoed in a note or an error (longer values are cut).
ECHO_CHARS = 80
#: A time-zone suffix at the end of a timestamp: ``Z``, ``+02:00``, ``-0500``.
_TZ_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"


@dataclass
class TableReport:
    """What validation found in one table."""

    table: str
    file: str
    rows_read: int = 0
    rows_kept: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    detected: dict[str, str] = field(default_factory=dict)
    customers: int = 0
    date_min: str | None = None
    date_max: str | None = None
    refunds: int = 0
    #: orders only, when the export has order ids: orders formed by the kept lines
    #: (lines of one order and customer are one purchase), of which cancellations.
    orders: int = 0
    cancellations: int = 0

    @property
    def rows_quarantined(self) -> int:
        return int(sum(self.quarantined.values()))

    def as_dict(self) -> dict:
        return {
            "table": self.table, "file": self.file, "rows_read": self.rows_read,
            "rows_kept": self.rows_kept, "rows_quarantined": self.rows_quarantined,
            "quarantined": dict(self.quarantined), "customers": self.customers,
            "date_min": self.date_min, "date_max": self.date_max, "refunds": self.refunds,
            "orders": self.orders, "cancellations": self.cancellations,
            "detected": dict(self.detected), "notes": list(self.notes),
        }


@dataclass
class ValidationReport:
    """The validation of a whole dataset: one :class:`TableReport` per table found."""

    tables: dict[str, TableReport] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per table: file, rows read / kept / quarantined, customers, date range."""
        rows = [
            {k: v for k, v in r.as_dict().items() if k not in ("quarantined", "detected", "notes")}
            for r in self.tables.values()
        ]
        return pd.DataFrame(rows)

    def quarantine_counts(self) -> pd.DataFrame:
        """One row per (table, reason) with the number of rows quarantined."""
        rows = [
            {"table": t, "reason": reason, "rows": n}
            for t, r in self.tables.items() for reason, n in sorted(r.quarantined.items())
        ]
        return pd.DataFrame(rows, columns=["table", "reason", "rows"])

    @property
    def rows_quarantined(self) -> int:
        return int(sum(r.rows_quarantined for r in self.tables.values()))

    def write_quarantine(self, out: str | Path, mask_columns: tuple[str, ...] = ()) -> list[Path]:
        """Write ``<out>/quarantine/<table>.csv`` (original values, ``reason``, ``source_row``).

        Values of ``mask_columns`` (the personal columns, for a folder that may reach a
        client) are replaced by ``***``; the row stays identifiable by its line and id.
        """
        folder = Path(out) / "quarantine"
        written = []
        for table, frame in self.quarantine.items():
            if frame.empty:
                continue
            masked = [c for c in frame.columns if c in mask_columns]
            if masked:
                frame = frame.assign(**{c: frame[c].where(frame[c].isna(), "***") for c in masked})
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{table}.csv"
            frame.to_csv(path, index=False)
            written.append(path)
        return written

    def as_dict(self) -> dict:
        return {
            "tables": {t: r.as_dict() for t, r in self.tables.items()},
            "notes": list(self.notes),
            "rows_quarantined": self.rows_quarantined,
        }

    def to_text(self) -> str:
        """The report as plain text, as printed by ``churn-radar validate``."""
        lines = []
        for r in self.tables.values():
            lines.append(
                f"{r.table:<13} {r.file}\n"
                f"    rows read {r.rows_read:,}, kept {r.rows_kept:,}, quarantined {r.rows_quarantined:,}; "
                f"customers {r.customers:,}; dates {r.date_min or '-'} to {r.date_max or '-'}"
            )
            if r.detected:
                lines.append("    detected: " + ", ".join(f"{k}={v!r}" for k, v in r.detected.items()))
            for reason, n in sorted(r.quarantined.items()):
                lines.append(f"    quarantined {n:,} row(s): {reason}")
            if r.orders:
                lines.append(f"    {r.rows_kept:,} line(s) kept form {r.orders:,} order(s) of {r.customers:,} "
                             f"customer(s); {r.cancellations:,} cancellation(s) net against revenue, "
                             "not purchases")
            if r.refunds and not r.orders:
                lines.append(f"    {r.refunds:,} refund(s) (negative amounts) kept as refunds, not purchases")
            lines.extend(f"    note: {n}" for n in r.notes)
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


class _Quarantine:
    """Collects rejected rows of one table with their reason, in the order found."""

    def __init__(self, raw: pd.DataFrame, report: TableReport):
        self.raw = raw
        self.report = report
        self.parts: list[pd.DataFrame] = []

    def take(self, frame: pd.DataFrame, mask: pd.Series, reason: str) -> pd.DataFrame:
        """Move rows of ``frame`` where ``mask`` is true to quarantine; return the rest."""
        mask = mask.fillna(False).astype(bool)
        n = int(mask.sum())
        if n == 0:
            return frame
        rows = self.raw.loc[frame.index[mask.to_numpy()]].copy()
        rows["reason"] = reason
        rows["source_row"] = rows.index + 2  # line in the file: header is line 1
        self.parts.append(rows)
        self.report.quarantined[reason] = self.report.quarantined.get(reason, 0) + n
        return frame.loc[~mask].copy()

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=[*self.raw.columns, "reason", "source_row"])
        return pd.concat(self.parts)


def _examples(values: pd.Series) -> str:
    shown = values.head(EXAMPLES)
    return ", ".join(f"row {i + 2}: {_clip_repr(v)}" for i, v in shown.items())


def _clip_repr(value: object, limit: int = ECHO_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters: a 10 MB field is not echoed whole."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...' ({len(str(value)):,} characters)"


def _columns_found(columns) -> str:
    """The columns of a file for a message: at most 30 names, each cut to 40 characters."""
    names = [_clip_repr(str(c), 40)[1:-1] if len(str(c)) > 40 else str(c) for c in list(columns)[:30]]
    more = len(columns) - len(names)
    return ", ".join(names) + (f" (and {more:,} more)" if more > 0 else "")


def normalise_ids(values: pd.Series) -> tuple[pd.Series, int]:
    """Identifiers as strings; ``17850.0`` (an id read as a float) becomes ``17850``.

    Returns the normalised series (pandas ``string`` dtype) and how many values were fixed.
    Zero-padded ids such as ``00042`` are kept as they are.
    """
    if pd.api.types.is_float_dtype(values):
        fixed = int(values.notna().sum())
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            out = values.astype("Int64").astype("string")
            return out, fixed
        return values.astype("string"), 0
    if pd.api.types.is_integer_dtype(values):
        return values.astype("string"), 0
    s = values.astype("string").str.strip()
    floaty = s.str.fullmatch(r"-?\d+\.0+").fillna(False)
    n = int(floaty.sum())
    if n:
        s = s.mask(floaty, s.str.replace(r"\.0+$", "", regex=True))
    return s, n


def parse_dates(values: pd.Series, fmt: str = "auto",
                timezone: str | None = None) -> tuple[pd.Series, dict[str, int]]:
    """Parse dates; return naive ``datetime64[ns]`` (NaT where unparseable) and the formats used.

    With ``fmt="auto"`` each value is tried against :data:`DATE_FORMATS` in order, so a
    column mixing ``2026-10-31`` and ``31/10/2026`` parses entirely; the count of values
    per format is returned so the report can say the column mixed formats.
    Timestamps with a time-zone suffix (``Z``, ``+02:00``) are converted to ``timezone``
    (the dataset's ``timezone`` key) when given; without it the local date and time as
    written are kept (the suffix is dropped). Values without a suffix are kept as written.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values
        if getattr(out.dt, "tz", None) is not None:
            out = (out.dt.tz_convert(timezone) if timezone else out).dt.tz_localize(None)
        return out.astype("datetime64[ns]"), {"native": int(values.notna().sum())}
    s = values.astype("string").str.strip()
    formats = DATE_FORMATS if fmt == "auto" else (fmt,)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    used: dict[str, int] = {}
    todo = s.notna()
    for f in formats:
        if not todo.any():
            break
        part = s[todo].astype(object)
        if f == "ISO8601":
            parsed = _parse_iso(part.astype("string"), timezone)
        else:
            parsed = pd.to_datetime(part, format=f, errors="coerce")
        ok = parsed.notna()
        if ok.any():
            out.loc[ok[ok].index] = parsed[ok].astype("datetime64[ns]")
            used[f] = int(ok.sum())
            todo.loc[ok[ok].index] = False
    return out, used


def _parse_iso(part: pd.Series, timezone: str | None) -> pd.Series:
    """ISO 8601 values as naive datetimes: suffixed ones converted to ``timezone`` (or their
    wall time kept when it is None), the others as written."""
    out = pd.Series(pd.NaT, index=part.index, dtype="datetime64[ns]")
    suffixed = part.str.contains(_TZ_SUFFIX, regex=True).fillna(False).astype(bool)
    naive = part.loc[~suffixed]
    if len(naive):
        out.loc[naive.index] = pd.to_datetime(naive.astype(object), format="ISO8601", errors="coerce")
    aware = part.loc[suffixed]
    if len(aware):
        if timezone:
            conv = pd.to_datetime(aware.astype(object), format="ISO8601", errors="coerce", utc=True)
            out.loc[aware.index] = conv.dt.tz_convert(timezone).dt.tz_localize(None)
        else:
            wall = aware.str.replace(r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", "", regex=True)
            out.loc[aware.index] = pd.to_datetime(wall.astype(object), format="ISO8601", errors="coerce")
    return out


def parse_numbers(values: pd.Series, decimal: str = "auto") -> tuple[pd.Series, str]:
    """Parse numbers written with ``.`` or ``,`` as decimal mark; NaN where not a number.

    Thousands separators (spaces, non-breaking spaces, and the other mark when both
    appear) are removed. Returns the float series and the decimal mark used.
    """
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64"), "."
    s = values.astype("string").str.strip().str.replace("[\\s\u00a0\u202f]|€|\\$|EUR", "", regex=True)
    if decimal == "auto":
        comma = s.str.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d+|-?\d+,\d+").fillna(False).sum()
        dot = s.str.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d+|-?\d+\.\d+").fillna(False).sum()
        decimal = "," if comma > dot else "."
    if decimal == ",":
        s = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        s = s.str.replace(",", "", regex=False)
    return pd.to_numeric(s, errors="coerce").astype("float64"), decimal


def _resolve_columns(raw: pd.DataFrame, spec: TableSpec, renames: dict[str, str], path: str) -> dict[str, str]:
    """Map canonical column -> column of the file, from dataset.yml renames or by name."""
    by_lower = {str(c).strip().lower(): c for c in raw.columns}
    mapping: dict[str, str] = {}
    for canonical, source in renames.items():
        if source not in raw.columns and source.lower() not in by_lower:
            raise DataError(
                f"{path}: dataset.yml maps '{canonical}' to column '{_clip_repr(source, 60)[1:-1]}', which is not in the "
                f"file. Columns found: {_columns_found(raw.columns)}."
            )
        mapping[canonical] = source if source in raw.columns else by_lower[source.lower()]
    for col in (*spec.required, *spec.optional):
        if col not in mapping and col in by_lower:
            mapping[col] = by_lower[col]
    missing = [c for c in spec.required if c not in mapping]
    if missing:
        raise DataError(
            f"{path}: required column(s) {', '.join(missing)} missing from table '{spec.name}'. "
            f"Columns found: {_columns_found(raw.columns)}. If your export names them "
            f"differently, map them in dataset.yml under tables.{spec.name}.columns "
            f"(canonical_name: name_in_your_file)."
        )
    return mapping


def validate_table(
    table: str,
    raw: pd.DataFrame,
    path: str,
    *,
    date_format: str = "auto",
    decimal: str = "auto",
    renames: dict[str, str] | None = None,
    personal_columns: tuple[str, ...] = (),
    observed_until: pd.Timestamp | None = None,
    detected: dict[str, str] | None = None,
    duplicates: str = "quarantine",
    timezone: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, TableReport]:
    """Type and check one table.

    Parameters
    ----------
    table : one of :data:`analysis.data.schema.TABLES`.
    raw : the rows as read (see :func:`analysis.data.reading.read_raw`).
    path : file name used in messages.

    Returns
    -------
    clean, quarantine, report
        ``clean`` has the canonical columns and dtypes of :mod:`analysis.data.schema` (and, for
        ``customers``, the segment attributes); ``quarantine`` has the original values of
        every rejected row plus ``reason`` and ``source_row``.
    """
    spec = TABLES[table]
    raw = raw.reset_index(drop=True)
    report = TableReport(table=table, file=path, rows_read=len(raw), detected=dict(detected or {}))
    q = _Quarantine(raw, report)
    mapping = _resolve_columns(raw, spec, renames or {}, path)
    df = pd.DataFrame({canon: raw[src] for canon, src in mapping.items()}, index=raw.index)
    if spec.extra_allowed:
        used = set(mapping.values())
        for col in raw.columns:
            if col not in used and col not in df.columns:
                df[str(col)] = raw[col]

    for col in spec.required:
        blank = df[col].isna()
        if df[col].dtype == object or isinstance(df[col].dtype, pd.StringDtype):
            blank |= df[col].astype("string").str.strip().eq("").fillna(False)
        df = q.take(df, blank, f"missing_value:{col}")

    for col in spec.ids:
        if col in df.columns:
            df[col], fixed = normalise_ids(df[col])
            if fixed and not pd.api.types.is_float_dtype(raw[mapping[col]]):
                report.notes.append(f"{fixed:,} value(s) of {col} looked like floats (e.g. '17850.0') and were read as ids without '.0'.")
            elif fixed:
                report.notes.append(f"{col} was stored as numbers; read as ids without decimals.")

    for col in spec.dates:
        if col not in df.columns:
            continue
        parsed, used = parse_dates(df[col], date_format, timezone)
        bad = parsed.isna() & df[col].notna()
        if bad.any():
            report.notes.append(
                f"{int(bad.sum()):,} value(s) of {col} are not dates ({_examples(df.loc[bad, col])}); "
                f"expected {'one of ISO YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD' if date_format == 'auto' else date_format}."
            )
        df = q.take(df, bad, f"unparseable_date:{col}")
        df[col] = parsed.loc[df.index]
        real = {f: n for f, n in used.items() if f != "native"}
        if len(real) > 1:
            report.notes.append(
                f"{col} mixes date formats: "
                + ", ".join(f"{n:,} as {f}" for f, n in real.items())
                + "; all were read, day first."
            )
        if real:
            report.detected[f"date_format:{col}"] = max(real, key=real.get)

    for col in spec.floats:
        if col not in df.columns:
            continue
        parsed, mark = parse_numbers(df[col], decimal)
        bad = parsed.isna() & df[col].notna()
        if bad.any():
            report.notes.append(f"{int(bad.sum()):,} value(s) of {col} are not numbers ({_examples(df.loc[bad, col])}).")
        df = q.take(df, bad, f"invalid_number:{col}")
        df[col] = parsed.loc[df.index]
        if not pd.api.types.is_numeric_dtype(raw[mapping[col]]):
            report.detected["decimal"] = mark

    if table == "orders":
        df = _orders(df, report)
    elif table == "email_events":
        df = _email(df, q)
    elif table == "nps":
        df = _nps(df, q, report)
    elif table == "usage":
        df = _usage(df, report)
    elif table == "customers":
        df = _customers(df, q, report, personal_columns)
    elif table == "interventions":
        df = _interventions(df, q, report)

    # exact duplicates are judged on the whole original row, not only the mapped columns
    dup = raw.loc[df.index].duplicated(keep="first")
    if duplicates == "keep":
        if dup.any():
            report.notes.append(
                f"{int(dup.sum()):,} row(s) identical to an earlier row kept as distinct events "
                f"(tables.{table}.duplicates: keep)."
            )
    else:
        df = q.take(df, dup, "duplicate_row")
    if table == "customers":
        df = q.take(df, df["customer_id"].duplicated(keep="first"), "duplicate_customer_id")

    if spec.time_column and observed_until is not None:
        late = df[spec.time_column] > observed_until + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
        df = q.take(df, late, "after_dataset_end")

    report.rows_kept = len(df)
    _describe(df, spec, report)
    df = df.reset_index(drop=True)
    return df, q.frame(), report


def _orders(df: pd.DataFrame, report: TableReport) -> pd.DataFrame:
    if "amount" in df.columns:
        df["is_refund"] = (df["amount"] < 0).fillna(False).astype(bool)
        report.refunds = int(df["is_refund"].sum())
    else:
        df["is_refund"] = False
        report.notes.append("no amount column: monetary features and revenue figures are skipped.")
    if "order_id" not in df.columns:
        df["order_id"] = pd.Series(pd.NA, index=df.index, dtype="string")
    return df[["customer_id", "order_date", "amount", "order_id", "is_refund"]] if "amount" in df.columns \
        else df[["customer_id", "order_date", "order_id", "is_refund"]]


def aggregate_orders(lines: pd.DataFrame, report: TableReport | None = None,
                     cancellation_pattern: str | None = None) -> pd.DataFrame:
    """Order lines to orders: the lines of one (customer, order id) are one purchase.

    An order's ``order_date`` is its earliest line, its ``amount`` the sum of its lines.
    An order is a cancellation or refund (``is_refund``: it nets against revenue but is not a
    purchase) when its id matches ``cancellation_pattern`` (a regular expression, e.g.
    ``"^C"``) or its amount is negative. Lines without an order id stay one row each (as
    before). Duplicate lines are judged before this step, on the lines themselves. An export
    with one line per order is returned as it is (only ``cancellation_pattern`` is applied).

    Parameters
    ----------
    lines : validated order lines (``customer_id``, ``order_date``, ``order_id``, optional
        ``amount``).
    report : the orders' :class:`TableReport`; ``orders``, ``cancellations`` and
        ``refunds`` are set (counted in orders).
    cancellation_pattern : regular expression on ``order_id``.

    Returns
    -------
    DataFrame with the columns of ``lines``, one row per order (then one per line without
    id), sorted by order date, customer and order id.
    """
    has_id = lines["order_id"].notna()
    if not has_id.any():
        return lines
    if not lines.loc[has_id].duplicated(["customer_id", "order_id"]).any():
        # one line per order already: rows stay as they are, only cancellations are flagged
        if cancellation_pattern:
            cancel = lines["order_id"].astype("string").str.contains(cancellation_pattern, regex=True).fillna(False)
            lines = lines.assign(is_refund=lines["is_refund"] | cancel.to_numpy(dtype=bool))
            if report is not None:
                report.refunds = int(lines["is_refund"].sum())
        return lines
    has_amount = "amount" in lines.columns
    keyed = lines.loc[has_id]
    agg = {"order_date": ("order_date", "min")}
    if has_amount:
        agg["amount"] = ("amount", "sum")
    orders = keyed.groupby(["customer_id", "order_id"], observed=True, sort=False).agg(**agg).reset_index()
    orders = pd.concat([orders, lines.loc[~has_id, [c for c in lines.columns if c != "is_refund"]]],
                       ignore_index=True)
    cancel = pd.Series(False, index=orders.index)
    if cancellation_pattern:
        cancel = orders["order_id"].astype("string").str.contains(cancellation_pattern, regex=True).fillna(False)
    negative = (orders["amount"] < 0).fillna(False) if has_amount else pd.Series(False, index=orders.index)
    orders["is_refund"] = (cancel | negative).astype(bool)
    orders = orders.sort_values(["order_date", "customer_id", "order_id"], kind="stable", na_position="last")
    if report is not None:
        report.orders = int(orders["order_id"].notna().sum())
        report.cancellations = int((orders["is_refund"] & orders["order_id"].notna()).sum())
        report.refunds = int(orders["is_refund"].sum())
    return orders[list(lines.columns)].reset_index(drop=True)


def _email(df: pd.DataFrame, q: _Quarantine) -> pd.DataFrame:
    ev = df["event"].astype("string").str.strip().str.lower().str.replace(" ", "_", regex=False)
    ev = ev.replace(EVENT_ALIASES)
    unknown = ~ev.isin(EMAIL_EVENTS)
    if unknown.any():
        q.report.notes.append(
            f"{int(unknown.sum()):,} email event(s) of unknown type ({_examples(df.loc[unknown, 'event'])}); "
            f"expected one of {', '.join(EMAIL_EVENTS)}."
        )
    df = q.take(df, unknown, "unknown_event")
    df["event"] = pd.Categorical(ev.loc[df.index], categories=EMAIL_EVENTS)
    return df[["customer_id", "campaign_id", "event_time", "event"]]


def _nps(df: pd.DataFrame, q: _Quarantine, report: TableReport) -> pd.DataFrame:
    score, _ = parse_numbers(df["score"], ".")
    bad = score.isna() | (score < 0) | (score > 10) | (score != np.floor(score))
    if bad.any():
        report.notes.append(
            f"{int(bad.sum()):,} NPS score(s) are not integers from 0 to 10 ({_examples(df.loc[bad, 'score'])})."
        )
    df = q.take(df, bad, "score_out_of_range")
    df["score"] = score.loc[df.index].astype("int64")
    if "trigger" in df.columns:
        df["trigger"] = df["trigger"].astype("string").str.strip().str.lower()
    else:
        df["trigger"] = pd.Series("periodic", index=df.index, dtype="string")
    return df[["customer_id", "response_date", "score", "trigger"]]


def _usage(df: pd.DataFrame, report: TableReport) -> pd.DataFrame:
    if "sessions" not in df.columns:
        df["sessions"] = 1.0
    else:
        blank = df["sessions"].isna()
        if blank.any():
            report.notes.append(f"{int(blank.sum()):,} blank sessions counted as 1.")
        df["sessions"] = df["sessions"].fillna(1.0)
    if "minutes" not in df.columns:
        df["minutes"] = np.nan
    if "feature" not in df.columns:
        df["feature"] = pd.Series(pd.NA, index=df.index, dtype="string")
    else:
        df["feature"] = df["feature"].astype("string").str.strip()
    return df[["customer_id", "event_date", "feature", "sessions", "minutes"]]


def _interventions(df: pd.DataFrame, q: _Quarantine, report: TableReport) -> pd.DataFrame:
    """Groups read as treatment / control; control rows must carry no cost."""
    grp = df["group"].astype("string").str.strip().str.lower().str.replace(" ", "_", regex=False)
    grp = grp.replace(GROUP_ALIASES)
    unknown = ~grp.isin(INTERVENTION_GROUPS)
    if unknown.any():
        report.notes.append(
            f"{int(unknown.sum()):,} intervention(s) with an unknown group ({_examples(df.loc[unknown, 'group'])}); "
            "expected treatment or control."
        )
    df = q.take(df, unknown, "unknown_group")
    df["group"] = grp.loc[df.index].astype("string")
    if "cost" not in df.columns:
        df["cost"] = np.nan
    neg = df["cost"] < 0
    if neg.any():
        report.notes.append(f"{int(neg.sum()):,} intervention cost(s) below zero ({_examples(df.loc[neg, 'cost'])}).")
    df = q.take(df, neg, "negative_cost")
    paid_control = df["group"].eq("control") & df["cost"].gt(0)
    if paid_control.any():
        report.notes.append(
            f"{int(paid_control.sum()):,} control row(s) carry a cost ({_examples(df.loc[paid_control, 'cost'])}); "
            "a control customer is deliberately not contacted, so its cost must be blank or 0."
        )
    df = q.take(df, paid_control, "control_with_cost")
    df["action"] = df["action"].astype("string").str.strip().str.lower().str.replace(" ", "_", regex=False)
    for col in ("campaign_id", "variant", "channel", "owner"):
        if col not in df.columns:
            df[col] = pd.Series(pd.NA, index=df.index, dtype="string")
        else:
            df[col] = df[col].astype("string").str.strip().replace("", pd.NA)
    return df[["customer_id", "action_date", "action", "campaign_id", "group", "variant", "cost",
               "channel", "owner"]]


def _customers(df: pd.DataFrame, q: _Quarantine, report: TableReport, personal: tuple[str, ...]) -> pd.DataFrame:
    for col in ("signup_date", "churn_date"):
        if col not in df.columns:
            df[col] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    bad = df["churn_date"].notna() & df["signup_date"].notna() & (df["churn_date"] < df["signup_date"])
    df = q.take(df, bad, "churn_before_signup")
    attrs = [c for c in df.columns if c not in ("customer_id", "signup_date", "churn_date")]
    for col in attrs:
        if df[col].dtype == object:
            df[col] = df[col].astype("string")
    present = [c for c in attrs if c in personal]
    if present:
        report.notes.append(f"personal column(s) {', '.join(present)} are never shown in client exports.")
    return df[["customer_id", "signup_date", "churn_date", *attrs]]


def _describe(df: pd.DataFrame, spec: TableSpec, report: TableReport) -> None:
    report.customers = int(df["customer_id"].nunique())
    col = spec.time_column or ("signup_date" if "signup_date" in df.columns else None)
    if col and df[col].notna().any():
        report.date_min = df[col].min().date().isoformat()
        report.date_max = df[col].max().date().isoformat()
