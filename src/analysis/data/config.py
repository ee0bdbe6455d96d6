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
        cancellation_pattern: "^C"   # order ids matching this regex are cancellations (not purchases)
        columns:                     # canonical_name: name_in_your_file
          customer_id: id_client
          order_date: date_commande
          amount: montant_ttc
          order_id: numero_facture   # lines of one order are one purchase
        csv: {sep: ";", decimal: ","}
    thresholds:
      watch_days: 30
      wake_up_days: 60
      inactive_days: 90
      removal_days: 180
      churn_horizon_days: 90
    capacity: 100                    # customers the team can contact per month (call list size)
    interaction_weights: {purchase: 5, support: 4, product_use: 3, reply: 2, click: 2, open: 1}
    significant_interactions: [purchase, support, product_use, reply, click, open]

Defaults follow ``SPEC.md`` section 3: 30 / 60 / 90 / 180 days and a 90-day churn horizon.
``churn_horizon_days`` is also the default prediction horizon of the classifier and
``capacity`` (default :data:`DEFAULT_CAPACITY`, 100) the default call-list size: the
notebook, ``churn-radar score`` and the monthly report all read them from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from analysis.data.schema import INTERACTION_KINDS, TABLES
from analysis.errors import ConfigError

__all__ = ["CsvOptions", "DatasetConfig", "TableConfig", "Thresholds", "read_config", "DEFAULT_CAPACITY"]

CONFIG_FILE = "dataset.yml"
BUSINESS_MODELS = ("contractual", "non_contractual")
LANGUAGES = ("fr", "en")
#: Customers the team can contact per month when dataset.yml does not say (``capacity``).
DEFAULT_CAPACITY = 100


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
    #: orders only: a regular expression; an order whose id matches it is a cancellation
    #: (nets against revenue, is not a purchase), e.g. ``"^C"`` for ``C536379``.
    cancellation_pattern: str | None = None


@dataclass(frozen=True)
class Thresholds:
    """Inactivity thresholds in days (SPEC section 3) and the churn horizon."""

    watch_days: int = 30
    wake_up_days: int = 60
    inactive_days: int = 90
    removal_days: int = 180
    churn_horizon_days: int = 90

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
    capacity: int = DEFAULT_CAPACITY
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
        tables[tname] = TableConfig(
            file=tval.get("file"),
            columns=cols,
            csv=CsvOptions().merged(_as_dict(tval.get("csv"), f"tables.{tname}.csv")),
            duplicates=dup,
            cancellation_pattern=str(pattern) if pattern is not None else None,
        )
    kwargs["tables"] = tables
    th = _as_dict(raw.get("thresholds"), "thresholds")
    th_known = {f.name for f in fields(Thresholds)}
    if set(th) - th_known:
        raise ConfigError(
            f"dataset.yml: unknown threshold(s) {sorted(set(th) - th_known)}; expected {sorted(th_known)}."
        )
    kwargs["thresholds"] = Thresholds(**{k: int(v) for k, v in th.items()})
    w = _as_dict(raw.get("interaction_weights"), "interaction_weights")
    if set(w) - set(INTERACTION_KINDS):
        raise ConfigError(
            f"dataset.yml: unknown interaction kind(s) {sorted(set(w) - set(INTERACTION_KINDS))}; "
            f"expected {list(INTERACTION_KINDS)}."
        )
    kwargs["interaction_weights"] = {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in w.items()}}
    cap = raw.get("capacity")
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ConfigError(f"dataset.yml: capacity is '{cap}'; expected the number of customers the "
                              "team can contact per month (a whole number, 1 or more).")
        kwargs["capacity"] = int(cap)
    sig = raw.get("significant_interactions")
    if sig is not None:
        bad = [s for s in sig if s not in INTERACTION_KINDS]
        if bad:
            raise ConfigError(
                f"dataset.yml: significant_interactions has {bad}; expected some of {list(INTERACTION_KINDS)}."
            )
        kwargs["significant_interactions"] = tuple(sig)
    return DatasetConfig(**kwargs)


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
