"""Snapshots, labels and features of the churn-risk classifier (issue 6).

A **snapshot** is a past date. At each snapshot, every customer *known* then (signed up
before it) whose contract has not explicitly ended before it gets one row of features
computed from data strictly before the snapshot, a ``status`` and a **label**: lost within
``horizon_days`` after it.

* contractual business: ``churn_date`` in ``[snapshot, snapshot + horizon)``;
* non-contractual business: no significant interaction in ``[snapshot, snapshot + horizon)``.
  Customers already silent for the horizon (``lapsed``) are kept: their label is the same
  (no significant interaction in the window), so the model also ranks win-back candidates.

**Status** (:data:`STATUSES`, from the days since the last significant interaction ``d``,
the config thresholds and the run's horizon ``h``): ``active`` ``d < watch_days``;
``watch`` up to ``inactive_days``; ``inactive`` up to ``h``; ``lapsed`` ``d >= h`` (the
non-contractual lost definition with the same horizon). One horizon per run: status,
labels, the BG/NBD features and the lost definition all use ``horizon_days``.

A snapshot can be labelled only if its whole window is observed before the as-of date
(``snapshot + horizon <= as_of``); :func:`labels` refuses any other. The same features at
``as_of`` itself are what the model scores.

Features are the six indicators of :func:`analysis.metrics.signals.indicators` (one call for all
dates) plus model-specific columns: tenure, lifetime counts of purchases and interactions,
days since the first purchase, segment attributes (one-hot), and explicit
``missing_<group>`` columns (1 when a table is absent or a customer has no answer, usage,
email or purchase history). Missing values stay NaN; they are never silently zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.dataset import Dataset
from analysis.errors import ConfigError, NotEnoughDataError
from analysis.metrics.lifecycle import as_dates, status_at
from analysis.metrics.signals import SignalParams, indicators
from analysis.models.baselines import bgnbd_scores

__all__ = ["snapshot_dates", "labels", "features", "feature_columns", "customer_status", "KEYS",
           "MISSING_GROUPS", "STATUSES"]

KEYS = ["as_of", "customer_id"]
#: Customer statuses, from the most to the least engaged.
STATUSES: tuple[str, ...] = ("active", "watch", "inactive", "lapsed")

#: Indicator column whose absence (NaN) marks a group of features as missing.
MISSING_GROUPS: dict[str, str] = {
    "email": "open_rate_10",
    "nps": "nps_last",
    "usage": "usage_score",
    "value": "revenue_12m",
    "interval": "interval_recent_days",
    "frequency": "freq_change_m1",
}

#: Indicator columns that are categories (one-hot encoded) or text, not numbers.
_CATEGORICAL = ("email_segment", "nps_category", "status")
_DROP = ("lost", "any_alert")


def snapshot_dates(ds: Dataset, as_of, horizon_days: int, freq: str = "MS",
                   min_history_days: int = 30, max_snapshots: int | None = 12) -> pd.DatetimeIndex:
    """Past dates at which a model can be trained: their label window ends by ``as_of``.

    Dates follow ``freq`` (month starts by default) from the first date with at least
    ``min_history_days`` of data to the last date ``d`` with ``d + horizon_days <= as_of``;
    only the latest ``max_snapshots`` are kept (None: all).

    Raises
    ------
    NotEnoughDataError
        If no date fits (history too short for the horizon).
    """
    cut = pd.Timestamp(as_of).normalize()
    if ds.observed_from is None:
        raise NotEnoughDataError("The dataset holds no dated activity: no snapshot can be built.")
    start = ds.observed_from.normalize() + pd.Timedelta(days=min_history_days)
    end = cut - pd.Timedelta(days=int(horizon_days))
    if end < start:
        raise NotEnoughDataError(
            f"No snapshot fits: a {horizon_days}-day label window must end by {cut.date()}, so "
            f"snapshots must be on or before {end.date()}, but the data only starts on "
            f"{ds.observed_from.date()} (+{min_history_days} days of history). Use a later "
            "as-of date or a shorter horizon."
        )
    dates = pd.date_range(start, end, freq=freq)
    if len(dates) == 0:
        raise NotEnoughDataError(
            f"No '{freq}' date between {start.date()} and {end.date()}: use a finer snapshot "
            "frequency, a later as-of date or a shorter horizon."
        )
    if max_snapshots:
        dates = dates[-int(max_snapshots):]
    return pd.DatetimeIndex(dates)


def labels(ds: Dataset, snapshots, horizon_days: int, as_of) -> pd.DataFrame:
    """Whether each customer active at each snapshot is lost within ``horizon_days``.

    Parameters
    ----------
    ds : the dataset (``customers`` with ``churn_date`` for a contractual base;
        significant interactions for a non-contractual one).
    snapshots : snapshot dates.
    horizon_days : length of the label window.
    as_of : the analysis date; every window must end by it.

    Returns
    -------
    DataFrame with ``as_of`` (the snapshot), ``customer_id``, ``label`` (int 0/1), one row
    per customer signed up before the snapshot whose contract has not ended before it
    (non-contractual: every customer signed up before it).

    Raises
    ------
    ConfigError
        If a snapshot's window ``[snapshot, snapshot + horizon)`` ends after ``as_of``.
    """
    idx = as_dates(snapshots)
    cut = pd.Timestamp(as_of).normalize()
    h = pd.Timedelta(days=int(horizon_days))
    late = idx[idx + h > cut]
    if len(late):
        raise ConfigError(
            f"Snapshot(s) {[d.date().isoformat() for d in late]}: their {horizon_days}-day label "
            f"window ends after the as-of date {cut.date()}, so it is not fully observed."
        )
    st = _known(ds, idx, horizon_days)[["as_of", "customer_id"]].reset_index(drop=True)
    if ds.config.contractual:
        churn = ds.customers.set_index("customer_id")["churn_date"]
        cd = st["customer_id"].map(churn)
        lost = (cd >= st["as_of"]) & (cd < st["as_of"] + h)
    else:
        inter = ds.interactions()[["customer_id", "time"]].rename(columns={"time": "next_time"})
        inter["customer_id"] = inter["customer_id"].astype("string")
        inter = inter.sort_values("next_time", kind="stable")
        nxt = pd.merge_asof(st.sort_values("as_of", kind="stable"), inter, left_on="as_of",
                            right_on="next_time", by="customer_id", direction="forward",
                            allow_exact_matches=True)
        st = nxt[["as_of", "customer_id"]].reset_index(drop=True)
        lost = (nxt["next_time"].isna() | (nxt["next_time"] >= nxt["as_of"] + h)).to_numpy()
    out = st.assign(label=np.asarray(lost, dtype="int64"))
    return out.sort_values(KEYS, kind="stable").reset_index(drop=True)


def _known(ds: Dataset, idx: pd.DatetimeIndex, horizon_days: int) -> pd.DataFrame:
    """:func:`status_at` rows of the customers scored at each date: signed up before it and
    not explicitly ended before it (a contractual ``churn_date``)."""
    st = status_at(ds, idx, horizon_days=int(horizon_days))
    if ds.config.contractual:
        st = st.loc[~st["lost"]]
    st = st.reset_index(drop=True)
    st["customer_id"] = st["customer_id"].astype("string")
    return st


def customer_status(days_since_last: pd.Series, thresholds, horizon_days: int) -> pd.Series:
    """The :data:`STATUSES` code of each customer from the days since the last significant
    interaction (see the module docstring); NA where ``days_since_last`` is missing.

    Parameters
    ----------
    days_since_last : days, one per customer.
    thresholds : :class:`analysis.data.config.Thresholds` (``watch_days``, ``inactive_days``).
    horizon_days : the run's horizon: at or beyond it a customer is ``lapsed``.
    """
    h = float(horizon_days)
    levels = np.array([min(thresholds.watch_days, h), min(thresholds.inactive_days, h), h], dtype="float64")
    d = pd.to_numeric(days_since_last, errors="coerce").astype("float64").to_numpy()
    code = np.searchsorted(levels, d, side="right")
    out = pd.array(np.asarray(STATUSES, dtype=object)[np.minimum(code, 3)], dtype="string")
    out[np.isnan(d)] = pd.NA
    return pd.Series(out, index=days_since_last.index, name="status")


def _lifetime_counts(ds: Dataset, grid: pd.DataFrame) -> pd.DataFrame:
    """Counts before each (as_of, customer): purchases, interactions, days since first purchase,
    and the regularity of the gaps between purchases (``purchase_gap_cv``: standard deviation
    of the gaps over their mean, NaN with fewer than two gaps)."""
    out = grid[KEYS].copy()
    out["customer_id"] = out["customer_id"].astype("string")
    sources = {"n_interactions_total": ds.interactions()[["customer_id", "time"]]}
    if ds.has("orders"):
        o = ds.orders.loc[~ds.orders["is_refund"], ["customer_id", "order_date"]]
        sources["n_purchases_total"] = o.rename(columns={"order_date": "time"})
    left = out.sort_values("as_of", kind="stable")
    for name, ev in sources.items():
        ev = ev.assign(customer_id=ev["customer_id"].astype("string"))
        ev = ev.sort_values(["customer_id", "time"], kind="stable").reset_index(drop=True)
        g = ev.groupby("customer_id", observed=True)
        gap = (ev["time"] - g["time"].shift()).dt.total_seconds() / 86400.0
        ev = ev.assign(_n=g.cumcount() + 1.0, _first=g["time"].transform("min"),
                       _gap2=(gap ** 2).fillna(0.0).groupby(ev["customer_id"], observed=True).cumsum())
        ev = ev.sort_values("time", kind="stable")
        m = pd.merge_asof(left, ev, left_on="as_of", right_on="time", by="customer_id",
                          direction="backward", allow_exact_matches=False)
        m[name] = m["_n"].fillna(0.0)
        if name == "n_purchases_total":
            m["days_since_first_purchase"] = (m["as_of"] - m["_first"]).dt.days.astype("float64")
            gaps = m["_n"] - 1.0
            mean_gap = ((m["time"] - m["_first"]).dt.total_seconds() / 86400.0) / gaps.where(gaps >= 2)
            var = (m["_gap2"] / gaps.where(gaps >= 2) - mean_gap ** 2).clip(lower=0.0)
            m["purchase_gap_cv"] = np.sqrt(var) / mean_gap.where(mean_gap > 0)
            cols = [name, "days_since_first_purchase", "purchase_gap_cv"]
        else:
            cols = [name]
        out = out.merge(m[KEYS + cols], on=KEYS, how="left")
    return out


def features(ds: Dataset, dates, params: SignalParams | None = None,
             horizon_days: int | None = None, random_state: int = 0,
             bgnbd_fits: list | None = None, bgnbd: dict | None = None) -> pd.DataFrame:
    """Model features of every customer known at each date, from data strictly before it.

    Parameters
    ----------
    ds : the dataset.
    dates : snapshot dates and/or the scoring date (one set-based pass over all of them).
    params : passed to :func:`analysis.metrics.signals.indicators`.
    horizon_days : the run's horizon: status, the lost definition and the
        ``bgnbd_expected_purchases`` feature (default: the config's churn horizon).
    random_state : seed of the buyer sample of the BG/NBD fit on large bases.
    bgnbd_fits : if a list, one record per date of the BG/NBD fit is appended to it (see
        :func:`analysis.models.baselines.bgnbd_scores`); a dropped fit leaves the BG/NBD
        features NaN at that date.
    bgnbd : on a partition of customers, the BG/NBD models fitted on the whole base
        (``fitted`` of :func:`analysis.models.baselines.bgnbd_scores`); None fits them on ``ds``.

    Returns
    -------
    DataFrame with ``as_of``, ``customer_id``, ``status`` (:data:`STATUSES`), then the
    numeric feature columns (:func:`feature_columns`): indicator values (alerts as
    0/1/NaN), one-hot indicator categories, ``tenure_days``, ``days_since_last``,
    ``n_interactions_total``; with orders ``n_purchases_total``, ``days_since_first_purchase``,
    ``purchases_per_30d``, ``silence_in_usual_gaps`` (days since last / lifetime mean gap),
    ``recency_over_age`` (days since the last purchase / days since the first),
    ``purchase_gap_cv`` (regularity), ``bgnbd_expected_purchases``, ``bgnbd_p_alive`` and
    ``bgnbd_p_no_purchase`` (the BG/NBD probability of the label; NaN where the fit was dropped); ``missing_<group>`` (0/1), one-hot segment attributes
    ``seg_<column>_<value>`` and numeric segment attributes ``seg_<column>``. One row per
    customer signed up before the date and not explicitly ended before it. Also kept: the
    raw indicator columns used for reasons (categories as strings) under their own names.
    Infinite values never leave this function (they become NaN).
    """

    idx = as_dates(dates)
    h = int(horizon_days or ds.config.thresholds.churn_horizon_days)
    st = _known(ds, idx, h)[KEYS + ["days_since_last", "tenure_days"]]
    st["status"] = customer_status(st["days_since_last"], ds.config.thresholds, h)
    ind = indicators(ds, idx, params)
    ind = ind.drop(columns=[c for c in ("days_since_last", "tenure_days", *_DROP) if c in ind.columns])
    ind["customer_id"] = ind["customer_id"].astype("string")
    ind["as_of"] = pd.to_datetime(ind["as_of"]).astype("datetime64[ns]")
    frame = st.merge(ind, on=KEYS, how="left")
    frame = frame.merge(_lifetime_counts(ds, frame), on=KEYS, how="left")
    if "n_purchases_total" in frame.columns:
        # purchase pace over the customer's life, and the current silence in "usual gaps"
        n = frame["n_purchases_total"].where(frame["n_purchases_total"] > 0)
        age = frame["days_since_first_purchase"].clip(lower=1.0)
        frame["purchases_per_30d"] = 30.0 * n / age
        frame["silence_in_usual_gaps"] = frame["days_since_last"] / (age / n)
        frame["recency_over_age"] = frame["days_since_last"] / age.where(n.notna())
        # the BG/NBD baseline itself, fitted at each date on the purchases before it
        bg = bgnbd_scores(ds, idx, h, errors="skip", random_state=random_state, fitted=bgnbd)
        if bgnbd_fits is not None:
            bgnbd_fits.extend(bg.attrs.get("fits", []))
        frame = frame.merge(bg[KEYS + ["expected_purchases", "p_alive", "p_no_purchase"]].rename(
            columns={"expected_purchases": "bgnbd_expected_purchases", "p_alive": "bgnbd_p_alive",
                     "p_no_purchase": "bgnbd_p_no_purchase"}), on=KEYS, how="left")
    for group, col in MISSING_GROUPS.items():
        if col in frame.columns:
            frame[f"missing_{group}"] = frame[col].isna().astype("float64")
        else:
            frame[f"missing_{group}"] = 1.0
    for col in frame.columns:
        if col.startswith("alert_"):
            frame[col] = frame[col].astype("Float64").astype("float64")
    for col in _CATEGORICAL:
        if col in frame.columns:
            dummies = pd.get_dummies(frame[col].astype("string"), prefix=f"is_{col}", dtype="float64")
            frame = pd.concat([frame, dummies], axis=1)
    segs = ds.segment_columns()
    if segs:
        cust = ds.customers.set_index("customer_id")[segs]
        for col in segs:
            values = frame["customer_id"].map(cust[col])
            if pd.api.types.is_numeric_dtype(cust[col]) and not pd.api.types.is_bool_dtype(cust[col]):
                frame[f"seg_{col}"] = values.astype("float64")
            else:
                dummies = pd.get_dummies(values.astype("string"), prefix=f"seg_{col}", dtype="float64")
                frame = pd.concat([frame, dummies], axis=1)
    num = frame.select_dtypes(include="number").columns
    frame[num] = frame[num].replace([np.inf, -np.inf], np.nan)  # non-finite values never reach a model
    return frame.sort_values(KEYS, kind="stable").reset_index(drop=True)


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric model inputs of a :func:`features` frame (keys, text and labels excluded)."""
    skip = set(KEYS) | set(_CATEGORICAL) | set(_DROP) | {"label"}
    return [c for c in frame.columns
            if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])]
