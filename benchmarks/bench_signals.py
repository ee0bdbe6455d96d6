"""Benchmark: the six indicators for many customers at many weekly dates (prints time and peak memory).

    .venv/bin/python benchmarks/bench_signals.py [--customers 100000] [--weeks 52] [--seed 0]

Builds a synthetic base directly with numpy (no sample generator, no CSV, no validation):
two years of orders, monthly email campaigns with opens and clicks, NPS answers and
product usage over 8 features, then times :func:`analysis.metrics.signals.indicators` at
``--weeks`` weekly as-of dates in one call. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from analysis.data.config import DatasetConfig
from analysis.data.dataset import Dataset
from analysis.data.schema import EMAIL_EVENTS
from analysis.metrics.signals import indicators

START = np.datetime64("2024-11-01")
DAYS = 730


def _ts(days: np.ndarray) -> pd.Series:
    """Day offsets from START as canonical ``datetime64[ns]`` (NaT for -1)."""
    out = pd.Series((START + days.astype("timedelta64[D]")).astype("datetime64[ns]"))
    return out.where(days >= 0)


def synthesise(n: int, seed: int = 0) -> Dataset:
    """A dataset of ``n`` customers over two years, with every table, canonical dtypes."""
    rng = np.random.default_rng(seed)
    ids = pd.array([f"C{i:07d}" for i in range(n)], dtype="string")
    signup_off = rng.integers(0, DAYS // 2, size=n)
    churn = np.where(rng.random(n) < 0.2, signup_off + rng.integers(60, DAYS, size=n), -1)
    churn = np.where(churn < DAYS, churn, -1)
    customers = pd.DataFrame({"customer_id": ids, "signup_date": _ts(signup_off),
                              "churn_date": _ts(churn), "sector": "retail"})

    def events(per_customer: float) -> tuple[np.ndarray, np.ndarray]:
        k = rng.poisson(per_customer, size=n)
        cust = np.repeat(np.arange(n), k)
        span = DAYS - signup_off[cust]
        day = signup_off[cust] + (rng.random(len(cust)) * span).astype(np.int64)
        return cust, day

    oc, od = events(12)
    amount = rng.gamma(2.0, 60.0, size=len(oc))
    amount = np.where(rng.random(len(oc)) < 0.03, -amount / 2, amount)
    orders = pd.DataFrame({"customer_id": ids[oc], "order_date": _ts(od),
                           "amount": amount, "order_id": pd.array([pd.NA] * len(oc), dtype="string"),
                           "is_refund": amount < 0})
    # one campaign a month to every signed-up customer; opens 35 %, clicks a third of opens
    months = np.arange(0, DAYS, 30)
    cm = np.repeat(np.arange(n), len(months)), np.tile(months, n)
    keep = cm[1] >= signup_off[cm[0]]
    sc, sd = cm[0][keep], cm[1][keep]
    opened = rng.random(len(sc)) < 0.35
    clicked = opened & (rng.random(len(sc)) < 0.33)
    bounced = ~opened & (rng.random(len(sc)) < 0.02)
    parts = [(sc, sd, "sent"), (sc[opened], sd[opened] + 1, "open"), (sc[clicked], sd[clicked] + 1, "click"),
             (sc[bounced], sd[bounced], "bounce_soft")]
    ec = np.concatenate([p[0] for p in parts])
    ed = np.concatenate([p[1] for p in parts])
    camp = np.concatenate([p[1] // 30 for p in parts])
    ev = np.concatenate([np.full(len(p[0]), EMAIL_EVENTS.index(p[2])) for p in parts])
    email = pd.DataFrame({"customer_id": ids[ec], "campaign_id": pd.array([f"K{c:03d}" for c in range(25)],
                                                                          dtype="string")[camp],
                          "event_time": _ts(ed),
                          "event": pd.Categorical.from_codes(ev, categories=list(EMAIL_EVENTS))})
    nc, nd = events(2)
    nps = pd.DataFrame({"customer_id": ids[nc], "response_date": _ts(nd),
                        "score": rng.integers(0, 11, size=len(nc)).astype("int64"),
                        "trigger": pd.array(np.where(rng.random(len(nc)) < 0.3, "support", "periodic"), dtype="string")})
    uc, ud = events(25)
    feats = pd.array([f"feature_{i}" for i in range(8)], dtype="string")
    usage = pd.DataFrame({"customer_id": ids[uc], "event_date": _ts(ud),
                          "feature": feats[rng.integers(0, 8, size=len(uc))],
                          "sessions": rng.integers(1, 6, size=len(uc)).astype("float64"),
                          "minutes": rng.gamma(2.0, 10.0, size=len(uc))})
    return Dataset(customers=customers, orders=orders, email_events=email, nps=nps, usage=usage,
                   config=DatasetConfig(name="bench"), observed_from=pd.Timestamp(START),
                   observed_until=pd.Timestamp(START + np.timedelta64(DAYS - 1, "D")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    ds = synthesise(args.customers, args.seed)
    t1 = time.perf_counter()
    rows = {t: len(f) for t, f in ds.tables.items()}
    print(f"synthetic base: {rows} built in {t1 - t0:.1f} s")
    end = pd.Timestamp(START) + pd.Timedelta(days=DAYS)
    dates = pd.date_range(end=end, periods=args.weeks, freq="7D")
    t2, c2 = time.perf_counter(), time.process_time()
    ind = indicators(ds, dates)
    t3, c3 = time.perf_counter(), time.process_time()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"indicators: {len(ind):,} rows ({args.customers:,} customers x {args.weeks} weekly dates, "
          f"{ind.shape[1]} columns) in {t3 - t2:.1f} s wall, {c3 - c2:.1f} s CPU; peak memory {peak_mb:,.0f} MB (whole process)")
    share = {k: float(ind[c].mean(skipna=True)) for k, c in
             {"frequency": "alert_frequency", "recency": "alert_recency", "email": "alert_email",
              "value": "alert_value", "nps": "alert_nps", "usage": "alert_usage"}.items()}
    print("share of known alerts that fire:", {k: round(v, 3) for k, v in share.items()})


if __name__ == "__main__":
    main()
