"""Effect of re-activation campaigns measured against a randomised control group.

A campaign is the set of ``interventions`` rows sharing a ``campaign_id``. Its
``treatment`` rows are the customers contacted (with a ``variant`` for A/B/n tests that
share one control group), its ``control`` rows the customers deliberately not contacted.
For every customer the action date is the first row of that customer in the campaign;
outcomes are read in the window ``[action_date, action_date + outcome_window_days)``
(``campaigns.<id>.outcome_window_days`` in dataset.yml, 30 by default).

Outcomes (one row each per campaign and variant)
-------------------------------------------------
``reactivated``   any significant interaction in the window (the config's kinds), except
                  opens, clicks and replies on the campaign's own emails (same
                  ``campaign_id``): the control group gets none, so they would count
                  for the treated group by construction
``purchase``      at least one order that is not a refund
``revenue``       net revenue of the window per customer (purchases plus refunds)
``unsubscribe``   at least one ``unsubscribe`` email event (deliverability cost)
``complaint``     at least one ``spam_complaint`` email event

Statistics
----------
Rates: Wilson score interval per group; the difference (treatment - control) with
Newcombe's hybrid score interval (his method 10, 1998), the relative lift
``p_t / p_c - 1`` with the log (Katz) interval of the risk ratio. Revenue: Welch's
interval for the difference of means; the relative lift with the delta-method interval of
the log ratio of means. All at 95 %. *Incremental* customers or revenue = lift x treated
customers (same interval scaled). *ROI* = (margin_rate x incremental revenue - cost) /
cost, with ``cost`` = the treated rows' costs plus the campaign's ``fixed_cost`` (shared
between variants in proportion of treated customers); its interval is the revenue
interval carried through this increasing function.

Multiple comparisons. Each comparison has a ``p_value`` consistent with its 95 % interval
(``p_value < 0.05`` exactly when the interval excludes 0): for a rate, the smallest level
``alpha`` whose Newcombe interval at ``z = Phi^-1(1 - alpha/2)`` contains 0
(:func:`newcombe_p`, the interval inverted); for revenue, Welch's t-test
(:func:`welch_p`, the test whose inversion is :func:`welch_diff`). ``p_holm`` is the
Holm-Bonferroni adjusted p-value (:func:`holm`) within each outcome over every comparison
of status ``ok`` of the run (the family is every attributable comparison of that outcome
the page reports), and ``significant`` is ``p_holm < 0.05``. Holm, which keeps the
family-wise error at 5 %, rather than Benjamini-Hochberg (false discovery rate): a "real
effect" is a claim a consultant presents to a client, and BH would let a share of those
claims be false. With 18 variants and no true effect, testing each at 5 % alone would
announce about one false "real effect" per page. The per-comparison 95 % intervals are
shown unadjusted (their coverage is per comparison): an interval may exclude 0 while the
comparison is not significant once the number of comparisons is taken into account.

Status codes (column ``status``): ``ok``; ``no_control`` (no control group: the effect
cannot be attributed; only the descriptive before/after figures are filled);
``window_open`` (the outcome window is not closed on the as-of date: nothing is
estimated); ``too_small`` (fewer than :data:`MIN_GROUP` customers in a group: figures
shown, ``significant`` false). ``roi_status``: ``ok``, ``no_margin_rate`` (dataset.yml
gives none), ``no_cost``, ``no_amount``.

Balance: standardised mean differences ``(mean_t - mean_c) / sqrt((var_t + var_c) / 2)``
of four pre-campaign covariates read strictly before the action date: ``recency`` (days
since the last significant interaction, or since signup), ``frequency`` (orders in the
365 days before), ``value`` (net revenue of those 365 days), ``tenure`` (days since
signup); ``flagged`` when ``|smd| > 0.1``.

No look-ahead: only interventions dated before ``as_of`` and events before ``as_of`` are
read, and a campaign whose window is not closed by ``as_of`` is not estimated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.data.dataset import Dataset
from analysis.errors import NotEnoughDataError

__all__ = [
    "BALANCE_COVARIATES",
    "CampaignResult",
    "MIN_GROUP",
    "OUTCOMES",
    "SMD_FLAG",
    "analyse_campaigns",
    "campaign_customers",
    "holm",
    "katz_ratio",
    "n_comparisons",
    "newcombe_diff",
    "newcombe_p",
    "welch_diff",
    "welch_p",
    "wilson",
]

OUTCOMES: tuple[str, ...] = ("reactivated", "purchase", "revenue", "unsubscribe", "complaint")
RATE_OUTCOMES: tuple[str, ...] = ("reactivated", "purchase", "unsubscribe", "complaint")
BALANCE_COVARIATES: tuple[str, ...] = ("recency", "frequency", "value", "tenure")
SMD_FLAG = 0.1
MIN_GROUP = 10
Z95 = float(stats.norm.ppf(0.975))
ALL_VARIANTS = "all"


# ------------------------------------------------------------------------------ intervals
def wilson(x, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``x / n`` (vectorised; NaN where ``n`` is 0)."""
    x, n = np.asarray(x, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def newcombe_diff(x1, n1, x2, n2, z: float = Z95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval (method 10).

    Returns (difference, lower, upper), vectorised over arrays.
    """
    x1, n1, x2, n2 = (np.asarray(a, float) for a in (x1, n1, x2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, lo, hi


def katz_ratio(x1, n1, x2, n2, z: float = Z95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Risk ratio ``(x1/n1) / (x2/n2)`` with the log (Katz) interval; NaN if a count is 0."""
    x1, n1, x2, n2 = (np.asarray(a, float) for a in (x1, n1, x2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        rr = (x1 / n1) / (x2 / n2)
        se = np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
        ok = (x1 > 0) & (x2 > 0)
        lo = np.where(ok, rr * np.exp(-z * se), np.nan)
        hi = np.where(ok, rr * np.exp(z * se), np.nan)
    return np.where(ok, rr, np.nan), lo, hi


def welch_diff(m1, v1, n1, m2, v2, n2, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference of means ``m1 - m2`` with Welch's interval, from means, variances (ddof 1), sizes."""
    m1, v1, n1, m2, v2, n2 = (np.asarray(a, float) for a in (m1, v1, n1, m2, v2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        a, b = v1 / n1, v2 / n2
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
        t = stats.t.ppf(0.5 + level / 2, np.where(se > 0, df, 1.0))
    d = m1 - m2
    return d, d - t * se, d + t * se


def newcombe_p(x1, n1, x2, n2, iterations: int = 60) -> np.ndarray:
    """Two-sided p-value of ``x1/n1 - x2/n2`` obtained by inverting Newcombe's interval.

    The p-value is the smallest ``alpha`` whose :func:`newcombe_diff` interval at
    ``z = Phi^-1(1 - alpha/2)`` contains 0, so ``p < 0.05`` exactly when the 95 % interval
    excludes 0. The bound facing 0 moves monotonically towards 0 as ``z`` grows (the Wilson
    intervals widen), and the crossing ``z`` is found by a bisection on ``z`` in [0, 40]
    over all rows at once (``iterations`` halvings: 60 give ``z`` to 4e-17). 1 when the
    difference is 0, NaN where a group is empty.
    """
    x1, n1, x2, n2 = (np.asarray(a, float) for a in (x1, n1, x2, n2))
    d, _, _ = newcombe_diff(x1, n1, x2, n2, 0.0)
    sign = np.sign(np.nan_to_num(d))
    lo_z, hi_z = np.zeros(d.shape), np.full(d.shape, 40.0)
    for _ in range(iterations):  # a bisection over z, vectorised over the comparisons
        mid = (lo_z + hi_z) / 2
        _, lo, hi = newcombe_diff(x1, n1, x2, n2, mid)
        excludes = np.where(sign > 0, lo > 0, hi < 0)
        lo_z, hi_z = np.where(excludes, mid, lo_z), np.where(excludes, hi_z, mid)
    p = 2 * stats.norm.sf((lo_z + hi_z) / 2)
    return np.where(~np.isfinite(d) | (n1 <= 0) | (n2 <= 0), np.nan, np.where(sign == 0, 1.0, p))


def welch_p(m1, v1, n1, m2, v2, n2) -> np.ndarray:
    """Two-sided p-value of Welch's t-test of ``m1 - m2`` (the test :func:`welch_diff` inverts).

    From means, variances (ddof 1) and sizes, via
    :func:`scipy.stats.ttest_ind_from_stats` with ``equal_var=False``. Where both
    variances are 0 the interval is the point ``m1 - m2``: p is 0 if it differs from 0,
    else 1. NaN where a group has fewer than 2 customers.
    """
    m1, v1, n1, m2, v2, n2 = (np.asarray(a, float) for a in (m1, v1, n1, m2, v2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = stats.ttest_ind_from_stats(m1, np.sqrt(v1), n1, m2, np.sqrt(v2), n2, equal_var=False).pvalue
    p = np.asarray(p, float)
    degenerate = (v1 == 0) & (v2 == 0) & (n1 >= 2) & (n2 >= 2)
    p = np.where(degenerate, np.where(m1 != m2, 0.0, 1.0), p)
    return np.where((n1 < 2) | (n2 < 2), np.nan, p)


def holm(p) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values of one family (NaN entries are not members).

    With the ``m`` non-NaN p-values sorted, ``p_(i)`` becomes ``max_{j<=i} (m - j + 1) p_(j)``,
    clipped at 1; rejecting where the adjusted value is below ``alpha`` keeps the
    family-wise error rate at ``alpha``. Example: ``[0.01, 0.04, 0.03]`` -> ``[0.03, 0.06, 0.06]``.
    """
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    if idx.size == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    m = idx.size
    adj = np.minimum(np.maximum.accumulate((m - np.arange(m)) * p[order]), 1.0)
    out[order] = adj
    return out


def _ratio_of_means(m1, v1, n1, m2, v2, n2, z: float = Z95):
    """Ratio of means with the delta-method interval on the log scale (NaN if a mean <= 0)."""
    m1, v1, n1, m2, v2, n2 = (np.asarray(a, float) for a in (m1, v1, n1, m2, v2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (m1 > 0) & (m2 > 0)
        r = m1 / m2
        se = np.sqrt(v1 / (n1 * m1**2) + v2 / (n2 * m2**2))
    return (np.where(ok, r, np.nan), np.where(ok, r * np.exp(-z * se), np.nan),
            np.where(ok, r * np.exp(z * se), np.nan))


# ------------------------------------------------------------------------ data assembly
def campaign_customers(ds: Dataset, as_of) -> pd.DataFrame:
    """One row per (campaign, customer) of the interventions dated before ``as_of``.

    Returns ``campaign_id``, ``customer_id``, ``action_date`` (the customer's first row in
    the campaign), ``group``, ``variant`` (``all`` for treated rows without a variant,
    empty for control), ``action``, ``cost`` (sum over the customer's rows), ``window_days``,
    ``window_end`` and ``conflict`` (the customer has rows in both groups: excluded from
    the estimates). Interventions without a ``campaign_id`` (one-off calls) are not campaigns.
    """
    if not ds.has("interventions"):
        raise NotEnoughDataError("campaign effects need an interventions table (customer_id, action_date, "
                                 "action, group, campaign_id...); the export has none.")
    cut = pd.Timestamp(as_of).normalize()
    iv = ds.interventions
    iv = iv.loc[(iv["action_date"] < cut) & iv["campaign_id"].notna()].sort_values(
        ["campaign_id", "customer_id", "action_date"], kind="stable")
    if iv.empty:
        return pd.DataFrame(columns=["campaign_id", "customer_id", "action_date", "group", "variant", "action",
                                     "cost", "window_days", "window_end", "conflict"])
    key = ["campaign_id", "customer_id"]
    g = iv.groupby(key, sort=False)
    out = g.first()[["action_date", "group", "variant", "action"]].reset_index()
    out["cost"] = g["cost"].sum(min_count=1).fillna(0.0).to_numpy()
    out["conflict"] = (g["group"].nunique() > 1).to_numpy()
    treated = out["group"].eq("treatment")
    out["variant"] = out["variant"].astype("string").where(~treated | out["variant"].notna(), ALL_VARIANTS)
    out.loc[~treated, "variant"] = pd.NA
    days = {c: ds.config.campaign(c).outcome_window_days for c in out["campaign_id"].unique()}  # per campaign
    out["window_days"] = out["campaign_id"].map(days).astype("int64")
    out["window_end"] = out["action_date"].dt.normalize() + pd.to_timedelta(out["window_days"], unit="D")
    return out.reset_index(drop=True)


def window_outcomes(ds: Dataset, cc: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """Outcomes of each (campaign, customer) in its window and in the window before (DuckDB range joins)."""
    from analysis.data.duckdb_settings import connect

    frames = {}
    kinds = tuple(ds.config.significant_interactions)
    email_kinds = [k for k in ("reply", "click", "open") if k in kinds]
    inter = ds.interactions(tuple(k for k in kinds if k not in email_kinds))
    parts = [inter.loc[inter["time"] < cut, ["customer_id", "time"]].assign(
        campaign_id=pd.Series(pd.NA, index=inter.index[inter["time"] < cut], dtype="string"))]
    if email_kinds and ds.has("email_events"):
        # an open, click or reply counts, except on the campaign's own messages: the control
        # group receives none, so they would favour the treated group by construction
        em = ds.email_events
        em = em.loc[em["event"].isin(email_kinds) & (em["event_time"] < cut), ["customer_id", "event_time", "campaign_id"]]
        parts.append(em.rename(columns={"event_time": "time"}))
    frames["ev_reactivated"] = pd.concat(parts, ignore_index=True).assign(amount=0.0)
    if ds.has("orders"):
        o = ds.orders.loc[ds.orders["order_date"] < cut]
        amount = o["amount"] if "amount" in o.columns else pd.Series(0.0, index=o.index)
        frames["ev_purchase"] = o.loc[~o["is_refund"], ["customer_id", "order_date"]].rename(
            columns={"order_date": "time"}).assign(amount=0.0)
        frames["ev_revenue"] = pd.DataFrame({"customer_id": o["customer_id"], "time": o["order_date"],
                                             "amount": amount.fillna(0.0).astype(float)})
    if ds.has("email_events"):
        e = ds.email_events.loc[ds.email_events["event_time"] < cut]
        for name, ev in (("unsubscribe", "unsubscribe"), ("complaint", "spam_complaint")):
            frames[f"ev_{name}"] = e.loc[e["event"].eq(ev), ["customer_id", "event_time"]].rename(
                columns={"event_time": "time"}).assign(amount=0.0)
    keys = cc[["campaign_id", "customer_id", "action_date", "window_days"]].copy()
    keys["start"] = keys["action_date"].dt.normalize()
    keys["end"] = keys["start"] + pd.to_timedelta(keys["window_days"], unit="D")
    keys["before"] = keys["start"] - pd.to_timedelta(keys["window_days"], unit="D")
    keys["row"] = np.arange(len(keys))
    out = pd.DataFrame({"row": keys["row"]})
    con = connect(getattr(ds.config, "engine", None))  # engine.memory_limit and engine.threads
    con.register("k", keys[["row", "customer_id", "campaign_id", "start", "end", "before"]])
    for name, frame in frames.items():
        con.register(name, frame)
        own = ("AND (e.campaign_id IS NULL OR e.campaign_id <> k.campaign_id)" if "campaign_id" in frame.columns
               else "")
        res = con.execute(f"""
            SELECT k.row,
                   count(*) FILTER (WHERE e.time >= k.start AND e.time < k.end) AS n_after,
                   coalesce(sum(e.amount) FILTER (WHERE e.time >= k.start AND e.time < k.end), 0) AS a_after,
                   count(*) FILTER (WHERE e.time >= k.before AND e.time < k.start) AS n_before,
                   coalesce(sum(e.amount) FILTER (WHERE e.time >= k.before AND e.time < k.start), 0) AS a_before
            FROM k JOIN {name} e ON e.customer_id = k.customer_id AND e.time >= k.before AND e.time < k.end {own}
            GROUP BY k.row""").df()
        res = out[["row"]].merge(res, on="row", how="left").fillna(0)
        outcome = name[3:]
        if outcome == "revenue":
            out[outcome] = res["a_after"].to_numpy(float)
            out[f"{outcome}_before"] = res["a_before"].to_numpy(float)
        else:
            out[outcome] = (res["n_after"] > 0).to_numpy(float)
            out[f"{outcome}_before"] = (res["n_before"] > 0).to_numpy(float)
    con.close()
    return out.drop(columns="row")


# ------------------------------------------------------------------------------ result
@dataclass
class CampaignResult:
    """Campaign effects at an as-of date.

    Attributes
    ----------
    effects : one row per (campaign_id, variant, outcome); columns described in
        :func:`analyse_campaigns`.
    balance : one row per (campaign_id, variant, covariate): ``mean_treatment``,
        ``mean_control``, ``smd``, ``flagged``.
    customers : one row per (campaign, customer) with the window outcomes (for the
        uplift model and the cycles).
    as_of : the as-of date.
    """

    effects: pd.DataFrame
    balance: pd.DataFrame
    customers: pd.DataFrame
    as_of: pd.Timestamp
    notes: list[str] = field(default_factory=list)

    def key_figures(self) -> dict:
        """The headline: the latest campaign with a control group and a closed window, on the
        purchase rate (the reactivation rate when the export has no orders). The ``purchase_lift``
        keys hold the lift of that ``outcome``."""
        e = self.effects
        outcome = "purchase" if e["outcome"].eq("purchase").any() else "reactivated"
        ok = e.loc[e["status"].isin(["ok", "too_small"]) & e["outcome"].eq(outcome)]
        if ok.empty:
            return {"n_campaigns": int(e["campaign_id"].nunique()), "headline": None}
        last = ok.sort_values(["action_date", "campaign_id", "variant"]).iloc[-1]
        rev = e.loc[(e["campaign_id"] == last["campaign_id"]) & (e["variant"] == last["variant"])
                    & e["outcome"].eq("revenue")]
        rev = rev.iloc[0] if len(rev) else pd.Series(np.nan, index=e.columns)
        return {
            "n_campaigns": int(e["campaign_id"].nunique()),
            "n_attributable": int(e.loc[e["status"].isin(["ok", "too_small"]), "campaign_id"].nunique()),
            "headline": {
                "campaign_id": str(last["campaign_id"]), "variant": str(last["variant"]), "outcome": outcome,
                "n_treatment": int(last["n_treatment"]), "n_control": int(last["n_control"]),
                "purchase_lift": float(last["abs_lift"]),
                "purchase_lift_ci": [float(last["abs_lift_low"]), float(last["abs_lift_high"])],
                "significant": bool(last["significant"]),
                "p_value": None if pd.isna(last["p_value"]) else float(last["p_value"]),
                "p_holm": None if pd.isna(last["p_holm"]) else float(last["p_holm"]),
                "n_comparisons": n_comparisons(e, outcome),
                "incremental_revenue": None if pd.isna(rev["incremental"]) else float(rev["incremental"]),
                "incremental_revenue_ci": [float(rev["incremental_low"]), float(rev["incremental_high"])],
                "roi": None if pd.isna(rev["roi"]) else float(rev["roi"]),
                "roi_ci": [None if pd.isna(rev["roi_low"]) else float(rev["roi_low"]),
                           None if pd.isna(rev["roi_high"]) else float(rev["roi_high"])],
            },
        }


def n_comparisons(effects: pd.DataFrame, outcome: str) -> int:
    """Size of the Holm family of ``outcome``: its comparisons of status ``ok`` with a p-value."""
    if "p_value" not in effects.columns:
        return 0
    return int((effects["outcome"].eq(outcome) & effects["status"].eq("ok") & effects["p_value"].notna()).sum())


EFFECT_COLUMNS = [
    "campaign_id", "name", "variant", "action", "action_date", "window_days", "status", "outcome",
    "n_treatment", "n_control", "treatment_value", "treatment_low", "treatment_high",
    "control_value", "control_low", "control_high", "before_value",
    "abs_lift", "abs_lift_low", "abs_lift_high", "rel_lift", "rel_lift_low", "rel_lift_high",
    "p_value", "p_holm", "significant", "incremental", "incremental_low", "incremental_high",
    "cost", "roi", "roi_low", "roi_high", "roi_status",
]


def analyse_campaigns(ds: Dataset, as_of) -> CampaignResult:
    """Effect of every campaign and variant against its control group, at ``as_of``.

    Parameters
    ----------
    ds : the dataset; needs ``interventions`` (customer_id, action_date, group,
        campaign_id, variant, cost), and reads orders, email events and the significant
        interactions for the outcomes.
    as_of : the first day not read.

    Returns
    -------
    CampaignResult
        ``effects`` has, per (campaign_id, variant, outcome): ``name`` (dataset.yml, else
        the id), ``action``, ``action_date`` (first action), ``window_days``, ``status``
        (module docstring), group sizes ``n_treatment`` / ``n_control``, the rate or mean
        per customer of each group with its 95 % interval (``treatment_*``,
        ``control_*``), ``before_value`` (the treated customers' value in the window
        before the action, descriptive), ``abs_lift`` (difference) and ``rel_lift``
        (ratio - 1) with intervals, ``p_value`` (consistent with the interval), ``p_holm``
        (Holm-adjusted within the outcome over the ``ok`` comparisons), ``significant``
        (``p_holm < 0.05``), ``incremental`` (customers or revenue
        caused, with interval), ``cost``, ``roi`` with interval (revenue rows only).

    Raises
    ------
    NotEnoughDataError
        If the dataset has no interventions.
    """
    cut = pd.Timestamp(as_of).normalize()
    cc = campaign_customers(ds, cut)
    notes: list[str] = []
    if cc.empty:
        return CampaignResult(pd.DataFrame(columns=EFFECT_COLUMNS), pd.DataFrame(), cc, cut, notes)
    n_conflict = int(cc["conflict"].sum())
    if n_conflict:
        notes.append(f"conflict:{n_conflict}")
    cc = cc.loc[~cc["conflict"]].reset_index(drop=True)
    closed = cc.groupby("campaign_id")["window_end"].transform("max") <= cut
    outcomes = window_outcomes(ds, cc, cut)
    cust = pd.concat([cc, outcomes], axis=1)
    cust["closed"] = closed.to_numpy()
    rows = _effects(ds, cust)
    balance = _balance(ds, cust.loc[cust["closed"]])
    return CampaignResult(rows, balance, cust, cut, notes)


def _pairs(cust: pd.DataFrame) -> pd.DataFrame:
    """Each treated customer under its (campaign, variant), each control customer under
    every variant of its campaign (A/B/n tests share one control group)."""
    t = cust.loc[cust["group"].eq("treatment")]
    variants = t[["campaign_id", "variant"]].drop_duplicates()
    c = cust.loc[cust["group"].eq("control")].drop(columns="variant").merge(variants, on="campaign_id")
    return pd.concat([t, c], ignore_index=True)


def _effects(ds: Dataset, cust: pd.DataFrame) -> pd.DataFrame:
    present = [o for o in OUTCOMES if o in cust.columns]
    pairs = _pairs(cust)
    long = pairs.melt(id_vars=["campaign_id", "variant", "group"], value_vars=present, var_name="outcome")
    agg = long.groupby(["campaign_id", "variant", "outcome", "group"])["value"].agg(["size", "sum", "mean", "var"])
    wide = agg.unstack("group")
    wide.columns = [f"{s}_{g}" for s, g in wide.columns]
    for col in ("size_control", "sum_control", "mean_control", "var_control",
                "size_treatment", "sum_treatment", "mean_treatment", "var_treatment"):
        if col not in wide.columns:
            wide[col] = np.nan
    w = wide.reset_index()
    nt, nc = w["size_treatment"].fillna(0.0), w["size_control"].fillna(0.0)
    rate = w["outcome"].isin(RATE_OUTCOMES).to_numpy()
    # per-group intervals
    lt, ut = wilson(w["sum_treatment"], nt)
    lc, uc = wilson(w["sum_control"], nc)
    _, mlt, mut = welch_diff(w["mean_treatment"], w["var_treatment"], nt, 0, 0, np.inf)
    _, mlc, muc = welch_diff(w["mean_control"], w["var_control"], nc, 0, 0, np.inf)
    d_r, dl_r, dh_r = newcombe_diff(w["sum_treatment"], nt, w["sum_control"], nc)
    rr, rl, rh = katz_ratio(w["sum_treatment"], nt, w["sum_control"], nc)
    d_m, dl_m, dh_m = welch_diff(w["mean_treatment"], w["var_treatment"], nt,
                                 w["mean_control"], w["var_control"], nc)
    p_r = newcombe_p(w["sum_treatment"], nt, w["sum_control"], nc)
    p_m = welch_p(w["mean_treatment"], w["var_treatment"], nt, w["mean_control"], w["var_control"], nc)
    mr, ml, mh = _ratio_of_means(w["mean_treatment"], w["var_treatment"], nt,
                                 w["mean_control"], w["var_control"], nc)
    out = pd.DataFrame({
        "campaign_id": w["campaign_id"], "variant": w["variant"], "outcome": w["outcome"],
        "n_treatment": nt.astype("int64"), "n_control": nc.astype("int64"),
        "treatment_value": w["mean_treatment"],
        "treatment_low": np.where(rate, lt, mlt), "treatment_high": np.where(rate, ut, mut),
        "control_value": w["mean_control"],
        "control_low": np.where(rate, lc, mlc), "control_high": np.where(rate, uc, muc),
        "abs_lift": np.where(rate, d_r, d_m), "abs_lift_low": np.where(rate, dl_r, dl_m),
        "abs_lift_high": np.where(rate, dh_r, dh_m),
        "rel_lift": np.where(rate, rr, mr) - 1, "rel_lift_low": np.where(rate, rl, ml) - 1,
        "rel_lift_high": np.where(rate, rh, mh) - 1,
        "p_value": np.where(rate, p_r, p_m),
    })
    # descriptive before/after, campaign facts
    treated = cust.loc[cust["group"].eq("treatment")]
    before = treated.melt(id_vars=["campaign_id", "variant"], value_vars=[f"{o}_before" for o in present],
                          var_name="outcome").assign(outcome=lambda d: d["outcome"].str.replace("_before", ""))
    out = out.merge(before.groupby(["campaign_id", "variant", "outcome"])["value"].mean()
                    .rename("before_value").reset_index(), how="left")
    facts = cust.groupby("campaign_id").agg(action_date=("action_date", "min"), window_days=("window_days", "max"),
                                            closed=("closed", "all"))
    actions = treated.groupby(["campaign_id", "variant"]).agg(action=("action", "first"), cost_var=("cost", "sum"))
    out = out.merge(facts.reset_index(), on="campaign_id").merge(actions.reset_index(),
                                                                 on=["campaign_id", "variant"], how="left")
    out["name"] = out["campaign_id"].map(lambda c: ds.config.campaign(c).name or c)
    has_control = out["n_control"] > 0
    small = (out["n_control"] < MIN_GROUP) | (out["n_treatment"] < MIN_GROUP)
    out["status"] = np.select([~out["closed"], ~has_control, small], ["window_open", "no_control", "too_small"], "ok")
    est = out["status"].isin(["ok", "too_small"])
    stat_cols = ["control_value", "control_low", "control_high", "abs_lift", "abs_lift_low", "abs_lift_high",
                 "rel_lift", "rel_lift_low", "rel_lift_high"]
    out.loc[~est, stat_cols + ["p_value"]] = np.nan
    out.loc[~out["closed"], ["treatment_value", "treatment_low", "treatment_high", "before_value"]] = np.nan
    # Holm within each outcome over the run's attributable comparisons (status ok)
    family = out["p_value"].where(out["status"].eq("ok"))
    out["p_holm"] = np.nan
    for outcome in out["outcome"].unique():  # a loop over the five outcomes
        rows = out["outcome"].eq(outcome).to_numpy()
        out.loc[rows, "p_holm"] = holm(family.to_numpy()[rows])
    out["significant"] = out["p_holm"].lt(0.05).to_numpy()
    for s in ("", "_low", "_high"):
        out[f"incremental{s}"] = out[f"abs_lift{s}"] * out["n_treatment"]
    # cost and ROI (revenue rows)
    treated_n = treated.groupby(["campaign_id", "variant"]).size().rename("nv").reset_index()
    share = treated_n["nv"] / treated_n.groupby("campaign_id")["nv"].transform("sum")
    treated_n["fixed"] = share * treated_n["campaign_id"].map(lambda c: ds.config.campaign(c).fixed_cost)
    out = out.merge(treated_n[["campaign_id", "variant", "fixed"]], on=["campaign_id", "variant"], how="left")
    out["cost"] = out["cost_var"].fillna(0.0) + out["fixed"].fillna(0.0)
    margin = out["campaign_id"].map(lambda c: ds.config.campaign(c).margin_rate).astype("float64")
    is_rev = out["outcome"].eq("revenue")
    no_amount = np.full(len(out), not ds.has_amounts)
    out["roi_status"] = np.select(
        [~is_rev, no_amount, ~est, margin.isna(), out["cost"] <= 0],
        ["", "no_amount", "not_estimated", "no_margin_rate", "no_cost"], "ok")
    ok = out["roi_status"].eq("ok")
    for s in ("", "_low", "_high"):
        out[f"roi{s}"] = np.where(ok, (margin * out[f"incremental{s}"] - out["cost"]) / out["cost"], np.nan)
    order = {o: i for i, o in enumerate(OUTCOMES)}
    out = out.sort_values(["action_date", "campaign_id", "variant", "outcome"],
                          key=lambda s: s.map(order) if s.name == "outcome" else s, kind="stable")
    return out[EFFECT_COLUMNS].reset_index(drop=True)


def _balance(ds: Dataset, cust: pd.DataFrame) -> pd.DataFrame:
    """Standardised mean differences of the pre-campaign covariates, per campaign and variant."""
    cols = ["campaign_id", "variant", "covariate", "mean_treatment", "mean_control", "smd", "flagged"]
    if cust.empty or not cust["group"].eq("control").any():
        return pd.DataFrame(columns=cols)
    cov = covariates_at(ds, cust[["customer_id", "action_date"]])
    base = pd.concat([cust[["campaign_id", "variant", "group"]].reset_index(drop=True), cov], axis=1)
    pairs = _pairs(base)
    long = pairs.melt(id_vars=["campaign_id", "variant", "group"], value_vars=list(BALANCE_COVARIATES),
                      var_name="covariate", value_name="x")
    agg = long.groupby(["campaign_id", "variant", "covariate", "group"])["x"].agg(["mean", "var"]).unstack("group")
    agg.columns = [f"{s}_{g}" for s, g in agg.columns]
    agg = agg.reset_index().dropna(subset=["mean_control", "mean_treatment"])
    pooled = np.sqrt((agg["var_treatment"] + agg["var_control"]) / 2)
    agg["smd"] = np.where(pooled > 0, (agg["mean_treatment"] - agg["mean_control"]) / pooled, 0.0)
    agg["flagged"] = agg["smd"].abs() > SMD_FLAG
    return agg[cols].reset_index(drop=True)


def covariates_at(ds: Dataset, rows: pd.DataFrame) -> pd.DataFrame:
    """Recency, frequency, value and tenure of each (customer_id, action_date) row, read before the date.

    Returns a frame aligned with ``rows`` (same order) with :data:`BALANCE_COVARIATES`.
    """
    from analysis.data.duckdb_settings import connect

    k = rows[["customer_id", "action_date"]].reset_index(drop=True).copy()
    k["start"] = k["action_date"].dt.normalize()
    k["row"] = np.arange(len(k))
    signup = ds.customers.set_index("customer_id")["signup_date"]
    k["signup"] = k["customer_id"].map(signup)
    con = connect(getattr(ds.config, "engine", None))  # engine.memory_limit and engine.threads
    con.register("k", k[["row", "customer_id", "start"]])
    inter = ds.interactions()[["customer_id", "time"]]
    con.register("inter", inter)
    last = con.execute("""SELECT k.row, max(i.time) AS last FROM k JOIN inter i
                          ON i.customer_id = k.customer_id AND i.time < k.start GROUP BY k.row""").df()
    out = pd.DataFrame({"row": k["row"]}).merge(last, on="row", how="left")
    ref = out["last"].fillna(k["signup"])
    recency = (k["start"] - ref).dt.days.astype(float)
    if ds.has("orders"):
        o = ds.orders
        amount = o["amount"] if "amount" in o.columns else pd.Series(0.0, index=o.index)
        con.register("o", pd.DataFrame({"customer_id": o["customer_id"], "time": o["order_date"],
                                        "amount": amount.fillna(0.0).astype(float), "refund": o["is_refund"]}))
        fv = con.execute("""SELECT k.row, count(*) FILTER (WHERE NOT o.refund) AS freq, sum(o.amount) AS val
                            FROM k JOIN o ON o.customer_id = k.customer_id AND o.time < k.start
                            AND o.time >= k.start - INTERVAL 365 DAY GROUP BY k.row""").df()
        fv = pd.DataFrame({"row": k["row"]}).merge(fv, on="row", how="left").fillna(0)
        freq, val = fv["freq"].to_numpy(float), fv["val"].to_numpy(float)
    else:
        freq = val = np.full(len(k), np.nan)
    con.close()
    return pd.DataFrame({"recency": recency.to_numpy(), "frequency": freq, "value": val,
                         "tenure": (k["start"] - k["signup"]).dt.days.astype(float).to_numpy()})
