"""OKR tracking: progress of each key result of ``objectives`` (dataset.yml) against its target.

[004]: set objectives as OKRs, e.g. "re-activate the dormant base" with key results "5 %
repurchase rate on this cohort" and "EUR 10,000 revenue from this segment".

For a key result with period ``[start, end)`` at an as-of date, the *population* is
fixed at the start of the period (:func:`analysis.metrics.targeting.population` at
``start``: who the objective is about), and the metric is read on ``[start, cut)`` with
``cut = min(end, as_of)`` (nothing on or after the as-of date):

=====================  ================================================================
``reactivation_rate``  share of the population with a significant interaction in the window
``repurchase_rate``    share of the population with a purchase (not a refund) in the window
``revenue``            net revenue (purchases plus refunds) of the population in the window
``retention``          share of the population not lost at ``cut``
``nps``                NPS of the population's answers in the window: % promoters (9-10)
                       minus % detractors (0-6), in points (-100 to 100)
=====================  ================================================================

``progress`` = value / target. ``status``: ``not_started`` (as_of <= start),
``in_progress``, ``closed`` (as_of >= end). ``expected`` is where a cumulative metric
(revenue) should be by now if it grew evenly (target x elapsed share of the period); for
the rates and NPS it is the target itself. ``on_track`` = value >= expected;
``achieved`` = closed and value >= target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.config import Objective
from analysis.data.dataset import Dataset
from analysis.metrics.lifecycle import status_at
from analysis.metrics.targeting import population

__all__ = ["CUMULATIVE_METRICS", "add_parts", "key_result_parts", "key_result_value", "okr_from_parts", "okr_parts",
           "okr_progress", "value_from_parts"]

CUMULATIVE_METRICS: tuple[str, ...] = ("revenue",)


def key_result_parts(ds: Dataset, metric: str, members: pd.Series, start: pd.Timestamp,
                     cut: pd.Timestamp) -> dict[str, float]:
    """Additive parts of ``metric`` for customers ``members`` over ``[start, cut)``: counts and
    sums that add up over partitions of customers (:func:`value_from_parts` turns them into
    the value). ``n`` is the count behind the value (customers, or NPS answers)."""
    ids = pd.Index(members.astype("string").unique())
    n = len(ids)
    if metric in ("reactivation_rate", "repurchase_rate"):
        inter = ds.interactions() if metric == "reactivation_rate" else ds.interactions(("purchase",))
        seen = inter.loc[(inter["time"] >= start) & (inter["time"] < cut), "customer_id"].unique()
        return {"n": n, "hits": int(ids.isin(seen).sum()), "of": n}
    if metric == "revenue":
        if not ds.has_amounts:
            return {"n": n, "sum": float("nan")}
        o = ds.orders
        o = o.loc[(o["order_date"] >= start) & (o["order_date"] < cut) & o["customer_id"].isin(ids)]
        return {"n": n, "sum": float(o["amount"].sum())}
    if metric == "retention":
        st = status_at(ds, cut)
        st = st.loc[st["customer_id"].isin(ids)]
        return {"n": n, "hits": int((~st["lost"]).sum()), "of": len(st)}
    if metric == "nps":
        if not ds.has("nps"):
            return {"n": 0, "promoters": 0, "detractors": 0, "of": 0}
        a = ds.nps
        a = a.loc[(a["response_date"] >= start) & (a["response_date"] < cut) & a["customer_id"].isin(ids), "score"]
        return {"n": len(a), "promoters": int((a >= 9).sum()), "detractors": int((a <= 6).sum()), "of": len(a)}
    raise ValueError(metric)  # the config only lets OKR_METRICS through


def add_parts(parts: list[dict[str, float]]) -> dict[str, float]:
    """The parts of several partitions of customers added up (the members of a key result
    are disjoint across partitions)."""
    out: dict[str, float] = {}
    for p in parts:  # a few partitions
        for k, v in p.items():
            out[k] = out.get(k, 0) + v
    return out


def value_from_parts(metric: str, parts: dict[str, float]) -> tuple[float, int]:
    """The value of ``metric`` and the count behind it, from :func:`key_result_parts`."""
    n = int(parts["n"])
    if metric in ("reactivation_rate", "repurchase_rate", "retention"):
        return (parts["hits"] / parts["of"] if parts["of"] else float("nan")), n
    if metric == "revenue":
        return float(parts["sum"]), n
    if metric == "nps":
        if not parts["of"]:
            return float("nan"), 0
        return float(100 * (parts["promoters"] / parts["of"] - parts["detractors"] / parts["of"])), n
    raise ValueError(metric)


def key_result_value(ds: Dataset, metric: str, members: pd.Series, start: pd.Timestamp,
                     cut: pd.Timestamp) -> tuple[float, int]:
    """The value of ``metric`` for customers ``members`` over ``[start, cut)``, and the count behind it."""
    return value_from_parts(metric, key_result_parts(ds, metric, members, start, cut))


def okr_parts(ds: Dataset, as_of, objectives: tuple[Objective, ...] | None = None) -> list[dict | None]:
    """The additive parts (:func:`key_result_parts`) of every key result at ``as_of``, in the
    order of :func:`okr_progress` (None for a key result not started): what one partition of
    customers contributes; :func:`okr_from_parts` adds the partitions up."""
    cut_asof = pd.Timestamp(as_of).normalize()
    objectives = ds.config.objectives if objectives is None else objectives
    out: list[dict | None] = []
    for obj in objectives:  # a loop over the few key results of the config
        for kr in obj.key_results:
            start, end = pd.Timestamp(kr.start), pd.Timestamp(kr.end)
            if cut_asof <= start:
                out.append(None)
                continue
            cut = min(end, cut_asof)
            members = population(ds.before(start), start, kr.population)["customer_id"]
            out.append(key_result_parts(ds.before(cut), kr.metric, members, start, cut))
    return out


def okr_from_parts(objectives: tuple[Objective, ...], as_of, parts: list[list[dict | None]]) -> pd.DataFrame:
    """:func:`okr_progress` from the :func:`okr_parts` of one or more partitions of customers."""
    cut_asof = pd.Timestamp(as_of).normalize()
    rows = []
    i = 0
    for obj in objectives:  # a loop over the few key results of the config
        for k, kr in enumerate(obj.key_results, start=1):
            start, end = pd.Timestamp(kr.start), pd.Timestamp(kr.end)
            row = {"objective": obj.objective, "kr": k, "metric": kr.metric, "population": kr.population,
                   "period": kr.period, "start": start, "end": end, "target": kr.target}
            got = [p[i] for p in parts if p[i] is not None]
            i += 1
            if cut_asof <= start or not got:
                rows.append({**row, "status": "not_started", "elapsed_share": 0.0, "n": 0, "value": np.nan})
                continue
            cut = min(end, cut_asof)
            value, n = value_from_parts(kr.metric, add_parts(got))
            elapsed = (cut - start).days / (end - start).days
            rows.append({**row, "status": "closed" if cut_asof >= end else "in_progress",
                         "elapsed_share": elapsed, "n": n, "value": value})
    out = pd.DataFrame(rows, columns=["objective", "kr", "metric", "population", "period", "start", "end",
                                      "target", "status", "elapsed_share", "n", "value"])
    cumulative = out["metric"].isin(CUMULATIVE_METRICS)
    out["expected"] = np.where(cumulative, out["target"] * out["elapsed_share"], out["target"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["progress"] = out["value"] / out["target"]
    out["on_track"] = out["value"].notna() & (out["value"] >= out["expected"]) & out["status"].ne("not_started")
    out["achieved"] = out["status"].eq("closed") & (out["value"] >= out["target"])
    return out


def okr_progress(ds: Dataset, as_of, objectives: tuple[Objective, ...] | None = None) -> pd.DataFrame:
    """Progress of every key result at ``as_of`` (module docstring).

    Returns
    -------
    DataFrame, one row per key result: ``objective``, ``kr`` (1-based within the
    objective), ``metric``, ``population``, ``period``, ``start``, ``end``, ``target``,
    ``status``, ``elapsed_share``, ``n`` (customers, or NPS answers), ``value``,
    ``expected``, ``progress``, ``on_track``, ``achieved``.
    """
    objectives = ds.config.objectives if objectives is None else objectives
    return okr_from_parts(objectives, as_of, [okr_parts(ds, as_of, objectives)])
