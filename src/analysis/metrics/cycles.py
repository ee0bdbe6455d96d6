"""Re-activation cycles per customer and the sunset rule of [001].

[001]: before removing dormant contacts, run re-activation cycles; move non-responders to a
separate list; remove only after two or three failed cycles.

A *cycle* is a campaign (``interventions.campaign_id``) in which the customer was in the
``treatment`` group, dated by the customer's first action in it; one-off actions without
a campaign (calls) are not cycles. A cycle *responded* when the customer had a significant
interaction in the campaign's outcome window (``outcome_window_days``, 30 by default), is
*failed* when the window closed before the as-of date without one, and *open* otherwise.

Per customer: ``cycles`` received, ``failed``, ``responded``, ``open``, and
``failed_in_a_row`` (failed cycles since the last response). The list a customer belongs
to (``list_status``):

* ``removal_candidate``: ``failed_in_a_row >= failed_cycles`` (default 2, SPEC: 2-3);
* ``separate_list``: at least one failed cycle in a row, or inactive past the removal
  threshold (180 days; :func:`analysis.metrics.priority.recommended_action` says
  ``separate_list`` or ``removal``) without enough failed cycles yet: removal needs cycles
  actually run, not only time;
* ``active_list``: the others.

``inactivity_action`` keeps :func:`~analysis.metrics.priority.recommended_action` for
comparison (its removal is an estimate from inactivity alone).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.dataset import Dataset
from analysis.errors import ConfigError
from analysis.metrics.campaigns import campaign_customers, window_outcomes
from analysis.metrics.lifecycle import status_at
from analysis.metrics.priority import recommended_action

__all__ = ["LIST_STATUSES", "cycle_history", "list_counts", "off_active_list", "sunset_lists"]

LIST_STATUSES: tuple[str, ...] = ("active_list", "separate_list", "removal_candidate")


def cycle_history(ds: Dataset, as_of) -> pd.DataFrame:
    """One row per cycle: ``customer_id``, ``campaign_id``, ``action_date``, ``window_end``,
    ``outcome`` (``responded`` / ``failed`` / ``open``), sorted by customer and date."""
    cut = pd.Timestamp(as_of).normalize()
    cc = campaign_customers(ds, cut)
    cc = cc.loc[cc["group"].eq("treatment")].reset_index(drop=True)
    cols = ["customer_id", "campaign_id", "action_date", "window_end", "outcome"]
    if cc.empty:
        return pd.DataFrame(columns=cols)
    out = window_outcomes(ds, cc, cut)
    closed = cc["window_end"] <= cut
    cc["outcome"] = np.select([out["reactivated"].to_numpy() > 0, closed], ["responded", "failed"], "open")
    return cc[cols].sort_values(["customer_id", "action_date"], kind="stable").reset_index(drop=True)


def sunset_lists(ds: Dataset, as_of, failed_cycles: int = 2) -> pd.DataFrame:
    """Cycles per customer and the list each belongs to (module docstring).

    Returns one row per customer not lost at ``as_of``: ``customer_id``, ``days_since_last``,
    ``cycles``, ``responded``, ``failed``, ``open``, ``failed_in_a_row``, ``last_cycle``,
    ``inactivity_action``, ``list_status``.
    """
    if failed_cycles < 1:
        raise ConfigError(f"failed_cycles is {failed_cycles}; expected at least 1 (SPEC: 2-3).")
    cut = pd.Timestamp(as_of).normalize()
    st = status_at(ds, cut)
    st = st.loc[~st["lost"], ["customer_id", "days_since_last", "lost"]].reset_index(drop=True)
    st["inactivity_action"] = recommended_action(st, ds.config, failed_cycles=failed_cycles).to_numpy()
    hist = cycle_history(ds, cut) if ds.has("interventions") else pd.DataFrame(
        columns=["customer_id", "campaign_id", "action_date", "window_end", "outcome"])
    counts = pd.crosstab(hist["customer_id"], hist["outcome"]) if len(hist) else pd.DataFrame()
    for c in ("responded", "failed", "open"):
        st[c] = st["customer_id"].map(counts[c]).fillna(0).astype("int64") if c in counts else 0
    st["cycles"] = st[["responded", "failed", "open"]].sum(axis=1)
    if len(hist):
        closed = hist.loc[hist["outcome"].ne("open")].copy()
        # failed cycles after the last response: count failures with no later response
        resp = closed["outcome"].eq("responded")
        closed["after_resp"] = resp[::-1].groupby(closed["customer_id"][::-1]).cumsum()[::-1].eq(0)
        run = closed.loc[closed["after_resp"] & closed["outcome"].eq("failed")].groupby("customer_id").size()
        st["failed_in_a_row"] = st["customer_id"].map(run).fillna(0).astype("int64")
        st["last_cycle"] = st["customer_id"].map(hist.groupby("customer_id")["action_date"].max())
    else:
        st["failed_in_a_row"] = 0
        st["last_cycle"] = pd.NaT
    dormant = st["inactivity_action"].isin(["separate_list", "removal"])
    st["list_status"] = np.select(
        [st["failed_in_a_row"] >= failed_cycles, (st["failed_in_a_row"] >= 1) | dormant],
        ["removal_candidate", "separate_list"], "active_list")
    return st[["customer_id", "days_since_last", "cycles", "responded", "failed", "open", "failed_in_a_row",
               "last_cycle", "inactivity_action", "list_status"]]


def off_active_list(lists: pd.DataFrame) -> pd.DataFrame:
    """The customers of :func:`sunset_lists` on the separate list or removal candidates,
    most failed cycles in a row first."""
    off = lists.loc[lists["list_status"].ne("active_list")]
    return off.sort_values(["failed_in_a_row", "days_since_last", "customer_id"], ascending=[False, False, True],
                           kind="stable").reset_index(drop=True)


def list_counts(lists: pd.DataFrame) -> dict[str, int]:
    """Customers per list status (every status of :data:`LIST_STATUSES`, 0 when none)."""
    counts = lists["list_status"].value_counts()
    return {s: int(counts.get(s, 0)) for s in LIST_STATUSES}
