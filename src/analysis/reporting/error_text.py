"""An error shown on a client page, in the report's language.

The package's exceptions (:mod:`analysis.errors`) and Python's carry English messages written
for the command line; a French page must not show them as its own words. :func:`error_text`
names the kind of problem in the report's language (``report_error_<kind>`` of
``locales/report.yml``) and keeps the original message only as a technical detail, marked as
English in a French page.
"""

from __future__ import annotations

from analysis.reporting.i18n import check_lang, t

__all__ = ["ERROR_KINDS", "error_kind", "error_text"]

#: Exception class name -> kind of problem (``report_error_<kind>``); any other is ``unexpected``.
ERROR_KINDS: dict[str, str] = {
    "NotEnoughDataError": "not_enough_data", "DataError": "data", "ConfigError": "config",
    "ReportError": "report", "ParserError": "data", "FileNotFoundError": "data",
    "MemoryError": "resources", "DeadKernelError": "resources", "CellTimeoutError": "resources",
    "TimeoutError": "resources",
}


def error_kind(error: str) -> str:
    """The kind of an error written ``ExceptionName: message`` (or just a message)."""
    if str(error).startswith("personal data"):  # the runner withheld a page (runner.run_notebook)
        return "personal_data"
    name = str(error).partition(":")[0].strip()
    return ERROR_KINDS.get(name, "unexpected")


def error_text(error: str, lang: str = "en") -> str:
    """``error`` (``ExceptionName: message``, as the runner records it) told in ``lang``: the
    kind of problem in words, then the original text as a technical detail (marked as English
    in a French page). Not escaped: the caller escapes it where it is rendered."""
    check_lang(lang)
    return t("report_error_text", lang, kind=t(f"report_error_{error_kind(error)}", lang), detail=str(error))
