"""The validated copy of an export: validated once, then read back by every notebook.

A monthly report reads the same export in the runner and in every notebook. Validation
(reading every CSV as text, typing, quarantining) is the slow part, so the first
:func:`analysis.load` of an export writes what it produced into a cache entry, and every
later load of the same export reads that entry instead of validating again:

.. code-block:: text

    <data_dir>/.churn-radar-cache/<content hash>/
        entry.json                  format, layout, validator fingerprint, dates, validation report
        tables/<table>.parquet      the rows kept, with their validated types
        quarantine/<table>.parquet  the rows set aside, with their reason and source line

``<content hash>`` is :func:`dataset_hash`: the SHA-256 of every file of the folder and of
every file ``dataset.yml`` names outside it (``dataset.yml`` included, by what it says: its
comments and its DuckDB settings ``engine.memory_limit`` and ``engine.threads`` do not count).
Changing, adding or removing a file gives another hash, hence another entry; the entries of
older contents of the same folder are then removed. An entry is also rebuilt when the code that validates
changes (its *validator fingerprint*: the sources of :mod:`analysis.data` and the pandas
and pyarrow versions), so a cache never serves rows validated by other rules.

Where the cache lives (decision): beside the data, in the hidden folder
``<data_dir>/.churn-radar-cache/`` (ignored by git and by :func:`dataset_hash`). The
validated copy holds the same customers, with the same personal columns, as the export: it
stays where the export is, is deleted with it and inherits its access rights, instead of
spreading a second copy into a project or home folder. ``CHURN_RADAR_CACHE_DIR`` moves every
entry to another folder (tests use it to start cold); if the data folder cannot be written
(a read-only share), the per-user cache ``$XDG_CACHE_HOME/churn-radar`` (default
``~/.cache/churn-radar``) is used.

Layout ``single`` (format 1) holds one Parquet file per table. The partitioned engine of
issue 16 adds the ``bucketed`` layout (format 2, folder ``<content hash>-b<NNNN>``:
``tables/<table>/bucket-NNNN.parquet``, rows bucketed by a hash of ``customer_id`` and sorted
by customer and time), written and read by :mod:`analysis.data.partitions`; each reader
treats the other layout as a miss, and both copies of the current content are kept.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from analysis.data.config import CONFIG_FILE
from analysis.data.validation import TableReport, ValidationReport

__all__ = [
    "CACHE_DIRNAME", "CACHE_ENV", "FORMAT", "CachedValidation", "dataset_files", "dataset_hash",
    "validator_fingerprint", "cache_root", "entry_dir", "read_entry", "write_entry", "prune_entries",
    "MACHINE_SETTINGS",
]

#: Hidden folder, inside the dataset folder, holding its validated copies.
CACHE_DIRNAME = ".churn-radar-cache"
#: Environment variable naming another folder for every cache entry.
CACHE_ENV = "CHURN_RADAR_CACHE_DIR"
#: Version of the entry layout; an entry of another format is a miss.
FORMAT = 1
LAYOUT = "single"
_ENTRY = "entry.json"


# ------------------------------------------------------------------------------- hashing
def dataset_files(data_dir: str | Path) -> list[tuple[str, Path]]:
    """(key, file) pairs of a dataset: the folder's files and the files dataset.yml names.

    Hidden files and folders (the cache among them) are left out. Keys are the paths
    relative to the folder, or ``<tables>/<name as written>`` for a file outside it.
    """
    folder = Path(data_dir)
    files: list[tuple[str, Path]] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            p = Path(root) / name
            if not name.startswith(".") and p.is_file():  # a dangling link or a fifo: validation names it
                files.append((p.relative_to(folder).as_posix(), p))
    cfg_path = folder / CONFIG_FILE
    if cfg_path.exists():
        raw = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
        tables = raw.get("tables") if isinstance(raw, dict) else None
        for tconf in tables.values() if isinstance(tables, dict) else ():
            name = (tconf or {}).get("file") if isinstance(tconf, dict) else None
            if name:
                p = (folder / str(name)).resolve()
                allowed = raw.get("allow_external_files") is True  # else validation refuses it unread
                if allowed and p.is_file() and not p.is_relative_to(folder.resolve()):
                    files.append((f"<tables>/{name}", p))
    return sorted(files, key=lambda kv: kv[0])


#: Keys of dataset.yml's ``engine:`` block that change how fast DuckDB works, never a validated
#: row: left out of :func:`dataset_hash`, so changing them reuses the validated copy.
MACHINE_SETTINGS = ("memory_limit", "threads")


def _config_content(path: Path) -> bytes | None:
    """What ``dataset.yml`` says, without :data:`MACHINE_SETTINGS`: its parsed mapping written
    back as YAML (comments and layout do not count either); ``b""`` when it says nothing else
    (as an empty file or no file: the defaults), None when it is not a YAML mapping (its bytes
    are hashed then; loading it names the problem)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        return None
    engine = raw.get("engine")
    if isinstance(engine, dict):
        rest = {k: v for k, v in engine.items() if k not in MACHINE_SETTINGS}
        raw = {k: v for k, v in raw.items() if k != "engine"} | ({"engine": rest} if rest else {})
    if not raw:
        return b""
    try:
        return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True).encode("utf-8")
    except yaml.YAMLError:
        return None


def dataset_hash(data_dir: str | Path) -> str:
    """SHA-256 of a dataset's content: every file of the folder (hidden ones excepted) and
    every file ``dataset.yml`` names outside it, by sorted relative path, name and bytes.

    The same files give the same hash wherever the folder lives. ``dataset.yml`` itself counts
    by what it says, without ``engine.memory_limit`` and ``engine.threads``
    (:data:`MACHINE_SETTINGS`): setting DuckDB's memory or threads does not validate again.
    """
    h = hashlib.sha256()
    for key, path in dataset_files(data_dir):
        content = _config_content(path) if key == CONFIG_FILE else None
        if content == b"":
            continue  # says nothing but machine settings: the defaults, as without the file
        h.update(key.encode("utf-8") + b"\0")
        if content is not None:
            h.update(content)
        else:
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def validator_fingerprint() -> str:
    """SHA-256 of what decides the validated rows: the sources of :mod:`analysis.data`
    (the sample generator excepted), the entry format and the pandas and pyarrow versions."""
    h = hashlib.sha256(f"format={FORMAT};pandas={pd.__version__};pyarrow={pa.__version__}".encode())
    for src in sorted(Path(__file__).parent.glob("*.py")):
        if src.name != "sample.py":
            h.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    return h.hexdigest()


# ------------------------------------------------------------------------------- folders
def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def cache_root(data_dir: str | Path) -> Path:
    """The folder holding the cache entries of ``data_dir`` (see the module docstring)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    folder = Path(data_dir)
    if _writable(folder):
        return folder / CACHE_DIRNAME
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "churn-radar"


def entry_dir(data_dir: str | Path, content_hash: str) -> Path:
    """The entry folder of the dataset content ``content_hash`` for ``data_dir``."""
    return cache_root(data_dir) / content_hash


# --------------------------------------------------------------------------- the entries
@dataclasses.dataclass
class CachedValidation:
    """What an entry holds: the validated tables, the validation report and the dates."""

    tables: dict[str, pd.DataFrame]
    report: ValidationReport
    observed_from: pd.Timestamp | None
    observed_until: pd.Timestamp | None


def _to_parquet(frame: pd.DataFrame, path: Path, *, as_text_if_mixed: bool = False) -> None:
    """Write ``frame`` as Parquet. A column mixing types cannot be stored as it is: with
    ``as_text_if_mixed`` (quarantined rows, only ever written out as CSV text) such columns
    are stored as text, otherwise the error propagates and nothing is cached."""
    try:
        table = pa.Table.from_pandas(frame)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if not as_text_if_mixed:
            raise
        cols = {c: frame[c].astype("string") for c in frame.columns if frame[c].dtype == object}
        table = pa.Table.from_pandas(frame.assign(**cols))
    pq.write_table(table, path)


def _ts(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def write_entry(data_dir: str | Path, content_hash: str, result: CachedValidation) -> Path | None:
    """Write the validated copy of ``data_dir`` (content ``content_hash``); return its folder.

    The entry is written into a temporary folder and renamed into place, so a reader never
    sees half an entry and two processes validating the same export at once both succeed
    (the second one's copy is dropped). Entries of older contents of the same folder are
    removed. Returns None, leaving no trace, if the cache folder cannot be written or a kept
    table holds a column Parquet cannot store as it is (the export is then validated at
    every load, as without a cache).
    """
    final = entry_dir(data_dir, content_hash)
    root = final.parent
    tmp = root / f".tmp-{content_hash[:16]}-{uuid.uuid4().hex}"
    try:
        (tmp / "tables").mkdir(parents=True)
        (tmp / "quarantine").mkdir()
        for name, frame in result.tables.items():
            _to_parquet(frame, tmp / "tables" / f"{name}.parquet")
        for name, frame in result.report.quarantine.items():
            _to_parquet(frame, tmp / "quarantine" / f"{name}.parquet", as_text_if_mixed=True)
        entry = {
            "format": FORMAT,
            "layout": LAYOUT,
            "buckets": 1,
            "content_sha256": content_hash,
            "validator": validator_fingerprint(),
            "source": str(Path(data_dir).resolve()),
            "tables": sorted(result.tables),
            "quarantine": sorted(result.report.quarantine),
            "observed_from": _ts(result.observed_from),
            "observed_until": _ts(result.observed_until),
            "report": {
                "tables": {t: dataclasses.asdict(r) for t, r in result.report.tables.items()},
                "notes": list(result.report.notes),
            },
        }
        (tmp / _ENTRY).write_text(json.dumps(entry, indent=1, ensure_ascii=False), encoding="utf-8")
        if final.exists():
            if _valid(final):  # another process wrote the same content meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            shutil.rmtree(final, ignore_errors=True)  # an entry of other code or format: replaced
        try:
            tmp.rename(final)
        except OSError:
            if not (final / _ENTRY).exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process wrote it first: same content
    except (OSError, pa.ArrowException):  # not writable, or a table Parquet cannot hold as it is
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    _prune(root, keep=content_hash, source=entry["source"])
    return final


def _prune(root: Path, keep: str, source: str) -> None:
    """Remove the entries of ``root`` written for the same folder with older contents."""
    prune_entries(root, keep, source)


def prune_entries(root: Path, keep_prefix: str, source: str) -> None:
    """Remove the entries of ``root`` written for the folder ``source`` whose name does not
    start with ``keep_prefix`` (the current content hash: its single and bucketed copies stay)."""
    for other in root.iterdir():
        if other.name.startswith(keep_prefix) or other.name.startswith(".") or not other.is_dir():
            continue
        meta = _meta(other)
        if meta is not None and meta.get("source") == source:
            shutil.rmtree(other, ignore_errors=True)


def _meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / _ENTRY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _valid(folder: Path) -> bool:
    """True if ``folder`` holds a complete entry this code can read."""
    meta = _meta(folder)
    return meta is not None and (meta.get("format"), meta.get("layout"), meta.get("validator")) == (
        FORMAT, LAYOUT, validator_fingerprint())


def read_entry(data_dir: str | Path, content_hash: str) -> CachedValidation | None:
    """The validated copy of ``data_dir`` with content ``content_hash``, or None when there
    is no usable entry (none yet, another format or layout, other validation code, unreadable).

    ``TableReport.file`` is left as stored; the caller sets it for the folder as given.
    """
    folder = entry_dir(data_dir, content_hash)
    if not _valid(folder):
        return None
    meta = _meta(folder)
    try:
        tables = {t: pq.read_table(folder / "tables" / f"{t}.parquet").to_pandas() for t in meta["tables"]}
        quarantine = {t: pq.read_table(folder / "quarantine" / f"{t}.parquet").to_pandas()
                      for t in meta["quarantine"]}
        report = ValidationReport(
            tables={t: TableReport(**r) for t, r in meta["report"]["tables"].items()},
            notes=list(meta["report"]["notes"]),
            quarantine=quarantine,
        )
    except (OSError, KeyError, TypeError, pa.ArrowException):
        return None
    return CachedValidation(
        tables=tables, report=report,
        observed_from=pd.Timestamp(meta["observed_from"]) if meta["observed_from"] else None,
        observed_until=pd.Timestamp(meta["observed_until"]) if meta["observed_until"] else None,
    )
