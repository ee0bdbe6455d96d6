"""Who a campaign or a key result is about (populations), and planning the next campaign.

Populations at an as-of date, among customers signed up before it and not lost, from the
days ``d`` since the last significant interaction and the config thresholds (30 / 60 / 90
/ 180 days by default, the same as :mod:`analysis.metrics.priority`):

===============  ================================================================
``all``          every customer not lost
``active``       ``d`` < watch (30)
``watch``        watch <= ``d`` < wake-up (30-59)
``wake_up``      wake-up <= ``d`` < inactive (60-89)
``inactive``     inactive <= ``d`` < removal (90-179)
``dormant``      ``d`` >= removal (180+): the separate list of SPEC section 3
``lapsed``       ``d`` >= watch: every customer gone quiet (watch to dormant)
``lapsed_buyers`` bought before, but no purchase in the last ``watch`` days
``col=value``    a segment: the customers whose attribute ``col`` equals ``value``
===============  ================================================================

Planning (:func:`plan_campaign`): the target minus the customers who unsubscribed or
complained, a seeded random control group of share ``holdout`` drawn *within each value
tier* (:func:`analysis.metrics.priority.value_tiers`; one stratum when the orders carry no
amount), and the minimum detectable effect (MDE) of that design: the smallest increase
of the reactivation rate a two-sided two-proportion z-test at 5 % detects with 80 %
power, solving ``z_{0.975} sqrt(pbar (1 - pbar) (1/n_t + 1/n_c)) + z_{0.8}
sqrt(p0 (1 - p0) / n_c + p1 (1 - p1) / n_t) = p1 - p0`` (Fleiss, without continuity
correction) for ``p1``, for the reactivation rate and for the purchase rate. The baseline ``p0`` is the share of the customers who were in the
same population ``baseline_days`` (30) days before the as-of date and had a significant
interaction (a purchase) in the 30 days before it (read before the as-of date only).
The MDE is None when a group is empty or even ``p1 = 1`` would not be detected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.data.dataset import Dataset
from analysis.errors import ConfigError, NotEnoughDataError
from analysis.metrics.lifecycle import status_at
from analysis.metrics.priority import value_tiers

__all__ = ["POPULATIONS", "CampaignPlan", "assign_groups", "finish_plan", "mde_two_proportions", "plan_campaign",
           "population", "unsubscribed"]

POPULATIONS: tuple[str, ...] = ("all", "active", "watch", "wake_up", "inactive", "dormant", "lapsed",
                                "lapsed_buyers")


def population(ds: Dataset, as_of, spec: str) -> pd.DataFrame:
    """Customers of population ``spec`` at ``as_of`` (see the module docstring).

    Returns
    -------
    DataFrame with ``customer_id`` and ``days_since_last`` (from :func:`status_at`), one row
    per customer of the population, in customer order.

    Raises
    ------
    ConfigError
        If ``spec`` is neither a known population nor ``column=value`` of a customer attribute.
    """
    cut = pd.Timestamp(as_of).normalize()
    st = status_at(ds, cut)
    st = st.loc[~st["lost"], ["customer_id", "days_since_last"]].reset_index(drop=True)
    d = st["days_since_last"]
    th = ds.config.thresholds
    spec = str(spec).strip()
    if "=" in spec:
        col, value = (x.strip() for x in spec.split("=", 1))
        if col not in ds.customers.columns or col in ds.config.personal_columns or col in (
                "customer_id", "signup_date", "churn_date"):
            raise ConfigError(f"population '{spec}': '{col}' is not a segment column of customers; "
                              f"expected one of {ds.segment_columns()}.")
        attr = ds.customers.set_index("customer_id")[col].astype("string")
        keep = st["customer_id"].map(attr).eq(value).fillna(False).to_numpy()
    elif spec == "all":
        keep = np.ones(len(st), bool)
    elif spec == "active":
        keep = (d < th.watch_days).to_numpy()
    elif spec == "watch":
        keep = ((d >= th.watch_days) & (d < th.wake_up_days)).to_numpy()
    elif spec == "wake_up":
        keep = ((d >= th.wake_up_days) & (d < th.inactive_days)).to_numpy()
    elif spec == "inactive":
        keep = ((d >= th.inactive_days) & (d < th.removal_days)).to_numpy()
    elif spec == "dormant":
        keep = (d >= th.removal_days).to_numpy()
    elif spec == "lapsed":
        keep = (d >= th.watch_days).to_numpy()
    elif spec == "lapsed_buyers":
        if not ds.has("orders"):
            raise NotEnoughDataError("population 'lapsed_buyers' needs an orders table.")
        o = ds.orders.loc[~ds.orders["is_refund"] & (ds.orders["order_date"] < cut)]
        last = o.groupby("customer_id")["order_date"].max()
        lb = st["customer_id"].map(last)
        keep = (lb.notna() & (lb < cut - pd.Timedelta(days=th.watch_days))).to_numpy()
    else:
        raise ConfigError(f"population '{spec}' is unknown; expected one of {list(POPULATIONS)} "
                          "or a segment written column=value (e.g. plan=Pro).")
    return st.loc[keep].reset_index(drop=True)


def mde_two_proportions(p0: float, n_treatment: int, n_control: int, alpha: float = 0.05,
                        power: float = 0.80) -> float | None:
    """Minimum detectable increase ``p1 - p0`` of a two-sided two-proportion z-test (Fleiss).

    Returns None when a group is empty or no increase up to ``p1 = 1`` reaches the power.
    """
    if n_treatment < 1 or n_control < 1 or not 0 <= p0 < 1:
        return None
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    nt, nc = float(n_treatment), float(n_control)

    def gap(p1: float) -> float:
        pbar = (nt * p1 + nc * p0) / (nt + nc)
        need = za * np.sqrt(pbar * (1 - pbar) * (1 / nt + 1 / nc)) + zb * np.sqrt(
            p0 * (1 - p0) / nc + p1 * (1 - p1) / nt)
        return (p1 - p0) - need

    hi = 1.0 - 1e-12
    if gap(hi) < 0:
        return None
    return float(optimize.brentq(gap, p0 + 1e-12, hi, xtol=1e-10) - p0)


@dataclass
class CampaignPlan:
    """A planned campaign: the assignment and the design's minimum detectable effect."""

    assignments: pd.DataFrame  # customer_id, value_tier, group
    as_of: pd.Timestamp
    n_treatment: int
    n_control: int
    excluded_unsubscribed: int
    baseline: float | None
    baseline_days: int
    mde: float | None
    #: the same for the purchase rate (None without orders)
    baseline_purchase: float | None = None
    mde_purchase: float | None = None

    def group_sizes(self) -> pd.DataFrame:
        """Customers per value tier (rows) and group (columns: control, treatment)."""
        return self.assignments.groupby(["value_tier", "group"]).size().unstack(fill_value=0)

    def key_figures(self) -> dict:
        """Sizes, baseline and minimum detectable effect on the purchase rate."""
        return {"n_treatment": self.n_treatment, "n_control": self.n_control,
                "excluded_unsubscribed": self.excluded_unsubscribed,
                "baseline_purchase": self.baseline_purchase, "mde_purchase": self.mde_purchase,
                "baseline_reactivation": self.baseline, "mde_reactivation": self.mde}


def unsubscribed(ds: Dataset, cut: pd.Timestamp) -> pd.Index:
    """Customers with an unsubscribe or a spam complaint before ``cut`` (never targeted)."""
    if not ds.has("email_events"):
        return pd.Index([], dtype="string")
    e = ds.email_events
    gone = e.loc[e["event"].isin(["unsubscribe", "spam_complaint"]) & (e["event_time"] < cut), "customer_id"]
    return pd.Index(gone.unique())


def plan_campaign(ds: Dataset, as_of, target: str = "lapsed", holdout: float = 0.1, seed: int = 0,
                  baseline_days: int = 30) -> CampaignPlan:
    """Target, a control group stratified by value tier, and the MDE (module docstring).

    Returns
    -------
    CampaignPlan
        ``assignments`` has ``customer_id``, ``value_tier`` (``all`` without amounts) and
        ``group`` (``treatment`` or ``control``), sorted by customer_id.

    Raises
    ------
    ConfigError
        If ``holdout`` is not strictly between 0 and 1, or the target is unknown.
    """
    if not 0 < holdout < 1:
        raise ConfigError(f"--holdout is {holdout}; expected a share strictly between 0 and 1 (e.g. 0.1).")
    cut = pd.Timestamp(as_of).normalize()
    pop = population(ds, cut, target)
    gone = pop["customer_id"].isin(unsubscribed(ds, cut))
    pop = pop.loc[~gone].reset_index(drop=True)
    try:
        tiers = value_tiers(ds, cut).set_index("customer_id")["value_tier"].astype("string")
        tier = pop["customer_id"].map(tiers).fillna("standard")
    except NotEnoughDataError:
        tier = pd.Series("all", index=pop.index, dtype="string")
    frame = assign_groups(pop["customer_id"], tier, holdout, seed)
    # baseline: the same population baseline_days earlier, reactivated within baseline_days
    before = cut - pd.Timedelta(days=baseline_days)
    try:
        past = population(ds.before(before), before, target)["customer_id"]
    except NotEnoughDataError:
        past = pd.Series([], dtype="string")
    baseline = baseline_purchase = None
    if len(past):
        inter = ds.interactions()
        recent = inter.loc[(inter["time"] >= before) & (inter["time"] < cut)]
        baseline = float(past.isin(recent["customer_id"].unique()).mean())
        if ds.has("orders"):
            bought = recent.loc[recent["kind"].eq("purchase"), "customer_id"].unique()
            baseline_purchase = float(past.isin(bought).mean())
    return finish_plan(frame, cut, int(gone.sum()), baseline, baseline_days, baseline_purchase)


def assign_groups(customer_ids: pd.Series, tier: pd.Series, holdout: float, seed: int) -> pd.DataFrame:
    """The seeded control-group draw of :func:`plan_campaign`, stratified by value tier.

    ``customer_ids`` in population order (the draw follows it) and their ``tier``; returns
    ``customer_id``, ``value_tier``, ``group``, sorted by customer_id. In each tier, the
    ``round(holdout x size)`` customers with the smallest uniform draws are the control group.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"customer_id": pd.array(customer_ids, dtype="string"),
                          "value_tier": pd.array(tier, dtype="string"), "u": rng.random(len(customer_ids))})
    rank = frame.groupby("value_tier")["u"].rank(method="first")
    size = frame.groupby("value_tier")["u"].transform("size")
    frame["group"] = np.where(rank <= np.round(holdout * size), "control", "treatment")
    return frame.drop(columns="u").sort_values("customer_id", kind="stable").reset_index(drop=True)


def finish_plan(frame: pd.DataFrame, cut: pd.Timestamp, excluded: int, baseline: float | None, baseline_days: int,
                baseline_purchase: float | None) -> CampaignPlan:
    """The :class:`CampaignPlan` of an assignment (:func:`assign_groups`) and its baselines:
    group sizes and minimum detectable effects."""
    n_c = int(frame["group"].eq("control").sum())
    n_t = len(frame) - n_c
    mde = mde_two_proportions(baseline, n_t, n_c) if baseline is not None else None
    mde_p = mde_two_proportions(baseline_purchase, n_t, n_c) if baseline_purchase is not None else None
    return CampaignPlan(frame, cut, n_t, n_c, excluded, baseline, baseline_days, mde, baseline_purchase, mde_p)
