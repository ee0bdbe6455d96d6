"""The validated tables as a DuckDB warehouse: one SQL view per table, for aggregates at scale.

Aggregates that are not per customer (email KPIs per campaign, month and segment; cohort
matrices and survival inputs; base tables) need a few numbers per group, not every event in
a pandas frame. :class:`Warehouse` is a DuckDB connection holding one view per validated
table (``customers``, ``orders``, ``email_events``, ``nps``, ``usage``, ``interventions``)
with the canonical columns and types of :mod:`analysis.data.schema`, over either

* the validated copy of an export (:mod:`analysis.data.cache`): the view reads the entry's
  Parquet files, ``<entry>/tables/<table>.parquet`` (layout ``single``) or
  ``<entry>/tables/<table>/*.parquet`` (a bucketed layout), without loading them; or
* the in-memory frames of a :class:`~analysis.data.dataset.Dataset` (DuckDB reads pandas
  frames in place), so the same SQL runs on a base built by :func:`from_frames` in tests.

>>> wh = Warehouse.open("data/sample")                               # doctest: +SKIP
>>> wh.query("SELECT count(*) AS n FROM orders WHERE order_date < $cut",
...          {"cut": pd.Timestamp("2026-11-01")})                  # doctest: +SKIP

The SQL functions of :mod:`analysis.metrics.aggregates` take a warehouse and an as-of date
and read nothing on or after it. A warehouse also answers the few dataset-level questions
those functions ask (``config``, ``observed_from``, ``observed_until``, :meth:`has`,
:attr:`has_amounts`, :meth:`segment_columns`), so they need no pandas copy of the base.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from analysis.data.cache import _valid as _valid_entry
from analysis.data.cache import dataset_hash, entry_dir
from analysis.data.config import DatasetConfig, read_config, warn_undeclared_business_model
from analysis.data.duckdb_settings import connect
from analysis.data.personal import detect_personal_columns
from analysis.data.reading import find_table_file
from analysis.data.schema import TABLES
from analysis.data.validation import TableReport, ValidationReport
from analysis.errors import DataError

__all__ = ["Warehouse", "interactions_sql"]


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class Warehouse:
    """A DuckDB connection with one view per validated table.

    Build it with :meth:`open` (a dataset folder: its validated copy), :meth:`from_entry`
    (a cache entry folder) or :meth:`from_dataset` (in-memory frames).

    Attributes
    ----------
    con : the DuckDB connection (views named after the tables).
    tables : names of the tables present.
    config : the dataset's configuration.
    observed_from, observed_until : first and last observed days (as in the Dataset).
    path : the dataset folder, or None.
    report : the validation report (counts, notes and the quarantined rows, which are few).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, tables: tuple[str, ...], config: DatasetConfig,
                 observed_from: pd.Timestamp | None, observed_until: pd.Timestamp | None,
                 path: Path | None = None, personal: list[str] | None = None,
                 report: ValidationReport | None = None) -> None:
        self.con = con
        self.report = report if report is not None else ValidationReport()
        self.tables = tuple(tables)
        self.config = config
        self.observed_from = observed_from
        self.observed_until = observed_until
        self.path = path
        self._personal = personal
        self._counts: dict[str, int] = {}
        self._files: dict[str, list[Path]] = {}  # table -> Parquet files (over a validated copy)
        self._frames: dict[str, pd.DataFrame] = {}  # table -> frame (over a Dataset)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _connect(config: DatasetConfig | None = None) -> duckdb.DuckDBPyConnection:
        """A connection with the dataset's ``engine.memory_limit`` and ``engine.threads``
        (:mod:`analysis.data.duckdb_settings`): joins, sorts and aggregates over every event
        spill to the temporary folder beyond the limit, whatever the size of the base."""
        con = connect(getattr(config, "engine", None))
        con.execute("SET preserve_insertion_order = false")
        return con

    @classmethod
    def from_dataset(cls, ds) -> Warehouse:
        """A warehouse over the frames of ``ds`` (a :class:`~analysis.data.dataset.Dataset`)."""
        con = cls._connect(ds.config)
        names = []
        for name, frame in ds.tables.items():
            cat = {c: frame[c].astype("string") for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)}
            con.register(f"_frame_{name}", frame.assign(**cat) if cat else frame)
            con.execute(f"CREATE VIEW {_quote(name)} AS SELECT * FROM {_quote('_frame_' + name)}")
            names.append(name)
        wh = cls(con, tuple(names), ds.config, ds.observed_from, ds.observed_until, ds.path,
                 personal=ds.personal_columns(), report=ds.report)
        wh._frames = dict(ds.tables)
        return wh

    @classmethod
    def from_entry(cls, folder: str | Path, config: DatasetConfig, path: Path | None = None) -> Warehouse:
        """A warehouse over the Parquet files of the cache entry ``folder``.

        Raises
        ------
        DataError
            If ``folder`` holds no readable entry.
        """
        folder = Path(folder)
        try:
            meta = json.loads((folder / "entry.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{folder}: not a validated copy of an export (entry.json missing or unreadable).") from exc
        con = cls._connect(config)
        names = []
        files: dict[str, list[Path]] = {}
        for name in sorted(meta.get("tables", []), key=lambda t: list(TABLES).index(t) if t in TABLES else len(TABLES)):
            single = folder / "tables" / f"{name}.parquet"
            parts = folder / "tables" / name
            if single.is_file():
                source, files[name] = _literal(single), [single]
            elif parts.is_dir() and any(parts.glob("*.parquet")):
                source, files[name] = _literal(parts / "*.parquet"), sorted(parts.glob("*.parquet"))
            else:
                raise DataError(f"{folder}: table '{name}' has no Parquet file ({single.name} or {name}/*.parquet).")
            con.execute(f"CREATE VIEW {_quote(name)} AS SELECT * FROM read_parquet({source})")
            names.append(name)

        def ts(value: Any) -> pd.Timestamp | None:
            return pd.Timestamp(value) if value else None

        try:
            report = ValidationReport(
                tables={t: TableReport(**r) for t, r in meta["report"]["tables"].items()},
                notes=list(meta["report"]["notes"]),
                quarantine={t: pq.read_table(folder / "quarantine" / f"{t}.parquet").to_pandas()
                            for t in meta.get("quarantine", [])},
            )
        except (OSError, KeyError, TypeError) as exc:
            raise DataError(f"{folder}: the validation report of this validated copy is unreadable; "
                            "delete the folder to validate the export again.") from exc
        if path is not None:  # the files as found in the folder given (as analysis.load does)
            for table, rep in report.tables.items():
                rep.file = str(find_table_file(path, table, config.table(table),
                                               allow_external=config.allow_external_files))
        wh = cls(con, tuple(names), config, ts(meta.get("observed_from")), ts(meta.get("observed_until")), path,
                 report=report)
        wh._files = files
        return wh

    @classmethod
    def from_partitioned(cls, pds) -> Warehouse:
        """A warehouse over a bucketed validated copy
        (:class:`~analysis.data.partitions.PartitionedDataset`): one view per table over its
        bucket files."""
        con = cls._connect(pds.config)
        names, files = [], {}
        for name in sorted(pds.tables, key=lambda t: list(TABLES).index(t) if t in TABLES else len(TABLES)):
            parts = pds.table_files(name)
            if not parts:
                raise DataError(f"{pds.entry}: table '{name}' has no bucket file.")
            listed = ", ".join(_literal(p) for p in parts)
            con.execute(f"CREATE VIEW {_quote(name)} AS SELECT * FROM read_parquet([{listed}])")
            names.append(name)
            files[name] = parts
        wh = cls(con, tuple(names), pds.config, pds.observed_from, pds.observed_until, pds.path,
                 personal=list(pds.base.personal_columns), report=pds.report)
        wh._files = files
        return wh

    @classmethod
    def open(cls, data_dir: str | Path) -> Warehouse:
        """The warehouse of the dataset folder ``data_dir``, over its validated copy.

        An existing validated copy of the current content is used as it is (one Parquet file
        per table). Otherwise the export is validated first: bucket by bucket into the
        bucketed copy (:func:`analysis.data.partitions.load_partitioned`, memory bounded by a
        bucket) when it needs more than one bucket, else as :func:`analysis.load` does; a
        folder whose copy cannot be written (a read-only place) is served from the validated
        frames in memory.
        """
        from analysis.data.dataset import load  # the loaders are above the cache; imported on use
        from analysis.data.partitions import choose_buckets, estimate_rows, load_partitioned

        folder = Path(data_dir)
        config = read_config(folder) if folder.is_dir() else None
        if config is None:
            raise DataError(f"{folder}: not a folder. A dataset is a folder of CSV or Parquet tables.")
        entry = entry_dir(folder, dataset_hash(folder))
        if _valid_entry(entry):
            wh = cls.from_entry(entry, config, folder)
            if config.business_model == "contractual":  # as analysis.load warns
                n = wh.query("SELECT count(churn_date) AS n FROM customers")["n"].iloc[0]
                warn_undeclared_business_model(folder, bool(n))
            return wh
        eng = getattr(config, "engine", None)
        if getattr(eng, "buckets", None) or choose_buckets(estimate_rows(folder, config),
                                                           getattr(eng, "rows_per_bucket", None)) > 1:
            return cls.from_partitioned(load_partitioned(folder))
        ds = load(folder)
        if not _valid_entry(entry):
            return cls.from_dataset(ds)
        return cls.from_entry(entry, config, folder)

    # ------------------------------------------------------------------ questions
    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run ``sql`` (named parameters ``$name``) and return the result as a DataFrame."""
        return self.con.execute(sql, params or {}).df()

    def rows(self, table: str) -> int:
        """Rows of ``table`` (0 when absent)."""
        if table not in self.tables:
            return 0
        if table not in self._counts:
            self._counts[table] = int(self.con.execute(f"SELECT count(*) FROM {_quote(table)}").fetchall()[0][0])
        return self._counts[table]

    def has(self, table: str) -> bool:
        """True if ``table`` was provided and kept at least one row (as :meth:`Dataset.has`)."""
        return self.rows(table) > 0

    def columns(self, table: str) -> list[str]:
        """Column names of ``table`` (empty when absent)."""
        if table not in self.tables:
            return []
        return [r[0] for r in self.con.execute(f"DESCRIBE {_quote(table)}").fetchall()]

    @property
    def has_amounts(self) -> bool:
        """True if orders carry an amount (as :attr:`Dataset.has_amounts`)."""
        return self.has("orders") and "amount" in self.columns("orders")

    @property
    def customers(self) -> pd.DataFrame:
        """The whole customers table (one row per customer, validated types), read once."""
        if "_customers" not in self.__dict__:
            if "customers" in self._frames:
                self._customers = self._frames["customers"]
            else:
                parts = [pq.read_table(f).to_pandas() for f in self._files.get("customers", [])]
                parts = [p for p in parts if len(p)] or parts[:1]
                self._customers = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return self._customers

    def personal_columns(self) -> list[str]:
        """Customer attributes holding personal data (as :meth:`Dataset.personal_columns`:
        declared, or recognised by name or content over the whole customers table)."""
        if self._personal is None:
            attrs = [c for c in self.columns("customers") if c not in ("signup_date", "churn_date")]
            frame = self.query(f"SELECT {', '.join(_quote(c) for c in attrs)} FROM customers")
            found = detect_personal_columns(frame, self.config.personal_columns, skip=("customer_id",))
            self._personal = [c for c in found if c != "customer_id"]
        return list(self._personal)

    def segment_columns(self, max_levels: int = 30, before: pd.Timestamp | None = None) -> list[str]:
        """Customer attributes usable as segments (as :meth:`Dataset.segment_columns`):
        not personal, at most ``max_levels`` distinct values; counted in SQL, among the
        customers signed up before ``before`` when given (as on ``Dataset.before(before)``)."""
        base = {"customer_id", "signup_date", "churn_date"}
        personal = set(self.personal_columns())
        cols = [c for c in self.columns("customers") if c not in base and c not in personal]
        if not cols:
            return []
        where = "" if before is None else " WHERE signup_date < $before"
        counts = self.query("SELECT " + ", ".join(f"count(DISTINCT {_quote(c)}) AS {_quote(c)}" for c in cols)
                            + " FROM customers" + where,
                            None if before is None else {"before": pd.Timestamp(before).to_pydatetime()}).iloc[0]
        return [c for c in cols if int(counts[c]) <= max_levels]


    # ------------------------------------------------------------------ partitions of customers
    def base_context(self, before: pd.Timestamp | None = None):
        """The :class:`~analysis.data.dataset.BaseContext` of the whole base (rows strictly
        before ``before`` when given), by SQL: what per-customer code run on a partition of
        customers reads about the rest of the base."""
        from analysis.data.dataset import BaseContext

        cut = {"cut": pd.Timestamp(before).to_pydatetime()} if before is not None else {}
        fd = rv = None
        if self.has("usage") and "feature" in self.columns("usage"):
            where = " AND event_date < $cut" if cut else ""
            fd = self.query("SELECT DISTINCT CAST(feature AS VARCHAR) AS feature, "
                            "CAST(date_diff('day', DATE '1970-01-01', CAST(event_date AS DATE)) AS BIGINT) AS day "
                            f"FROM usage WHERE feature IS NOT NULL{where} ORDER BY feature, day", cut)
            fd["feature"] = fd["feature"].astype("string")
        if self.has_amounts:
            where = " WHERE order_date < $cut" if cut else ""
            rv = self.query("SELECT CAST(date_diff('day', DATE '1970-01-01', CAST(order_date AS DATE)) AS BIGINT) AS day, "
                            f"fsum(coalesce(amount, 0.0)) AS amount FROM orders{where} GROUP BY 1 ORDER BY 1", cut)
            if rv.empty:
                rv = None
        segs = self.segment_columns(before=before)
        return BaseContext(personal_columns=tuple(self.personal_columns()), segment_columns=tuple(segs),
                           usage_feature_days=fd, revenue_by_day=rv)

    def subset(self, customer_ids, before: pd.Timestamp | None = None):
        """A :class:`~analysis.data.dataset.Dataset` holding every row of the customers
        ``customer_ids`` (and the whole base's context, :meth:`base_context`): a partition of
        chosen customers, read from the Parquet copy with a filter on ``customer_id`` (the
        validated types kept). With ``before``, cut there (:meth:`Dataset.before`)."""
        from analysis.data.dataset import Dataset

        ids = sorted({str(i) for i in pd.Series(customer_ids).dropna()})
        tables: dict[str, pd.DataFrame] = {}
        for name in self.tables:
            if name in self._frames:
                frame = self._frames[name]
                tables[name] = frame.loc[frame["customer_id"].astype("string").isin(ids)].reset_index(drop=True)
            else:
                parts = [pq.read_table(f, filters=[("customer_id", "in", ids)]).to_pandas() if ids else
                         pq.read_table(f).schema.empty_table().to_pandas() for f in self._files[name]]
                parts = [p for p in parts if len(p)] or parts[:1]
                tables[name] = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        ds = Dataset(**tables, config=self.config, report=self.report, path=self.path,
                     observed_from=self.observed_from, observed_until=self.observed_until,
                     base=self.base_context(before))
        return ds if before is None else ds.before(before)


def interactions_sql(wh: Warehouse, kinds: tuple[str, ...] | None = None) -> str:
    """SQL of the significant interactions (as :meth:`Dataset.interactions`), unsorted.

    Columns ``customer_id``, ``time``, ``kind``, ``weight``; an empty relation of those
    columns when no table gives one of ``kinds`` (default: the config's).
    """
    kinds = tuple(kinds or wh.config.significant_interactions)
    weights = wh.config.interaction_weights
    parts = []
    if "purchase" in kinds and wh.has("orders"):
        parts.append("SELECT customer_id, order_date AS time, 'purchase' AS kind FROM orders WHERE NOT is_refund")
    if "support" in kinds and wh.has("nps"):
        parts.append("SELECT customer_id, response_date AS time, 'support' AS kind FROM nps "
                     "WHERE coalesce(\"trigger\" = 'support', false)")
    if "product_use" in kinds and wh.has("usage"):
        parts.append("SELECT customer_id, event_date AS time, 'product_use' AS kind FROM usage")
    email = [k for k in ("reply", "click", "open") if k in kinds]
    if email and wh.has("email_events"):
        listed = ", ".join(f"'{k}'" for k in email)
        parts.append("SELECT customer_id, event_time AS time, CAST(event AS VARCHAR) AS kind FROM email_events "
                     f"WHERE CAST(event AS VARCHAR) IN ({listed})")
    if not parts:
        return ("SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS TIMESTAMP) AS time, "
                "CAST(NULL AS VARCHAR) AS kind, CAST(NULL AS DOUBLE) AS weight WHERE false")
    cases = " ".join(f"WHEN '{k}' THEN {float(weights.get(k, float('nan')))!r}" for k in kinds
                     if k in weights)
    union = " UNION ALL ".join(f"({p})" for p in parts)
    return f"SELECT customer_id, time, kind, CAST(CASE kind {cases} END AS DOUBLE) AS weight FROM ({union})"

