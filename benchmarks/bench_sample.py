"""Benchmark of the sample generator: wall time and peak memory of ``write_sample``.

Usage::

    .venv/bin/python benchmarks/bench_sample.py                      # 3,000 x 24 months, csv; 1,000,000 x 12 months, parquet
    .venv/bin/python benchmarks/bench_sample.py --customers 200000 --months 12 --format parquet

Prints one line per run: customers, months, format, seconds, peak resident memory (MB, from
``resource.getrusage``; the peak of the whole process so far), rows written per table and
size on disk. Output goes to a temporary folder that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from analysis.data.sample import write_sample


def _rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        return sum(1 for _ in fh) - 1


def run(customers: int, months: int, fmt: str, seed: int = 42) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        paths = write_sample(tmp, customers, seed=seed, months=months, fmt=fmt)
        elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tables = {t: p for t, p in paths.items() if t != "dataset.yml"}
        rows = ", ".join(f"{t} {_rows(p):,}" for t, p in tables.items())
        size = sum(p.stat().st_size for p in paths.values()) / 1e6
        print(f"customers={customers:,} months={months} format={fmt}: {elapsed:.1f} s, "
              f"peak RSS {peak_mb:,.0f} MB, {size:,.1f} MB on disk; rows: {rows}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--format", default="parquet", choices=("csv", "parquet"))
    args = parser.parse_args(argv)
    if args.customers is not None:
        run(args.customers, args.months, args.format)
        return 0
    run(3_000, 24, "csv")
    run(1_000_000, 12, "parquet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
