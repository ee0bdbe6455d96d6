"""Benchmark: ``churn-radar score`` end to end on 100,000 customers and 5 million events.

Synthesises a contractual base with numpy (orders, email events, product usage; 24 months
ending 2026-10-31), writes it as Parquet to a temporary folder, then times loading,
backtest and scoring through the CLI entry point in this process. Prints the time of each
step and the peak memory. A script, not a test (target: under 3 minutes on 2 cores).

    .venv/bin/python benchmarks/bench_score.py [--customers 100000] [--events 5000000] [--seed 0]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

END = pd.Timestamp("2026-10-31")
START = END - pd.DateOffset(months=24)


def synthesise(folder: Path, n_customers: int, n_events: int, seed: int) -> dict[str, int]:
    """Write customers, orders, email_events and usage Parquet files; return row counts."""
    rng = np.random.default_rng(seed)
    span = (END - START).days
    ids = np.char.add("C", np.char.zfill(np.arange(n_customers).astype(str), 7))
    signup = START + pd.to_timedelta(rng.integers(0, span - 60, n_customers), unit="D")
    life = rng.exponential(540, n_customers).astype(int) + 30
    churn = signup + pd.to_timedelta(life, unit="D")
    churn = churn.where(churn < END)
    end = churn.fillna(END)
    pd.DataFrame({
        "customer_id": ids, "signup_date": signup, "churn_date": churn,
        "size": rng.choice(["TPE", "PME", "ETI", "GE"], n_customers),
        "sector": rng.choice(["Commerce", "Industrie", "Services", "Santé"], n_customers),
    }).to_parquet(folder / "customers.parquet", index=False)
    activity = rng.gamma(2.0, 1.0, n_customers)
    weight = activity * (end - signup).days.to_numpy()

    def draw(n: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
        cust = rng.choice(n_customers, size=n, p=weight / weight.sum())
        length = (end[cust] - signup[cust]).days.to_numpy()
        # activity thins out before a churn: events pile up early in the life
        frac = rng.random(n) ** np.where(np.asarray(churn.notna())[cust], 0.8, 1.0)
        return cust, signup[cust] + pd.to_timedelta((frac * length).astype(int), unit="D")

    n_orders, n_email = n_events // 5, n_events // 2
    n_usage = n_events - n_orders - n_email
    c, d = draw(n_orders)
    pd.DataFrame({"customer_id": ids[c], "order_date": d, "order_id": np.arange(n_orders).astype(str),
                  "amount": rng.gamma(2.0, 150.0, n_orders).round(2)}).to_parquet(folder / "orders.parquet", index=False)
    c, d = draw(n_email)
    pd.DataFrame({"customer_id": ids[c], "campaign_id": (d.year * 100 + d.month).astype(str),
                  "event_time": d + pd.to_timedelta(rng.integers(0, 86400, n_email), unit="s"),
                  "event": rng.choice(["delivered", "open", "click"], n_email, p=[0.6, 0.3, 0.1])},
                 ).to_parquet(folder / "email_events.parquet", index=False)
    c, d = draw(n_usage)
    pd.DataFrame({"customer_id": ids[c], "event_date": d,
                  "feature": rng.choice(["reports", "export", "api", "alerts", "dashboards"], n_usage),
                  "sessions": 1.0}).to_parquet(folder / "usage.parquet", index=False)
    (folder / "dataset.yml").write_text(
        "business_model: contractual\nobserved_until: 2026-10-31\n"
        "tables:\n  email_events: {duplicates: keep}\n  usage: {duplicates: keep}\n", encoding="utf-8")
    return {"customers": n_customers, "orders": n_orders, "email_events": n_email, "usage": n_usage}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--horizon", type=int, default=90)
    args = ap.parse_args()
    from analysis.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "base"
        folder.mkdir()
        t0 = time.perf_counter()
        counts = synthesise(folder, args.customers, args.events, args.seed)
        t1 = time.perf_counter()
        print(f"synthesised  {counts} in {t1 - t0:.1f} s")
        out = Path(tmp) / "scores.csv"
        code = cli(["score", str(folder), "--as-of", "2026-10-31", "--horizon", str(args.horizon),
                    "--out", str(out), "--capacity", "500", "--lang", "en"])
        t2 = time.perf_counter()
        rows = sum(1 for _ in out.open()) - 1 if out.exists() else 0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"score        exit code {code}, {rows:,} customers scored")
        print(f"time         {t2 - t1:.1f} s for `churn-radar score` end to end (load, backtest, scoring)")
        print(f"peak memory  {peak:,.0f} MB (max resident set size of this process)")


if __name__ == "__main__":
    main()
