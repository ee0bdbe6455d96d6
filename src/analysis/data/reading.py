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
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from analysis.data.config import CsvOptions, TableConfig
from analysis.errors import DataError

__all__ = ["RawTable", "find_table_file", "read_raw"]

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
SNIFF_BYTES = 256 * 1024
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


def find_table_file(folder: Path, table: str, tconf: TableConfig) -> Path | None:
    """The file of ``table`` in ``folder``: the configured one, else ``<table>.<ext>``."""
    if tconf.file:
        path = (folder / tconf.file).resolve()
        if not path.exists():
            raise DataError(
                f"dataset.yml names '{tconf.file}' for table '{table}', but {path} does not exist."
            )
        return path
    for suffix in PARQUET_SUFFIXES + CSV_SUFFIXES:
        path = folder / f"{table}{suffix}"
        if path.exists():
            return path
    return None


def _head_bytes(path: Path) -> bytes:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        return fh.read(SNIFF_BYTES)


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
        counts = [len(next(csv.reader([ln], delimiter=sep))) - 1 for ln in lines]
        if counts[0] > 0 and all(c == counts[0] for c in counts):
            if counts[0] > best_score:
                best, best_score = sep, counts[0]
    if best is not None:
        return best
    ws = [len(ln.split()) for ln in lines]
    if ws[0] > 1 and all(c == ws[0] for c in ws):
        return "whitespace"
    return ","


def read_raw(path: Path, table: str, opts: CsvOptions) -> RawTable:
    """Read ``path`` as text columns (CSV) or native columns (Parquet).

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
            raise DataError(f"{path}: cannot be read as Parquet for table '{table}' ({exc}).") from exc
        if frame.empty:
            raise DataError(f"{path}: the file has no rows (table '{table}').")
        return RawTable(frame.reset_index(drop=True), path, {"format": "parquet"})

    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (table '{table}'); expected a header and rows.")
    sample = _head_bytes(path)
    encoding = detect_encoding(sample) if opts.encoding == "auto" else opts.encoding
    text = sample.decode(encoding, errors="replace")
    sep = detect_separator(text) if opts.sep == "auto" else opts.sep
    if sep in ("\\t", "tab"):
        sep = "\t"
    detected = {"format": "csv", "encoding": encoding, "sep": sep}
    frame = _read_csv_text(path, sep, encoding, table)
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    if frame.empty:
        raise DataError(
            f"{path}: the file has a header ({', '.join(frame.columns)}) but no data row (table '{table}')."
        )
    return RawTable(frame, path, detected)


def _read_csv_text(path: Path, sep: str, encoding: str, table: str) -> pd.DataFrame:
    enc = encoding.lower().replace("_", "-")
    if sep != "whitespace" and enc in ("utf-8", "utf8", "utf-8-sig", "latin-1", "latin1", "iso-8859-1"):
        duck_enc = "utf-8" if enc.startswith("utf") else "latin-1"
        try:
            con = duckdb.connect()
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
    try:
        if sep == "whitespace":
            frame = pd.read_csv(path, sep=r"\s+", dtype="string[pyarrow]", encoding=encoding,
                                keep_default_na=False, na_values=[""])
        else:
            frame = pd.read_csv(path, sep=sep, dtype="string[pyarrow]", encoding=encoding,
                                keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file is empty (table '{table}'); expected a header and rows.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: cannot be read as CSV with separator {sep!r} and encoding {encoding} "
            f"(table '{table}'): {exc}. Set tables.{table}.csv in dataset.yml."
        ) from exc
    return frame

