"""Benchmark of the partitioned local engine (issue 16): time and peak memory at scale.

Synthesises a contractual base straight to Parquet, block by block of customers (vectorised
NumPy/pyarrow; never the whole base in memory): ``customers``, ``orders``, ``email_events``
and ``usage`` with about ``--events-per-customer`` events per customer (20 % orders, 50 %
email events, 30 % usage), over 24 months ending 2026-10-31. Then:

1. runs ``churn-radar score`` (local engine, buckets from ``engine.rows_per_bucket``) in a
   child process and prints its wall time and peak resident memory (the largest process
   and the sum over its worker processes, sampled every 0.2 s with psutil);
2. prints the time of the six indicators at one date on the orders (customers and orders of
   the bucketed validated copy) by DuckDB SQL (:mod:`analysis.metrics.signals_sql`) against
   a bare DuckDB recency / frequency / monetary ``GROUP BY customer_id`` over the same
   Parquet files, and their ratio; then, for reference, the pandas indicators bucket by
   bucket (``--no-pandas`` skips them);
3. with ``--report``, runs the whole monthly report (``churn-radar report``) in a child
   process and prints its time and peak memory, in all and per phase: the runner's
   validation, each notebook (its kernel and the runner) and the runner's call list
   workbook, index and pages; ``--report-only`` skips steps 1 and 2 (a base kept by an
   earlier run with ``--dir DIR --keep``).

``--interventions`` adds an ``interventions`` table (:func:`synthesise_interventions`: a dozen
monthly re-activation campaigns with random control groups and A/B variants) and their
``campaigns`` / ``objectives`` in dataset.yml, so that the report runs notebook 05 as well;
with ``--link-base DIR`` the new base's tables are symlinks to a kept base's files (nothing of
it is rewritten and its validated copy stays valid), e.g.::

    .venv/bin/python benchmarks/bench_scale.py --customers 1000000 --dir /tmp/bench/1m-camp --keep
        --report-only --interventions --link-base /tmp/bench/1m/base-1000000

A script, not a test::

    .venv/bin/python benchmarks/bench_scale.py --customers 100000 [--events-per-customer 50]
        [--rows-per-bucket 1000000] [--buckets N] [--keep] [--dir DIR] [--report] [--seed 0]
        [--skip-score] [--no-pandas] [--report-only] [--interventions [--link-base DIR] [--campaigns 12]
        [--per-campaign 20000]]

Targets (issue 16, 2-core machine): 1,000,000 customers x 50 events scored in <= 10 min
with peak RSS <= 8 GB, peak memory nearly flat from 300,000 to 1,000,000 customers; the
indicators <= 3 x the DuckDB floor.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's package

END = pd.Timestamp("2026-10-31")
START = END - pd.DateOffset(months=24)
BLOCK = 50_000  # customers synthesised at a time
SHARES = {"orders": 0.2, "email_events": 0.5, "usage": 0.3}


def _ids(lo: int, hi: int) -> pa.Array:
    return pa.array(np.char.add("C", np.char.zfill(np.arange(lo, hi).astype(str), 8)))


def _days(ts: np.ndarray) -> pa.Array:
    return pa.array(ts.astype("datetime64[ns]"))


def synthesise(folder: Path, n_customers: int, per_customer: int, seed: int) -> dict[str, int]:
    """Write the four tables as Parquet into ``folder`` (one row group per block of customers)."""
    rng = np.random.default_rng(seed)
    span = (END - START).days
    start = np.datetime64(START.date(), "D")
    end_day = np.datetime64(END.date(), "D")
    writers: dict[str, pq.ParquetWriter] = {}
    counts = dict.fromkeys(["customers", *SHARES], 0)

    def write(name: str, table: pa.Table) -> None:
        if name not in writers:
            writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
        writers[name].write_table(table)
        counts[name] += table.num_rows

    try:
        for lo in range(0, n_customers, BLOCK):  # blocks of customers, not customers
            hi = min(lo + BLOCK, n_customers)
            n = hi - lo
            ids = _ids(lo, hi)
            signup = start + rng.integers(0, span - 60, n).astype("timedelta64[D]")
            life = (rng.exponential(540, n).astype(int) + 30).astype("timedelta64[D]")
            churn = signup + life
            churned = churn < end_day
            last = np.where(churned, churn, end_day)
            write("customers", pa.table({
                "customer_id": ids, "signup_date": _days(signup),
                "churn_date": pa.array(np.where(churned, churn, np.datetime64("NaT")).astype("datetime64[ns]")),
                "size": pa.array(rng.choice(["TPE", "PME", "ETI", "GE"], n)),
                "sector": pa.array(rng.choice(["Commerce", "Industrie", "Services", "Santé"], n)),
            }))
            activity = rng.gamma(2.0, 0.5, n)
            length = (last - signup).astype(np.int64)
            for table, share in SHARES.items():
                k = rng.poisson(per_customer * share * activity)
                cust = np.repeat(np.arange(n), k)
                m = len(cust)
                frac = rng.random(m) ** np.where(churned[cust], 0.8, 1.0)
                day = signup[cust] + (frac * length[cust]).astype(np.int64).astype("timedelta64[D]")
                cid = ids.take(pa.array(cust))
                if table == "orders":
                    write(table, pa.table({
                        "customer_id": cid, "order_date": _days(day),
                        "order_id": pa.array(np.char.add(f"O{lo}-", np.arange(m).astype(str))),
                        "amount": pa.array(rng.gamma(2.0, 150.0, m).round(2))}))
                elif table == "email_events":
                    d = pd.DatetimeIndex(day.astype("datetime64[ns]"))
                    t = day.astype("datetime64[s]") + rng.integers(0, 86400, m).astype("timedelta64[s]")
                    write(table, pa.table({
                        "customer_id": cid, "campaign_id": pa.array((d.year * 100 + d.month).astype(str)),
                        "event_time": pa.array(t.astype("datetime64[ns]")),
                        "event": pa.array(rng.choice(["delivered", "open", "click"], m, p=[0.6, 0.3, 0.1]))}))
                else:
                    write(table, pa.table({
                        "customer_id": cid, "event_date": _days(day),
                        "feature": pa.array(rng.choice(["reports", "export", "api", "alerts", "dashboards"], m)),
                        "sessions": pa.array(np.ones(m))}))
    finally:
        for w in writers.values():
            w.close()
    (folder / "dataset.yml").write_text(
        "business_model: contractual\nobserved_until: 2026-10-31\nlanguage: en\n"
        "tables:\n  email_events: {duplicates: keep}\n  usage: {duplicates: keep}\n", encoding="utf-8")
    return counts


#: Re-activation campaigns of ``--interventions`` (dataset.yml ``campaigns`` and ``objectives``).
CAMPAIGNS_YML = """campaigns:
  default: {name: Re-activation of lapsed customers, fixed_cost: 2000.0, margin_rate: 0.6, outcome_window_days: 14}
objectives:
- objective: Re-activate the lapsed buyers
  key_results:
  - {metric: repurchase_rate, population: lapsed_buyers, target: 0.2, period: 2026-Q3}
  - {metric: revenue, population: lapsed_buyers, target: 5000000, period: 2026-Q3}
"""


def synthesise_interventions(folder: Path, n_campaigns: int = 12, per_campaign: int = 20_000,
                             control_share: float = 0.10, pool: int | None = None, one_off: int = 5_000,
                             seed: int = 0) -> dict[str, int]:
    """Write ``interventions.parquet`` into ``folder`` (whose ``customers.parquet`` is read).

    Shaped like the sample's (:mod:`analysis.data.sample`): ``n_campaigns`` monthly campaigns
    ``RA-YYYYMM`` on the 10th of the months before 2026-11 (actions spread over three days),
    each contacting ``per_campaign`` customers drawn at random among the campaign pool's
    customers alive at that date, plus ``control_share`` x that many drawn the same way as a
    control group (not contacted, no cost); every odd campaign splits its contacts into
    variants A (email_sequence, 0.5 per contact) and B (incentive, 5.0), the others send an
    email_sequence without variant; every sixth campaign has no control group (not
    attributable). ``one_off`` personal calls without a campaign (40.0 each) fall on random
    pool customers in the last 26 weeks (they count in the reaction delay).

    The pool (default 3 x ``per_campaign`` x (1 + ``control_share``) customers drawn once at
    random) stands for the lapsed customers a team contacts again cycle after cycle: it sets how
    many customers notebook 05 holds in memory on a large base. No effect on purchases is
    simulated (the orders are the base's files, shared by symlink): the true lift is 0.
    One loop over the campaigns (a dozen), never over customers.
    """
    rng = np.random.default_rng(seed + 16)
    cust = pq.read_table(folder / "customers.parquet", columns=["customer_id", "signup_date", "churn_date"])
    ids = cust.column("customer_id").to_numpy(zero_copy_only=False)
    signup = cust.column("signup_date").to_numpy().astype("datetime64[D]")
    churn = cust.column("churn_date").to_numpy().astype("datetime64[D]")
    size = pool or int(3 * per_campaign * (1 + control_share))
    members = rng.choice(len(ids), size=min(size, len(ids)), replace=False)
    n_control = int(round(control_share * per_campaign))
    frames = []
    months = pd.date_range(end=END.replace(day=1), periods=n_campaigns, freq="MS")  # the last n months
    for c, month in enumerate(months):  # the campaigns
        day = np.datetime64((month + pd.Timedelta(days=9)).date(), "D")
        alive = members[(signup[members] < day) & ~(churn[members] <= day)]
        controls = n_control if c % 6 != 5 else 0
        drawn = rng.choice(alive, size=min(per_campaign + controls, len(alive)), replace=False)
        group = np.where(np.arange(len(drawn)) < controls, "control", "treatment")
        treated = group == "treatment"
        ab = c % 2 == 1
        variant = np.where(treated & ab, np.where(rng.random(len(drawn)) < 0.5, "A", "B"), None)
        action = np.where(variant == "B", "incentive", "email_sequence")
        frames.append(pd.DataFrame({
            "customer_id": ids[drawn],
            "action_date": (day + rng.integers(0, 3, len(drawn)).astype("timedelta64[D]")).astype("datetime64[ns]"),
            "action": action, "campaign_id": f"RA-{month:%Y%m}", "group": group, "variant": variant,
            "cost": np.where(treated, np.where(action == "incentive", 5.0, 0.5), np.nan),
            "channel": "email", "owner": rng.choice(["crm_team", "csm_a", "csm_b"], len(drawn))}))
    if one_off:
        first = np.datetime64((END - pd.Timedelta(weeks=26)).date(), "D")
        who = rng.choice(members, size=one_off)
        day = first + rng.integers(0, 26 * 7, one_off).astype("timedelta64[D]")
        ok = (signup[who] < day) & ~(churn[who] <= day)
        frames.append(pd.DataFrame({
            "customer_id": ids[who[ok]], "action_date": day[ok].astype("datetime64[ns]"), "action": "personal_call",
            "campaign_id": None, "group": "treatment", "variant": None, "cost": 40.0, "channel": "phone",
            "owner": rng.choice(["csm_a", "csm_b"], int(ok.sum()))}))
    iv = pd.concat(frames, ignore_index=True)
    pq.write_table(pa.Table.from_pandas(iv, preserve_index=False), folder / "interventions.parquet")
    return {"interventions": len(iv), "customers": int(iv["customer_id"].nunique()),
            "campaigns": int(iv["campaign_id"].nunique())}


def link_base(source: Path, folder: Path) -> None:
    """Make ``folder`` a copy of the base ``source`` whose table files are symlinks (the
    source is not written) and whose dataset.yml is a copy (campaigns and objectives appended)."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in sorted(source.glob("*.parquet")):
        if f.stem != "interventions" and not (folder / f.name).exists():
            (folder / f.name).symlink_to(f.resolve())
    text = (source / "dataset.yml").read_text(encoding="utf-8").rstrip("\n")
    (folder / "dataset.yml").write_text(text + "\nallow_external_files: true  # the symlinked tables\n" + CAMPAIGNS_YML,
                                        encoding="utf-8")


#: Progress lines of ``churn-radar report`` that open and close a notebook's phase.
_PHASE = re.compile(r"\[report\] (\d\d_\w+): (started|done)")


def run_child(args: list[str], env: dict[str, str], phases: dict | None = None) -> tuple[int, float, float, float, str]:
    """Run ``python -m analysis ARGS``; return exit code, wall seconds, the peak resident
    memory (MB) of the largest single process and the peak of the sum over the child and its
    worker processes or kernels (both sampled every 0.2 s with psutil), and the child's last
    stdout lines.

    ``phases``: filled with ``{phase: [seconds, largest process MB, sum MB]}`` in order, a
    phase per notebook of ``churn-radar report`` (from its ``[report] NN_name: started`` /
    ``done`` lines on stderr) and the runner's own work before (validation, quarantine),
    between and after them (after the last notebook: the call list workbook, the index and
    the pages)."""
    import threading

    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "analysis", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    me = psutil.Process(proc.pid)
    single_peak = tree_peak = 0
    out_lines: list[str] = []
    state = {"phase": "runner: validation, quarantine", "since": t0}
    table = phases if phases is not None else {}

    def enter(phase: str) -> None:
        now = time.perf_counter()
        table.setdefault(state["phase"], [0.0, 0.0, 0.0])[0] += now - state["since"]
        state["phase"], state["since"] = phase, now

    def drain(stream, sink, echo):
        for line in stream:
            sink.append(line)
            m = _PHASE.match(line)
            if m:
                enter(m.group(1) if m.group(2) == "started" else f"runner after {m.group(1)}")
            if echo:
                sys.stderr.write(line)

    err_lines: list[str] = []
    threads = [threading.Thread(target=drain, args=(proc.stdout, out_lines, False)),
               threading.Thread(target=drain, args=(proc.stderr, err_lines, True))]
    for th in threads:
        th.start()
    while proc.poll() is None:  # sampling the process tree's memory
        try:
            procs = [me, *me.children(recursive=True)]
            rss = [p.memory_info().rss for p in procs if p.is_running()]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            rss = []
        if rss:
            single_peak, tree_peak = max(single_peak, max(rss)), max(tree_peak, sum(rss))
            row = table.setdefault(state["phase"], [0.0, 0.0, 0.0])
            row[1], row[2] = max(row[1], max(rss) / 2**20), max(row[2], sum(rss) / 2**20)
        time.sleep(0.2)
    for th in threads:
        th.join()
    enter("")
    table.pop("", None)
    wall = time.perf_counter() - t0
    return proc.returncode, wall, single_peak / 2**20, tree_peak / 2**20, "".join(out_lines[-8:]).rstrip()


def indicators_vs_duckdb(folder: Path, as_of: str, pandas_too: bool = True) -> tuple[float, float | None, float]:
    """Seconds of the six indicators at ``as_of`` on customers + orders of the bucketed
    validated copy: by DuckDB SQL over the Parquet files (``analysis.metrics.signals_sql``,
    the product's path over a warehouse) and, for reference, by pandas bucket by bucket
    (``signals.indicators``); and of a bare DuckDB RFM ``GROUP BY`` over the same orders
    files (the floor). Each DuckDB timing is the best of three runs (the machine is shared)."""
    import duckdb

    from analysis.data.dataset import Dataset
    from analysis.data.partitions import load_partitioned
    from analysis.data.warehouse import Warehouse
    from analysis.metrics import signals_sql
    from analysis.metrics.signals import indicators

    pds = load_partitioned(folder)
    glob = str(pds.entry / "tables" / "orders" / "*.parquet")
    con = duckdb.connect()
    t_sql, t_query, t_duck, n_sql = [], [], [], 0
    cpu_sql, cpu_duck = [], []  # CPU seconds of this process (all threads): less distorted by a shared machine
    for _ in range(3):  # interleaved, best of three
        t0, c0 = time.perf_counter(), time.process_time()
        con.sql(
            "SELECT customer_id, max(order_date) AS last, count(*) AS n, sum(amount) AS revenue "
            f"FROM read_parquet('{glob}') WHERE order_date < DATE '{as_of}' GROUP BY customer_id").to_arrow_table()
        t_duck.append(time.perf_counter() - t0)
        cpu_duck.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        with Warehouse.from_partitioned(pds) as wh:  # views over the bucket files; only orders are read
            frame = signals_sql.indicators(wh, as_of, tables=("orders",))  # every column, sorted, as pandas
            n_sql = len(frame)
        t_sql.append(time.perf_counter() - t0)
        cpu_sql.append(time.process_time() - c0)
        del frame
        with Warehouse.from_partitioned(pds) as wh:  # the breakdown: the query alone, to Arrow
            sql, _ = signals_sql.indicators_sql(wh, as_of, tables=("orders",))
            t0 = time.perf_counter()
            wh.con.sql(sql).to_arrow_table()
            t_query.append(time.perf_counter() - t0)
    print(f"indicators   SQL: {n_sql:,} customer rows at {as_of} in {min(t_sql):.2f} s (customers + orders, one "
          f"DuckDB query over the {pds.n_buckets} bucket files of the validated copy, to the complete pandas frame "
          f"in customer_id order; of which the query to Arrow {min(t_query):.2f} s)")
    print(f"CPU          SQL indicators {min(cpu_sql):.2f} s, floor {min(cpu_duck):.2f} s of CPU (all threads of this "
          f"process; 2 DuckDB threads each): CPU ratio {min(cpu_sql) / max(min(cpu_duck), 1e-9):.1f}")
    t_pd = None
    if pandas_too:
        t0 = time.perf_counter()
        n_rows = 0
        for b in range(pds.n_buckets):  # buckets
            cust = pq.read_table(pds.entry / "tables" / "customers" / f"bucket-{b:04d}.parquet").to_pandas()
            orders = pq.read_table(pds.entry / "tables" / "orders" / f"bucket-{b:04d}.parquet").to_pandas()
            part = Dataset(customers=cust, orders=orders, config=pds.config, report=pds.report, path=pds.path,
                           observed_from=pds.observed_from, observed_until=pds.observed_until, base=pds.base)
            n_rows += len(indicators(part, [as_of]))
        t_pd = time.perf_counter() - t0
        print(f"indicators   pandas (reference): {n_rows:,} customer rows in {t_pd:.1f} s, bucket by bucket")
    return min(t_sql), t_pd, min(t_duck)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--events-per-customer", type=int, default=50)
    ap.add_argument("--rows-per-bucket", type=int, default=None, help="engine.rows_per_bucket (default 1,000,000)")
    ap.add_argument("--buckets", type=int, default=None, help="force the number of buckets")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: the CLI's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--as-of", default="2026-10-31")
    ap.add_argument("--dir", type=Path, default=None, help="folder for the base (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the synthesised base (and its validated copy)")
    ap.add_argument("--report", action="store_true", help="also run the whole monthly report")
    ap.add_argument("--report-only", action="store_true", help="only the monthly report (no score, no indicators)")
    ap.add_argument("--skip-score", action="store_true", help="skip step 1 (churn-radar score)")
    ap.add_argument("--no-pandas", action="store_true", help="step 2 without the pandas reference timing")
    ap.add_argument("--interventions", action="store_true",
                    help="add an interventions table (re-activation campaigns) so that the report runs notebook 05")
    ap.add_argument("--link-base", type=Path, default=None,
                    help="with --interventions: an existing base folder whose tables are symlinked (not rewritten)")
    ap.add_argument("--campaigns", type=int, default=12, help="with --interventions: monthly campaigns")
    ap.add_argument("--per-campaign", type=int, default=20_000, help="with --interventions: contacts per campaign")
    args = ap.parse_args()

    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_scale-"))
    folder = root / f"base-{args.customers}"
    try:
        if args.link_base and not (folder / "dataset.yml").exists():
            link_base(Path(args.link_base), folder)
            print(f"linked       the tables of {args.link_base} -> {folder}")
        if not (folder / "dataset.yml").exists():
            folder.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            counts = synthesise(folder, args.customers, args.events_per_customer, args.seed)
            events = sum(v for k, v in counts.items() if k != "customers")
            print(f"synthesised  {counts} ({events:,} events) in {time.perf_counter() - t0:.1f} s -> {folder}")
        if args.interventions and not (folder / "interventions.parquet").exists():
            if not args.link_base:
                with (folder / "dataset.yml").open("a", encoding="utf-8") as fh:
                    fh.write(CAMPAIGNS_YML)
            t0 = time.perf_counter()
            made = synthesise_interventions(folder, args.campaigns, args.per_campaign, seed=args.seed)
            print(f"synthesised  interventions {made} in {time.perf_counter() - t0:.1f} s -> {folder}")
        if args.rows_per_bucket:
            with (folder / "dataset.yml").open("a", encoding="utf-8") as fh:
                fh.write(f"engine: {{rows_per_bucket: {args.rows_per_bucket}}}\n")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                             env.get("PYTHONPATH", "")])
        cmd = ["score", str(folder), "--as-of", args.as_of, "--out", str(root / "scores.csv"),
               "--capacity", "500", "--lang", "en"]
        if args.buckets:
            cmd += ["--buckets", str(args.buckets)]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        if not args.skip_score and not args.report_only:
            code, wall, single, tree, tail = run_child(cmd, env)
            print(tail)
            print(f"score        exit code {code}; {wall:.1f} s end to end (validation into buckets, backtest, "
                  f"scoring, scores file); peak RSS {single:,.0f} MB (largest single process), {tree:,.0f} MB (sum "
                  "over the command and its worker processes; sampled every 0.2 s)")
        if not args.report_only:
            t_ind, t_pd, t_duck = indicators_vs_duckdb(folder, args.as_of, pandas_too=not args.no_pandas)
            ref = f"; pandas {t_pd / max(t_duck, 1e-9):.1f}" if t_pd is not None else ""
            print(f"floor        DuckDB recency/frequency/monetary GROUP BY over the same orders: {t_duck:.2f} s")
            print(f"ratio        SQL indicators / floor = {t_ind:.2f} / {t_duck:.2f} = {t_ind / max(t_duck, 1e-9):.1f} "
                  f"(issue 16 target <= 3; best of 3 runs each, interleaved){ref}")
        if args.report or args.report_only:
            phases: dict[str, list[float]] = {}
            code, wall, single, tree, tail = run_child(["report", str(folder), "--as-of", "2026-11-01", "--out",
                                                        str(root / "reports"), "--lang", "en", "--force"], env,
                                                       phases=phases)
            print(tail)
            print(f"{'phase':<40} {'time':>9} {'peak RSS, largest process':>26} {'peak RSS, sum':>14}")
            for name, (sec, big, total) in phases.items():
                if sec < 0.05 and not big:  # the runner starting the next notebook: nothing to show
                    continue
                print(f"{name:<40} {sec:7.1f} s {big:23,.0f} MB {total:11,.0f} MB")
            print(f"report       exit code {code}; {wall:.1f} s; peak RSS {single:,.0f} MB (largest single "
                  f"process: runner or one notebook's kernel), {tree:,.0f} MB (sum over the process tree); "
                  "sampled every 0.2 s (issue 16 target on 1 M customers: 1800 s, 8192 MB)")
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(root, ignore_errors=True)
        elif args.keep:
            print(f"kept         {folder}")


if __name__ == "__main__":
    main()
