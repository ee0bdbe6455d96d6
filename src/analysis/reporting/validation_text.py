"""The validation report of a dataset as plain text in the report's language (``validation.txt``).

:meth:`analysis.data.validation.ValidationReport.to_text` is the command line's English text;
a report folder linked from a French index needs French words, French numbers (``3 000``)
and French dates. The data layer's free-text notes (e.g. the rows of unknown event types)
are kept as they are, marked as technical details.
"""

from __future__ import annotations

from pathlib import Path

from analysis.data.validation import ValidationReport
from analysis.reporting.i18n import check_lang, fmt_date, fmt_num, plural, reason_label, t, texts

__all__ = ["validation_text"]


def _table_name(table: str, lang: str) -> str:
    entry = texts().get(table)
    return entry[lang] if isinstance(entry, dict) and lang in entry else table


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
            lines.append("    " + t("val_detected", lang, what=", ".join(f"{k}={v}" for k, v in r.detected.items())))
        for reason, n in sorted(r.quarantined.items()):
            lines.append("    " + plural("val_quarantined", n, lang, reason=reason_label(reason, lang)))
        if r.refunds:
            lines.append("    " + plural("val_refunds", r.refunds, lang))
        lines.extend("    " + t("val_note", lang, note=n) for n in r.notes)
    lines.extend(t("val_note", lang, note=n) for n in report.notes)
    return "\n".join(lines)
