"""Benchmark: load and validate a large email-event export (prints time and peak memory).

    .venv/bin/python benchmarks/bench_load.py [--rows 5000000] [--customers 100000]

Writes a synthetic ``email_events.csv`` (and ``orders.csv``) into a temporary folder,
then times :func:`analysis.load` on it. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import analysis
from analysis.data.schema import EMAIL_EVENTS


def synthesise(folder: Path, rows: int, customers: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-11-01T00:00:00")
    seconds = rng.integers(0, 730 * 86400, size=rows).astype("timedelta64[s]")
    pd.DataFrame({
        "customer_id": pd.Series(rng.integers(0, customers, size=rows)).map("C{:07d}".format),
        "campaign_id": pd.Series(rng.integers(0, 48, size=rows)).map("K{:03d}".format),
        "event_time": (start + seconds).astype("datetime64[s]").astype(str),
        "event": np.asarray(EMAIL_EVENTS)[rng.integers(0, len(EMAIL_EVENTS), size=rows)],
    }).to_csv(folder / "email_events.csv", index=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        synthesise(folder, args.rows, args.customers)
        t1 = time.perf_counter()
        size = (folder / "email_events.csv").stat().st_size / 1e6
        ds = analysis.load(folder)
        t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"synthesised {args.rows:,} email events ({size:,.0f} MB CSV) in {t1 - t0:.1f} s")
    print(f"analysis.load: {t2 - t1:.1f} s for {len(ds.email_events):,} rows kept, "
          f"{ds.report.rows_quarantined:,} quarantined; peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
