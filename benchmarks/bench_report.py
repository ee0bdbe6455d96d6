"""Benchmark: the whole monthly report (``churn-radar report``) on a synthetic base at scale.

Synthesises a contractual base with numpy, straight to Parquet (customers with two segment
attributes; about ``--events-per-customer`` events per customer split into orders (20 %),
email events (50 %: monthly campaigns with ``sent``, ``delivered``, ``open``, ``click``
events) and product usage (30 %); 24 months ending 2026-10-31), validates it once (the
cache entry every notebook reads), then runs each report notebook with papermill (its own
kernel, as the report runner does) under ``/usr/bin/time -v`` and prints its wall time and
the peak resident memory of its largest process (the kernel), then the total; with
``--with-runner`` also ``churn-radar report`` itself (runner and kernels). Steps still running after ``--timeout`` seconds are stopped and printed as such.
A script, not a test.

    .venv/bin/python benchmarks/bench_report.py [--customers 100000] [--events-per-customer 50]
        [--only 01,02,03] [--timeout 240] [--keep DIR] [--with-runner]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

END = pd.Timestamp("2026-10-31")
START = END - pd.DateOffset(months=24)
NOTEBOOKS = ("01", "02", "03", "04", "05")


def synthesise(folder: Path, n_customers: int, per_customer: int, seed: int = 0) -> dict[str, int]:
    """Write customers, orders, email_events and usage as Parquet into ``folder``; return row counts."""
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
    length = np.maximum((end - signup).days.to_numpy(), 1)
    activity = rng.gamma(2.0, 1.0, n_customers)
    weight = activity * length
    n_events = n_customers * per_customer

    def draw(n: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
        cust = rng.choice(n_customers, size=n, p=weight / weight.sum())
        frac = rng.random(n) ** np.where(np.asarray(churn.notna())[cust], 0.8, 1.0)
        return cust, signup[cust] + pd.to_timedelta((frac * length[cust]).astype(int), unit="D")

    n_orders, n_email = n_events // 5, n_events // 2
    n_usage = n_events - n_orders - n_email
    c, d = draw(n_orders)
    pd.DataFrame({"customer_id": ids[c], "order_date": d, "order_id": np.arange(n_orders).astype(str),
                  "amount": rng.gamma(2.0, 150.0, n_orders).round(2)}).to_parquet(folder / "orders.parquet",
                                                                                  index=False)
    # email: one send per drawn (customer, month); delivered 97 %, open 30 %, click 8 % of sends
    n_sent = n_email // 2
    c, d = draw(n_sent)
    month = d.to_period("M").to_timestamp()
    sent_time = month + pd.Timedelta(days=14) + pd.to_timedelta(rng.integers(0, 3600, n_sent), unit="s")
    ok = sent_time > signup[c]
    c, sent_time = c[ok], sent_time[ok]
    camp = sent_time.strftime("%Y%m").to_numpy()
    parts = [pd.DataFrame({"customer_id": ids[c], "campaign_id": camp, "event_time": sent_time, "event": "sent"})]
    rest = n_email - len(c)
    follow = rng.choice(len(c), size=rest)
    kind = rng.choice(["delivered", "open", "click", "bounce_hard", "unsubscribe"], rest,
                      p=[0.58, 0.3, 0.1, 0.015, 0.005])
    lag = pd.to_timedelta(rng.integers(60, 5 * 86400, rest), unit="s")
    parts.append(pd.DataFrame({"customer_id": ids[c][follow], "campaign_id": camp[follow],
                               "event_time": sent_time[follow] + lag, "event": kind}))
    email = pd.concat(parts, ignore_index=True)
    email = email.loc[email["event_time"] <= END + pd.Timedelta(hours=23)]
    email.to_parquet(folder / "email_events.parquet", index=False)
    c, d = draw(n_usage)
    pd.DataFrame({"customer_id": ids[c], "event_date": d,
                  "feature": rng.choice(["reports", "export", "api", "alerts", "dashboards"], n_usage),
                  "sessions": 1.0}).to_parquet(folder / "usage.parquet", index=False)
    (folder / "dataset.yml").write_text(
        "business_model: contractual\nobserved_until: 2026-10-31\n"
        "tables:\n  email_events: {duplicates: keep}\n  usage: {duplicates: keep}\n", encoding="utf-8")
    return {"customers": n_customers, "orders": n_orders, "email_events": len(email), "usage": n_usage}


def timed(cmd: list[str], timeout: float, env: dict[str, str]) -> tuple[str, float, float]:
    """Run ``cmd`` under ``/usr/bin/time -v``: (status, seconds, peak RSS in MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        _, err = proc.communicate()
        status = f"stopped after {timeout:.0f} s"
    seconds = time.perf_counter() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err or "")
    return status, seconds, (int(m.group(1)) / 1024 if m else float("nan"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--events-per-customer", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=",".join(NOTEBOOKS), help="notebooks to run, e.g. 01,03")
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds allowed per step")
    ap.add_argument("--keep", default="", help="write (or reuse) the base in this folder and keep it")
    ap.add_argument("--with-runner", action="store_true",
                    help="also run `churn-radar report --only ...` (runner and kernels) as a last step")
    args = ap.parse_args()
    py = sys.executable
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp) / "base"
        if not (folder / "customers.parquet").exists():
            folder.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            counts = synthesise(folder, args.customers, args.events_per_customer, args.seed)
            print(f"synthesised   {counts} in {time.perf_counter() - t0:.1f} s", flush=True)
        status, sec, mb = timed([py, "-m", "analysis", "validate", str(folder)], args.timeout, env)
        print(f"validate      {status:>24}  {sec:7.1f} s  peak {mb:8,.0f} MB", flush=True)
        total, peak = sec, mb
        from analysis.paths import NOTEBOOKS_DIR as nb_dir  # the notebooks of the package run
        for nb in [n.strip() for n in args.only.split(",") if n.strip()]:
            path = next(nb_dir.glob(f"{nb}_*.ipynb"))
            out = Path(tmp) / f"run-{nb}"
            out.mkdir(exist_ok=True)
            status, sec, mb = timed([py, "-m", "papermill", str(path), str(out / path.name), "-k", "churn-radar",
                                     "--no-progress-bar", "-p", "data_dir", str(folder), "-p", "as_of", "2026-11-01",
                                     "-p", "lang", "en", "-p", "output_dir", str(out)], args.timeout, env)
            total, peak = total + sec, max(peak, mb)
            print(f"notebook {nb}   {status:>24}  {sec:7.1f} s  peak {mb:8,.0f} MB  (kernel, papermill)", flush=True)
        if args.with_runner:
            status, sec, mb = timed([py, "-m", "analysis", "report", str(folder), "--as-of", "2026-11-01",
                                     "--out", str(Path(tmp) / "reports"), "--only", args.only, "--force",
                                     "--lang", "en"], args.timeout * 5, env)
            print(f"report        {status:>24}  {sec:7.1f} s  peak {mb:8,.0f} MB  (churn-radar report: runner "
                  "and kernels, largest process)", flush=True)
        print(f"validate + notebooks  {total:.1f} s, largest peak resident memory {peak:,.0f} MB "
              f"(issue 16 target for the whole report on 1 M customers: 1800 s, 8192 MB)")


if __name__ == "__main__":
    main()
