"""Value tiers, risk tiers, the value x risk priority matrix and the action per customer (SPEC 3, 5).

"The aim is not to save everyone, but to put limited resources where the impact is largest."

Value tier
    ``high`` for the top 20 % of customers by value (among those with a positive value),
    ``standard`` for the rest. Value is the net revenue (purchases plus refunds) of the 12
    months before the as-of date, or any numeric customer column the user names (e.g. a
    contract value). Ties share the better rank.

Risk tier
    ``low`` / ``medium`` / ``high`` / ``critical`` from a churn probability (cuts 0.10,
    0.25, 0.50) or, before any model exists, from the number of indicator alerts that
    fired (cuts 1, 2, 3: none = low, one = medium, two = high, three or more = critical).
    A value ``v`` is in the tier whose lower cut is the largest cut ``<= v``.

Priority (value tier x risk tier)

    ==========  =====  ======  ====  ========
    value       low    medium  high  critical
    ==========  =====  ======  ====  ========
    high        P3     P2      P1    P1
    standard    P3     P3      P2    P2
    ==========  =====  ======  ====  ========

    P1 = immediate human intervention (account owner); P2 = calibrated, targeted action;
    P3 = automation.

Recommended action (SPEC section 3), from the days since the last significant interaction
``d`` and the config thresholds (30 / 60 / 90 / 180 days):

    * ``none``: ``d`` < 30 and no alert, or a lost client of a contractual business (the
      contract has ended: nothing to re-activate);
    * ``watch``: 30 <= ``d`` < 60, or an alert fired with ``d`` < 30 (reinforced watch);
    * ``wake_up_sequence``: 60 <= ``d`` < 90;
    * ``personal_call``: 90 <= ``d`` < 180; also, whatever ``d`` below 90, a ``high`` value
      customer at high or critical risk (or, without a risk tier, with any alert): the P1
      cell of the matrix calls for a human;
    * ``separate_list``: ``d`` >= 180: moved off the active base to a separate list where
      re-activation cycles run;
    * ``removal``: only after ``failed_cycles`` (default 2) failed re-activation cycles on the
      separate list. A cycle lasts ``cycle_days`` (default: the wake-up threshold, 60 days)
      and fails when it passes without any significant interaction (which would have reset
      ``d``), so the number of failed cycles is ``floor((d - 180) / cycle_days)`` and removal
      comes at ``d >= 180 + 2 x 60 = 300`` days by default (within the "6-12 months without
      interaction" of SPEC section 3).
    * ``win_back``: a customer whose ``status`` is ``lapsed`` (silent for the run's horizon,
      see :func:`analysis.models.features.customer_status`) before the separate-list
      threshold: a re-activation (win-back) campaign rather than a call; lapsed customers
      beyond it keep ``separate_list`` / ``removal``. Only when the frame has ``status``.

Labels for every tier, priority and action are in ``locales/signals.yml``
(``sig_value_<tier>``, ``sig_risk_<tier>``, ``sig_priority_<p>``, ``sig_action_<action>``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.data.config import DatasetConfig, Thresholds
from analysis.data.dataset import Dataset
from analysis.errors import ConfigError, DataError, NotEnoughDataError
from analysis.metrics.lifecycle import check_as_of

__all__ = [
    "ACTIONS",
    "ALERT_CUTS",
    "PRIORITIES",
    "PROBABILITY_CUTS",
    "RISK_TIERS",
    "VALUE_TIERS",
    "priority_counts",
    "priority_matrix",
    "recommended_action",
    "risk_tiers",
    "value_tiers",
]

VALUE_TIERS: tuple[str, ...] = ("high", "standard")
RISK_TIERS: tuple[str, ...] = ("low", "medium", "high", "critical")
PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3")
ACTIONS: tuple[str, ...] = ("none", "watch", "wake_up_sequence", "personal_call", "separate_list", "removal",
                           "win_back")
PROBABILITY_CUTS: tuple[float, float, float] = (0.10, 0.25, 0.50)
ALERT_CUTS: tuple[float, float, float] = (1, 2, 3)

#: priority of (value tier, risk tier)
PRIORITY_GRID: dict[tuple[str, str], str] = {
    ("high", "low"): "P3", ("high", "medium"): "P2", ("high", "high"): "P1", ("high", "critical"): "P1",
    ("standard", "low"): "P3", ("standard", "medium"): "P3", ("standard", "high"): "P2",
    ("standard", "critical"): "P2",
}

RISK_DTYPE = pd.CategoricalDtype(list(RISK_TIERS), ordered=True)
VALUE_DTYPE = pd.CategoricalDtype(list(VALUE_TIERS), ordered=True)
PRIORITY_DTYPE = pd.CategoricalDtype(list(PRIORITIES), ordered=True)


def _need(frame: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(f"{what} needs column(s) {missing}; it has {list(frame.columns)}.")


def _tier_from_values(value: pd.Series, top_share: float) -> pd.Series:
    """``high`` for the top ``top_share`` of positive values, ``standard`` otherwise."""
    if not 0 < top_share < 1:
        raise ConfigError(f"top_share is {top_share}; expected a share strictly between 0 and 1 (e.g. 0.20).")
    v = pd.to_numeric(value, errors="coerce").astype("float64")
    rank = v.where(v > 0).rank(ascending=False, method="min", pct=True)
    high = rank.le(top_share).to_numpy()
    return pd.Series(pd.Categorical(np.where(high, "high", "standard"), dtype=VALUE_DTYPE), index=value.index)


def value_tiers(ds: Dataset, as_of, value: str | None = None, top_share: float = 0.20) -> pd.DataFrame:
    """Value of every customer signed up before ``as_of`` and its tier (top 20 % = ``high``).

    Parameters
    ----------
    ds : the dataset; uses ``customers`` (customer_id, signup_date, and ``value`` if named)
        and, by default, ``orders`` (customer_id, order_date, amount).
    as_of : the date; only orders strictly before it are read.
    value : name of a numeric column of ``customers`` to use as the value (e.g. a contract
        value); default the net revenue (purchases plus refunds) of the 365 days before
        ``as_of``, 0 for customers without orders.
    top_share : share of the customers with a positive value that make the ``high`` tier.

    Returns
    -------
    DataFrame with ``customer_id`` (string), ``value`` (float), ``value_tier`` (ordered
    categorical ``high`` / ``standard``), in the order of ``ds.customers``.

    Raises
    ------
    DataError
        If ``value`` is not a numeric column of the customers table.
    NotEnoughDataError
        If no ``value`` is named and the orders carry no amount.
    """
    cut = check_as_of(as_of)
    cust = ds.customers.loc[ds.customers["signup_date"] < cut].reset_index(drop=True)
    ids = cust["customer_id"].astype("string")
    if value is not None:
        if value not in cust.columns:
            raise DataError(f"value column '{value}' is not in the customers table; "
                            f"available columns: {list(ds.customers.columns)}.")
        if value in ds.config.personal_columns:
            raise DataError(f"value column '{value}' is declared personal in dataset.yml; choose another.")
        vals = pd.to_numeric(cust[value], errors="coerce")
        bad = vals.isna() & cust[value].notna()
        if bad.any():
            raise DataError(f"value column '{value}' of customers is not numeric in {int(bad.sum())} row(s), "
                            f"e.g. {cust.loc[bad, value].head(3).tolist()}.")
        vals = vals.fillna(0.0).astype("float64")
    else:
        if not ds.has_amounts:
            raise NotEnoughDataError(
                "value tiers need orders with an 'amount' column, or the name of a numeric customer "
                "column passed as value=... (e.g. a yearly contract value)."
            )
        o = ds.orders
        recent = o.loc[(o["order_date"] < cut) & (o["order_date"] >= cut - pd.Timedelta(days=365))]
        rev = recent.groupby("customer_id", sort=False)["amount"].sum()
        vals = ids.map(rev).astype("float64").fillna(0.0)
    vals.index = ids.index
    out = pd.DataFrame({"customer_id": ids, "value": vals.to_numpy(dtype="float64")})
    out["value_tier"] = _tier_from_values(out["value"], top_share)
    return out


def risk_tiers(risk: pd.Series, kind: str = "auto", cuts: Sequence[float] | None = None) -> pd.Series:
    """Risk tier (``low`` < ``medium`` < ``high`` < ``critical``) of a probability or an alert count.

    Parameters
    ----------
    risk : churn probabilities in [0, 1], or numbers of alerts (integers).
    kind : ``"probability"``, ``"alerts"`` or ``"auto"`` (integer dtype -> alerts, else probability).
    cuts : the three increasing lower bounds of medium, high and critical; default
        :data:`PROBABILITY_CUTS` or :data:`ALERT_CUTS`.

    Returns
    -------
    Series (ordered categorical of :data:`RISK_TIERS`, NA where ``risk`` is missing), same index.
    """
    if kind == "auto":
        kind = "alerts" if pd.api.types.is_integer_dtype(risk.dtype) else "probability"
    if kind not in ("probability", "alerts"):
        raise ConfigError(f"risk kind '{kind}' is not known; expected probability, alerts or auto.")
    cuts = tuple(cuts if cuts is not None else (PROBABILITY_CUTS if kind == "probability" else ALERT_CUTS))
    if len(cuts) != 3 or list(cuts) != sorted(cuts):
        raise ConfigError(f"risk cuts {cuts}: expected three increasing numbers (medium, high, critical).")
    r = pd.to_numeric(risk, errors="coerce").astype("float64").to_numpy()
    if kind == "probability" and np.nanmax(np.append(r, 0.0)) > 1:
        raise DataError("risk values above 1 cannot be probabilities; pass kind='alerts' for alert counts.")
    code = np.searchsorted(np.asarray(cuts, dtype="float64"), r, side="right")
    code = np.where(np.isnan(r), -1, code)
    return pd.Series(pd.Categorical.from_codes(code, dtype=RISK_DTYPE), index=risk.index, name="risk_tier")


def recommended_action(frame: pd.DataFrame, thresholds: Thresholds | DatasetConfig | None = None, *,
                       contractual: bool | None = None, failed_cycles: int = 2,
                       cycle_days: int | None = None) -> pd.Series:
    """The action SPEC section 3 recommends for each customer (see the module docstring).

    Parameters
    ----------
    frame : DataFrame with ``days_since_last`` and ``lost`` (as from
        :func:`analysis.metrics.signals.indicators`); optional ``any_alert``, ``value_tier`` and
        ``risk_tier`` refine it.
    thresholds : the inactivity thresholds, or the dataset config (which also says whether
        the business is contractual); default :class:`~analysis.data.config.Thresholds`.
    contractual : whether a lost client is an ended contract (no action); default taken from
        the config if one is given, else False.
    failed_cycles : re-activation cycles on the separate list before removal (SPEC: 2-3).
    cycle_days : length of a re-activation cycle; default the wake-up threshold (60 days).

    Returns
    -------
    Series of strings from :data:`ACTIONS` (NA where ``days_since_last`` is missing), named
    ``recommended_action``, same index as ``frame``.
    """
    _need(frame, ["days_since_last", "lost"], "recommended_action")
    if isinstance(thresholds, DatasetConfig):
        if contractual is None:
            contractual = thresholds.contractual
        th = thresholds.thresholds
    else:
        th = thresholds or Thresholds()
    contractual = bool(contractual)
    if failed_cycles < 1:
        raise ConfigError(f"failed_cycles is {failed_cycles}; expected at least 1 (SPEC: 2-3).")
    cycle = int(cycle_days or th.wake_up_days)
    d = pd.to_numeric(frame["days_since_last"], errors="coerce").astype("float64").to_numpy()
    levels = np.array([th.watch_days, th.wake_up_days, th.inactive_days, th.removal_days,
                       th.removal_days + failed_cycles * cycle], dtype="float64")
    code = np.searchsorted(levels, d, side="right")  # 0 none .. 5 removal
    alert = (frame["any_alert"].to_numpy(dtype=bool, na_value=False) if "any_alert" in frame.columns
             else np.zeros(len(frame), dtype=bool))
    code = np.where((code == 0) & alert, 1, code)
    if "value_tier" in frame.columns:
        high_value = frame["value_tier"].astype("string").eq("high").to_numpy(dtype=bool, na_value=False)
        if "risk_tier" in frame.columns:
            at_risk = frame["risk_tier"].astype("string").isin(["high", "critical"]).to_numpy(dtype=bool, na_value=False)
        else:
            at_risk = alert
        code = np.where(high_value & at_risk & (code < 3), 3, code)
    if "status" in frame.columns:
        lapsed = frame["status"].astype("string").eq("lapsed").to_numpy(dtype=bool, na_value=False)
        code = np.where(lapsed & (code < 4), 6, code)
    lost = frame["lost"].to_numpy(dtype=bool, na_value=False)
    if contractual:
        code = np.where(lost, 0, code)
    actions = pd.array(np.asarray(ACTIONS, dtype=object)[code], dtype="string")
    actions[np.isnan(d) & ~(contractual & lost)] = pd.NA  # unknown inactivity: no recommendation
    return pd.Series(actions, index=frame.index, name="recommended_action")


def priority_matrix(frame: pd.DataFrame, risk_col: str = "n_alerts", value_col: str = "value_tier", *,
                    risk_kind: str = "auto", risk_cuts: Sequence[float] | None = None, top_share: float = 0.20,
                    thresholds: Thresholds | DatasetConfig | None = None, contractual: bool | None = None,
                    failed_cycles: int = 2) -> pd.DataFrame:
    """Place every customer in the value x risk matrix and give a priority and an action.

    Parameters
    ----------
    frame : DataFrame with ``customer_id``, ``risk_col`` and ``value_col``; for the action
        also ``days_since_last`` and ``lost`` (e.g. :func:`analysis.metrics.signals.indicators` at one
        date merged with :func:`value_tiers`, or a classifier's scored table).
    risk_col : a churn probability or an alert count (``n_alerts``).
    value_col : a tier column (``high`` / ``standard``) or a numeric value, turned into tiers
        with ``top_share``.
    risk_kind, risk_cuts : see :func:`risk_tiers`.
    thresholds, contractual, failed_cycles : see :func:`recommended_action`.

    Returns
    -------
    A copy of ``frame`` with ``value_tier`` (if ``value_col`` was numeric), ``risk_tier``,
    ``priority`` (ordered categorical P1 < P2 < P3) and, when ``days_since_last`` and
    ``lost`` are present, ``recommended_action`` (a P1 or P2 customer whose inactivity alone
    asks for nothing is at least ``watch``: the call list never says "no action"); sorted by priority, then risk (highest
    first), then value (highest first), then customer_id.
    """
    _need(frame, ["customer_id", risk_col, value_col], "priority_matrix")
    out = frame.copy()
    if pd.api.types.is_numeric_dtype(out[value_col].dtype) and not pd.api.types.is_bool_dtype(out[value_col].dtype):
        out["value_tier"] = _tier_from_values(out[value_col], top_share)
        tier_col = "value_tier"
    else:
        tier_col = value_col
        unknown = set(out[value_col].dropna().astype("string")) - set(VALUE_TIERS)
        if unknown:
            raise DataError(f"column '{value_col}' holds {sorted(unknown)}; expected value tiers "
                            f"{list(VALUE_TIERS)} or a numeric value.")
    out["risk_tier"] = risk_tiers(out[risk_col], risk_kind, risk_cuts)
    keys = pd.Series(list(zip(out[tier_col].astype("string").fillna("standard"),
                              out["risk_tier"].astype("string").fillna("low"), strict=True)), index=out.index)
    pr = keys.map(PRIORITY_GRID)
    out["priority"] = pd.Categorical(pr.where(out["risk_tier"].notna()), dtype=PRIORITY_DTYPE)
    if {"days_since_last", "lost"} <= set(out.columns):
        tmp = out.assign(value_tier=out[tier_col])
        action = recommended_action(tmp, thresholds, contractual=contractual, failed_cycles=failed_cycles)
        # a customer the matrix ranks P1 or P2 is on the call list: never "no action", at least watched
        ranked = out["priority"].isin(["P1", "P2"]).to_numpy(dtype=bool)
        action[ranked & action.eq("none").to_numpy(dtype=bool, na_value=False)] = "watch"
        out["recommended_action"] = action
    sort_cols = ["_p", "_r", "_v", "customer_id"]
    out = out.assign(_p=out["priority"].cat.codes.replace(-1, 99), _r=-out["risk_tier"].cat.codes,
                     _v=out[tier_col].astype("string").map({"high": 0, "standard": 1}).fillna(2))
    out = out.sort_values(sort_cols, kind="stable").drop(columns=["_p", "_r", "_v"])
    return out.reset_index(drop=True)


def priority_counts(matrix: pd.DataFrame, value_col: str = "value_tier") -> pd.DataFrame:
    """Customers per value tier (rows) x risk tier (columns), the table behind a priority plot.

    Parameters
    ----------
    matrix : output of :func:`priority_matrix` (``value_col`` and ``risk_tier``).

    Returns
    -------
    DataFrame indexed by value tier (high, standard) with one column per risk tier, counts.
    """
    _need(matrix, [value_col, "risk_tier"], "priority_counts")
    tab = pd.crosstab(pd.Categorical(matrix[value_col].astype("string"), categories=list(VALUE_TIERS)),
                      pd.Categorical(matrix["risk_tier"].astype("string"), categories=list(RISK_TIERS)),
                      dropna=False)
    tab.index.name = "value_tier"
    tab.columns.name = "risk_tier"
    return tab.reindex(index=list(VALUE_TIERS), columns=list(RISK_TIERS), fill_value=0).astype("int64")
