"""Generated transaction-only logs for checking the classifier against its baselines.

Two kinds of buyers, each log one kind, CDNOW-like in shape (every customer makes a first
purchase in the first 90 days, the log runs 18 months):

* ``regular``: purchases at a steady pace (gaps Gamma with shape 4, so a coefficient of
  variation of 0.5) around the customer's own rate;
* ``bursty``: purchases in bursts (70 % of gaps are 1-7 days, the rest exponential with
  three times the customer's mean gap).

Rates are Gamma-distributed across customers; after each purchase a customer drops out
with a probability drawn from a Beta distribution per customer (the BG/NBD story, with
non-Poisson timing). Deterministic for a seed. Used by ``benchmarks/forward_auc.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["transaction_log", "write_log"]

START = pd.Timestamp("2020-01-01")
DAYS = 547  # 18 months


def transaction_log(kind: str = "regular", n_customers: int = 3000, seed: int = 0,
                    max_purchases: int = 60) -> pd.DataFrame:
    """``customer_id``, ``order_date``, ``amount`` of every purchase, sorted by date."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.9, 1 / 30, n_customers)          # purchases per day, mean 0.03
    drop = rng.beta(1.0, 4.0, n_customers)               # dropout probability after each purchase
    first = rng.integers(0, 90, n_customers).astype(float)
    cust = np.repeat(np.arange(n_customers), max_purchases)
    k = np.tile(np.arange(max_purchases), n_customers)
    mean_gap = 1.0 / rate[cust]
    if kind == "regular":
        gaps = rng.gamma(4.0, mean_gap / 4.0)
    elif kind == "bursty":
        short = rng.random(cust.size) < 0.7
        gaps = np.where(short, rng.integers(1, 8, cust.size), rng.exponential(3.0 * mean_gap))
    else:
        raise ValueError(f"kind '{kind}': expected regular or bursty")
    gaps = np.where(k == 0, 0.0, gaps)
    t = first[cust] + pd.Series(gaps).groupby(cust).cumsum().to_numpy()
    # alive at purchase k if no dropout after purchases 0..k-1
    died = rng.random(cust.size) < drop[cust]
    dead_before = pd.Series(died).groupby(cust).cumsum().to_numpy() - died
    keep = (dead_before == 0) & (t < DAYS)
    out = pd.DataFrame({
        "customer_id": pd.Series(cust[keep]).map(lambda i: f"C{i:05d}").to_numpy(),
        "order_date": (START + pd.to_timedelta(np.floor(t[keep]), unit="D")).strftime("%Y-%m-%d"),
        "amount": rng.gamma(2.0, 20.0, int(keep.sum())).round(2),
    })
    return out.sort_values(["order_date", "customer_id"], kind="stable").reset_index(drop=True)


def write_log(folder: str | Path, kind: str = "regular", n_customers: int = 3000, seed: int = 0) -> Path:
    """Write ``orders.csv`` and a non-contractual ``dataset.yml`` (180-day horizon)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    transaction_log(kind, n_customers, seed).to_csv(folder / "orders.csv", index=False)
    (folder / "dataset.yml").write_text(
        f"name: generated {kind} buyers\nbusiness_model: non_contractual\ncurrency: EUR\n"
        f"observed_until: {(START + pd.Timedelta(days=DAYS - 1)).date()}\n"
        "tables:\n  orders:\n    duplicates: keep\nthresholds:\n  churn_horizon_days: 180\n", encoding="utf-8")
    return folder
