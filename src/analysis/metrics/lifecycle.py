"""Customer status at a date: signed up, last significant interaction, lost or not.

Definitions (SPEC section 1, printed in every report glossary):

* **as-of date**: the day a figure is computed for; only data strictly before it is read.
* **lost, contractual** business: ``churn_date`` (explicit end of contract) before the as-of date.
* **lost, non-contractual** business: no significant interaction for ``horizon`` days.
  The churn date is then the day the horizon was crossed: last interaction + horizon
  (signup + horizon for a customer who never interacted). Only customers observed for the
  whole horizon can be labelled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from analysis.data.dataset import Dataset
from analysis.errors import ChurnRadarError, ConfigError

__all__ = ["status_at", "lost_clients", "as_dates", "check_as_of", "months_between", "month_boundaries"]


def check_as_of(as_of: Any, *, strict: bool = False, name: str = "as_of",
                error: type[ChurnRadarError] = ConfigError) -> pd.Timestamp:
    """The as-of date as a normalised timestamp, or one clear error.

    Parameters
    ----------
    as_of : a date (``"2026-11-01"``, a ``Timestamp``...).
    strict : also require the text form ``YYYY-MM-DD`` with no time of day (command-line
        and report parameters); otherwise any date pandas reads is accepted, its time dropped.
    name : how the message names the value (``as_of``, ``--as-of``).
    error : the exception raised (:class:`ConfigError` by default).

    Raises
    ------
    error
        ``"<name> is '<value>'; expected a date YYYY-MM-DD such as 2026-10-31."``
    """
    message = f"{name} is '{as_of}'; expected a date YYYY-MM-DD such as 2026-10-31."
    try:
        cut = pd.Timestamp(str(as_of) if strict else as_of)
    except (ValueError, TypeError) as exc:
        raise error(message) from exc
    if pd.isna(cut):
        raise error(message)
    if strict and (cut != cut.normalize() or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(as_of))):
        raise error(message)
    return cut.normalize()


def as_dates(dates: str | pd.Timestamp | Iterable) -> pd.DatetimeIndex:
    """One or many dates as a sorted, de-duplicated, normalised ``DatetimeIndex``."""
    if isinstance(dates, (str, pd.Timestamp)):
        dates = [dates]
    return pd.DatetimeIndex(pd.to_datetime(list(dates))).normalize().unique().sort_values()


def status_at(ds: Dataset, dates, horizon_days: int | None = None) -> pd.DataFrame:
    """Status of every customer signed up before each date.

    Parameters
    ----------
    ds : the dataset.
    dates : one as-of date or several (computed in one set-based pass).
    horizon_days : inactivity horizon for non-contractual bases (default: the config's
        ``thresholds.churn_horizon_days``).

    Returns
    -------
    DataFrame, one row per (as_of, customer_id) with ``signup_date < as_of``:
    ``as_of``, ``customer_id``, ``signup_date``, ``last_interaction`` (NaT if none before
    as_of), ``days_since_last`` (from the last interaction, or from signup if none),
    ``tenure_days``, ``churn_date`` (NaT if not lost by as_of), ``lost`` (bool).
    """
    horizon = int(horizon_days or ds.config.thresholds.churn_horizon_days)
    idx = as_dates(dates)
    cust = ds.customers[["customer_id", "signup_date", "churn_date"]]
    grid = cust.merge(pd.DataFrame({"as_of": idx}), how="cross")
    grid = grid.loc[grid["signup_date"] < grid["as_of"]]
    inter = ds.interactions()[["customer_id", "time"]].rename(columns={"time": "last_interaction"})
    grid = grid.sort_values("as_of", kind="stable")
    inter = inter.sort_values("last_interaction", kind="stable")
    grid = pd.merge_asof(
        grid, inter, left_on="as_of", right_on="last_interaction", by="customer_id",
        allow_exact_matches=False, direction="backward",
    )
    ref = grid["last_interaction"].fillna(grid["signup_date"])
    grid["days_since_last"] = (grid["as_of"] - ref).dt.days
    grid["tenure_days"] = (grid["as_of"] - grid["signup_date"]).dt.days
    if ds.config.contractual:
        known = grid["churn_date"] < grid["as_of"]
        grid["churn_date"] = grid["churn_date"].where(known)
    else:
        crossed = ref + pd.Timedelta(days=horizon)
        grid["churn_date"] = crossed.where(crossed < grid["as_of"])
    grid["lost"] = grid["churn_date"].notna()
    cols = ["as_of", "customer_id", "signup_date", "last_interaction", "days_since_last",
            "tenure_days", "churn_date", "lost"]
    return grid[cols].sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)


def lost_clients(ds: Dataset, as_of, n: int | None = None, horizon_days: int | None = None) -> pd.DataFrame:
    """Clients lost before ``as_of``, most recent churn first (the last ``n`` if given).

    Returns the rows of :func:`status_at` at ``as_of`` with ``lost`` true, sorted by
    ``churn_date`` descending (ties by customer_id).
    """
    st = status_at(ds, as_of, horizon_days)
    lost = st.loc[st["lost"]].sort_values(["churn_date", "customer_id"], ascending=[False, True], kind="stable")
    return (lost.head(n) if n else lost).reset_index(drop=True)


def months_between(start: Any, last: pd.Timestamp) -> pd.DatetimeIndex:
    """First days of the calendar months from the month of ``start`` to ``last`` (a month
    start), named ``month``; empty if ``start`` is missing or after ``last``."""
    if start is None or pd.isna(start):
        return pd.DatetimeIndex([], name="month")
    first = pd.Timestamp(start).to_period("M").to_timestamp()
    if first > last:
        return pd.DatetimeIndex([], name="month")
    return pd.date_range(first, last, freq="MS", name="month")


def month_boundaries(months: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Month starts of ``months`` and the first day after the last one (the dates at which
    a month-by-month state is read)."""
    if len(months) == 0:
        return months
    return months.union(pd.DatetimeIndex([months[-1] + pd.offsets.MonthBegin(1)]))
