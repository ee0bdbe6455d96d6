"""Cohort decay: how fast acquisition cohorts (and segments) lose customers and revenue.

Answers "how fast does our base decay, which cohorts and segments decay faster, and is it
getting better or worse?". Everything is computed at an as-of date from data strictly
before it (:meth:`analysis.data.dataset.Dataset.before`).

Definitions (printed in the notebook's glossary)
-------------------------------------------------
cohort
    The customers whose ``signup_date`` falls in one calendar month (``period="M"``) or
    quarter (``period="Q"``); labelled by the first day of that period.
age ``k`` (months since acquisition)
    A customer's month ``k`` is the calendar month ``k`` months after their signup month
    (month 0 = the signup month itself). For quarterly cohorts each customer is aligned on
    their own signup month.
observable cell
    Cell ``(cohort, k)`` is observable when month ``k`` of *every* customer of the cohort is
    complete before the end of observation (the as-of date, or the end of the export if
    earlier). Other cells are NaN (never 0): a cohort acquired in the last complete month
    has exactly one observable cell.
lost, churn date
    From :func:`analysis.metrics.lifecycle.status_at` at the end of observation, not redefined here.
    Contractual: the ``churn_date`` (end of contract). Non-contractual: the day the
    inactivity horizon was crossed after the *last* significant interaction, so a
    customer who paused longer than the horizon and came back was never lost.
customer retention (``metric="customers"``)
    Share of the cohort not lost at the end of month ``k`` (churn date on or after the
    first day of month ``k + 1``, or no churn date).
revenue retention (``metric="revenue"``)
    Net revenue of the cohort's customers in month ``k`` over their net revenue in month 0.
    Net: refunds (negative amounts) are subtracted in the month they happen. Customers who
    left contribute 0 and survivors' expansion counts, so on a contractual base this ratio
    is the **net revenue retention** (NRR) of the cohort. NaN when month-0 revenue is not
    positive.
activity (``metric="activity"``)
    Share of the cohort with at least one significant interaction
    (:meth:`analysis.data.dataset.Dataset.interactions`: a purchase for an orders-only export)
    in month ``k``; the activity decay of non-contractual bases.
survival durations
    From signup to the churn date (event) or, for customers not lost, to the end of
    observation (censored). Non-contractual: the event is "horizon crossed before the end
    of observation"; a customer whose last interaction + horizon falls on or after it is
    censored there, at their full observed tenure. Durations are in months of
    365.25 / 12 days.
left truncation
    Customers who signed up before the export's first event (``observed_from``: the
    window opens on a base that already exists) are only seen because they were still
    customers then; those lost earlier are missing. Their cohorts' sizes at acquisition
    are unknown, so they are left out of the cohort matrices and per-cohort curves; in
    base-wide and per-segment Kaplan-Meier curves and log-rank tests they enter the risk
    set at ``observed_from`` (delayed entry, ``entry_months``), which keeps the estimates
    unbiased. Customers whose churn date is on or before ``observed_from`` are dropped (they
    were never observed at risk). When the export's first event falls inside a cohort
    period, that first cohort holds only the customers signed up from that day on.
half-life / median lifetime
    The Kaplan-Meier median: the first age (months) where the estimated survival is at or
    below 50 %; None if the curve has not gone that low within the observed ages.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.exceptions import StatError
from scipy.stats import chi2, chi2_contingency

from analysis.data.dataset import Dataset
from analysis.data.warehouse import Warehouse
from analysis.errors import ConfigError, NotEnoughDataError
from analysis.metrics import aggregates
from analysis.metrics.lifecycle import check_as_of, status_at

__all__ = [
    "MONTH_DAYS",
    "PERIODS",
    "METRICS",
    "end_of_observation",
    "customer_lifetimes",
    "retention_matrix",
    "to_wide",
    "cohort_groups",
    "km_curves",
    "km_at",
    "at_risk_table",
    "logrank_p",
    "segment_decay",
    "retention_trend",
    "pooled_curve",
    "cohort_summary",
    "resolve_segment",
    "CohortDecay",
    "cohort_decay",
]

#: Days in an average month (durations are expressed in these months).
MONTH_DAYS: float = 365.25 / 12
#: Cohort periods: calendar month or quarter.
PERIODS: tuple[str, ...] = ("M", "Q")
#: What a retention matrix measures.
METRICS: tuple[str, ...] = ("customers", "revenue", "activity")


def _month_ordinal(dates: pd.Series) -> pd.Series:
    """Months since year 0 (``year * 12 + month - 1``) as nullable Int64."""
    return (dates.dt.year * 12 + dates.dt.month - 1).astype("Int64")


def _check_period(period: str) -> str:
    if period not in PERIODS:
        raise ConfigError(f"cohort_period is '{period}'; expected 'M' (month) or 'Q' (quarter).")
    return period


def end_of_observation(ds: Dataset, as_of) -> pd.Timestamp:
    """The first day *not* observed: ``as_of``, or the day after the export's end if earlier."""
    cut = check_as_of(as_of)
    if ds.observed_until is not None:
        cut = min(cut, pd.Timestamp(ds.observed_until).normalize() + pd.Timedelta(days=1))
    return cut


def customer_lifetimes(ds: Dataset, as_of, period: str = "M",
                       horizon_days: int | None = None) -> pd.DataFrame:
    """One row per customer signed up before ``as_of``: cohort, churn and survival duration.

    Parameters
    ----------
    ds : the dataset; its ``customers`` table needs ``customer_id``, ``signup_date``,
        ``churn_date``; activity tables are read through ``status_at``.
    as_of : analysis date; only data strictly before it is read.
    period : ``"M"`` (monthly cohorts) or ``"Q"`` (quarterly cohorts).
    horizon_days : inactivity horizon for non-contractual bases (default: the config's).

    Returns
    -------
    DataFrame with columns ``customer_id``, ``signup_date``, ``cohort`` (first day of the
    signup period), ``signup_month`` (month ordinal, int), ``churn_date`` (NaT if not lost),
    ``event`` (bool, lost before the end of observation), ``end_date`` (churn date or end
    of observation), ``duration_days`` (int), ``duration_months`` (float),
    ``left_truncated`` (bool, signed up before the export's first event),
    ``entry_months`` (float, age when observation began; 0 if not left-truncated), then the
    segment attributes of :meth:`Dataset.segment_columns`. Sorted by customer_id.
    Customers lost on or before the export's first event are left out.

    Raises
    ------
    NotEnoughDataError
        If no customer signed up before ``as_of``.
    """
    _check_period(period)
    if isinstance(ds, Warehouse):  # the survival inputs built by SQL over the validated copy
        cut = check_as_of(as_of)
        end = end_of_observation(ds, cut)
        segs = ds.segment_columns(before=cut)
        out = aggregates.customer_status(ds, cut, end, horizon_days, segs)
        if out.empty:
            raise NotEnoughDataError(f"no customer signed up before {pd.Timestamp(as_of).date()}; "
                                     "choose a later as_of date.")
        return _lifetimes(out, segs, end, ds.observed_from, period)
    past = ds.before(as_of)
    end = end_of_observation(past, as_of)
    if past.customers.empty:
        raise NotEnoughDataError(f"no customer signed up before {pd.Timestamp(as_of).date()}; "
                                 "choose a later as_of date.")
    st = status_at(past, end, horizon_days=horizon_days)
    segs = past.segment_columns()
    out = st[["customer_id", "signup_date", "churn_date"]].merge(
        past.customers[["customer_id", *segs]], on="customer_id", how="left")
    return _lifetimes(out, segs, end, past.observed_from, period)


def _lifetimes(out: pd.DataFrame, segs: list[str], end: pd.Timestamp, observed_from: pd.Timestamp | None,
               period: str) -> pd.DataFrame:
    """:func:`customer_lifetimes` from each customer's status at ``end`` (``customer_id``,
    ``signup_date``, ``churn_date``) and segment attributes ``segs``."""
    out["cohort"] = out["signup_date"].dt.to_period(period).dt.start_time
    out["signup_month"] = _month_ordinal(out["signup_date"]).astype("int64")
    out["event"] = out["churn_date"].notna()
    out["end_date"] = out["churn_date"].fillna(end)
    out["duration_days"] = (out["end_date"] - out["signup_date"]).dt.days.astype("int64")
    out["duration_months"] = out["duration_days"] / MONTH_DAYS
    start = observed_from
    if start is None:
        out["left_truncated"] = False
        out["entry_months"] = 0.0
    else:
        start = pd.Timestamp(start).normalize()
        out["left_truncated"] = out["signup_date"] < start
        out = out.loc[~(out["left_truncated"] & (out["end_date"] <= start))].copy()
        entry_days = (start - out["signup_date"]).dt.days.clip(lower=0)
        out["entry_months"] = entry_days.where(out["left_truncated"], 0).astype("float64") / MONTH_DAYS
    cols = ["customer_id", "signup_date", "cohort", "signup_month", "churn_date", "event",
            "end_date", "duration_days", "duration_months", "left_truncated", "entry_months", *segs]
    return out[cols].sort_values("customer_id", kind="stable").reset_index(drop=True)


def _observable_ages(life: pd.DataFrame, end: pd.Timestamp, max_age: int) -> pd.DataFrame:
    """Per cohort: size, the last signup month, and the largest observable age."""
    last_complete = int(_month_ordinal(pd.Series([end])).iloc[0]) - 1
    g = life.groupby("cohort", observed=True).agg(
        cohort_size=("customer_id", "size"), last_month=("signup_month", "max"))
    g["max_observable_age"] = (last_complete - g["last_month"]).clip(upper=max_age)
    return g


def retention_matrix(ds: Dataset, as_of, period: str = "M", metric: str = "customers",
                     max_age: int | None = None, horizon_days: int | None = None,
                     lifetimes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cohort x months-since-acquisition retention, as a long table (see module definitions).

    Parameters
    ----------
    ds : the dataset (orders with ``amount`` are needed for ``metric="revenue"``; at least
        one activity table for ``metric="activity"``).
    as_of : analysis date; only data strictly before it is read.
    period : ``"M"`` or ``"Q"``.
    metric : ``"customers"`` (share not lost), ``"revenue"`` (net revenue over month 0) or
        ``"activity"`` (share with a significant interaction in the month).
    max_age : last age (months) to tabulate; default: the oldest cohort's observable age.
    horizon_days : inactivity horizon for non-contractual bases (default: the config's).
    lifetimes : the output of :func:`customer_lifetimes` for the same arguments, to
        avoid recomputing it.

    Left-truncated customers (see the module definitions) are left out.

    Returns
    -------
    DataFrame, one row per (cohort, age) for ages 0..max_age, columns ``cohort``,
    ``age`` (int), ``cohort_size`` (customers), ``observable`` (bool), ``numerator``
    (retained customers, net revenue or active customers; NaN if not observable),
    ``denominator`` (cohort size, or month-0 net revenue), ``value`` (the ratio; NaN if not
    observable or undefined). Sorted by cohort then age.

    Raises
    ------
    ConfigError
        On an unknown ``period`` or ``metric``.
    NotEnoughDataError
        For ``metric="revenue"`` without order amounts.
    """
    _check_period(period)
    if metric not in METRICS:
        raise ConfigError(f"metric is '{metric}'; expected one of {', '.join(METRICS)}.")
    sql = isinstance(ds, Warehouse)  # the event numerators by SQL over the validated copy
    past = ds if sql else ds.before(as_of)
    end = end_of_observation(past, as_of)
    life = lifetimes if lifetimes is not None else customer_lifetimes(ds, as_of, period, horizon_days)
    if "left_truncated" in life.columns:
        life = life.loc[~life["left_truncated"]].reset_index(drop=True)
    if life.empty:
        raise NotEnoughDataError("no customer acquired during the observed period before as_of: "
                                 "no cohort can be followed from its acquisition.")
    obs = _observable_ages(life, end, max_age if max_age is not None else 10**6)
    top = int(max(obs["max_observable_age"].max(), 0)) if max_age is None else int(max_age)
    ages = np.arange(top + 1)
    grid = pd.MultiIndex.from_product([obs.index, ages], names=["cohort", "age"]).to_frame(index=False)
    grid = grid.merge(obs[["cohort_size", "max_observable_age"]].reset_index(), on="cohort")
    grid["observable"] = grid["age"] <= grid["max_observable_age"]

    if metric == "customers":
        # retained at the end of month k  <=>  churn month - signup month - 1 >= k
        churn_m = _month_ordinal(life["churn_date"])
        last_k = (churn_m - life["signup_month"] - 1).astype("float64").fillna(np.inf).to_numpy()
        retained = pd.DataFrame(last_k[:, None] >= ages[None, :], columns=ages)
        num = retained.groupby(life["cohort"].to_numpy()).sum().rename_axis("cohort").reset_index()
        num = num.melt(id_vars="cohort", var_name="age", value_name="numerator")
        num["age"] = num["age"].astype("int64")
        grid = grid.merge(num, on=["cohort", "age"], how="left")
        grid["denominator"] = grid["cohort_size"].astype("float64")
    else:
        amounts = aggregates.has_amounts_before(ds, as_of) if sql else past.has_amounts
        if metric == "revenue" and not amounts:
            raise NotEnoughDataError("revenue retention needs orders with an amount column; "
                                     "this export has none (map one in dataset.yml).")
        if sql:
            num = aggregates.event_retention(ds, as_of, life, metric, top).set_index(["cohort", "age"])["numerator"]
        elif metric == "revenue":
            ev = past.orders[["customer_id", "order_date", "amount"]].rename(
                columns={"order_date": "time", "amount": "x"})
            ev = ev.loc[ev["x"].notna()]
        else:
            ev = past.interactions()[["customer_id", "time"]].assign(x=1.0)
        if not sql:
            ev = ev.merge(life[["customer_id", "cohort", "signup_month"]], on="customer_id", how="inner")
            ev["age"] = (_month_ordinal(ev["time"]) - ev["signup_month"]).astype("int64")
            ev = ev.loc[ev["age"].between(0, top)]
            if metric == "revenue":
                num = ev.groupby(["cohort", "age"], observed=True)["x"].sum().rename("numerator")
            else:
                num = ev.groupby(["cohort", "age"], observed=True)["customer_id"].nunique().rename("numerator")
        grid = grid.merge(num.reset_index(), on=["cohort", "age"], how="left")
        grid["numerator"] = grid["numerator"].astype("float64").fillna(0.0)
        if metric == "revenue":
            base = grid.loc[grid["age"].eq(0)].set_index("cohort")["numerator"]
            grid["denominator"] = grid["cohort"].map(base).astype("float64")
        else:
            grid["denominator"] = grid["cohort_size"].astype("float64")

    grid["numerator"] = grid["numerator"].astype("float64").where(grid["observable"])
    ok = grid["observable"] & (grid["denominator"] > 0)
    grid["value"] = (grid["numerator"] / grid["denominator"]).where(ok)
    cols = ["cohort", "age", "cohort_size", "observable", "numerator", "denominator", "value"]
    return grid[cols].sort_values(["cohort", "age"], kind="stable").reset_index(drop=True)


def to_wide(matrix: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    """A long retention matrix as cohort rows x age columns (NaN where not observable).

    Parameters
    ----------
    matrix : output of :func:`retention_matrix` (columns ``cohort``, ``age`` and ``column``).
    column : the column to spread (default ``value``).
    """
    return matrix.pivot(index="cohort", columns="age", values=column)


def cohort_groups(cohorts: pd.Series, max_groups: int = 4, sep: str = " – ") -> pd.Series:
    """Consecutive cohorts binned into at most ``max_groups`` groups of similar count.

    Parameters
    ----------
    cohorts : cohort start dates (one per customer, e.g. ``lifetimes["cohort"]``).
    max_groups : the most groups wanted.
    sep : text between the first and last cohort of a group.

    Returns
    -------
    Series of string labels ``"YYYY-MM – YYYY-MM"`` (first and last cohort of the group),
    aligned with ``cohorts``.
    """
    uniq = pd.Series(np.sort(cohorts.dropna().unique()))
    n = len(uniq)
    if n == 0:
        return pd.Series(pd.NA, index=cohorts.index, dtype="string")
    block = (np.arange(n) * min(max_groups, n)) // n
    first = uniq.groupby(block).transform("min").dt.strftime("%Y-%m")
    last = uniq.groupby(block).transform("max").dt.strftime("%Y-%m")
    label = first.where(first == last, first + sep + last)
    mapping = pd.Series(label.to_numpy(), index=uniq.to_numpy())
    return cohorts.map(mapping).astype("string")


def _groups(life: pd.DataFrame, by: str | None) -> pd.Series:
    if by is None:
        return pd.Series("all", index=life.index, dtype="string")
    if by not in life.columns:
        raise ConfigError(f"cannot group survival by '{by}': not a column of the customer table "
                          f"(available: {', '.join(c for c in life.columns if c not in ('customer_id',))}).")
    g = life[by]
    if pd.api.types.is_datetime64_any_dtype(g):
        return g.dt.strftime("%Y-%m").astype("string")
    return g.astype("string").fillna("n/a")


def _entry(lifetimes: pd.DataFrame) -> np.ndarray:
    if "entry_months" in lifetimes.columns:
        return lifetimes["entry_months"].to_numpy(dtype="float64")
    return np.zeros(len(lifetimes))


def km_curves(lifetimes: pd.DataFrame, by: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier survival curves (lifelines) per group, with confidence bands.

    Parameters
    ----------
    lifetimes : output of :func:`customer_lifetimes` (``duration_months``, ``event``, the
        ``by`` column and optionally ``entry_months`` for delayed entry).
    by : grouping column (``cohort``, a cohort group or a segment); None: the whole base.
    alpha : 1 - confidence level of the bands (lifelines' exponential Greenwood interval).

    Returns
    -------
    DataFrame with columns ``group``, ``months`` (the curve's steps: 0 and each observed
    duration), ``survival``, ``lower``, ``upper``, ``at_risk``, ``events``, ``censored``
    (counts at that time, from lifelines' ``event_table``). Sorted by group then months.
    A group whose risk set empties before later delayed entries (possible only with
    left-truncated customers, e.g. an old cohort seen only from the export's start) has no
    Kaplan-Meier estimate: it is left out with a warning and listed in
    ``result.attrs["skipped"]``. Per-cohort curves should use the customers acquired
    during the observed period (``lifetimes.loc[~lifetimes["left_truncated"]]``).

    Raises
    ------
    NotEnoughDataError
        If no group can be estimated.
    """
    grp = _groups(lifetimes, by)
    parts, skipped = [], []
    for name in sorted(grp.dropna().unique()):
        sel = grp.eq(name).to_numpy()
        entry = _entry(lifetimes)[sel]
        try:
            kmf = KaplanMeierFitter(alpha=alpha).fit(
                lifetimes.loc[sel, "duration_months"], lifetimes.loc[sel, "event"],
                entry=entry if entry.any() else None)
        except StatError:
            skipped.append(str(name))
            continue
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        et = kmf.event_table
        parts.append(pd.DataFrame({
            "group": name, "months": sf.index.to_numpy(dtype="float64"),
            "survival": sf.to_numpy(), "lower": ci.iloc[:, 0].to_numpy(),
            "upper": ci.iloc[:, 1].to_numpy(),
            "at_risk": et["at_risk"].reindex(sf.index).to_numpy(),
            "events": et["observed"].reindex(sf.index).to_numpy(),
            "censored": et["censored"].reindex(sf.index).to_numpy(),
        }))
    if skipped:
        warnings.warn(f"no Kaplan-Meier estimate for {', '.join(skipped)}: every customer still "
                      "followed was lost before later customers entered observation (left "
                      "truncation); left out.", stacklevel=2)
    if not parts:
        raise NotEnoughDataError("no Kaplan-Meier curve can be estimated: the groups hold only "
                                 "customers who entered observation late (left truncation).")
    out = pd.concat(parts, ignore_index=True)
    out["group"] = out["group"].astype("string")
    out.attrs["skipped"] = skipped
    return out


def km_at(curves: pd.DataFrame, lifetimes: pd.DataFrame, by: str | None = None,
          times: Sequence[float] = (3, 6, 12)) -> pd.DataFrame:
    """Kaplan-Meier survival and its interval at given ages, per group; plus median lifetime.

    A value is NaN at an age beyond the group's longest observed duration (never
    extrapolated).

    Parameters
    ----------
    curves : output of :func:`km_curves` with the same ``by``.
    lifetimes : output of :func:`customer_lifetimes`.
    by : the grouping column used for ``curves``.
    times : ages in months.

    Returns
    -------
    DataFrame, one row per group: ``group``, ``n`` (customers), ``events`` (lost),
    ``median_months`` (NaN if not reached), then for each age ``t``: ``retention_<t>m``,
    ``lower_<t>m``, ``upper_<t>m``.
    """
    grp = _groups(lifetimes, by)
    stats = pd.DataFrame({"group": grp, "d": lifetimes["duration_months"], "e": lifetimes["event"]})
    g = stats.groupby("group", observed=True).agg(n=("d", "size"), events=("e", "sum"), max_d=("d", "max"))
    out = g[["n", "events"]].copy()
    c = curves.sort_values(["group", "months"], kind="stable")
    for at in times:
        upto = c.loc[c["months"] <= at].groupby("group", observed=True).last()
        key = f"{at:g}m"
        defined = g["max_d"] >= at
        for col, src in (("retention", "survival"), ("lower", "lower"), ("upper", "upper")):
            out[f"{col}_{key}"] = upto[src].reindex(out.index).where(defined)
    below = c.loc[c["survival"] <= 0.5].groupby("group", observed=True)["months"].min()
    out.insert(2, "median_months", below.reindex(out.index))
    return out.reset_index()


def at_risk_table(lifetimes: pd.DataFrame, by: str | None = None,
                  times: Sequence[float] = (0, 3, 6, 12, 18, 24)) -> pd.DataFrame:
    """Customers at risk, lost and censored at given ages, per group (the table under a KM plot).

    Parameters
    ----------
    lifetimes : output of :func:`customer_lifetimes` (``duration_months``, ``event``, ``by``).
    by : grouping column, None for the whole base.
    times : ages in months.

    Returns
    -------
    DataFrame with columns ``group``, ``months``, ``at_risk`` (entry <= months <= duration),
    ``lost`` (events at a duration < months, cumulative) and ``censored`` (censored at a
    duration < months, cumulative); same conventions as lifelines' ``add_at_risk_counts``.
    """
    grp = _groups(lifetimes, by).to_numpy()
    d = lifetimes["duration_months"].to_numpy()[:, None]
    e = lifetimes["event"].to_numpy()[:, None]
    ts = np.asarray(times, dtype="float64")[None, :]
    entry = _entry(lifetimes)[:, None]
    frames = {
        "at_risk": pd.DataFrame((d >= ts) & (entry <= ts), columns=list(times)),
        "lost": pd.DataFrame((d < ts) & e, columns=list(times)),
        "censored": pd.DataFrame((d < ts) & ~e, columns=list(times)),
    }
    long = [f.groupby(grp).sum().rename_axis("group").reset_index()
            .melt(id_vars="group", var_name="months", value_name=name).set_index(["group", "months"])
            for name, f in frames.items()]
    out = pd.concat(long, axis=1).reset_index()
    out["months"] = out["months"].astype("float64")
    out["group"] = out["group"].astype("string")
    return out.sort_values(["group", "months"], kind="stable").reset_index(drop=True)


def logrank_p(durations, events, groups, entry=None) -> float:
    """p-value of the multivariate log-rank test across groups, with delayed entry.

    Same statistic as :func:`lifelines.statistics.multivariate_logrank_test` (which it
    equals when ``entry`` is None), computed on risk sets that a subject joins at its
    ``entry`` time (at risk at ``t`` when ``entry <= t <= duration``, lifelines' KM
    convention).

    Parameters
    ----------
    durations, events, groups : one value per subject (``events`` true = lost).
    entry : entry times (same unit as ``durations``), default 0.

    Returns
    -------
    The p-value (chi-square with groups - 1 degrees of freedom); NaN with fewer than two
    groups or no event.
    """
    d = np.asarray(durations, dtype="float64")
    e = np.asarray(events, dtype=bool)
    g = np.asarray(pd.Series(groups).astype("string").fillna("n/a"), dtype=object)
    en = np.zeros_like(d) if entry is None else np.asarray(entry, dtype="float64")
    names = np.unique(g)
    times = np.unique(d[e])
    if len(names) < 2 or len(times) == 0:
        return float("nan")
    n = np.empty((len(times), len(names)))
    o = np.empty((len(times), len(names)))
    for j, name in enumerate(names):  # a handful of groups
        sel = g == name
        ds_, es_ = np.sort(d[sel]), np.sort(en[sel])
        ev = np.sort(d[sel & e])
        n[:, j] = np.searchsorted(es_, times, "right") - np.searchsorted(ds_, times, "left")
        o[:, j] = np.searchsorted(ev, times, "right") - np.searchsorted(ev, times, "left")
    n_tot, d_tot = n.sum(axis=1), o.sum(axis=1)
    share = n / n_tot[:, None]
    z = (o - d_tot[:, None] * share).sum(axis=0)
    w = np.where(n_tot > 1, d_tot * (n_tot - d_tot) / np.maximum(n_tot - 1, 1), 0.0)
    v = np.einsum("t,tg,th->gh", w, share, -share) + np.diag((w[:, None] * share).sum(axis=0))
    stat = float(z[:-1] @ np.linalg.pinv(v[:-1, :-1]) @ z[:-1])
    return float(chi2.sf(stat, len(names) - 1))


def segment_decay(lifetimes: pd.DataFrame, segment_by: str, at_months: float = 12,
                  alpha: float = 0.05) -> tuple[pd.DataFrame, dict]:
    """Which segment decays fastest: KM retention per segment and a log-rank test.

    Parameters
    ----------
    lifetimes : output of :func:`customer_lifetimes` with the ``segment_by`` column.
    segment_by : a customer segment attribute (see :meth:`Dataset.segment_columns`).
    at_months : the age at which segments are ranked (default 12 months).
    alpha : 1 - confidence level of the KM intervals.

    Returns
    -------
    (table, result): ``table`` is :func:`km_at` per segment at 3, 6 and ``at_months``,
    sorted fastest decay first; ``result`` holds ``fastest_segment`` (lowest KM retention
    at ``at_months`` among segments observed that long; None if none is),
    ``fastest_segment_retention`` and ``logrank_p`` (multivariate log-rank test across
    segments with delayed entry, :func:`logrank_p`; None with fewer than two segments).

    Raises
    ------
    ConfigError
        If ``segment_by`` is not a column of ``lifetimes``.
    """
    if segment_by not in lifetimes.columns:
        raise ConfigError(f"segment_by '{segment_by}' is not a customer attribute; "
                          "use one of the customers table's segment columns, or none.")
    grp = _groups(lifetimes, segment_by)
    curves = km_curves(lifetimes, segment_by, alpha)
    times = tuple(dict.fromkeys((3, 6, at_months)))
    table = km_at(curves, lifetimes, segment_by, times)
    key = f"retention_{at_months:g}m"
    table = table.sort_values([key, "group"], na_position="last", kind="stable").reset_index(drop=True)
    ranked = table.dropna(subset=[key])
    p = logrank_p(lifetimes["duration_months"], lifetimes["event"], grp, _entry(lifetimes))
    result = {
        "fastest_segment": None if ranked.empty else str(ranked["group"].iloc[0]),
        "fastest_segment_retention": None if ranked.empty else float(ranked[key].iloc[0]),
        "logrank_p": None if np.isnan(p) else p,
    }
    return table, result


def retention_trend(matrix: pd.DataFrame, age: int = 3, n: int = 6,
                    min_delta: float = 2.0) -> dict:
    """Are recent cohorts retaining better than older ones at a fixed age?

    Compares the pooled retention at ``age`` (sum of numerators / sum of denominators) of
    the last ``n`` cohorts for which that cell is observable with the ``n`` cohorts before
    them. With fewer than ``2 n`` such cohorts, ``n`` becomes half of them (rounded down).

    Parameters
    ----------
    matrix : output of :func:`retention_matrix` (any metric).
    age : the fixed age, months since acquisition.
    n : cohorts per side.
    min_delta : a change smaller than this many percentage points is "stable".

    Returns
    -------
    dict with ``trend`` (``improving`` / ``worsening`` / ``stable``; None with fewer than
    two mature cohorts), ``trend_delta`` (points, recent - older), ``recent``, ``older``
    (pooled retention), ``n_per_side``, ``age``, ``recent_cohorts``, ``older_cohorts``
    (first and last cohort of each side) and ``trend_p``: the two-sided p-value of the
    difference of the two pooled shares (chi-squared test of the 2 x 2 table retained / not
    retained by side, without continuity correction, i.e. the two-proportion z-test; None when
    a side or an outcome is empty). A trend is a finding only when ``trend_p`` is small.
    """
    cells = matrix.loc[matrix["age"].eq(age) & matrix["observable"] & (matrix["denominator"] > 0)]
    cells = cells.sort_values("cohort", kind="stable")
    k = min(int(n), len(cells) // 2)
    out = {"trend": None, "trend_delta": None, "recent": None, "older": None,
           "n_per_side": k, "age": int(age), "recent_cohorts": None, "older_cohorts": None, "trend_p": None}
    if k < 1:
        return out
    recent, older = cells.iloc[-k:], cells.iloc[-2 * k:-k]
    r = float(recent["numerator"].sum() / recent["denominator"].sum())
    o = float(older["numerator"].sum() / older["denominator"].sum())
    delta = 100.0 * (r - o)
    trend = "stable" if abs(delta) < min_delta else ("improving" if delta > 0 else "worsening")
    span = lambda c: (c["cohort"].iloc[0], c["cohort"].iloc[-1])  # noqa: E731
    table = np.array([[recent["numerator"].sum(), recent["denominator"].sum() - recent["numerator"].sum()],
                      [older["numerator"].sum(), older["denominator"].sum() - older["numerator"].sum()]], float)
    p = None
    if (table.sum(axis=0) > 0).all() and (table.sum(axis=1) > 0).all():
        p = float(chi2_contingency(table, correction=False)[1])
    out.update(trend=trend, trend_delta=delta, recent=r, older=o, trend_p=p,
               recent_cohorts=span(recent), older_cohorts=span(older))
    return out


def pooled_curve(matrix: pd.DataFrame) -> pd.DataFrame:
    """The base-wide curve of a retention matrix: pooled over the cohorts observable at each age.

    Parameters
    ----------
    matrix : output of :func:`retention_matrix` (``age``, ``observable``, ``numerator``,
        ``denominator``).

    Returns
    -------
    DataFrame with columns ``age``, ``n_cohorts`` (cohorts observable at that age and with
    a positive denominator), ``value`` (sum of numerators / sum of denominators over them).
    Ages no cohort reaches are left out.
    """
    ok = matrix.loc[matrix["observable"] & (matrix["denominator"] > 0)]
    g = ok.groupby("age").agg(n_cohorts=("cohort", "size"), num=("numerator", "sum"),
                              den=("denominator", "sum"))
    g["value"] = g["num"] / g["den"]
    return g.reset_index()[["age", "n_cohorts", "value"]]


def cohort_summary(ds: Dataset, as_of, period: str = "M", segment_by: str | None = None,
                   horizon_days: int | None = None, alpha: float = 0.05,
                   trend_age: int = 3, trend_n: int = 6, min_delta: float = 2.0,
                   lifetimes: pd.DataFrame | None = None) -> dict:
    """The key figures of a cohort decay run (the keys of the notebook's JSON sidecar).

    Parameters
    ----------
    ds, as_of, period, horizon_days : as in :func:`customer_lifetimes`.
    segment_by : segment attribute to compare, or None.
    alpha : 1 - confidence level of the KM intervals.
    trend_age, trend_n, min_delta : see :func:`retention_trend`. The trend is read on the
        customer retention matrix for contractual bases and on the activity matrix for
        non-contractual ones (there nobody can be lost before the horizon, so customer
        retention at a young age is 100 % by construction).
    lifetimes : :func:`customer_lifetimes` for the same arguments, when already computed.

    Returns
    -------
    dict: ``cohort_period``, ``n_customers``, ``n_cohorts`` (cohorts of the matrix, i.e.
    acquired during the observed period), ``n_left_truncated``, ``retention_3m``,
    ``retention_6m``, ``retention_12m`` (base-wide KM, None beyond the observed ages) and
    their ``_lower`` / ``_upper`` bounds, ``median_lifetime_months`` (None if not reached),
    ``trend``, ``trend_delta``, ``trend_recent``, ``trend_older``, ``trend_n_per_side``
    (see :func:`retention_trend`), ``trend_metric``, ``trend_age``, ``segment_by``, ``fastest_segment``,
    ``fastest_segment_retention_12m``, ``logrank_p``.
    """
    life = lifetimes if lifetimes is not None else customer_lifetimes(ds, as_of, period, horizon_days)
    curves = km_curves(life, None, alpha)
    base = km_at(curves, life, None, (3, 6, 12)).iloc[0]
    trend_metric = "customers" if ds.config.contractual else "activity"
    matrix = retention_matrix(ds, as_of, period, trend_metric, horizon_days=horizon_days, lifetimes=life)
    n_cohorts = int(matrix["cohort"].nunique())
    tr = retention_trend(matrix, trend_age, trend_n, min_delta)

    def val(x):
        return None if pd.isna(x) else float(x)

    out = {
        "cohort_period": period,
        "n_customers": int(len(life)),
        "n_cohorts": n_cohorts,
        "n_left_truncated": int(life["left_truncated"].sum()),
        "median_lifetime_months": val(base["median_months"]),
        "trend": tr["trend"],
        "trend_delta": tr["trend_delta"],
        "trend_p": tr["trend_p"],
        "trend_recent": tr["recent"],
        "trend_older": tr["older"],
        "trend_n_per_side": tr["n_per_side"],
        "trend_metric": trend_metric,
        "trend_age": int(trend_age),
        "segment_by": segment_by,
        "fastest_segment": None,
        "fastest_segment_retention_12m": None,
        "logrank_p": None,
    }
    for m in (3, 6, 12):
        out[f"retention_{m}m"] = val(base[f"retention_{m}m"])
        out[f"retention_{m}m_lower"] = val(base[f"lower_{m}m"])
        out[f"retention_{m}m_upper"] = val(base[f"upper_{m}m"])
    if segment_by:
        _, res = segment_decay(life, segment_by, 12, alpha)
        out.update(fastest_segment=res["fastest_segment"],
                   fastest_segment_retention_12m=res["fastest_segment_retention"],
                   logrank_p=res["logrank_p"])
    return out


def resolve_segment(ds: Dataset, segment_by: str | None) -> str | None:
    """The segment attribute to compare: ``"auto"`` picks the first of
    :meth:`Dataset.segment_columns`, ``"none"`` / ``""`` / None means no comparison.

    Raises
    ------
    ConfigError
        If ``segment_by`` names a column that is not a usable segment attribute.
    """
    if segment_by is None or str(segment_by).strip().lower() in ("", "none"):
        return None
    cols = ds.segment_columns()
    if segment_by == "auto":
        return cols[0] if cols else None
    if segment_by not in cols:
        raise ConfigError(f"segment_by is '{segment_by}', which is not a segment attribute of the "
                          f"customers table; use one of: {', '.join(cols) or '(none available)'}, or none.")
    return segment_by


#: Ages (months) of the at-risk tables under the survival curves.
AT_RISK_MONTHS: tuple[int, ...] = (0, 3, 6, 12, 18, 24)


@dataclass
class CohortDecay:
    """Everything notebook 03 shows, computed once: :func:`cohort_decay` builds it.

    Attributes
    ----------
    as_of, period : the analysis date (ISO) and the cohort period (``M`` / ``Q``).
    segment : the segment attribute compared (:func:`resolve_segment`), or None.
    lifetimes : :func:`customer_lifetimes`.
    summary : :func:`cohort_summary` (the key figures).
    heat_metric : the metric of the heatmap (``revenue`` falls back to ``customers``
        without amounts).
    matrix : :func:`retention_matrix` of ``heat_metric``.
    group_lifetimes : the customers followed from their acquisition, with ``cohort_group``
        (:func:`cohort_groups`, at most four groups).
    group_curves, group_at_risk : KM curves and at-risk table per cohort group.
    cohort_table : :func:`km_at` per cohort at 3, 6 and 12 months.
    at_risk_months : ages of the at-risk tables (those the data reaches).
    segment_table, segment_curves, segment_at_risk : :func:`segment_decay`'s table, KM curves
        and at-risk table per segment (None without segment).
    revenue : revenue retention matrix (None without amounts).
    activity : activity retention matrix.
    contractual, churn_horizon_days, dataset, business_model : from the dataset config.
    n_signed_up : customers of the export signed up before ``as_of`` (those of the other
        notebooks); :attr:`n_lost_before_export` of them are not in ``lifetimes``.
    """

    as_of: str
    period: str
    segment: str | None
    lifetimes: pd.DataFrame
    summary: dict[str, Any]
    heat_metric: str
    matrix: pd.DataFrame
    group_lifetimes: pd.DataFrame
    group_curves: pd.DataFrame
    group_at_risk: pd.DataFrame
    cohort_table: pd.DataFrame
    at_risk_months: list[int]
    activity: pd.DataFrame
    revenue: pd.DataFrame | None = None
    segment_table: pd.DataFrame | None = None
    segment_curves: pd.DataFrame | None = None
    segment_at_risk: pd.DataFrame | None = None
    dataset: str = ""
    business_model: str = "contractual"
    churn_horizon_days: int = 90
    n_signed_up: int = 0

    @property
    def n_lost_before_export(self) -> int:
        """Customers of the export signed up before ``as_of`` but left out of the analysis: lost
        on or before the export's first event (:func:`customer_lifetimes`), so the cohort views
        count ``n_signed_up - n_lost_before_export`` customers."""
        return max(int(self.n_signed_up) - int(len(self.lifetimes)), 0)

    @property
    def n_left_truncated(self) -> int:
        """Customers signed up before the export's first event (left out of the matrices)."""
        return int(self.lifetimes["left_truncated"].sum())

    def key_figures(self) -> dict[str, Any]:
        """The figures of the notebook's JSON sidecar (schema:
        :class:`analysis.reporting.summary.CohortDecayFigures`)."""
        return {**self.summary, "as_of": self.as_of, "dataset": self.dataset,
                "business_model": self.business_model, "churn_horizon_days": self.churn_horizon_days,
                "heatmap_metric": self.heat_metric, "n_signed_up": int(self.n_signed_up),
                "n_lost_before_export": self.n_lost_before_export}


def cohort_decay(ds: Dataset, as_of, period: str = "M", segment_by: str | None = "auto",
                 metric: str = "customers", horizon_days: int | None = None) -> CohortDecay:
    """The cohort-decay analysis at ``as_of``: lifetimes, matrices, survival per cohort group
    and per segment, revenue and activity decay, and the key figures.

    Parameters
    ----------
    ds, as_of, period, horizon_days : as in :func:`customer_lifetimes`.
    segment_by : ``"auto"``, ``"none"`` or a segment attribute (:func:`resolve_segment`).
    metric : heatmap metric, ``customers`` or ``revenue`` (``customers`` without amounts).
    """
    segment = resolve_segment(ds, segment_by)
    life = customer_lifetimes(ds, as_of, period, horizon_days)
    summary = cohort_summary(ds, as_of, period, segment_by=segment, horizon_days=horizon_days, lifetimes=life)
    heat = metric if metric != "revenue" or ds.has_amounts else "customers"
    matrix = retention_matrix(ds, as_of, period, heat, horizon_days=horizon_days, lifetimes=life)
    acquired = life.loc[~life["left_truncated"]]
    groups = acquired.assign(cohort_group=cohort_groups(acquired["cohort"], max_groups=4))
    months = [m for m in AT_RISK_MONTHS if m <= life["duration_months"].max()]
    out = CohortDecay(
        as_of=pd.Timestamp(as_of).date().isoformat(), period=period, segment=segment, lifetimes=life,
        summary=summary, heat_metric=heat, matrix=matrix, group_lifetimes=groups,
        group_curves=km_curves(groups, "cohort_group"),
        group_at_risk=at_risk_table(groups, "cohort_group", months),
        cohort_table=km_at(km_curves(acquired, "cohort"), acquired, "cohort", (3, 6, 12)),
        at_risk_months=months,
        activity=retention_matrix(ds, as_of, period, "activity", horizon_days=horizon_days, lifetimes=life),
        revenue=(retention_matrix(ds, as_of, period, "revenue", horizon_days=horizon_days, lifetimes=life)
                 if ds.has_amounts else None),
        dataset=ds.config.name, business_model=ds.config.business_model,
        churn_horizon_days=int(horizon_days or ds.config.thresholds.churn_horizon_days),
        n_signed_up=int((ds.customers["signup_date"] < pd.Timestamp(as_of)).sum()),
    )
    if segment is not None:
        out.segment_table, _ = segment_decay(life, segment, 12)
        out.segment_curves = km_curves(life, segment)
        out.segment_at_risk = at_risk_table(life, segment, months)
    return out
