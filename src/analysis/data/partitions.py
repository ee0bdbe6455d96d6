"""Partitions of customers: the unit of work of the local and Spark engines (issue 16).

A **partition** is a :class:`~analysis.data.dataset.Dataset` holding *all* the rows of every
table for the customers of one hash **bucket**, plus the small whole-base quantities
(:class:`~analysis.data.dataset.BaseContext`) that a few indicators need. Every per-customer
computation (status, the six indicators, features and labels, BG/NBD scores with fitted
parameters, scores, reasons, value) reads one customer's rows only, so it runs unchanged on a
partition and gives, for that partition's customers, the numbers of the whole base.

**The bucket** of a customer is ``crc32(UTF-8 bytes of its validated id) mod n_buckets``
(:func:`bucket_of`). CRC-32 (the zlib/PNG polynomial) was chosen because it is fixed by a
standard, cheap, and computed the same way everywhere: Python's ``zlib.crc32``, Java's
``java.util.zip.CRC32`` hence Spark's ``F.crc32(col.cast("binary"))``, DuckDB-independent
(DuckDB's ``hash()`` changes across versions) and pandas-independent
(``hash_pandas_object`` is not a published function). Here it is vectorised with NumPy over
the byte positions (a loop over the id length, never over customers).

**The bucketed copy** (cache layout ``bucketed``, :func:`load_partitioned`): the export is
read once in batches (DuckDB for CSV, pyarrow for Parquet); each batch is split by bucket
into raw part files; then each bucket is validated with the rules of
:func:`analysis.data.dataset.load` (all rows of a customer are in one bucket, so the
per-customer rules (duplicates, unknown customers, signup dates, order lines) hold) and
written, sorted by customer and time, as

.. code-block:: text

    <cache root>/<content hash>-b<NNNN>/
        entry.json                           format 2, layout bucketed, buckets, hash, merged report
        tables/<table>/bucket-NNNN.parquet    validated rows of one bucket (globbable per table)
        quarantine/<table>/bucket-NNNN.parquet
        base/usage_feature_days.parquet, base/revenue_by_day.parquet   (BaseContext)

Peak memory is set by one batch or one bucket, not by the base. Rows read = kept +
quarantined still holds, per table, summed over buckets.

Known limits (decisions): automatic date-format and decimal detection (``auto`` in
dataset.yml) are decided per bucket: on a large export set ``date_format`` and ``decimal``
explicitly. ``source_row`` of a quarantined row is its line in its file, as for :func:`load`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.data.cache import cache_root as _cache_root
from analysis.data.cache import dataset_hash, prune_entries, validator_fingerprint
from analysis.data.config import DatasetConfig, read_config, warn_undeclared_business_model
from analysis.data.dataset import BaseContext, Dataset, _assemble, _withheld
from analysis.data.duckdb_settings import connect
from analysis.data.personal import detect_personal_columns
from analysis.data.reading import (
    _ARROW_STRINGS,
    PARQUET_SUFFIXES,
    _check_header,
    _head_bytes,
    detect_encoding,
    detect_separator,
    find_table_file,
    read_raw,
)
from analysis.data.schema import ACTIVITY_TABLES, TABLES
from analysis.data.validation import EXAMPLES, TableReport, ValidationReport, normalise_ids
from analysis.errors import ConfigError, DataError

__all__ = [
    "HASH_NAME", "BUCKETED_FORMAT", "BUCKETED_LAYOUT", "DEFAULT_ROWS_PER_BUCKET", "bucket_of",
    "base_context", "merge_base_contexts", "partition", "PartitionedDataset", "load_partitioned",
    "iter_partitions", "choose_buckets", "estimate_rows",
]

#: Name of the bucket function (stored in the entry).
HASH_NAME = "crc32-utf8"
#: Entry format and layout of the bucketed copy.
BUCKETED_FORMAT = 2
BUCKETED_LAYOUT = "bucketed"
#: Default number of event rows per bucket when the number of buckets is not given.
DEFAULT_ROWS_PER_BUCKET = 1_000_000
#: Rows read per batch when splitting an export into buckets.
BATCH_ROWS = 1_000_000
_ENTRY = "entry.json"


# ---------------------------------------------------------------------------- the hash
def _crc_table() -> np.ndarray:
    c = np.arange(256, dtype=np.uint32)
    for _ in range(8):  # the 8 bits of a byte: the standard table construction
        c = np.where(c & 1, np.uint32(0xEDB88320) ^ (c >> 1), c >> 1).astype(np.uint32)
    return c


_CRC = _crc_table()


def _crc32(values: pa.Array) -> np.ndarray:
    """CRC-32 of the UTF-8 bytes of each string of ``values`` (no nulls), as uint32."""
    arr = pa.array(values, type=pa.large_binary()) if not pa.types.is_large_binary(values.type) else values
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    start, length = offsets[:-1], np.diff(offsets)
    crc = np.full(n, 0xFFFFFFFF, dtype=np.uint32)
    for k in range(int(length.max()) if n else 0):  # over byte positions, not customers
        live = np.flatnonzero(length > k)
        c = crc[live]
        crc[live] = _CRC[(c ^ data[start[live] + k]) & 0xFF] ^ (c >> 8)
    return crc ^ np.uint32(0xFFFFFFFF)


def bucket_of(customer_ids: pd.Series, n_buckets: int) -> np.ndarray:
    """The bucket (0 .. ``n_buckets`` - 1) of each customer id.

    ``crc32(UTF-8 bytes of the id) mod n_buckets``; a missing id is in bucket 0. Spark:
    ``F.pmod(F.crc32(F.col("customer_id").cast("binary")), F.lit(n_buckets))``.

    Parameters
    ----------
    customer_ids : validated ids (strings).
    n_buckets : number of buckets, 1 or more.

    Returns
    -------
    int64 array aligned with ``customer_ids``.
    """
    n_buckets = int(n_buckets)
    if n_buckets < 1:
        raise ConfigError(f"the number of buckets is {n_buckets}; expected 1 or more.")
    ids = pd.Series(customer_ids).astype("string")
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)  # each distinct id hashed once
    out = np.zeros(len(ids), dtype=np.int64)
    if len(uniques) and n_buckets > 1:
        per = (_crc32(pa.array(np.asarray(uniques, dtype=object), type=pa.large_string()))
               % np.uint32(n_buckets)).astype(np.int64)
        ok = codes >= 0
        out[ok] = per[codes[ok]]
    return out


# ----------------------------------------------------------------------- base context
def _day(values: pd.Series) -> np.ndarray:
    return np.asarray(values.to_numpy(dtype="datetime64[ns]")).astype("datetime64[D]").astype(np.int64)


def _base_parts(ds: Dataset) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Distinct usage (feature, day) pairs and net order amount per day of ``ds``'s rows."""
    fd = rv = None
    if ds.has("usage") and "feature" in ds.usage.columns:
        u = ds.usage.loc[ds.usage["feature"].notna()]
        fd = pd.DataFrame({"feature": u["feature"].astype("string").to_numpy(),
                           "day": _day(u["event_date"])}).drop_duplicates()
    if ds.has_amounts:
        o = ds.orders
        rv = (pd.DataFrame({"day": _day(o["order_date"]),
                            "amount": o["amount"].fillna(0.0).to_numpy(dtype="float64")})
              .groupby("day", as_index=False)["amount"].sum())
    return fd, rv


def _combine_base(fds: list, rvs: list, personal: list[str], segments: list[str],
                  kept: Iterable[str] | None = None) -> BaseContext:
    fds = [f for f in fds if f is not None]
    rvs = [r for r in rvs if r is not None]
    fd = (pd.concat(fds, ignore_index=True).drop_duplicates().sort_values(["feature", "day"])
          .reset_index(drop=True) if fds else None)
    rv = (pd.concat(rvs, ignore_index=True).groupby("day", as_index=False)["amount"].sum()
          if rvs else None)
    return BaseContext(personal_columns=tuple(personal), segment_columns=tuple(segments),
                       usage_feature_days=fd, revenue_by_day=rv,
                       kept_tables=None if kept is None else tuple(t for t in TABLES if t in set(kept)))


def base_context(ds: Dataset) -> BaseContext:
    """The :class:`BaseContext` of a whole dataset (its own one if ``ds`` is a partition)."""
    if ds.base is not None:
        return ds.base
    fd, rv = _base_parts(ds)
    return _combine_base([fd], [rv], ds.personal_columns(), ds.segment_columns(),
                         kept=[t for t in ds.tables if ds.has(t)])


def merge_base_contexts(parts: Iterable[BaseContext]) -> BaseContext:
    """One context from contexts computed on disjoint sets of customers (the per-bucket parts
    of a base; personal and segment columns are taken from the first)."""
    parts = list(parts)
    if not parts:
        return BaseContext()
    kept = None if any(p.kept_tables is None for p in parts) else {t for p in parts for t in p.kept_tables}
    return _combine_base([p.usage_feature_days for p in parts], [p.revenue_by_day for p in parts],
                         list(parts[0].personal_columns), list(parts[0].segment_columns), kept=kept)


# -------------------------------------------------------------------------- partitions
def partition(ds: Dataset, bucket: int, n_buckets: int, base: BaseContext | None = None) -> Dataset:
    """The partition of ``ds`` holding the customers of ``bucket`` (of ``n_buckets``).

    Every table keeps the rows of those customers; the partition carries the whole base's
    dates, validation report and :class:`BaseContext` (computed from ``ds`` if not given).
    """
    base = base or base_context(ds)
    tables = {}
    for name, frame in ds.tables.items():
        keep = bucket_of(frame["customer_id"], n_buckets) == int(bucket)
        tables[name] = frame.loc[keep].reset_index(drop=True)
    return Dataset(**tables, config=ds.config, report=ds.report, path=ds.path,
                   observed_from=ds.observed_from, observed_until=ds.observed_until, base=base)


def estimate_rows(folder: str | Path, config: DatasetConfig | None = None) -> int:
    """Rows of the export's tables: exact for Parquet (file metadata), estimated for CSV from
    the file size and the mean length of its first lines (x5 for ``.gz``)."""
    folder = Path(folder)
    config = config or read_config(folder)
    total = 0
    for table in TABLES:
        file = find_table_file(folder, table, config.table(table), allow_external=config.allow_external_files)
        if file is None:
            continue
        if file.name.lower().endswith(PARQUET_SUFFIXES):
            try:
                total += pq.ParquetFile(file).metadata.num_rows
                continue
            except Exception:  # noqa: BLE001 - unreadable: validation names it later
                pass
        head = _head_bytes(file)
        lines = max(head.count(b"\n"), 1)
        ratio = 5.0 if file.name.lower().endswith(".gz") else 1.0
        size = file.stat().st_size * ratio
        total += int(size / max(len(head) / lines, 1.0)) if len(head) else 0
    return total


def choose_buckets(rows: int, rows_per_bucket: int | None = None) -> int:
    """Buckets for ``rows`` event rows: ``ceil(rows / rows_per_bucket)``, at least 1."""
    rpb = int(rows_per_bucket or DEFAULT_ROWS_PER_BUCKET)
    if rpb < 1:
        raise ConfigError(f"rows_per_bucket is {rpb}; expected 1 or more.")
    return max(1, math.ceil(int(rows) / rpb))


# -------------------------------------------------------------- splitting the export
def _batches(file: Path, table: str, config: DatasetConfig) -> tuple[Iterator[pa.RecordBatch], dict, bool]:
    """Record batches of a table file, its ``detected`` options and whether it is CSV text."""
    opts = config.csv_for(table)
    if file.name.lower().endswith(PARQUET_SUFFIXES):
        try:
            pf = pq.ParquetFile(file)
            if pf.metadata.num_rows == 0:
                raise DataError(f"{file}: the file has no rows (table '{table}').")
            return pf.iter_batches(batch_size=BATCH_ROWS), {"format": "parquet"}, False
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types: read_raw words them
            read_raw(file, table, opts)
            raise DataError(f"{file}: cannot be read as Parquet for table '{table}' ({exc}).") from exc
    if file.stat().st_size == 0:
        raise DataError(f"{file}: the file is empty (table '{table}'); expected a header and rows.")
    sample = _head_bytes(file)
    _check_header(file, table, sample)
    encoding = detect_encoding(sample) if opts.encoding == "auto" else opts.encoding
    sep = detect_separator(sample.decode(encoding, errors="replace")) if opts.sep == "auto" else opts.sep
    if sep in ("\\t", "tab"):
        sep = "\t"
    detected = {"format": "csv", "encoding": encoding, "sep": sep}
    enc = encoding.lower().replace("_", "-")
    if sep != "whitespace" and enc in ("utf-8", "utf8", "utf-8-sig", "latin-1", "latin1", "iso-8859-1"):
        import duckdb

        try:
            con = connect(config.engine)  # engine.memory_limit and engine.threads of dataset.yml
            rel = con.read_csv(str(file), delimiter=sep, header=True, all_varchar=True,
                               encoding="utf-8" if enc.startswith("utf") else "latin-1",
                               quotechar='"', escapechar='"', null_padding=True)
            reader = rel.to_arrow_reader(BATCH_ROWS)

            def gen() -> Iterator[pa.RecordBatch]:
                try:
                    yield from reader
                finally:
                    con.close()

            return gen(), detected, True
        except duckdb.Error:
            pass
    raw = read_raw(file, table, opts, engine=config.engine)  # the rare formats DuckDB does not stream: read whole
    return iter(pa.Table.from_pandas(raw.frame, preserve_index=False).to_batches()), raw.detected, True


def _id_column(batch: pa.RecordBatch, table: str, config: DatasetConfig, file: Path) -> str | None:
    """The file's column holding ``customer_id`` (dataset.yml renames, then the name itself)."""
    names = [str(c).strip().lstrip("\ufeff") for c in batch.schema.names]
    renamed = config.table(table).columns.get("customer_id")
    want = (renamed or "customer_id").lower()
    for raw, clean in zip(batch.schema.names, names, strict=True):
        if clean == (renamed or "customer_id") or clean.lower() == want:
            return raw
    return None


def _split(folder: Path, config: DatasetConfig, n: int, work: Path) -> dict[str, tuple[str, dict, bool, int]]:
    """Write every table's rows into ``work/<table>/bucket-NNNN.parquet`` (raw values, a
    ``_source_row`` column); return per table (file name, detected, is_csv, rows)."""
    found: dict[str, tuple[str, dict, bool, int]] = {}
    for table in TABLES:
        file = find_table_file(folder, table, config.table(table), allow_external=config.allow_external_files)
        if file is None:
            continue
        outside = not file.resolve().is_relative_to(folder.resolve())
        try:
            batches, detected, is_csv = _batches(file, table, config)
        except DataError as exc:
            if outside:
                raise _withheld(str(file), table, exc) from None
            raise
        (work / table).mkdir(parents=True)
        writers: dict[int, pq.ParquetWriter] = {}
        schema = None
        done = 0
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                batch = batch.rename_columns([str(c).strip().lstrip("\ufeff") for c in batch.schema.names])
                rows = pa.array(np.arange(done, done + batch.num_rows, dtype=np.int64))
                batch = pa.RecordBatch.from_arrays([*batch.columns, rows], names=[*batch.schema.names, "_source_row"])
                done += batch.num_rows
                col = _id_column(batch, table, config, file)
                if col is None:  # validation of bucket 0 names the missing column
                    buckets = np.zeros(batch.num_rows, dtype=np.int64)
                else:
                    ids = batch.column(col).to_pandas()
                    buckets = bucket_of(normalise_ids(ids)[0], n)
                order = np.argsort(buckets, kind="stable")
                bounds = np.searchsorted(buckets[order], np.arange(n + 1))
                sorted_batch = batch.take(pa.array(order))
                if schema is None:
                    schema = sorted_batch.schema
                for b in np.flatnonzero(np.diff(bounds)):  # over buckets
                    part = sorted_batch.slice(bounds[b], bounds[b + 1] - bounds[b])
                    if b not in writers:
                        writers[b] = pq.ParquetWriter(work / table / f"bucket-{b:04d}.parquet", schema)
                    writers[b].write_batch(part.cast(schema) if part.schema != schema else part)
        finally:
            for w in writers.values():
                w.close()
        if done == 0:
            exc = DataError(f"{file}: the file has a header but no data row (table '{table}').")
            if outside:
                raise _withheld(str(file), table, exc) from None
            raise exc
        found[table] = (str(file), detected, is_csv, done)
        # an empty part for buckets without rows: every bucket sees every table
        for b in range(n):
            p = work / table / f"bucket-{b:04d}.parquet"
            if not p.exists():
                pq.write_table(schema.empty_table(), p)
    return found


# ------------------------------------------------------------------ merging reports
_NUM = re.compile(r"^([\d,]+)(\s.*)$", re.S)
_ITEM = r"row (\d+): ('(?:[^'\\]|\\.)*'(?:\.\.\.' \([\d,]+ characters\))?|\"(?:[^\"\\]|\\.)*\"|[^,)]*)"
_EXAMPLES = re.compile(r"\((" + _ITEM + r"(?:, " + _ITEM + r")*)\)")
_ONE = re.compile(_ITEM)


def _remap_rows(note: str, rows: np.ndarray) -> str:
    """``row N`` examples of a bucket's note as lines of the file (``rows``: file row of each
    raw row of the bucket)."""
    def fix(m: re.Match) -> str:
        i = int(m.group(1)) - 2
        return f"row {int(rows[i]) + 2}: {m.group(2)}" if 0 <= i < len(rows) else m.group(0)
    return _ONE.sub(fix, note)


def _merge_notes(lists: Iterable[list[str]]) -> list[str]:
    """Notes of several buckets: identical notes once; notes that differ only by their
    leading count and their ``(row N: value, ...)`` examples are merged (counts summed, the
    first examples by row kept)."""
    out: dict[str, list] = {}
    for notes in lists:
        for note in notes:
            m = _NUM.match(note)
            count, text = (int(m.group(1).replace(",", "")), m.group(2)) if m else (None, note)
            ex = _EXAMPLES.search(text)
            items = [(int(i.group(1)), i.group(0)) for i in _ONE.finditer(ex.group(1))] if ex else []
            key = (count is not None, text[:ex.start()] + "(\0)" + text[ex.end():] if ex else text)
            slot = out.setdefault(key, [0, []])
            slot[0] += count or 0
            slot[1].extend(items)
    merged = []
    for (counted, text), (count, items) in out.items():
        if items:
            shown = ", ".join(x for _, x in sorted(set(items))[:EXAMPLES])
            text = text.replace("(\0)", f"({shown})")
        merged.append(f"{count:,}{text}" if counted else text)
    return merged


def _merge_tables(reports: list[TableReport]) -> TableReport:
    first = reports[0]
    out = TableReport(table=first.table, file=first.file, detected=dict(first.detected))
    for r in reports:
        out.rows_read += r.rows_read
        out.rows_kept += r.rows_kept
        for k, v in r.quarantined.items():
            out.quarantined[k] = out.quarantined.get(k, 0) + v
        out.customers += r.customers
        out.refunds += r.refunds
        out.orders += r.orders
        out.cancellations += r.cancellations
    mins = [r.date_min for r in reports if r.date_min]
    maxs = [r.date_max for r in reports if r.date_max]
    out.date_min = min(mins) if mins else None
    out.date_max = max(maxs) if maxs else None
    out.notes = _merge_notes(r.notes for r in reports)
    return out


# ------------------------------------------------------------- the partitioned dataset
@dataclass
class PartitionedDataset:
    """A validated export stored as buckets of customers (cache layout ``bucketed``).

    Attributes
    ----------
    entry : the entry folder (``tables/<table>/bucket-NNNN.parquet``).
    n_buckets : number of buckets.
    config, report, path, observed_from, observed_until : as for a :class:`Dataset` (the
        report covers the whole export; its quarantine is read on demand).
    base : the :class:`BaseContext` of the whole base.
    tables : names of the tables present.
    """

    entry: Path
    n_buckets: int
    config: DatasetConfig
    report: ValidationReport
    path: Path
    observed_from: pd.Timestamp | None
    observed_until: pd.Timestamp | None
    base: BaseContext
    tables: tuple[str, ...]

    def table_files(self, table: str) -> list[Path]:
        """The bucket files of ``table`` (empty list if the table is absent)."""
        return sorted((self.entry / "tables" / table).glob("bucket-*.parquet")) if table in self.tables else []

    def partition(self, bucket: int) -> Dataset:
        """The :class:`Dataset` of one bucket (every table's rows of its customers)."""
        b = int(bucket)
        if not 0 <= b < self.n_buckets:
            raise ConfigError(f"bucket {b} does not exist; expected 0 to {self.n_buckets - 1}.")
        frames = {t: pq.read_table(self.entry / "tables" / t / f"bucket-{b:04d}.parquet").to_pandas()
                  for t in self.tables}
        return Dataset(**frames, config=self.config, report=self.report, path=self.path,
                       observed_from=self.observed_from, observed_until=self.observed_until, base=self.base)

    def customers(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The whole customers table (small: one row per customer), in bucket order."""
        return pq.read_table(self.entry / "tables" / "customers", columns=columns).to_pandas()


def iter_partitions(source: Dataset | PartitionedDataset, buckets: Iterable[int] | None = None,
                    n_buckets: int | None = None) -> Iterator[Dataset]:
    """The partitions of ``source``, one :class:`Dataset` per bucket, in bucket order.

    Parameters
    ----------
    source : a :class:`PartitionedDataset` (read bucket by bucket from disk) or an in-memory
        :class:`Dataset` (split with :func:`partition`; then ``n_buckets`` is required).
    buckets : the buckets wanted (default all).
    """
    if isinstance(source, PartitionedDataset):
        for b in (range(source.n_buckets) if buckets is None else buckets):
            yield source.partition(b)
        return
    if not n_buckets:
        raise ConfigError("iter_partitions of an in-memory dataset needs n_buckets.")
    base = base_context(source)
    for b in (range(int(n_buckets)) if buckets is None else buckets):
        yield partition(source, b, int(n_buckets), base)


def _entry_name(content: str, n: int) -> str:
    return f"{content}-b{n:04d}"


def _read_meta(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / _ENTRY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(meta, dict) and (meta.get("format"), meta.get("layout"), meta.get("validator"),
                                     meta.get("hash")) == (BUCKETED_FORMAT, BUCKETED_LAYOUT,
                                                           validator_fingerprint(), HASH_NAME)
    return meta if ok else None


def _open(folder: Path, meta: dict, config: DatasetConfig, data_dir: Path) -> PartitionedDataset:
    base_dir = folder / "base"
    fd = base_dir / "usage_feature_days.parquet"
    rv = base_dir / "revenue_by_day.parquet"
    base = BaseContext(
        personal_columns=tuple(meta["personal_columns"]), segment_columns=tuple(meta["segment_columns"]),
        usage_feature_days=pq.read_table(fd).to_pandas() if fd.exists() else None,
        revenue_by_day=pq.read_table(rv).to_pandas() if rv.exists() else None,
        # a table is in the base when one of its bucket files holds a row (Parquet metadata only)
        kept_tables=tuple(t for t in meta["tables"] if any(
            pq.ParquetFile(p).metadata.num_rows for p in sorted((folder / "tables" / t).glob("bucket-*.parquet")))))
    quarantine = {}
    for t in meta["quarantine"]:
        parts = sorted((folder / "quarantine" / t).glob("bucket-*.parquet"))
        frames = [pq.read_table(p).to_pandas() for p in parts]
        frames = [f for f in frames if len(f)] or frames[:1]
        quarantine[t] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    report = ValidationReport(tables={t: TableReport(**r) for t, r in meta["report"]["tables"].items()},
                              notes=list(meta["report"]["notes"]), quarantine=quarantine)
    if config.business_model == "contractual":  # as analysis.load warns (one column of the customers read)
        churn = pq.read_table(folder / "tables" / "customers", columns=["churn_date"]).column(0)
        warn_undeclared_business_model(data_dir, churn.null_count < len(churn))
    return PartitionedDataset(
        entry=folder, n_buckets=int(meta["buckets"]), config=config, report=report, path=data_dir,
        observed_from=pd.Timestamp(meta["observed_from"]) if meta["observed_from"] else None,
        observed_until=pd.Timestamp(meta["observed_until"]) if meta["observed_until"] else None,
        base=base, tables=tuple(meta["tables"]))


def load_partitioned(path: str | Path, n_buckets: int | None = None, rows_per_bucket: int | None = None,
                     *, progress=None, workers: int = 1) -> PartitionedDataset:
    """The export in folder ``path`` validated into buckets of customers (cached).

    The first call for an export's content (and number of buckets) reads the export once
    in batches, splits it by :func:`bucket_of` and validates it bucket by bucket (see the
    module docstring); later calls reuse that copy.

    Parameters
    ----------
    path : the dataset folder (as for :func:`analysis.load`).
    n_buckets : number of buckets; default ``engine.buckets`` of dataset.yml, else
        :func:`choose_buckets` of :func:`estimate_rows` with ``rows_per_bucket`` (default
        ``engine.rows_per_bucket``, else :data:`DEFAULT_ROWS_PER_BUCKET`).
    progress : optional callable receiving one line of text per step.
    workers : processes validating buckets at once (1: this process only; each worker holds
        one bucket, so peak memory grows with it).

    Raises
    ------
    DataError
        As :func:`analysis.load` (a table unusable, no activity table).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder. A dataset is a folder of CSV or Parquet tables.")
    say = progress or (lambda _line: None)
    config = read_config(folder)
    eng = getattr(config, "engine", None)
    if n_buckets is None:
        n_buckets = getattr(eng, "buckets", None) or choose_buckets(
            estimate_rows(folder, config), rows_per_bucket or getattr(eng, "rows_per_bucket", None))
    n = int(n_buckets)
    if n < 1:
        raise ConfigError(f"the number of buckets is {n}; expected 1 or more.")
    content = dataset_hash(folder)
    root = _cache_root(folder)
    final = root / _entry_name(content, n)
    meta = _read_meta(final)
    if meta is not None:
        say(f"validated copy: {final} ({n} buckets, reused)")
        return _open(final, meta, config, folder)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{content[:16]}-{uuid.uuid4().hex}"
    try:
        meta = _write(folder, config, n, tmp, say, workers)
        meta["content_sha256"] = content
        (tmp / _ENTRY).write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        try:
            tmp.rename(final)
        except OSError:
            if _read_meta(final) is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    prune_entries(root, keep_prefix=content, source=str(folder.resolve()))
    return _open(final, _read_meta(final) or meta, config, folder)


def _map(func, tasks: list, workers: int):
    """``func`` over ``tasks`` in order: in this process, or in ``workers`` processes
    (spawned: a fresh interpreter each; results come back in task order)."""
    if workers <= 1 or len(tasks) <= 1:
        yield from map(func, tasks)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(func, tasks)


def _validate_bucket(task: tuple) -> tuple:
    """Validate one bucket's raw rows and write its tables and quarantine (a worker task)."""
    folder, config, found, external, work, out, b = task
    raw, rows = {}, {}
    for t, (fname, detected, is_csv, _) in found.items():
        tab = pq.read_table(work / t / f"bucket-{b:04d}.parquet")
        rows[t] = tab.column("_source_row").to_numpy()
        tab = tab.drop_columns(["_source_row"])
        frame = tab.to_pandas(types_mapper=_ARROW_STRINGS.get) if is_csv else tab.to_pandas()
        raw[t] = (frame, fname, detected)
    ds = _assemble(raw, config, folder, external)
    for t, rep in ds.report.tables.items():
        if t in rows:
            rep.notes = [_remap_rows(x, rows[t]) for x in rep.notes]
    for t, frame in ds.tables.items():
        tcol = TABLES[t].time_column
        keys = ["customer_id"] + ([tcol] if tcol and tcol in frame.columns else [])
        frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                       out / "tables" / t / f"bucket-{b:04d}.parquet")
    for t, q in ds.report.quarantine.items():
        q = q.copy()
        if "source_row" in q.columns and t in rows and len(q):
            local = pd.to_numeric(q["source_row"], errors="coerce")
            ok = local.notna().to_numpy()
            fixed = np.full(len(q), np.nan)
            fixed[ok] = rows[t][local[ok].astype(np.int64).to_numpy() - 2] + 2
            q["source_row"] = pd.array(fixed, dtype="Int64")
        q = q.reset_index(drop=True)
        try:
            table = pa.Table.from_pandas(q, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            table = pa.Table.from_pandas(q.astype("string"), preserve_index=False)
        pq.write_table(table, out / "quarantine" / t / f"bucket-{b:04d}.parquet")
    fd, rv = _base_parts(ds)
    ds.report.quarantine = {}
    return ds.report, fd, rv, ds.observed_from, ds.observed_until


def _write(folder: Path, config: DatasetConfig, n: int, out: Path, say, workers: int = 1) -> dict:
    """Split, validate per bucket and write the bucketed copy into ``out``; return entry.json."""
    work = out / "raw"
    work.mkdir(parents=True)
    found = _split(folder, config, n, work)
    say(f"split        {', '.join(f'{t} {v[3]:,} rows' for t, v in found.items())} into {n} bucket(s)")
    if not any(t in found for t in ACTIVITY_TABLES):
        _assemble({}, config, folder)  # raises the "no activity table" error
    external = frozenset(t for t, v in found.items()
                         if not Path(v[0]).resolve().is_relative_to(folder.resolve()))
    for t in found:
        (out / "tables" / t).mkdir(parents=True)
        (out / "quarantine" / t).mkdir(parents=True)
    (out / "tables" / "customers").mkdir(parents=True, exist_ok=True)
    (out / "quarantine" / "customers").mkdir(parents=True, exist_ok=True)
    reports: list[ValidationReport] = []
    fds, rvs = [], []
    lo = hi = None
    tasks = [(folder, config, found, external, work, out, b) for b in range(n)]
    for b, (report, fd, rv, first, last) in enumerate(_map(_validate_bucket, tasks, workers)):
        fds.append(fd)
        rvs.append(rv)
        if first is not None:
            lo = first if lo is None else min(lo, first)
            hi = last if hi is None else max(hi, last)
        reports.append(report)
        say(f"validated    bucket {b + 1}/{n}")
    shutil.rmtree(work, ignore_errors=True)
    tables = sorted(reports[0].tables)
    merged = {t: _merge_tables([r.tables[t] for r in reports if t in r.tables]) for t in tables}
    notes = _merge_notes(r.notes for r in reports)
    if config.observed_until is None and hi is not None:  # the export's last event over all buckets
        notes = [x for x in notes if not x.startswith("observed_until not set")]
        notes.append(f"observed_until not set: the export is taken to end on {hi.date()}, its last event.")
    cust = pq.read_table(out / "tables" / "customers").to_pandas()
    whole = Dataset(customers=cust, config=config)
    personal = whole.personal_columns()
    segments = whole.segment_columns()
    if "customers" in merged:
        attrs = cust.drop(columns=["customer_id", "signup_date", "churn_date"], errors="ignore")
        found_p = detect_personal_columns(attrs, config.personal_columns)
        undeclared = [c for c, why in found_p.items() if why != "declared"]
        merged["customers"].notes = [x for x in merged["customers"].notes if "recognised by name or content" not in x]
        if undeclared:
            merged["customers"].notes.append(
                f"personal column(s) {', '.join(undeclared)} recognised by name or content (not declared in "
                "personal_columns): never segments, masked in client copies.")
    del cust, whole
    base = _combine_base(fds, rvs, personal, segments)
    (out / "base").mkdir()
    if base.usage_feature_days is not None:
        pq.write_table(pa.Table.from_pandas(base.usage_feature_days, preserve_index=False),
                       out / "base" / "usage_feature_days.parquet")
    if base.revenue_by_day is not None:
        pq.write_table(pa.Table.from_pandas(base.revenue_by_day, preserve_index=False),
                       out / "base" / "revenue_by_day.parquet")
    present = [t for t in TABLES if t in merged or t == "customers"]
    return {
        "format": BUCKETED_FORMAT, "layout": BUCKETED_LAYOUT, "buckets": n, "hash": HASH_NAME,
        "validator": validator_fingerprint(), "source": str(folder.resolve()),
        "tables": [t for t in present if (out / "tables" / t).is_dir() and any((out / "tables" / t).iterdir())],
        "quarantine": [t for t in present if (out / "quarantine" / t).is_dir()
                       and any((out / "quarantine" / t).iterdir())],
        "observed_from": None if lo is None else lo.isoformat(),
        "observed_until": None if hi is None else hi.isoformat(),
        "personal_columns": list(personal), "segment_columns": list(segments),
        "report": {"tables": {t: dataclasses.asdict(r) for t, r in merged.items()}, "notes": notes},
    }

