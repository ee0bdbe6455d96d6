"""Dataset configuration: the optional ``dataset.yml`` that maps an export onto the contract.

Every key is optional; without the file, sensible defaults and detection apply.

.. code-block:: yaml

    name: Acme SaaS export           # shown in reports written in `language`
    title: {fr: Export Acme SaaS, en: Acme SaaS export}   # optional: the title per report
                                     # language (else a neutral translated title)
    business_model: contractual      # or non_contractual (lost = inactive past the horizon)
    currency: EUR
    language: fr                     # report language, fr or en
    observed_until: 2026-10-31       # end of the export; events after it are quarantined
    timezone: Europe/Paris           # time-zone-suffixed timestamps are converted to it;
                                     # without it, the local date and time as written are kept
    personal_columns: [email, phone, name]   # a list, or one name; others are also detected
                                     # by name and content (analysis.data.personal)
    allow_external_files: false      # true: tables.<t>.file may point outside the dataset folder
    csv:                             # defaults for every CSV table ("auto" = detect)
      sep: auto                      # "," ";" "\\t" "|" or "whitespace"
      decimal: auto                  # "." or ","
      encoding: auto                 # utf-8, latin-1, cp1252 ...
      date_format: auto              # a strftime format such as "%d/%m/%Y"
    tables:
      orders:
        file: export_commandes.csv   # relative to the dataset folder
        duplicates: quarantine       # or keep: identical rows are distinct events
        cancellation_pattern: "^C"   # order ids matching this regex are cancellations (not purchases)
        columns:                     # canonical_name: name_in_your_file
          customer_id: id_client
          order_date: date_commande
          amount: montant_ttc
          order_id: numero_facture   # lines of one order are one purchase
        csv: {sep: ";", decimal: ","}
    thresholds:                      # every threshold of the reports, by name (defaults shown)
      watch_days: 30                 # inactivity levels (Thresholds)
      wake_up_days: 60
      inactive_days: 90
      removal_days: 180
      churn_horizon_days: 90
      open_rate_min: 0.10            # email KPI alerts (KpiThresholds)
      deliverability_min: 0.95
      freq_drop: 0.40                # the six indicators (SignalParams)
      freq_months: 2                 # frequency drop over the last 1 or 2 months
      interval_drift: 1000           # 1000: the purchase-interval part of value erosion never fires
      disabled: [email]              # indicators switched off (their alert is never raised)
      segments:                      # per-segment overrides: customers column -> value -> SignalParams fields
        plan:
          enterprise: {basket_drop: 0.15}
    capacity: 150                    # customers the team can contact per month (call list size)
    engine:                          # large bases (issue 16): see EngineConfig
      kind: local                    # local (default) or spark
      buckets: 32                    # buckets of customers (default: from rows_per_bucket)
      rows_per_bucket: 1000000       # event rows per bucket when buckets is not set
      training_cap: 300000           # labelled snapshot rows the models train and test on
      memory_limit: 3GB              # memory DuckDB may hold before it spills to disk (default 3GB;
                                     # units KB MB GB TB, KiB MiB GiB TiB); with less than 8 GB of RAM,
                                     # 1GB keeps notebooks 01/02 under ~2 GB at 1 M customers, 10-30 % slower
      threads: 2                     # DuckDB threads (default: the CPUs this process may use)
    interaction_weights: {purchase: 5, support: 4, product_use: 3, reply: 2, click: 2, open: 1}
    significant_interactions: [purchase, support, product_use, reply, click, open]

Re-activation campaigns and objectives (both optional; see :class:`CampaignConfig` and
:class:`Objective`):

.. code-block:: yaml

    campaigns:                       # metadata per interventions.campaign_id
      default:                       # applies to every campaign not listed
        margin_rate: 0.7
      RA-2026-05:
        name: Relance des acheteurs inactifs
        fixed_cost: 300              # set-up cost of the campaign, in the currency
        margin_rate: 0.7             # gross margin on incremental revenue (ROI)
        outcome_window_days: 30      # outcomes counted from the action date, for that many days
    objectives:                      # OKRs
      - objective: Re-activate the dormant base
        key_results:
          - metric: repurchase_rate  # reactivation_rate, repurchase_rate, revenue, retention, nps
            population: lapsed       # a status (active, watch, wake_up, inactive, lapsed, all)
                                     # or a segment "column=value" (plan=Pro)
            target: 0.05
            period: 2026-Q3          # YYYY, YYYY-QN, YYYY-MM, or {start: date, end: date}

Defaults follow ``SPEC.md`` section 3: 30 / 60 / 90 / 180 days and a 90-day churn horizon.
``thresholds:`` is the one place every threshold is read from, whatever the entry point
(CLI, report, notebook run by hand): the inactivity levels (:class:`Thresholds`), the email
KPI alerts (:class:`KpiThresholds`) and the six indicators (:class:`SignalParams`); each
class documents its defaults, and a name no class knows is an error.
``churn_horizon_days`` is also the default prediction horizon of the classifier and
``capacity`` (default :data:`DEFAULT_CAPACITY`, 150) the default call-list size: the
notebook, ``churn-radar score`` and the monthly report all read them from here. ``disabled``
and ``segments`` (written by ``churn-radar audit --tune``) switch indicators off and set
per-segment indicator thresholds; :func:`analysis.metrics.signals.indicators` applies them.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from analysis.data.schema import INTERACTION_KINDS, TABLES
from analysis.errors import ConfigError

if TYPE_CHECKING:
    from analysis.data.dataset import Dataset

__all__ = ["CampaignConfig", "CsvOptions", "DatasetConfig", "DEFAULT_CAPACITY", "KeyResult", "KpiThresholds",
           "OKR_METRICS", "Objective", "SignalParams", "SWITCHABLE_INDICATORS", "TableConfig", "THRESHOLD_CLASSES",
           "Thresholds", "TUNED_RANGES", "read_config", "EngineConfig", "ENGINES", "available_cpus",
           "memory_bytes", "MEMORY_UNITS", "MIN_MEMORY_LIMIT"]

CONFIG_FILE = "dataset.yml"
BUSINESS_MODELS = ("contractual", "non_contractual")
LANGUAGES = ("fr", "en")
#: Customers the team can contact per month when dataset.yml does not say (``capacity``).
DEFAULT_CAPACITY = 150


@dataclass(frozen=True)
class CsvOptions:
    """How a CSV file is read; ``"auto"`` means detected from the file itself."""

    sep: str = "auto"
    decimal: str = "auto"
    encoding: str = "auto"
    date_format: str = "auto"

    def merged(self, other: dict[str, Any] | None) -> CsvOptions:
        """These options overridden by the non-empty keys of ``other``."""
        if not other:
            return self
        unknown = set(other) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(
                f"dataset.yml: unknown csv option(s) {sorted(unknown)}; "
                "expected sep, decimal, encoding, date_format."
            )
        return replace(self, **{k: str(v) for k, v in other.items() if v is not None})


#: Engines that run the per-customer work (``engine.kind``).
ENGINES = ("local", "spark")


@dataclass(frozen=True)
class EngineConfig:
    """How a large base is processed (``engine:`` of dataset.yml; issue 16).

    ``kind``: ``local`` (partitions of customers processed one at a time on this machine) or
    ``spark``. ``buckets``: number of customer buckets (None: ``ceil(rows / rows_per_bucket)``,
    so a small export stays in one bucket and is processed in memory exactly as before).
    ``rows_per_bucket``: event rows per bucket (None: 1,000,000). ``training_cap``: labelled
    snapshot rows the models are trained and tested on (a stratified sample; None: all).
    ``spark``: Spark settings passed through (``spark.master`` ...), strings.
    ``memory_limit``: memory every DuckDB connection opened on the dataset may hold before it
    spills to its temporary folder, a size such as ``"1GB"``, ``"1500MB"`` or ``"2.5GiB"``
    (default ``"3GB"``; KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB powers of 1024, as in
    DuckDB). ``threads``: threads of those connections (None: :func:`available_cpus`).
    """

    kind: str = "local"
    buckets: int | None = None
    rows_per_bucket: int | None = None
    training_cap: int | None = 300_000
    spark: dict[str, str] = field(default_factory=dict)
    #: local engine: processes working on buckets at once (None: 2 on 2 cores or more with 4+ buckets)
    workers: int | None = None
    #: DuckDB's memory limit (a size with its unit; see :func:`memory_bytes`)
    memory_limit: str = "3GB"
    #: DuckDB's threads (None: the CPUs this process may use, :func:`available_cpus`)
    threads: int | None = None

    @property
    def memory_limit_bytes(self) -> int:
        """``memory_limit`` in bytes."""
        return memory_bytes(self.memory_limit)

    @property
    def duckdb_threads(self) -> int:
        """``threads``, or the CPUs this process may use when it is not set."""
        return self.threads if self.threads is not None else available_cpus()


#: Bytes per unit of ``engine.memory_limit`` (DuckDB's own meaning: KB = 1000, KiB = 1024 bytes).
MEMORY_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
                "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
#: The smallest ``engine.memory_limit`` accepted, against slips such as ``1MB`` (DuckDB fails
#: outright at a few KB; notebooks 01 and 02 run on the sample at 100MB).
MIN_MEMORY_LIMIT = "100MB"
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([KMGT]i?B)\s*", re.IGNORECASE)


def memory_bytes(size: str) -> int:
    """Bytes of a size such as ``"1GB"``, ``"1500MB"``, ``"2.5GB"`` or ``"1GiB"`` (unit case ignored).

    Raises
    ------
    ValueError
        If ``size`` is not a number followed by one of :data:`MEMORY_UNITS`.
    """
    m = _SIZE.fullmatch(size) if isinstance(size, str) else None
    if m is None:
        raise ValueError(f"not a size: {size!r}")
    unit = m.group(2).upper().replace("IB", "iB")
    return int(round(float(m.group(1)) * MEMORY_UNITS[unit]))


def available_cpus() -> int:
    """CPUs this process may use: its CPU affinity where the system has one, else ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def _engine(raw: Any) -> EngineConfig:
    """Parse the ``engine:`` block (a mapping; ``engine: spark`` is short for its kind)."""
    if isinstance(raw, str):
        raw = {"kind": raw}
    raw = _as_dict(raw, "engine")
    known = {f.name for f in fields(EngineConfig)}
    extra = set(raw) - known
    if extra:
        raise ConfigError(f"dataset.yml: unknown key(s) {sorted(extra)} under engine; expected {sorted(known)}.")
    kw: dict[str, Any] = {}
    kind = raw.get("kind")
    if kind is not None:
        if kind not in ENGINES:
            raise ConfigError(f"dataset.yml: engine.kind is {_shown(kind)}; expected one of {list(ENGINES)}.")
        kw["kind"] = kind
    for key in ("buckets", "rows_per_bucket", "training_cap", "workers", "threads"):
        if key in raw:
            v = raw[key]
            if v is None and key == "training_cap":
                kw[key] = None
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"dataset.yml: engine.{key} is {_shown(v)}; expected a whole number, 1 or more.")
            kw[key] = int(v)
    if raw.get("spark") is not None:
        kw["spark"] = {str(k): str(v) for k, v in _as_dict(raw["spark"], "engine.spark").items()}
    if "memory_limit" in raw:
        kw["memory_limit"] = _memory_limit(raw["memory_limit"])
    return EngineConfig(**kw)


def _memory_limit(value: Any) -> str:
    """``engine.memory_limit`` checked and written with its unit's usual spelling (``"1.5gb"`` -> ``"1.5GB"``)."""
    try:
        n = memory_bytes(value)
    except ValueError:
        n = None
    if n is None or n < memory_bytes(MIN_MEMORY_LIMIT):
        raise ConfigError(f"dataset.yml: engine.memory_limit is {_shown(value)}; expected a size of "
                          f"{MIN_MEMORY_LIMIT} or more such as 1GB, 1500MB or 2.5GB (units KB, MB, GB, TB "
                          "or KiB, MiB, GiB, TiB).")
    m = _SIZE.fullmatch(value)
    return m.group(1) + m.group(2).upper().replace("IB", "iB")


@dataclass(frozen=True)
class TableConfig:
    """Where one table lives and how its columns are named in the export."""

    file: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    csv: CsvOptions = field(default_factory=CsvOptions)
    #: "quarantine" (default): an exact copy of an earlier row is set aside;
    #: "keep": identical rows are distinct events (a log with no event id, such as CDNOW).
    duplicates: str = "quarantine"
    #: orders only: a regular expression; an order whose id matches it is a cancellation
    #: (nets against revenue, is not a purchase), e.g. ``"^C"`` for ``C536379``.
    cancellation_pattern: str | None = None


@dataclass(frozen=True)
class Thresholds:
    """Inactivity thresholds in days (SPEC section 3) and the churn horizon; ``disabled``
    indicators and per-segment indicator thresholds
    (``segments: {column: {value: {SignalParams field: x, disabled: [...]}}}``)."""

    watch_days: int = 30
    wake_up_days: int = 60
    inactive_days: int = 90
    removal_days: int = 180
    churn_horizon_days: int = 90
    disabled: tuple[str, ...] = ()
    segments: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, hash=False)

    def levels(self) -> tuple[int, int, int, int]:
        """The graduated inactivity levels, increasing."""
        return (self.watch_days, self.wake_up_days, self.inactive_days, self.removal_days)


@dataclass(frozen=True)
class KpiThresholds:
    """Alert thresholds of the email KPIs (SPEC section 2); every value is the documented
    default, and ``dataset.yml`` ``thresholds:`` may set any of them by name.

    Attributes
    ----------
    deliverability_min : alert when deliverability is below (0.95) [002].
    hard_bounce_max : alert when the hard-bounce rate is at or above (0.02) [002].
    open_rate_min : alert when the open rate is below (0.10) [000].
    click_rate_min : alert when the click rate is at or below (0: nil clicks) [000].
    unsubscribe_max : alert when the unsubscribe rate is above (0.01) [000].
    complaint_max : alert when the complaint rate is at or above (0.001) [000].
    growth : month-over-month factor of the "bounces doubled / complaints exploded" alarm (2).
    machine_open_seconds : delay after delivery under which an open without click is a
        machine open, when the correction is on (10).
    alarm_min_events : fewest events in the month (hard bounces, spam complaints) for the
        "bounces doubled / complaints exploded" alarm to fire (10): below it a rate that doubles
        is a handful of events, noise rather than a change of the base.
    """

    deliverability_min: float = 0.95
    hard_bounce_max: float = 0.02
    open_rate_min: float = 0.10
    click_rate_min: float = 0.0
    unsubscribe_max: float = 0.01
    complaint_max: float = 0.001
    growth: float = 2.0
    machine_open_seconds: float = 10.0
    alarm_min_events: int = 10

    def rules(self) -> dict[str, tuple[str, float]]:
        """kpi -> (comparison that raises the alert, threshold); comparisons: lt, le, gt, ge."""
        return {
            "deliverability": ("lt", self.deliverability_min),
            "hard_bounce_rate": ("ge", self.hard_bounce_max),
            "open_rate": ("lt", self.open_rate_min),
            "click_rate": ("le", self.click_rate_min),
            "unsubscribe_rate": ("gt", self.unsubscribe_max),
            "complaint_rate": ("ge", self.complaint_max),
        }


@dataclass(frozen=True)
class SignalParams:
    """Every threshold of the six indicators and the email segments (SPEC sections 3-4).

    ``None`` means "take it from the inactivity thresholds" (:class:`Thresholds`).
    Windows are in days; a month is 30 days. Read from ``dataset.yml`` ``thresholds:``
    (any field by name); every value here is the documented default.
    """

    # 1. frequency
    freq_windows: tuple[int, int, int] = (30, 60, 90)
    month_days: int = 30
    freq_baseline_months: int = 6
    freq_drop: float = 0.40
    freq_months: int = 2  # the drop must hold over the last 1 or 2 months (issue #15)
    # 2. recency
    recency_levels: tuple[int, ...] | None = None  # default: thresholds.levels() -> 30/60/90/180
    recency_alert_days: int | None = None  # default: thresholds.watch_days
    strong_weight: float = 3.0
    # 3. email
    email_last_sends: int = 10
    email_recent_sends: int = 3
    email_min_prior_sends: int = 5
    email_always_opened: float = 0.80
    segment_active_days: int | None = None  # default: thresholds.wake_up_days (60)
    segment_inactive_days: int | None = None  # default: thresholds.inactive_days (90)
    # 4. value
    revenue_days: int = 365
    basket_recent_days: int = 90
    basket_prev_days: int = 180
    basket_drop: float = 0.25
    interval_drift: float = 1.0
    interval_prev_gaps: int = 5
    share_quarter_days: int = 90
    share_drop: float = 0.50
    # 5. nps
    nps_drop: int = 2
    # 6. usage
    usage_window_days: int = 30
    usage_sessions_target: float = 20.0
    usage_drop: float = 0.30

    def resolved(self, ds: Dataset) -> SignalParams:
        """A copy with every ``None`` replaced by the dataset's configured threshold."""
        th = ds.config.thresholds
        out = replace(
            self,
            recency_levels=tuple(self.recency_levels or th.levels()),
            recency_alert_days=int(self.recency_alert_days or th.watch_days),
            segment_active_days=int(self.segment_active_days or th.wake_up_days),
            segment_inactive_days=int(self.segment_inactive_days or th.inactive_days),
        )
        if not out.segment_active_days < out.segment_inactive_days:
            raise ConfigError(
                f"segment_active_days ({out.segment_active_days}) must be below "
                f"segment_inactive_days ({out.segment_inactive_days})."
            )
        if out.email_recent_sends >= out.email_last_sends or out.email_recent_sends < 1:
            raise ConfigError("email_recent_sends must be at least 1 and below email_last_sends.")
        if out.freq_months not in (1, 2):
            raise ConfigError(f"freq_months is {out.freq_months}; expected 1 or 2 (months of frequency drop).")
        return out


#: Indicators that ``thresholds: disabled:`` may switch off.
SWITCHABLE_INDICATORS: tuple[str, ...] = ("frequency", "recency", "email", "value", "nps", "usage")
#: Allowed range of the indicator thresholds the retro-audit tunes (checked when read).
TUNED_RANGES: dict[str, tuple[float, float]] = {
    "freq_drop": (0.0, 1.0), "freq_months": (1, 2), "recency_alert_days": (1, 3650), "basket_drop": (0.0, 1.0),
    "interval_drift": (0.0, 1000.0), "share_drop": (0.0, 1.0), "nps_drop": (1, 10), "usage_drop": (0.0, 1.0),
}

#: Every name ``dataset.yml`` ``thresholds:`` accepts -> the settings class it belongs to.
THRESHOLD_CLASSES: tuple[type, ...] = (Thresholds, KpiThresholds, SignalParams)


DEFAULT_WEIGHTS: dict[str, float] = {
    "purchase": 5.0,
    "support": 4.0,
    "product_use": 3.0,
    "reply": 2.0,
    "click": 2.0,
    "open": 1.0,
}


#: Metrics a key result may track (computed by ``analysis.metrics.okr``).
OKR_METRICS: tuple[str, ...] = ("reactivation_rate", "repurchase_rate", "revenue", "retention", "nps")


@dataclass(frozen=True)
class CampaignConfig:
    """Metadata of one re-activation campaign (``campaigns.<campaign_id>`` in dataset.yml).

    ``margin_rate`` None means unknown: the ROI is then not computed (said with a code).
    """

    name: str | None = None
    fixed_cost: float = 0.0
    margin_rate: float | None = None
    outcome_window_days: int = 30


@dataclass(frozen=True)
class KeyResult:
    """One key result: a metric on a population, a target, a period ``[start, end)``."""

    metric: str
    population: str
    target: float
    period: str
    start: str
    end: str  # first day NOT in the period


@dataclass(frozen=True)
class Objective:
    """An objective (free text, shown escaped) and its key results. ``objective:`` may also be
    one text per report language (``{fr: ..., en: ...}``, kept in ``titles``); ``objective`` is
    then the text in the dataset's ``language`` (else the first one given)."""

    objective: str
    key_results: tuple[KeyResult, ...] = ()
    titles: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class DatasetConfig:
    """Everything ``dataset.yml`` can say, with the defaults used when it is silent."""

    name: str = "dataset"
    business_model: str = "contractual"
    currency: str = "EUR"
    language: str = "en"
    observed_until: str | None = None
    personal_columns: tuple[str, ...] = ("email", "phone", "name")
    csv: CsvOptions = field(default_factory=CsvOptions)
    tables: dict[str, TableConfig] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    kpi_thresholds: KpiThresholds = field(default_factory=KpiThresholds)
    signal_params: SignalParams = field(default_factory=SignalParams)
    interaction_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    significant_interactions: tuple[str, ...] = INTERACTION_KINDS
    campaigns: dict[str, CampaignConfig] = field(default_factory=dict)
    objectives: tuple[Objective, ...] = ()
    capacity: int = DEFAULT_CAPACITY
    #: IANA time zone (``Europe/Paris``) that tz-suffixed timestamps are converted to;
    #: None keeps the local date and time as written (the suffix is dropped).
    timezone: str | None = None
    #: True lets ``tables.<t>.file`` name a file outside the dataset folder.
    allow_external_files: bool = False
    #: how large bases are processed (issue 16)
    engine: EngineConfig = field(default_factory=EngineConfig)
    source: str | None = None  # path of the dataset.yml read, if any
    #: ``title:`` of dataset.yml, the dataset's title per report language (``{"fr": ..., "en": ...}``).
    title: dict[str, str] = field(default_factory=dict)

    def title_in(self, lang: str) -> str | None:
        """The dataset's title for a report in ``lang``: ``title.<lang>``, else ``name`` when the
        dataset's ``language`` is ``lang`` (the name is written in that language), else None (the
        report shows a neutral title in its own language). Without dataset.yml, the name is the
        folder's, shown in every language."""
        if self.title.get(lang):
            return self.title[lang]
        if self.name != "dataset" and (lang == self.language or self.source is None):
            return self.name  # written in the dataset's language, or a folder name (no dataset.yml)
        return None

    def objective_in(self, objective: str, lang: str) -> str | None:
        """The objective written ``objective`` (as in :attr:`Objective.objective`) for a report in
        ``lang``: its ``lang`` text, else the text itself when the dataset's ``language`` is
        ``lang``, else None (the report names it neutrally)."""
        for o in self.objectives:
            if o.objective == objective:
                if o.titles.get(lang):
                    return o.titles[lang]
                return objective if lang == self.language and not o.titles else None
        return objective if lang == self.language else None

    def campaign(self, campaign_id: str | None) -> CampaignConfig:
        """Metadata of ``campaign_id``: its own entry, else ``default``, else the defaults."""
        if campaign_id is not None and campaign_id in self.campaigns:
            return self.campaigns[campaign_id]
        return self.campaigns.get("default", CampaignConfig())

    def table(self, name: str) -> TableConfig:
        """The configuration of table ``name`` (defaults if the file is silent)."""
        return self.tables.get(name, TableConfig())

    def csv_for(self, name: str) -> CsvOptions:
        """CSV options for ``name``: the global block overridden by the table's own."""
        tc = self.tables.get(name)
        if tc is None:
            return self.csv
        return self.csv.merged({k: v for k, v in vars(tc.csv).items() if v != "auto"})

    @property
    def contractual(self) -> bool:
        return self.business_model == "contractual"


def _as_dict(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"dataset.yml: '{where}' must be a mapping, got {type(value).__name__}.")
    return value


def _shown(value: Any, limit: int = 60) -> str:
    """A config value quoted for a message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def _positive_int(value: Any, where: str) -> int:
    """A whole number of days above zero (``90``, ``"90"``), else a ConfigError naming the key."""
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"dataset.yml: {where} is {_shown(value)}; expected a whole number of days, e.g. 90.")
    try:
        n = int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    except ValueError:
        raise ConfigError(
            f"dataset.yml: {where} is {_shown(value)}; expected a whole number of days, e.g. 90."
        ) from None
    if n <= 0:
        raise ConfigError(f"dataset.yml: {where} is {n}; expected a number of days above 0.")
    return n


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"dataset.yml: {where} is {_shown(value)}; expected a number.")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"dataset.yml: {where} is {_shown(value)}; expected a number.") from None
    if x != x or x in (float("inf"), float("-inf")) or x < 0:
        raise ConfigError(f"dataset.yml: {where} is {_shown(value)}; expected a number of 0 or more.")
    return x


def _check_date(value: Any, where: str) -> str:
    """An ISO date ``YYYY-MM-DD`` (YAML may already have read it as a date), as text."""
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return _dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ConfigError(
            f"dataset.yml: {where} is {_shown(value)}; expected a real date written YYYY-MM-DD, e.g. 2026-10-31."
        ) from None


def _check_timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = str(value).strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"dataset.yml: timezone is {_shown(value)}; expected an IANA time zone such as Europe/Paris or UTC."
        ) from None
    return text


def _personal_columns(value: Any) -> tuple[str, ...]:
    """``personal_columns``: one name or a list of names (``email`` is one column, not five letters)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int)) for v in value):
        raise ConfigError(
            f"dataset.yml: personal_columns is {_shown(value)}; expected a column name or a list of names."
        )
    return tuple(str(v).strip() for v in value if str(v).strip())


def _check_title(value: Any, language: str, where: str = "title") -> dict[str, str]:
    """``title`` (or ``where``): one text (in the dataset's ``language``) or ``{fr: ..., en: ...}``."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {language: str(value)}
    if isinstance(value, dict) and value and set(map(str, value)) <= set(LANGUAGES) \
            and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value.values()):
        return {str(k): str(v) for k, v in value.items()}
    raise ConfigError(f"dataset.yml: {where} is {_shown(value)}; expected a text, or one text per report "
                      f"language such as {{fr: Export Acme, en: Acme export}} (languages: {', '.join(LANGUAGES)}).")


def parse_config(raw: dict[str, Any], source: str | None = None) -> DatasetConfig:
    """Build a :class:`DatasetConfig` from the parsed YAML mapping, checking every key."""
    raw = _as_dict(raw, "top level")
    known = {f.name for f in fields(DatasetConfig)} - {"source"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"dataset.yml: unknown key(s) {sorted(unknown)}; expected some of {sorted(known)}."
        )
    kwargs: dict[str, Any] = {"source": source}
    for key in ("name", "currency"):
        if raw.get(key) is not None:
            kwargs[key] = str(raw[key])
    if raw.get("title") is not None:
        kwargs["title"] = _check_title(raw["title"], str(raw.get("language") or "en"))
    if raw.get("observed_until") is not None:
        kwargs["observed_until"] = _check_date(raw["observed_until"], "observed_until")
    if raw.get("timezone") is not None:
        kwargs["timezone"] = _check_timezone(raw["timezone"])
    if raw.get("allow_external_files") is not None:
        flag = raw["allow_external_files"]
        if not isinstance(flag, bool):
            raise ConfigError(f"dataset.yml: allow_external_files is {_shown(flag)}; expected true or false.")
        kwargs["allow_external_files"] = flag
    bm = raw.get("business_model")
    if bm is not None:
        if bm not in BUSINESS_MODELS:
            raise ConfigError(
                f"dataset.yml: business_model is '{bm}'; expected one of {list(BUSINESS_MODELS)}."
            )
        kwargs["business_model"] = bm
    lang = raw.get("language")
    if lang is not None:
        if lang not in LANGUAGES:
            raise ConfigError(f"dataset.yml: language is '{lang}'; expected fr or en.")
        kwargs["language"] = lang
    if raw.get("personal_columns") is not None:
        kwargs["personal_columns"] = _personal_columns(raw["personal_columns"])
    kwargs["csv"] = CsvOptions().merged(_as_dict(raw.get("csv"), "csv"))
    tables: dict[str, TableConfig] = {}
    for tname, tval in _as_dict(raw.get("tables"), "tables").items():
        if tname not in TABLES:
            raise ConfigError(
                f"dataset.yml: unknown table '{tname}' under 'tables'; expected one of {list(TABLES)}."
            )
        tval = _as_dict(tval, f"tables.{tname}")
        extra = set(tval) - {"file", "columns", "csv", "duplicates", "cancellation_pattern"}
        if extra:
            raise ConfigError(
                f"dataset.yml: unknown key(s) {sorted(extra)} under tables.{tname}; "
                "expected file, columns, csv, duplicates, cancellation_pattern."
            )
        pattern = tval.get("cancellation_pattern")
        if pattern is not None:
            if tname != "orders":
                raise ConfigError(f"dataset.yml: cancellation_pattern is only read under tables.orders, "
                                  f"not tables.{tname}.")
            try:
                re.compile(str(pattern))
            except re.error as exc:
                raise ConfigError(f"dataset.yml: tables.orders.cancellation_pattern '{pattern}' is not a "
                                  f"regular expression ({exc}); expected e.g. \"^C\".") from exc
        dup = str(tval.get("duplicates", "quarantine"))
        if dup not in ("quarantine", "keep"):
            raise ConfigError(
                f"dataset.yml: tables.{tname}.duplicates is '{dup}'; expected quarantine or keep."
            )
        cols = {str(k): str(v) for k, v in _as_dict(tval.get("columns"), f"tables.{tname}.columns").items()}
        file = tval.get("file")
        if file is not None and (not isinstance(file, str) or not file.strip()):
            raise ConfigError(f"dataset.yml: tables.{tname}.file is {_shown(file)}; expected a file name.")
        tables[tname] = TableConfig(
            file=file,
            columns=cols,
            csv=CsvOptions().merged(_as_dict(tval.get("csv"), f"tables.{tname}.csv")),
            duplicates=dup,
            cancellation_pattern=str(pattern) if pattern is not None else None,
        )
    kwargs["tables"] = tables
    th = dict(_as_dict(raw.get("thresholds"), "thresholds"))
    extras = {k: th.pop(k) for k in ("disabled", "segments") if k in th}  # issue #15, parsed below
    th_known = {f.name for cls in THRESHOLD_CLASSES for f in fields(cls)}
    if set(th) - th_known:
        raise ConfigError(
            f"dataset.yml: unknown threshold(s) {sorted(set(th) - th_known)}; expected {sorted(th_known)}."
        )
    for key, cls in (("thresholds", Thresholds), ("kpi_thresholds", KpiThresholds), ("signal_params", SignalParams)):
        kwargs[key] = cls(**{f.name: _typed_setting(f.type, th[f.name], f.name) for f in fields(cls) if f.name in th})
    _check_tuned_ranges(th, "thresholds")
    kwargs["thresholds"] = replace(kwargs["thresholds"], **_overrides(extras))
    w = _as_dict(raw.get("interaction_weights"), "interaction_weights")
    if set(w) - set(INTERACTION_KINDS):
        raise ConfigError(
            f"dataset.yml: unknown interaction kind(s) {sorted(set(w) - set(INTERACTION_KINDS))}; "
            f"expected {list(INTERACTION_KINDS)}."
        )
    kwargs["interaction_weights"] = {**DEFAULT_WEIGHTS,
                                     **{k: _number(v, f"interaction_weights.{k}") for k, v in w.items()}}
    if raw.get("engine") is not None:
        kwargs["engine"] = _engine(raw["engine"])
    cap = raw.get("capacity")
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ConfigError(f"dataset.yml: capacity is '{cap}'; expected the number of customers the "
                              "team can contact per month (a whole number, 1 or more).")
        kwargs["capacity"] = int(cap)
    sig = raw.get("significant_interactions")
    if isinstance(sig, str):
        sig = [sig]
    if sig is not None:
        if not isinstance(sig, list):
            raise ConfigError(f"dataset.yml: significant_interactions is {_shown(sig)}; expected a list.")
        bad = [s for s in sig if s not in INTERACTION_KINDS]
        if bad:
            raise ConfigError(
                f"dataset.yml: significant_interactions has {bad}; expected some of {list(INTERACTION_KINDS)}."
            )
        kwargs["significant_interactions"] = tuple(sig)
    kwargs["campaigns"] = _parse_campaigns(_as_dict(raw.get("campaigns"), "campaigns"))
    kwargs["objectives"] = _parse_objectives(raw.get("objectives"), str(raw.get("language") or "en"))
    return DatasetConfig(**kwargs)


def _number(value: Any, where: str, lo: float | None = None, hi: float | None = None) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"dataset.yml: {where} is '{value}'; expected a number.") from None
    if (lo is not None and out < lo) or (hi is not None and out > hi):
        raise ConfigError(f"dataset.yml: {where} is {value}; expected a number from {lo} to {hi}.")
    return out


def _parse_campaigns(raw: dict[str, Any]) -> dict[str, CampaignConfig]:
    """Campaign entries; a campaign's keys override those of ``default``."""
    known = {f.name for f in fields(CampaignConfig)}
    parsed: dict[str, dict[str, Any]] = {}
    for cid, val in raw.items():
        val = _as_dict(val, f"campaigns.{cid}")
        extra = set(val) - known
        if extra:
            raise ConfigError(
                f"dataset.yml: unknown key(s) {sorted(extra)} under campaigns.{cid}; expected {sorted(known)}."
            )
        kw: dict[str, Any] = {}
        if val.get("name") is not None:
            kw["name"] = str(val["name"])
        if val.get("fixed_cost") is not None:
            kw["fixed_cost"] = _number(val["fixed_cost"], f"campaigns.{cid}.fixed_cost", 0.0)
        if val.get("margin_rate") is not None:
            kw["margin_rate"] = _number(val["margin_rate"], f"campaigns.{cid}.margin_rate", 0.0, 1.0)
        if val.get("outcome_window_days") is not None:
            kw["outcome_window_days"] = int(_number(val["outcome_window_days"],
                                                    f"campaigns.{cid}.outcome_window_days", 1, 3650))
        parsed[str(cid)] = kw
    base = parsed.get("default", {})
    return {cid: CampaignConfig(**{**base, **kw}) for cid, kw in parsed.items()}


def parse_period(period: Any, where: str = "period") -> tuple[str, str, str]:
    """A key-result period as (label, start, end) with ``end`` the first day not in it.

    Accepts ``YYYY``, ``YYYY-QN``, ``YYYY-MM`` or a mapping ``{start: date, end: date}``
    (``end`` inclusive in the YAML, as people write it).
    """
    import pandas as pd

    try:
        if isinstance(period, dict):
            extra = set(period) - {"start", "end"}
            if extra or not {"start", "end"} <= set(period):
                raise ConfigError(f"dataset.yml: {where} must have exactly start and end.")
            start = pd.Timestamp(str(period["start"])).normalize()
            end = pd.Timestamp(str(period["end"])).normalize() + pd.Timedelta(days=1)
            label = f"{start.date()}..{(end - pd.Timedelta(days=1)).date()}"
        else:
            text = str(period).strip().upper()
            if len(text) == 4 and text.isdigit():
                p = pd.Period(text, freq="Y")
            elif "-Q" in text:
                p = pd.Period(text.replace("-", ""), freq="Q")
            else:
                p = pd.Period(text, freq="M")
                if len(text) != 7:
                    raise ValueError(text)
            start, end, label = p.start_time.normalize(), (p.end_time + pd.Timedelta(1, "ns")).normalize(), text
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"dataset.yml: {where} is '{period}'; expected YYYY, YYYY-QN, YYYY-MM or {{start: date, end: date}}."
        ) from exc
    if end <= start:
        raise ConfigError(f"dataset.yml: {where} ends before it starts.")
    return label, start.date().isoformat(), end.date().isoformat()


def _parse_objectives(raw: Any, language: str = "en") -> tuple[Objective, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"dataset.yml: 'objectives' must be a list, got {type(raw).__name__}.")
    out = []
    for i, obj in enumerate(raw):
        obj = _as_dict(obj, f"objectives[{i}]")
        extra = set(obj) - {"objective", "key_results"}
        if extra or "objective" not in obj:
            raise ConfigError(
                f"dataset.yml: objectives[{i}] has {sorted(obj)}; expected objective and key_results."
            )
        krs = obj.get("key_results") or []
        if not isinstance(krs, list):
            raise ConfigError(f"dataset.yml: objectives[{i}].key_results must be a list.")
        parsed = []
        for j, kr in enumerate(krs):
            where = f"objectives[{i}].key_results[{j}]"
            kr = _as_dict(kr, where)
            need = {"metric", "population", "target", "period"}
            if set(kr) != need:
                raise ConfigError(
                    f"dataset.yml: {where} has {sorted(kr)}; expected exactly {sorted(need)}."
                )
            if kr["metric"] not in OKR_METRICS:
                raise ConfigError(
                    f"dataset.yml: {where}.metric is '{kr['metric']}'; expected one of {list(OKR_METRICS)}."
                )
            label, start, end = parse_period(kr["period"], f"{where}.period")
            parsed.append(KeyResult(metric=str(kr["metric"]), population=str(kr["population"]),
                                    target=_number(kr["target"], f"{where}.target"),
                                    period=label, start=start, end=end))
        text = obj["objective"]
        if isinstance(text, dict):
            titles = _check_title(text, language, f"objectives[{i}].objective")
            text = titles.get(language, next(iter(titles.values())))
        else:
            titles = {}
        out.append(Objective(objective=str(text), key_results=tuple(parsed), titles=titles))
    return tuple(out)


def _typed_setting(annotation: str, value: Any, name: str) -> Any:
    """A threshold from ``dataset.yml`` as the type its field declares: a whole number above 0
    (days, counts), a number of 0 or more (rates, factors) or a tuple of whole numbers; anything
    else (``ninety``, ``true``, ``1.5`` days, ``-5``) is a ConfigError naming the key."""
    if "tuple" in str(annotation):
        items = value if isinstance(value, (list, tuple)) else [value]
        return tuple(_positive_int(v, f"thresholds.{name}") for v in items)
    if str(annotation).startswith("float"):
        return _number(value, f"thresholds.{name}")
    return _positive_int(value, f"thresholds.{name}")


def _check_tuned_ranges(values: dict[str, Any], where: str) -> None:
    for key, value in values.items():
        if key in TUNED_RANGES:
            lo, hi = TUNED_RANGES[key]
            if not lo <= float(value) <= hi:
                raise ConfigError(f"dataset.yml: {where}.{key} is {value!r}; expected a number from {lo:g} to {hi:g}.")


def _disabled(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or [])
    bad = [str(i) for i in items if str(i) not in SWITCHABLE_INDICATORS]
    if bad:
        raise ConfigError(f"dataset.yml: {where}.disabled has {bad}; expected some of {list(SWITCHABLE_INDICATORS)}.")
    return tuple(dict.fromkeys(str(i) for i in items))


def _overrides(extras: dict[str, Any]) -> dict[str, Any]:
    """``disabled`` and ``segments`` of the ``thresholds:`` block, checked (issue #15)."""
    out: dict[str, Any] = {}
    if "disabled" in extras:
        out["disabled"] = _disabled(extras["disabled"], "thresholds")
    known = {f.name: f.type for f in fields(SignalParams)}
    segments: dict[str, dict[str, dict[str, Any]]] = {}
    for column, values in _as_dict(extras.get("segments"), "thresholds.segments").items():
        for value, over in _as_dict(values, f"thresholds.segments.{column}").items():
            where = f"thresholds.segments.{column}.{value}"
            over = _as_dict(over, where)
            extra = set(over) - set(known) - {"disabled"}
            if extra:
                raise ConfigError(f"dataset.yml: unknown key(s) {sorted(extra)} under {where}; "
                                  f"expected indicator thresholds ({sorted(TUNED_RANGES)} ...) or disabled.")
            parsed: dict[str, Any] = {k: _typed_setting(known[k], v, k) for k, v in over.items() if k != "disabled"}
            _check_tuned_ranges(parsed, where)
            if "disabled" in over:
                parsed["disabled"] = _disabled(over["disabled"], where)
            segments.setdefault(str(column), {})[str(value)] = parsed
    if segments:
        out["segments"] = segments
    return out


def read_config(folder: str | Path) -> DatasetConfig:
    """Read ``<folder>/dataset.yml`` if it exists, else return the defaults."""
    path = Path(folder) / CONFIG_FILE
    if not path.exists():
        return DatasetConfig(name=Path(folder).resolve().name)
    if not path.is_file():
        raise ConfigError(f"{path}: not a file; expected the dataset's YAML configuration.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc)[:300]}).") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text ({type(exc).__name__}).") from exc
    cfg = parse_config(raw, source=str(path))
    if "name" not in raw:
        cfg = replace(cfg, name=Path(folder).resolve().name)
    return cfg


def declares_business_model(folder: str | Path) -> bool:
    """True if ``<folder>/dataset.yml`` sets ``business_model``."""
    path = Path(folder) / CONFIG_FILE
    if not path.exists():
        return False
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return False
    return isinstance(raw, dict) and raw.get("business_model") is not None


def warn_undeclared_business_model(folder: str | Path, has_churn_dates: bool) -> None:
    """Warn when a folder whose ``dataset.yml`` does not set ``business_model`` (or that has
    none) is read as contractual although no customer has a ``churn_date``: then nobody can
    ever be counted as lost. A purchase log needs ``business_model: non_contractual``."""
    import warnings

    if has_churn_dates or declares_business_model(folder):
        return
    warnings.warn(
        f"{Path(folder) / CONFIG_FILE}: no business_model is set, so the data is read as contractual "
        "(a client is lost when its contract's churn_date has passed), but no customer has a churn_date: "
        "nobody can be counted as lost. For orders without contracts, set 'business_model: non_contractual' "
        "(lost = no significant interaction for the churn horizon).",
        UserWarning, stacklevel=3)
