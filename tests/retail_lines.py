"""A small, deterministic line-level retail export, shaped like the public online-retail logs.

One row per invoice line: ``InvoiceNo`` (``C``-prefixed for cancellations, which carry
negative quantities), ``StockCode``, ``Description``, ``Quantity``, ``InvoiceDate``
(month-first ``%m/%d/%Y %H:%M``), ``UnitPrice``, ``CustomerID`` written as a float
(``17850.0``), ``Country`` and ``LineTotal`` (quantity x unit price), mapped as ``amount``
through ``dataset.yml``. About a quarter of the lines have no customer id (guest invoices).

Buyers: a quarter buy steadily and are still there at the end, the rest buy in a burst of
a few weeks after their first visit and then never again; everybody first buys between
December 2010 and March 2011 and the log ends on 2011-12-09. Used by tests/test_retail.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["retail_lines", "write_retail"]

START = pd.Timestamp("2010-12-01")
END = pd.Timestamp("2011-12-09")

DATASET_YML = """\
name: retail lines (generated)
business_model: non_contractual
currency: GBP
observed_until: 2011-12-09
tables:
  orders:
    file: online_retail.csv
    cancellation_pattern: "^C"
    columns:
      customer_id: CustomerID
      order_date: InvoiceDate
      amount: LineTotal
      order_id: InvoiceNo
    csv: {date_format: "%m/%d/%Y %H:%M"}
thresholds:
  churn_horizon_days: 90
"""


def retail_lines(n_customers: int = 160, seed: int = 7, steady_share: float = 0.25) -> pd.DataFrame:
    """The export as a DataFrame of strings and numbers, in invoice order.

    ``steady_share`` of the customers buy regularly to the end; the others are bursty.
    """
    rng = np.random.default_rng(seed)
    ids = 12346 + rng.choice(6000, n_customers, replace=False)
    first = START + pd.to_timedelta(rng.integers(0, 120, n_customers), unit="D")
    steady = rng.random(n_customers) < steady_share
    # steady buyers: every ~3-6 weeks to the end; others: 1-2 invoices in their first 40 days
    gap = rng.uniform(20, 45, n_customers)
    n_inv = np.where(steady, ((END - first).days / gap).astype(int) + 1, rng.integers(1, 3, n_customers))
    cust = np.repeat(np.arange(n_customers), n_inv)
    k = np.concatenate([np.arange(n) for n in n_inv])
    offset = np.where(steady[cust], k * gap[cust] + rng.normal(0, 3, cust.size), rng.uniform(0, 40, cust.size) * (k > 0))
    day = first[cust] + pd.to_timedelta(np.clip(offset, 0, None).astype(int), unit="D")
    time = day + pd.to_timedelta(rng.integers(8 * 60, 18 * 60, cust.size), unit="min")
    inv = pd.DataFrame({"cust": cust, "time": time}).loc[lambda d: d["time"] < END]
    # a quarter of the invoices are guest checkouts (no customer id on any of their lines)
    guests = pd.DataFrame({"cust": -1, "time": START + pd.to_timedelta(
        rng.integers(0, (END - START).days * 24 * 60, len(inv) // 3), unit="min")})
    inv = pd.concat([inv, guests]).sort_values("time", kind="stable").reset_index(drop=True)
    inv["InvoiceNo"] = (536365 + np.arange(len(inv))).astype(str)
    n_lines = rng.integers(1, 7, len(inv))
    lines = inv.loc[inv.index.repeat(n_lines)].reset_index(drop=True)
    lines["StockCode"] = rng.choice(["85123A", "71053", "84406B", "22752", "21730", "22633"], len(lines))
    lines["Description"] = lines["StockCode"].map({
        "85123A": "WHITE HANGING HEART T-LIGHT HOLDER", "71053": "WHITE METAL LANTERN",
        "84406B": "CREAM CUPID HEARTS COAT HANGER", "22752": "SET 7 BABUSHKA NESTING BOXES",
        "21730": "GLASS STAR FROSTED T-LIGHT HOLDER", "22633": "HAND WARMER UNION JACK"})
    lines["Quantity"] = rng.integers(1, 13, len(lines))
    lines["UnitPrice"] = rng.choice([0.85, 1.25, 2.55, 3.39, 4.25, 7.65], len(lines))
    # cancellations: 5 % of customer invoices are cancelled a few days later, all lines negated
    cancel = lines.loc[(lines["cust"] >= 0) & lines["InvoiceNo"].isin(
        inv.loc[(inv["cust"] >= 0) & (rng.random(len(inv)) < 0.05), "InvoiceNo"])].copy()
    cancel["InvoiceNo"] = "C" + cancel["InvoiceNo"]
    cancel["Quantity"] = -cancel["Quantity"]
    cancel["time"] = cancel["time"] + pd.Timedelta(days=2)
    lines = pd.concat([lines, cancel.loc[cancel["time"] < END]]).sort_values(["time", "InvoiceNo"], kind="stable")
    lines["InvoiceDate"] = lines["time"].dt.strftime("%m/%d/%Y %H:%M")
    lines["CustomerID"] = np.where(lines["cust"] >= 0, ids[lines["cust"].clip(lower=0)].astype(float), np.nan)
    lines["Country"] = "United Kingdom"
    lines["LineTotal"] = (lines["Quantity"] * lines["UnitPrice"]).round(2)
    return lines[["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
                  "CustomerID", "Country", "LineTotal"]].reset_index(drop=True)


def write_retail(folder: str | Path, n_customers: int = 160, seed: int = 7, steady_share: float = 0.25) -> Path:
    """Write ``online_retail.csv`` and its ``dataset.yml`` into ``folder``; return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    retail_lines(n_customers, seed, steady_share).to_csv(folder / "online_retail.csv", index=False)
    (folder / "dataset.yml").write_text(DATASET_YML, encoding="utf-8")
    return folder
