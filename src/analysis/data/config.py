"""Dataset configuration: the optional ``dataset.yml`` that maps an export onto the contract.

Every key is optional; without the file, sensible defaults and detection apply.

.. code-block:: yaml

    name: Acme SaaS export           # shown in reports
    business_model: contractual      # or non_contractual (lost = inactive past the horizon)
    currency: EUR
    language: fr                     # report language, fr or en
    observed_until: 2026-10-31       # end of the export; events after it are quarantined
    personal_columns: [email, phone, name]
    csv:                             # defaults for every CSV table ("auto" = detect)
      sep: auto                      # "," ";" "\\t" "|" or "whitespace"
      decimal: auto                  # "." or ","
      encoding: auto                 # utf-8, latin-1, cp1252 ...
      date_format: auto              # a strftime format such as "%d/%m/%Y"
    tables:
      orders:
        file: export_commandes.csv   # relative to the dataset folder
        duplicates: quarantine       # or keep: identical rows are distinct events
        columns:                     # canonical_name: name_in_your_file
          customer_id: id_client
          order_date: date_commande
          amount: montant_ttc
        csv: {sep: ";", decimal: ","}
    thresholds:
      watch_days: 30
      wake_up_days: 60
      inactive_days: 90
      removal_days: 180
      churn_horizon_days: 90
      # early-warning thresholds (optional; SPEC defaults otherwise), e.g. from
      # `churn-radar audit DATA_DIR --as-of DATE --tune --out thresholds.yml`:
      freq_drop: 0.40                # frequency alert: interactions down 40 % or more ...
      freq_months: 2                 # ... over the last 1 or 2 months
      recency_alert_days: 30         # days without a significant interaction
      basket_drop: 0.25              # value: basket down more than 25 %
      interval_drift: 1.0            # value: purchase interval +100 % (twice as long)
      share_drop: 0.50               # value: share of the base's revenue halved
      nps_drop: 2                    # NPS down 2 points or more
      usage_drop: 0.30               # usage score down 30 % or more
      disabled: [email]              # indicators switched off (their alert is never raised)
      segments:                      # per-segment overrides: customers column -> value -> thresholds
        plan:
          enterprise: {basket_drop: 0.15}
    interaction_weights: {purchase: 5, support: 4, product_use: 3, reply: 2, click: 2, open: 1}
    significant_interactions: [purchase, support, product_use, reply, click, open]

Defaults follow ``SPEC.md`` section 3: 30 / 60 / 90 / 180 days and a 90-day churn horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from analysis.data.schema import INTERACTION_KINDS, TABLES
from analysis.errors import ConfigError

__all__ = ["CsvOptions", "DatasetConfig", "SIGNAL_THRESHOLDS", "SWITCHABLE_INDICATORS", "TableConfig", "Thresholds",
           "parse_thresholds", "read_config"]

CONFIG_FILE = "dataset.yml"
BUSINESS_MODELS = ("contractual", "non_contractual")
LANGUAGES = ("fr", "en")


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


@dataclass(frozen=True)
class TableConfig:
    """Where one table lives and how its columns are named in the export."""

    file: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    csv: CsvOptions = field(default_factory=CsvOptions)
    #: "quarantine" (default): an exact copy of an earlier row is set aside;
    #: "keep": identical rows are distinct events (a log with no event id, such as CDNOW).
    duplicates: str = "quarantine"


#: Early-warning thresholds a ``thresholds:`` block may set (None: the SPEC default of
#: :class:`analysis.metrics.signals.SignalParams`), with their type and allowed range.
SIGNAL_THRESHOLDS: dict[str, tuple[type, float, float]] = {
    "freq_drop": (float, 0.0, 1.0),
    "freq_months": (int, 1, 2),
    "recency_alert_days": (int, 1, 3650),
    "basket_drop": (float, 0.0, 1.0),
    "interval_drift": (float, 0.0, math.inf),  # .inf: the interval part never fires
    "share_drop": (float, 0.0, 1.0),
    "nps_drop": (int, 1, 10),
    "usage_drop": (float, 0.0, 1.0),
}
#: Indicators that ``disabled:`` may switch off.
SWITCHABLE_INDICATORS: tuple[str, ...] = ("frequency", "recency", "email", "value", "nps", "usage")


@dataclass(frozen=True)
class Thresholds:
    """Inactivity thresholds in days (SPEC section 3), the churn horizon and, optionally,
    the early-warning thresholds (:data:`SIGNAL_THRESHOLDS`), indicators switched off and
    per-segment overrides (``segments: {column: {value: {threshold: x, disabled: [...]}}}``)."""

    watch_days: int = 30
    wake_up_days: int = 60
    inactive_days: int = 90
    removal_days: int = 180
    churn_horizon_days: int = 90
    freq_drop: float | None = None
    freq_months: int | None = None
    recency_alert_days: int | None = None
    basket_drop: float | None = None
    interval_drift: float | None = None
    share_drop: float | None = None
    nps_drop: int | None = None
    usage_drop: float | None = None
    disabled: tuple[str, ...] = ()
    segments: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, hash=False, compare=True)

    def levels(self) -> tuple[int, int, int, int]:
        """The graduated inactivity levels, increasing."""
        return (self.watch_days, self.wake_up_days, self.inactive_days, self.removal_days)


DEFAULT_WEIGHTS: dict[str, float] = {
    "purchase": 5.0,
    "support": 4.0,
    "product_use": 3.0,
    "reply": 2.0,
    "click": 2.0,
    "open": 1.0,
}


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
    interaction_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    significant_interactions: tuple[str, ...] = INTERACTION_KINDS
    source: str | None = None  # path of the dataset.yml read, if any

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

    def with_overrides(self, **kwargs: Any) -> DatasetConfig:
        """A copy with some fields replaced (used by CLI and notebook parameters)."""
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})


def _as_dict(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"dataset.yml: '{where}' must be a mapping, got {type(value).__name__}.")
    return value


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
    for key in ("name", "currency", "observed_until"):
        if raw.get(key) is not None:
            kwargs[key] = str(raw[key])
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
        kwargs["personal_columns"] = tuple(str(c) for c in raw["personal_columns"])
    kwargs["csv"] = CsvOptions().merged(_as_dict(raw.get("csv"), "csv"))
    tables: dict[str, TableConfig] = {}
    for tname, tval in _as_dict(raw.get("tables"), "tables").items():
        if tname not in TABLES:
            raise ConfigError(
                f"dataset.yml: unknown table '{tname}' under 'tables'; expected one of {list(TABLES)}."
            )
        tval = _as_dict(tval, f"tables.{tname}")
        extra = set(tval) - {"file", "columns", "csv", "duplicates"}
        if extra:
            raise ConfigError(
                f"dataset.yml: unknown key(s) {sorted(extra)} under tables.{tname}; "
                "expected file, columns, csv, duplicates."
            )
        dup = str(tval.get("duplicates", "quarantine"))
        if dup not in ("quarantine", "keep"):
            raise ConfigError(
                f"dataset.yml: tables.{tname}.duplicates is '{dup}'; expected quarantine or keep."
            )
        cols = {str(k): str(v) for k, v in _as_dict(tval.get("columns"), f"tables.{tname}.columns").items()}
        tables[tname] = TableConfig(
            file=tval.get("file"),
            columns=cols,
            csv=CsvOptions().merged(_as_dict(tval.get("csv"), f"tables.{tname}.csv")),
            duplicates=dup,
        )
    kwargs["tables"] = tables
    kwargs["thresholds"] = parse_thresholds(_as_dict(raw.get("thresholds"), "thresholds"))
    w = _as_dict(raw.get("interaction_weights"), "interaction_weights")
    if set(w) - set(INTERACTION_KINDS):
        raise ConfigError(
            f"dataset.yml: unknown interaction kind(s) {sorted(set(w) - set(INTERACTION_KINDS))}; "
            f"expected {list(INTERACTION_KINDS)}."
        )
    kwargs["interaction_weights"] = {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in w.items()}}
    sig = raw.get("significant_interactions")
    if sig is not None:
        bad = [s for s in sig if s not in INTERACTION_KINDS]
        if bad:
            raise ConfigError(
                f"dataset.yml: significant_interactions has {bad}; expected some of {list(INTERACTION_KINDS)}."
            )
        kwargs["significant_interactions"] = tuple(sig)
    return DatasetConfig(**kwargs)


def _signal_value(key: str, value: Any, where: str) -> float | int:
    kind, lo, hi = SIGNAL_THRESHOLDS[key]
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not lo <= number <= hi or (kind is int and not number.is_integer()):
        raise ConfigError(f"dataset.yml: {where}.{key} is {value!r}; expected "
                          f"{'a whole number' if kind is int else 'a number'} from {lo:g} to {hi:g}.")
    return kind(number)


def _disabled(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or [])
    bad = [str(i) for i in items if str(i) not in SWITCHABLE_INDICATORS]
    if bad:
        raise ConfigError(f"dataset.yml: {where}.disabled has {bad}; expected some of {list(SWITCHABLE_INDICATORS)}.")
    return tuple(dict.fromkeys(str(i) for i in items))


def parse_thresholds(th: dict[str, Any]) -> Thresholds:
    """The ``thresholds:`` block: day thresholds, signal thresholds, ``disabled`` and ``segments``."""
    day_keys = ("watch_days", "wake_up_days", "inactive_days", "removal_days", "churn_horizon_days")
    th_known = {f.name for f in fields(Thresholds)}
    if set(th) - th_known:
        raise ConfigError(
            f"dataset.yml: unknown threshold(s) {sorted(set(th) - th_known)}; expected {sorted(th_known)}."
        )
    out: dict[str, Any] = {k: int(v) for k, v in th.items() if k in day_keys}
    out.update({k: _signal_value(k, v, "thresholds") for k, v in th.items() if k in SIGNAL_THRESHOLDS})
    if "disabled" in th:
        out["disabled"] = _disabled(th["disabled"], "thresholds")
    segments: dict[str, dict[str, dict[str, Any]]] = {}
    for column, values in _as_dict(th.get("segments"), "thresholds.segments").items():
        for value, over in _as_dict(values, f"thresholds.segments.{column}").items():
            where = f"thresholds.segments.{column}.{value}"
            over = _as_dict(over, where)
            extra = set(over) - set(SIGNAL_THRESHOLDS) - {"disabled"}
            if extra:
                raise ConfigError(f"dataset.yml: unknown key(s) {sorted(extra)} under {where}; "
                                  f"expected some of {sorted(SIGNAL_THRESHOLDS)} or disabled.")
            parsed: dict[str, Any] = {k: _signal_value(k, v, where) for k, v in over.items() if k != "disabled"}
            if "disabled" in over:
                parsed["disabled"] = _disabled(over["disabled"], where)
            segments.setdefault(str(column), {})[str(value)] = parsed
    out["segments"] = segments
    return Thresholds(**out)


def read_config(folder: str | Path) -> DatasetConfig:
    """Read ``<folder>/dataset.yml`` if it exists, else return the defaults."""
    path = Path(folder) / CONFIG_FILE
    if not path.exists():
        return DatasetConfig(name=Path(folder).resolve().name)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}).") from exc
    cfg = parse_config(raw, source=str(path))
    if "name" not in raw:
        cfg = replace(cfg, name=Path(folder).resolve().name)
    return cfg
