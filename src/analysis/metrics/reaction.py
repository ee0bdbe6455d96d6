"""Reaction delay: days between an alert of the six indicators and the team's first action.

"Over a week, the team is watching churn, not managing it" [003]. An *alert* is a
crossing: on a grid of as-of dates (weekly by default), the first date an indicator's
alert column (:data:`analysis.metrics.signals.INDICATORS`) is True after a date where it
was not (False or not yet computable). An alert already on at the first date of the grid
is not a crossing (its start is unknown) and is left out. The alert is dated on that
as-of date: the day the team could have seen it (indicators only read data before it).

The *first action* is the earliest ``treatment`` intervention on that customer on or after
the alert date and before the as-of date of the analysis (control rows are deliberately
not contacted and do not count). ``delay_days`` = action date - alert date. An alert with
no action yet is ``no_action`` and ``open_days`` = as_of - alert date says how long it has
waited. ``over_7`` is True for a delay over 7 days, or no action after more than 7 days; NA
for an alert younger than that (not yet known).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.dataset import Dataset
from analysis.errors import NotEnoughDataError
from analysis.metrics.signals import INDICATORS, indicators

__all__ = ["LATE_DAYS", "alert_crossings", "reaction_delays", "reaction_key_figures", "reaction_summary",
           "reaction_at"]

LATE_DAYS = 7


def alert_crossings(ind: pd.DataFrame) -> pd.DataFrame:
    """Alerts as crossings, from :func:`analysis.metrics.signals.indicators` on several dates.

    Parameters
    ----------
    ind : needs ``as_of``, ``customer_id`` and the alert columns of :data:`INDICATORS`
        (missing ones are skipped).

    Returns
    -------
    DataFrame ``customer_id``, ``indicator`` (a key of :data:`INDICATORS`), ``alert_date``,
    sorted by alert_date, customer_id, indicator.
    """
    present = {k: c for k, c in INDICATORS.items() if c in ind.columns}
    long = ind[["as_of", "customer_id", *present.values()]].melt(
        id_vars=["as_of", "customer_id"], var_name="col", value_name="on")
    long["on"] = long["on"].astype("boolean").fillna(False).astype("int8")
    long = long.sort_values(["customer_id", "col", "as_of"], kind="stable")
    prev = long.groupby(["customer_id", "col"], sort=False)["on"].shift(1)  # float, NaN on the first date
    crossing = long["on"].eq(1) & prev.eq(0)
    out = long.loc[crossing, ["customer_id", "col", "as_of"]].rename(columns={"as_of": "alert_date"})
    out["indicator"] = out["col"].map({c: k for k, c in present.items()})
    out = out[["customer_id", "indicator", "alert_date"]]
    return out.sort_values(["alert_date", "customer_id", "indicator"], kind="stable").reset_index(drop=True)


def reaction_delays(alerts: pd.DataFrame, interventions: pd.DataFrame | None, as_of) -> pd.DataFrame:
    """Days from each alert to the first action on that customer (module docstring).

    Returns ``alerts`` with ``action_date``, ``action``, ``owner``, ``delay_days`` (NaN if
    none), ``status`` (``acted`` or ``no_action``), ``open_days`` and ``over_7`` (boolean,
    NA while unknown).
    """
    cut = pd.Timestamp(as_of).normalize()
    a = alerts.loc[alerts["alert_date"] < cut].copy()
    a["alert_date"] = a["alert_date"].astype("datetime64[ns]")
    a["_order"] = np.arange(len(a))
    cols = ["action_date", "action", "owner"]
    if interventions is None or interventions.empty:
        iv = pd.DataFrame({"customer_id": pd.Series(dtype="string"),
                           "action_date": pd.Series(dtype="datetime64[ns]"),
                           "action": pd.Series(dtype="string"), "owner": pd.Series(dtype="string")})
    else:
        iv = interventions.loc[interventions["group"].eq("treatment") & (interventions["action_date"] < cut),
                               ["customer_id", *cols]]
    iv = iv.assign(action_date=iv["action_date"].astype("datetime64[ns]"), _t=iv["action_date"].dt.normalize()
                   .astype("datetime64[ns]")).sort_values("_t", kind="stable")
    a["customer_id"] = a["customer_id"].astype("string")
    iv["customer_id"] = iv["customer_id"].astype("string")
    merged = pd.merge_asof(a.sort_values("alert_date", kind="stable"), iv, left_on="alert_date", right_on="_t",
                           by="customer_id", direction="forward", allow_exact_matches=True)
    merged = merged.sort_values("_order").drop(columns=["_order", "_t"]).reset_index(drop=True)
    merged["delay_days"] = (merged["action_date"].dt.normalize() - merged["alert_date"]).dt.days.astype("float64")
    acted = merged["action_date"].notna()
    merged["status"] = np.where(acted, "acted", "no_action")
    merged["open_days"] = (cut - merged["alert_date"]).dt.days
    late = np.where(acted, merged["delay_days"] > LATE_DAYS, merged["open_days"] > LATE_DAYS)
    known = acted | (merged["open_days"] > LATE_DAYS)
    merged["over_7"] = pd.array(np.where(known, late, False), dtype="boolean")
    merged.loc[~known.to_numpy(), "over_7"] = pd.NA
    return merged


def reaction_summary(delays: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Distribution of the reaction delay, overall or by ``owner`` / ``indicator``.

    Returns one row per group: ``alerts``, ``acted``, ``no_action``, ``median_days``,
    ``p75_days``, ``p90_days`` (over acted alerts), ``known`` (alerts whose ``over_7`` is
    known) and ``share_over_7`` (late among known). ``by="owner"`` only counts acted alerts
    (an alert without action has no owner).
    """
    d = delays.copy()
    key = by or "_all"
    if by is None:
        d["_all"] = "all"
    elif by == "owner":
        d = d.loc[d["status"].eq("acted")]
        d["owner"] = d["owner"].fillna("unknown")
    g = d.groupby(key, sort=True)
    out = pd.DataFrame({
        "alerts": g.size(),
        "acted": g["status"].apply(lambda s: int(s.eq("acted").sum())),
        "median_days": g["delay_days"].median(),
        "p75_days": g["delay_days"].quantile(0.75),
        "p90_days": g["delay_days"].quantile(0.90),
        "known": g["over_7"].count(),
        "share_over_7": g["over_7"].apply(lambda s: float(s.dropna().astype(bool).mean()) if s.notna().any()
                                          else np.nan),
    })
    out["no_action"] = out["alerts"] - out["acted"]
    return out.reset_index().rename(columns={key: by or "group"})


def reaction_key_figures(delays: pd.DataFrame) -> dict:
    """Alerts, acted, median and 75th percentile of the delay, share over 7 days (overall)."""
    r = reaction_summary(delays).iloc[0] if len(delays) else None
    if r is None:
        return {"alerts": 0, "acted": 0, "median_days": None, "p75_days": None, "share_over_7": None}
    return {"alerts": int(r["alerts"]), "acted": int(r["acted"]), "median_days": r["median_days"],
            "p75_days": r["p75_days"], "share_over_7": r["share_over_7"]}


def reaction_at(ds: Dataset, as_of, weeks: int = 26) -> pd.DataFrame:
    """Alerts raised on a weekly grid over the ``weeks`` weeks before ``as_of``, with their delays.

    Raises
    ------
    NotEnoughDataError
        If the dataset has no interventions.
    """
    if not ds.has("interventions"):
        raise NotEnoughDataError("the reaction delay needs an interventions table (what the team did, when).")
    cut = pd.Timestamp(as_of).normalize()
    dates = pd.date_range(end=cut - pd.Timedelta(days=7), periods=weeks + 1, freq="7D")
    dates = dates[dates > ds.observed_from] if ds.observed_from is not None else dates
    ind = indicators(ds.before(cut), dates)
    ind = ind.loc[~ind["lost"]]
    return reaction_delays(alert_crossings(ind), ds.interventions, cut)
