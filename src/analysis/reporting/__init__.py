"""The reporting layer: the only one that knows languages and writes words.

:func:`check_lang` is re-exported here so that the command line (above this layer) checks a
language without importing the label machinery itself."""

from analysis.reporting.i18n import check_lang

__all__ = ["check_lang"]
