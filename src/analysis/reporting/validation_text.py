"""The validation report of a dataset as plain text in the report's language (``validation.txt``).

:meth:`analysis.data.validation.ValidationReport.to_text` is the command line's English text;
a report folder linked from a French index needs French words, French numbers (``3 000``)
and French dates. The data layer writes its notes in one fixed English wording (the command
line's); :func:`note_text` recognises each of those wordings (:data:`NOTE_PATTERNS`) and
writes it again in the report's language with local numbers and dates. A note of a wording
not listed stays as it is, marked as an English technical detail.
"""

from __future__ import annotations

import re
from pathlib import Path

from analysis.data.validation import ValidationReport
from analysis.reporting.i18n import check_lang, fmt_date, fmt_num, plural, reason_label, t, texts

__all__ = ["NOTE_PATTERNS", "detected_text", "note_text", "validation_text"]

_N = r"(?P<n>\d[\d,]*)"
_EX = r"\((?P<ex>.*)\)"
#: Every wording of a note the data layer writes (``analysis.data.validation``,
#: ``analysis.data.dataset``, ``analysis.data.partitions``), as a full-match pattern, and the
#: locale key that says it again (``val_note_<code>``, with ``_one`` / ``_other`` when ``n``).
NOTE_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple((code, re.compile(rx)) for code, rx in (
    ("ids_float", _N + r" value\(s\) of (?P<col>.+?) looked like floats \(e\.g\. '17850\.0'\) and were read as ids "
                  r"without '\.0'\."),
    ("ids_numeric", r"(?P<col>.+?) was stored as numbers; read as ids without decimals\."),
    ("bad_dates", _N + r" value\(s\) of (?P<col>.+?) are not dates " + _EX + r"; expected (?P<expected>.*)\."),
    ("mixed_dates", r"(?P<col>.+?) mixes date formats: (?P<parts>.*); all were read, day first\."),
    ("bad_numbers", _N + r" value\(s\) of (?P<col>.+?) are not numbers " + _EX + r"\."),
    ("duplicates_kept", _N + r" row\(s\) identical to an earlier row kept as distinct events "
                        r"\(tables\.(?P<table>\w+)\.duplicates: keep\)\."),
    ("no_amount", r"no amount column: monetary features and revenue figures are skipped\."),
    ("unknown_email", _N + r" email event\(s\) of unknown type " + _EX + r"; expected one of (?P<expected>.*)\."),
    ("nps_range", _N + r" NPS score\(s\) are not integers from 0 to 10 " + _EX + r"\."),
    ("blank_sessions", _N + r" blank sessions counted as 1\."),
    ("unknown_group", _N + r" intervention\(s\) with an unknown group " + _EX + r"; expected treatment or control\."),
    ("negative_cost", _N + r" intervention cost\(s\) below zero " + _EX + r"\."),
    ("control_cost", _N + r" control row\(s\) carry a cost " + _EX + r"; a control customer is deliberately not "
                     r"contacted, so its cost must be blank or 0\."),
    ("personal_declared", r"personal column\(s\) (?P<cols>.+) are never shown in client exports\."),
    ("personal_found", r"personal column\(s\) (?P<cols>.+) recognised by name or content \(not declared in "
                       r"personal_columns\): never segments, masked in client copies\."),
    ("tables_missing", r"table\(s\) not provided: (?P<tables>.+); the indicators and sections that need them are "
                       r"skipped\."),
    ("no_customers", r"no customers table: customers are those seen in activity tables, signed up at their first "
                     r"activity\."),
    ("customers_added", _N + r" customer\(s\) appear in activity tables but not in customers; added with "
                        r"signup_date = first activity\."),
    ("blank_signup", _N + r" blank signup_date\(s\) set to the first activity\."),
    ("observed_until", r"observed_until not set: the export is taken to end on (?P<date>\d{4}-\d{2}-\d{2}), its "
                       r"last event\."),
))
_ROW = re.compile(r"\brow (\d+): ")
_AS = re.compile(r"(\d[\d,]*) as ([^,]+)")
_AUTO_DATES = "one of ISO YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD"


def _count(text: str, lang: str) -> str:
    return fmt_num(int(text.replace(",", "")), lang)


def note_text(note: str, lang: str = "fr") -> str:
    """A data-layer note in the report's language: numbers, dates, the file's row examples
    (``row 12: 'x'``) and table names said in ``lang``; the data's own values (column names,
    the examples' values) are kept as they are.

    >>> note_text("3 NPS score(s) are not integers from 0 to 10 (row 4: '11').", "fr")
    '3 notes NPS ne sont pas des entiers de 0 à 10 (ligne 4 : \'11\').'
    """
    for code, rx in NOTE_PATTERNS:
        m = rx.fullmatch(note)
        if m is None:
            continue
        kw = {k: v for k, v in m.groupdict().items() if v is not None}
        if "ex" in kw:
            kw["ex"] = _ROW.sub(lambda r: t("val_note_row", lang, row=r.group(1)), kw["ex"])
        if kw.get("expected") == _AUTO_DATES:
            kw["expected"] = t("val_note_auto_dates", lang)
        if "parts" in kw:
            kw["parts"] = ", ".join(t("val_note_as", lang, n=_count(a.group(1), lang), fmt=a.group(2))
                                    for a in _AS.finditer(kw["parts"]))
        if "tables" in kw:
            kw["tables"] = ", ".join(_table_name(x.strip(), lang) for x in kw["tables"].split(","))
        if "date" in kw:
            kw["date"] = fmt_date(kw["date"], lang)
        if "n" in kw:
            n = int(kw.pop("n").replace(",", ""))
            return plural(f"val_note_{code}", n, lang, **kw)
        return t(f"val_note_{code}", lang, **kw)
    return t("val_note", lang, note=note)


def _table_name(table: str, lang: str) -> str:
    entry = texts().get(table)
    return entry[lang] if isinstance(entry, dict) and lang in entry else table


_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", " ": "space"}


def detected_text(detected: dict[str, str], lang: str = "fr") -> str:
    """The dialect the reader found (``format``, ``encoding``, ``sep``, ``decimal``,
    ``date_format:<column>``) in plain words: ``CSV, encodage utf-8, séparateur point-virgule``."""
    parts = []
    for key, value in detected.items():
        kind, _, column = key.partition(":")
        if kind == "sep":
            name = _SEPARATORS.get(value)
            value = t(f"val_sep_{name}", lang) if name else f"« {value} »" if lang == "fr" else f"'{value}'"
        elif kind == "decimal":
            value = t("val_decimal_comma" if value == "," else "val_decimal_point", lang)
        elif kind == "format":
            value = str(value).upper()
        key = f"val_detected_{kind}"
        parts.append(t(key, lang, value=value, column=column) if key in texts() else f"{kind}={value}")
    return ", ".join(parts)


def validation_text(report: ValidationReport, lang: str = "fr") -> str:
    """One block per table: file name, rows read / kept / set aside, customers, date span,
    detected format, rows set aside by reason (in plain words), refunds; then the notes."""
    check_lang(lang)
    lines = [plural("val_title", report.rows_quarantined, lang), ""]
    for r in report.tables.values():
        lines.append(f"{_table_name(r.table, lang)} ({Path(r.file).name})")
        lines.append("    " + t("val_rows", lang, read=fmt_num(r.rows_read, lang), kept=fmt_num(r.rows_kept, lang),
                                  quarantined=fmt_num(r.rows_quarantined, lang), customers=fmt_num(r.customers, lang),
                                  first=fmt_date(r.date_min, lang) if r.date_min else "–",
                                  last=fmt_date(r.date_max, lang) if r.date_max else "–"))
        if r.detected:
            lines.append("    " + t("val_detected", lang, what=detected_text(r.detected, lang)))
        for reason, n in sorted(r.quarantined.items()):
            lines.append("    " + plural("val_quarantined", n, lang, reason=reason_label(reason, lang)))
        if r.refunds:
            lines.append("    " + plural("val_refunds", r.refunds, lang))
        lines.extend("    " + note_text(n, lang) for n in r.notes)
    lines.extend(note_text(n, lang) for n in report.notes)
    return "\n".join(lines)
