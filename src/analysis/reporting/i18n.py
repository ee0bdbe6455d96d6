"""Labels in French and English, and numbers and dates formatted for the language.

Labels live in ``locales/*.yml`` (one file per topic, so modules do not collide)::

    retention_title:
      en: Customer retention by cohort
      fr: Rétention des clients par cohorte

``t("retention_title", "fr")`` returns the French text; ``{name}`` placeholders are
filled from keyword arguments. A key missing in either language is an error, and a test
checks that every key has both.

Formats: French ``12,5 %``, ``12 345``, ``31/10/2026``, ``12 345 €``; English ``12.5%``,
``12,345``, ``2026-10-31``, ``€12,345``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import pandas as pd
import yaml

from analysis.errors import ConfigError

__all__ = ["LANGUAGES", "t", "reason_label", "texts", "fmt_pct", "fmt_num", "fmt_date", "fmt_money", "fmt_kpi",
           "is_share_kpi", "check_lang", "plural", "dataset_title", "fmt_interval"]

LANGUAGES = ("fr", "en")
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}


def check_lang(lang: str) -> str:
    """``lang`` if it is ``fr`` or ``en``; else a :class:`ConfigError`."""
    if lang not in LANGUAGES:
        raise ConfigError(f"language '{lang}' is not available; expected one of {', '.join(LANGUAGES)}.")
    return lang


@lru_cache(maxsize=1)
def texts() -> dict[str, dict[str, str]]:
    """Every text label of every ``locales/*.yml`` file, by key: ``{key: {"fr": ..., "en": ...}}``.

    (Text labels; the *training* labels of the classifier are :func:`analysis.models.features.labels`.)
    """
    out: dict[str, dict[str, str]] = {}
    folder = resources.files("analysis.reporting") / "locales"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yml"):
            continue
        data = yaml.safe_load(entry.read_text(encoding="utf-8")) or {}
        for key, value in data.items():
            if key in out:
                raise ConfigError(f"label '{key}' is defined twice (second time in locales/{entry.name}).")
            out[key] = value
    return out


def t(key: str, lang: str = "en", **kwargs) -> str:
    """The label ``key`` in ``lang``, with ``{placeholders}`` filled from ``kwargs``."""
    check_lang(lang)
    try:
        text = texts()[key][lang]
    except KeyError as exc:
        raise KeyError(f"label '{key}' has no '{lang}' text in src/analysis/reporting/locales/*.yml") from exc
    return text.format(**kwargs) if kwargs else text


def reason_label(reason: str, lang: str = "en") -> str:
    """A quarantine reason (``unparseable_date:order_date``) in plain words."""
    code, _, column = str(reason).partition(":")
    key = f"reason_{code}"
    return t(key, lang, column=column) if key in texts() else str(reason)


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA or x is pd.NaT


def fmt_num(x, lang: str = "en", digits: int = 0) -> str:
    """``12345.6`` -> ``12 345,6`` (fr) or ``12,345.6`` (en); ``–`` when missing."""
    if _missing(x):
        return "–"
    s = f"{float(x):,.{digits}f}"
    if lang == "fr":
        s = s.replace(",", " ").replace(".", ",")
    return s


def fmt_pct(x, lang: str = "en", digits: int = 1) -> str:
    """A share (0.125) as ``12,5 %`` (fr) or ``12.5%`` (en); ``–`` when missing."""
    if _missing(x):
        return "–"
    s = fmt_num(100 * float(x), lang, digits)
    return f"{s} %" if lang == "fr" else f"{s}%"


def fmt_date(d, lang: str = "en") -> str:
    """A date as ``31/10/2026`` (fr) or ``2026-10-31`` (en); ``–`` when missing."""
    if _missing(d):
        return "–"
    ts = pd.Timestamp(d)
    return ts.strftime("%d/%m/%Y") if lang == "fr" else ts.strftime("%Y-%m-%d")


def fmt_money(x, lang: str = "en", currency: str = "EUR", digits: int = 0) -> str:
    """An amount as ``12 345 €`` (fr) or ``€12,345`` (en)."""
    if _missing(x):
        return "–"
    sym = CURRENCY_SYMBOLS.get(currency, currency)
    num = fmt_num(abs(float(x)), lang, digits)
    sign = "-" if float(x) < 0 else ""
    if lang == "fr" or len(sym) > 1:
        return f"{sign}{num} {sym}"
    return f"{sign}{sym}{num}"


def plural(key: str, n: float, lang: str = "en", **kwargs) -> str:
    """The label ``key`` in the plural form ``n`` calls for in ``lang``, with ``{n}`` filled.

    The locale files hold ``<key>_one`` and ``<key>_other``; the form is chosen by the
    language's CLDR plural rule (through Babel): French ``0`` and ``1`` are singular
    (``0 alerte``, ``1 alerte``, ``2 alertes``), English only ``1`` is (``0 alerts``).

    >>> plural("table_n_alerts", 1, "fr"), plural("table_n_alerts", 2, "fr")
    ('1 alerte', '2 alertes')
    """
    from babel import Locale

    check_lang(lang)
    form = "one" if Locale.parse(lang).plural_form(abs(n)) == "one" else "other"
    digits = 0 if float(n).is_integer() else 1
    return t(f"{key}_{form}", lang, n=fmt_num(n, lang, digits), **kwargs)
#: KPIs that are counts of customers (shown as whole numbers).
_COUNT_KPIS = ("customers", "active_customers", "new_customers", "lost_customers", "sent", "delivered",
               "openers", "clickers", "repliers", "hard_bounces", "soft_bounces", "unsubscribes", "complaints",
               "contacts")
#: Small rates whose thresholds (0.1 %, 1 %, 2 %) need two decimals to be read.
_SMALL_RATES = ("complaint_rate", "hard_bounce_rate", "unsubscribe_rate", "soft_bounce_rate")
_PCT_WORDS = ("rate", "share", "ratio", "ctor", "deliverability", "pct", "retention")
_MONEY_WORDS = ("revenue", "amount", "value", "mrr", "arr", "basket", "money")


def is_share_kpi(key: str) -> bool:
    """Whether a KPI is a share shown in percent (``*_rate``, ``*_share``, ``ctor``,
    ``deliverability``, ``retention``...), so that its changes are in points."""
    k = key.lower()
    return k not in _COUNT_KPIS and any(w in k for w in _PCT_WORDS)


def fmt_kpi(key: str, value, lang: str = "en", currency: str = "EUR") -> str:
    """A KPI value formatted from the KPI's name, the one KPI formatter of the reports.

    Counts (``customers``, ``sent``...) as whole numbers; shares (``*_rate``, ``*_share``,
    ``ctor``, ``deliverability``...) as percentages, with two decimals for the small rates
    (complaints, bounces, unsubscribes) and for any share below 1 %; amounts (``revenue``,
    ``value``...) as money; other whole numbers as counts, other numbers with one decimal;
    ``–`` when missing. ``{"value": x, "unit": "pct" | "money" | "count" | "number"}``
    gives the unit explicitly.
    """
    if isinstance(value, dict):
        unit, v = value.get("unit"), value.get("value")
        if unit == "pct":
            return fmt_pct(v, lang)
        if unit == "money":
            return fmt_money(v, lang, currency)
        if unit == "count":
            return fmt_num(v, lang)
        return fmt_num(v, lang, 1)
    if value is None or _missing(value):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    k = key.lower()
    if k in _COUNT_KPIS:
        return fmt_num(value, lang)
    if is_share_kpi(k):
        small = k in _SMALL_RATES or 0 < abs(value) < 0.01
        return fmt_pct(value, lang, 2 if small else 1)
    if any(w in k for w in _MONEY_WORDS):
        return fmt_money(value, lang, currency)
    if isinstance(value, int) or float(value).is_integer():
        return fmt_num(value, lang)
    return fmt_num(value, lang, 1)


def dataset_title(config, lang: str = "en") -> str:
    """The dataset's title in a report written in ``lang``: ``title.<lang>`` of dataset.yml, else
    its ``name`` when written in ``lang`` (:meth:`analysis.data.config.DatasetConfig.title_in`),
    else the neutral ``report_dataset_untitled`` label ("Customer-base export"). Not escaped: the
    caller escapes it where it is rendered (:func:`analysis.reporting.safety.escape`)."""
    check_lang(lang)
    title = config.title_in(lang)
    return title if title else t("report_dataset_untitled", lang)


def fmt_interval(low: str, high: str, lang: str = "en") -> str:
    """Two formatted bounds as an interval: ``[44 % ; 76 %]`` (fr, a space before the
    semicolon), ``[44%; 76%]`` (en)."""
    return f"[{low} ; {high}]" if check_lang(lang) == "fr" else f"[{low}; {high}]"
