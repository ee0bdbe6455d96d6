"""Reading raw export files (CSV, CSV.gz, Parquet) with detection of their dialect.

Everything is read as text first (CSV) so that nothing is lost to type guessing:
``00042`` stays ``00042`` and ``17850.0`` can be recognised as an id read as a float.
Typing and checking happen in :mod:`analysis.data.validation`.

Large UTF-8 / Latin-1 files with a one-character separator are read by DuckDB's
multi-threaded CSV reader; other dialects (whitespace-aligned columns, cp1252) by pandas.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from analysis.data.config import CsvOptions, EngineConfig, TableConfig
from analysis.data.duckdb_settings import connect
from analysis.errors import DataError

__all__ = ["RawTable", "clip", "find_table_file", "read_raw"]

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
SNIFF_BYTES = 256 * 1024
#: A header line longer than SNIFF_BYTES, or with more columns than this, is not an export.
MAX_COLUMNS = 2000
#: Characters of a value echoed in a message (longer values are cut).
ECHO_CHARS = 80
_ARROW_STRINGS = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}


@dataclass
class RawTable:
    """A table as read from disk, before validation.

    Attributes
    ----------
    frame : all columns as read (strings for CSV, native types for Parquet).
    path : the file it came from.
    detected : the dialect used (sep, decimal, encoding), for the validation report.
    """

    frame: pd.DataFrame
    path: Path
    detected: dict[str, str]


def find_table_file(folder: Path, table: str, tconf: TableConfig, *,
                    allow_external: bool = False) -> Path | None:
    """The file of ``table`` in ``folder``: the configured one, else ``<table>.<ext>``.

    Raises
    ------
    DataError
        If the file named is missing, a folder, a dangling symbolic link, or (unless
        ``allow_external``, the ``allow_external_files`` flag of dataset.yml) lies outside
        the dataset folder once links are followed.
    """
    if tconf.file:
        where = f"dataset.yml names '{clip(tconf.file)}' for table '{table}', but"
        path = folder / tconf.file
        if path.is_symlink() and not path.exists():
            raise DataError(f"{where} {path} is a symbolic link to a file that does not exist.")
        if not path.exists():
            raise DataError(f"{where} {path.resolve()} does not exist.")
        return _checked(path.resolve(), folder, table, allow_external, where)
    for suffix in PARQUET_SUFFIXES + CSV_SUFFIXES:
        path = folder / f"{table}{suffix}"
        if path.is_symlink() and not path.exists():
            raise DataError(f"{path}: a symbolic link to a file that does not exist (table '{table}').")
        if path.exists():
            return _checked(path, folder, table, allow_external, f"{path}:")
    return None


def _checked(path: Path, folder: Path, table: str, allow_external: bool, where: str) -> Path:
    if path.is_dir():
        raise DataError(f"{where} it is a folder, not a file (table '{table}'); expected a CSV or Parquet file.")
    if not path.is_file():
        raise DataError(f"{where} it is not a regular file (table '{table}'); expected a CSV or Parquet file.")
    if not allow_external and not path.resolve().is_relative_to(folder.resolve()):
        raise DataError(
            f"{where} {path.resolve()} is outside the dataset folder {folder.resolve()} (table '{table}'). "
            "Copy the file into the folder, or set allow_external_files: true in dataset.yml."
        )
    return path


def clip(value: object, limit: int = ECHO_CHARS) -> str:
    """``value`` as text cut to ``limit`` characters (with the full length), for messages."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _check_header(path: Path, table: str, sample: bytes) -> None:
    """Fail fast, reading at most :data:`SNIFF_BYTES`, on a header no export has."""
    end = sample.find(b"\n")
    if end < 0 and len(sample) >= SNIFF_BYTES:
        raise DataError(
            f"{path}: the first line is longer than {SNIFF_BYTES // 1024} KB (table '{table}'); "
            "expected a header line naming the columns. Is this a CSV export?"
        )
    header = sample if end < 0 else sample[:end]
    counts = max(header.count(c) for c in (b",", b";", b"\t", b"|"))
    if counts >= MAX_COLUMNS:
        raise DataError(
            f"{path}: the header line has more than {MAX_COLUMNS:,} columns (table '{table}'); "
            "expected a header naming the columns of the table."
        )


def _head_bytes(path: Path) -> bytes:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(SNIFF_BYTES)
    except (EOFError, OSError, zlib.error) as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: BaseException) -> DataError:
    if path.name.lower().endswith(".gz"):
        return DataError(f"{path}: the gzip file is truncated or damaged ({clip(exc)}); "
                         "export or copy it again.")
    return DataError(f"{path}: cannot be read ({type(exc).__name__}: {clip(exc)}).")


def detect_encoding(sample: bytes) -> str:
    """``utf-8`` if the sample decodes as UTF-8, else ``cp1252`` or ``latin-1``."""
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if exc.start >= len(sample) - 3:
            return "utf-8"
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def detect_separator(text: str) -> str:
    """The separator used consistently on the first lines: ``; , \\t |`` or ``whitespace``."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the last sampled line may be cut
    if not lines:
        return ","
    best, best_score = None, 0
    for sep in (";", ",", "\t", "|"):
        try:
            counts = [len(next(csv.reader([ln], delimiter=sep))) - 1 for ln in lines]
        except csv.Error:  # a field longer than the csv module's limit: not this separator's table
            continue
        if counts[0] > 0 and all(c == counts[0] for c in counts):
            if counts[0] > best_score:
                best, best_score = sep, counts[0]
    if best is not None:
        return best
    ws = [len(ln.split()) for ln in lines]
    if ws[0] > 1 and all(c == ws[0] for c in ws):
        return "whitespace"
    return ","


def read_raw(path: Path, table: str, opts: CsvOptions, *, engine: EngineConfig | None = None) -> RawTable:
    """Read ``path`` as text columns (CSV) or native columns (Parquet).

    ``engine`` (the dataset's ``config.engine``) sets the memory limit and threads of the
    DuckDB connection reading a CSV file (None: the defaults, see
    :mod:`analysis.data.duckdb_settings`).

    Raises
    ------
    DataError
        If the file is empty, has no data row or cannot be parsed at all.
    """
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types
            raise DataError(f"{path}: cannot be read as Parquet for table '{table}' ({clip(exc, 200)}).") from exc
        if frame.empty:
            raise DataError(f"{path}: the file has no rows (table '{table}').")
        return RawTable(frame.reset_index(drop=True), path, {"format": "parquet"})

    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (table '{table}'); expected a header and rows.")
    sample = _head_bytes(path)
    _check_header(path, table, sample)
    encoding = detect_encoding(sample) if opts.encoding == "auto" else opts.encoding
    text = sample.decode(encoding, errors="replace")
    sep = detect_separator(text) if opts.sep == "auto" else opts.sep
    if sep in ("\\t", "tab"):
        sep = "\t"
    detected = {"format": "csv", "encoding": encoding, "sep": sep}
    frame = _read_csv_text(path, sep, encoding, table, engine)
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    if frame.empty:
        raise DataError(
            f"{path}: the file has a header ({', '.join(frame.columns)}) but no data row (table '{table}')."
        )
    return RawTable(frame, path, detected)


def _read_csv_text(path: Path, sep: str, encoding: str, table: str,
                   engine: EngineConfig | None = None) -> pd.DataFrame:
    enc = encoding.lower().replace("_", "-")
    if sep != "whitespace" and enc in ("utf-8", "utf8", "utf-8-sig", "latin-1", "latin1", "iso-8859-1"):
        duck_enc = "utf-8" if enc.startswith("utf") else "latin-1"
        try:
            con = connect(engine)
            rel = con.read_csv(
                str(path), delimiter=sep, header=True, all_varchar=True, encoding=duck_enc,
                quotechar='"', escapechar='"', null_padding=True,
            )
            table = rel.to_arrow_table()
            con.close()
            # Arrow-backed strings: the vectorised string checks of validation run in C++
            return table.to_pandas(types_mapper=_ARROW_STRINGS.get)
        except duckdb.Error:
            pass  # fall back to pandas, whose error messages we translate below
        except (EOFError, OSError, zlib.error) as exc:
            raise _unreadable(path, exc) from None
    try:
        if sep == "whitespace":
            frame = pd.read_csv(path, sep=r"\s+", dtype="string[pyarrow]", encoding=encoding,
                                keep_default_na=False, na_values=[""])
        else:
            frame = pd.read_csv(path, sep=sep, dtype="string[pyarrow]", encoding=encoding,
                                keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file is empty (table '{table}'); expected a header and rows.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(
            f"{path}: cannot be read as CSV with separator {sep!r} and encoding {encoding} "
            f"(table '{table}'): {clip(exc, 200)}. Set tables.{table}.csv in dataset.yml."
        ) from exc
    except (EOFError, OSError, zlib.error) as exc:
        raise _unreadable(path, exc) from None
    return frame

