"""The retro-audit learns its thresholds: per indicator, per base and per segment (issue #15).

:class:`analysis.models.audit.RetroAudit` replays the six early-warning indicators before the
last lost clients' churn dates and on matched retained clients, with the SPEC's default
thresholds. :class:`ThresholdTuner` replays a *grid* of thresholds on the same windows and
says which one to use on this base, validated on later departures.

One indicator pass
------------------
The tuner reads :attr:`RetroAudit.indicator_rows_` (the raw indicator values of every window
at every replay date, computed once by the audit) and turns them into severities
(:func:`analysis.metrics.signals.alert_severities`): an alert component fires where its
severity reaches the threshold. For every indicator the severities form a
``windows x replay weeks`` matrix; all candidates are thresholded at once (a
``windows x weeks x candidates`` boolean array), so no indicator is recomputed per
candidate. The tuner therefore costs a few NumPy operations on top of the audit.

Candidates (:func:`default_grid`)
---------------------------------
frequency  ``freq_drop`` 20 / 30 / 40 / 50 / 60 % over ``freq_months`` 1 or 2 months.
recency    ``recency_alert_days`` 21 / 30 / 45 / 60 / 90 / 120 days without a significant interaction.
value      ``basket_drop`` 15 / 20 / 25 / 30 / 40 % or off x ``interval_drift`` +50 / +75 / +100 /
           +150 / +200 % (1.5x to 3x the previous interval) or off, the revenue-share part
           kept at its configured threshold. "Off" is written ``basket_drop: 1.0`` (a mean
           basket cannot fall by more than 100 %) and ``interval_drift: 1000`` (an interval
           1,001 times the previous one: never in practice; the config refuses infinity).
nps        ``nps_drop`` 1 / 2 / 3 / 4 points (a promoter turned detractor always fires).
usage      ``usage_drop`` 15 / 20 / 30 / 40 / 50 %.
The email indicator (a sudden stop of opens) is a pattern without a threshold: not tuned.
The configured thresholds (``ds.config.signal_params``) are always a candidate, the *default*.

Measures (per candidate and set of windows; as in :mod:`analysis.models.audit`)
-------------------------------------------------------------------------------
A window is *hit* when the candidate fired at least ``min_lead_weeks`` before the reference
date. recall = lost windows hit / lost windows; false-alarm rate = retained windows hit /
retained windows; precision = lost hits / all hits (in the audit sample: it depends on the
matching ratio); lift = recall / false-alarm rate; median lead = median weeks between the
first firing and the reference date over the lost windows where it fired at all. Recall,
false-alarm rate and precision have Wilson intervals; the lift has the Katz log interval
(0.5 added to every cell when one is empty).

Recommendation (:meth:`ThresholdTuner.fit`)
-------------------------------------------
1. Time split: lost clients are sorted by reference date; the earliest ``tune_share`` of
   them (every client of a tied date on the same side) *tune*, the later ones *evaluate*;
   each retained window follows the lost client it was matched to.
2. On the tuning windows, among candidates whose median lead is at least
   ``min_median_lead_weeks`` and (``objective="precision"``, default) whose recall is at least
   ``recall_floor``, the one with the highest precision is chosen (ties: higher recall, then
   the fewest thresholds changed from the default, then the grid order). With ``objective="recall"`` the constraint is a
   false-alarm rate at most ``far_budget`` instead of the recall floor, and recall is maximised
   (ties: lower false-alarm rate). Without an eligible candidate the default is kept.
3. On the evaluation windows the chosen candidate and the default are compared on the
   objective (with ``objective="recall"`` and a default whose false-alarm rate exceeds the
   budget on the tuning windows: on the reduction of the false-alarm rate, since the
   default is then not admissible) with a paired cluster bootstrap (``n_boot`` resamples of the evaluation's lost
   clients, each with its matched retained clients; percentile interval at ``confidence``).
   The tuned threshold is *adopted* only when the interval of the gain lies above 0 and
   the tuned threshold's own lift interval lies above 1 on the evaluation windows;
   otherwise the default is kept (a non-significant gain is not a finding).
4. An indicator is *uninformative* when no candidate's lift interval lies above 1 on the
   tuning windows and neither the default's nor the chosen candidate's does on the
   evaluation windows; it can be switched off (``disabled:`` in ``dataset.yml``). These
   intervals are Bonferroni-corrected (one of many intervals excludes 1 by chance): half of
   ``1 - confidence`` is shared among the candidates of the tuning windows, half among the
   two thresholds checked on the evaluation windows.
5. Segments: for each segment column of the customers table (non-personal, at most 30
   values) and each value with at least ``min_segment_lost`` lost clients in the tuning
   period *and* in the evaluation period, steps 2-3 are repeated on that segment's windows (a
   retained window belongs to the segment of its lost client). A segment's threshold is
   written only when adopted and different from the base's.

Nothing is read at or after the audit's ``as_of``: the tuner reads only the fitted audit.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from analysis.data.config import Thresholds
from analysis.data.dataset import Dataset
from analysis.errors import ConfigError, NotEnoughDataError
from analysis.metrics.signals import THRESHOLD_RULES, SignalParams, alert_severities
from analysis.models.audit import LOST, RetroAudit

__all__ = [
    "BASE",
    "BASKET_OFF",
    "INTERVAL_OFF",
    "MIN_SEGMENT_LOST",
    "OBJECTIVES",
    "PARAM_COLUMNS",
    "STATUSES",
    "TUNED_INDICATORS",
    "ThresholdTuner",
    "default_grid",
    "grid_metrics",
    "katz_lift_ci",
    "lead_weeks_matrix",
    "time_split",
    "wilson_ci",
]

#: Indicators with a threshold grid (email is a pattern, not tuned).
TUNED_INDICATORS: tuple[str, ...] = ("frequency", "recency", "value", "nps", "usage")
#: The thresholds a candidate sets (fields of :class:`analysis.metrics.signals.SignalParams`).
PARAM_COLUMNS: dict[str, tuple[str, ...]] = {
    "frequency": ("freq_drop", "freq_months"),
    "recency": ("recency_alert_days",),
    "value": ("basket_drop", "interval_drift", "share_drop"),
    "nps": ("nps_drop",),
    "usage": ("usage_drop",),
}
OBJECTIVES: tuple[str, ...] = ("precision", "recall")
#: Documented minimum of lost clients per segment and period for a per-segment threshold.
MIN_SEGMENT_LOST = 30
#: Scope of the whole base in the outputs (segments are ``column=value``).
BASE = "base"
#: Outcome codes of a recommendation.
STATUSES: tuple[str, ...] = ("adopted", "default_kept", "default_best", "no_eligible", "too_few_departures",
                             "not_available")
#: The day thresholds of the ``thresholds:`` block (copied into the suggested block when configured).
DAY_THRESHOLDS: tuple[str, ...] = ("watch_days", "wake_up_days", "inactive_days", "removal_days", "churn_horizon_days")
#: "Off" values of the value components (never fire; see the module docstring).
BASKET_OFF = 1.0
INTERVAL_OFF = 1000.0  # a purchase interval 1,001 times the previous one: never in practice


# --------------------------------------------------------------------------- grid
def default_grid(defaults: SignalParams | None = None) -> pd.DataFrame:
    """The candidate thresholds of every tuned indicator, the default first.

    Parameters
    ----------
    defaults : the thresholds in force (resolved :class:`SignalParams`); default the SPEC's
        (recency at 30 days).

    Returns
    -------
    DataFrame, one row per candidate: ``candidate`` (int id), ``indicator``, ``is_default``
    and the threshold columns of :data:`PARAM_COLUMNS` (NaN where not used by the indicator).
    """
    p = defaults or _with_recency(SignalParams(), 30)
    rows: list[dict] = []

    def add(indicator: str, values: dict) -> None:
        rows.append({"indicator": indicator, **{k: float(v) for k, v in values.items()}})

    add("frequency", {"freq_drop": p.freq_drop, "freq_months": p.freq_months})
    for drop, months in itertools.product((0.2, 0.3, 0.4, 0.5, 0.6), (1, 2)):
        add("frequency", {"freq_drop": drop, "freq_months": months})
    add("recency", {"recency_alert_days": p.recency_alert_days})
    for days in (21, 30, 45, 60, 90, 120):
        add("recency", {"recency_alert_days": days})
    add("value", {"basket_drop": p.basket_drop, "interval_drift": p.interval_drift, "share_drop": p.share_drop})
    for basket, drift in itertools.product((0.15, 0.2, 0.25, 0.3, 0.4, BASKET_OFF),
                                           (0.5, 0.75, 1.0, 1.5, 2.0, INTERVAL_OFF)):
        add("value", {"basket_drop": basket, "interval_drift": drift, "share_drop": p.share_drop})
    add("nps", {"nps_drop": p.nps_drop})
    for drop in (1, 2, 3, 4):
        add("nps", {"nps_drop": drop})
    add("usage", {"usage_drop": p.usage_drop})
    for drop in (0.15, 0.2, 0.3, 0.4, 0.5):
        add("usage", {"usage_drop": drop})
    grid = pd.DataFrame(rows)
    cols = [c for ind in TUNED_INDICATORS for c in PARAM_COLUMNS[ind]]
    grid = grid.reindex(columns=["indicator", *cols])
    first = ~grid.duplicated(subset=["indicator", *cols], keep="first")
    grid = grid.loc[first].reset_index(drop=True)
    grid["is_default"] = ~grid.duplicated(subset=["indicator"], keep="first")
    grid.insert(0, "candidate", np.arange(len(grid), dtype="int64"))
    grid["indicator"] = grid["indicator"].astype("string")
    return grid


def _with_recency(p: SignalParams, days: int) -> SignalParams:
    """``p`` with ``recency_alert_days`` set (the SPEC default is the watch threshold)."""
    return replace(p, recency_alert_days=int(days))


def _components(indicator: str, row: pd.Series) -> list[tuple[str, float]]:
    """(component, threshold) pairs that fire the candidate (any of them)."""
    if indicator == "frequency":
        return [("frequency_m1" if int(row["freq_months"]) == 1 else "frequency_m2", float(row["freq_drop"]))]
    if indicator == "value":
        return [("basket", float(row["basket_drop"])), ("interval", float(row["interval_drift"])),
                ("share", float(row["share_drop"]))]
    field = PARAM_COLUMNS[indicator][0]
    return [(indicator, float(row[field]))]


# --------------------------------------------------------------------------- one pass, all candidates
def lead_weeks_matrix(rows: pd.DataFrame, windows: pd.DataFrame, grid: pd.DataFrame,
                      lookback_weeks: int) -> np.ndarray:
    """Lead time (weeks) of every candidate in every window, from one indicator pass.

    Parameters
    ----------
    rows : raw indicator rows with ``window_id`` and ``weeks_before`` (1..lookback_weeks)
        and the columns of :func:`analysis.metrics.signals.indicators`
        (:attr:`RetroAudit.indicator_rows_`).
    windows : ``window_id`` of the windows, in the order of the output rows.
    grid : candidates (:func:`default_grid`).
    lookback_weeks : replay weeks per window.

    Returns
    -------
    float array ``(len(windows), len(grid))``: the largest ``weeks_before`` at which the
    candidate fired (the lead of its first firing), NaN if it never fired in the window.
    """
    n_w, n_k = len(windows), int(lookback_weeks)
    pos = pd.Index(windows["window_id"].to_numpy()).get_indexer(rows["window_id"].to_numpy())
    k = rows["weeks_before"].to_numpy(dtype=np.int64) - 1
    ok = (pos >= 0) & (k >= 0) & (k < n_k)
    sev = alert_severities(rows)
    mats: dict[str, np.ndarray] = {}
    for comp, (s, known) in sev.items():
        m = np.full((n_w, n_k), np.nan)
        m[pos[ok], k[ok]] = np.where(known, s, np.nan)[ok]
        mats[comp] = m
    lead = np.full((n_w, len(grid)), np.nan)
    for indicator, cand in grid.groupby("indicator", sort=False, observed=True):  # five indicators
        cols = cand.index.to_numpy()
        comps = [dict(_components(str(indicator), r)) for _, r in cand.iterrows()]  # a loop over candidates
        fired = np.zeros((n_w, n_k, len(cols)), dtype=bool)
        for name in dict.fromkeys(c for cl in comps for c in cl):
            thr = np.array([cl.get(name, np.nan) for cl in comps])  # NaN: not used, never fires
            fired |= _fires(mats[name], thr, THRESHOLD_RULES[name][2])
        first = n_k - np.argmax(fired[:, ::-1, :], axis=1)
        lead[:, cols] = np.where(fired.any(axis=1), first, np.nan)
    return lead


def _fires(m: np.ndarray, thr: np.ndarray, strict: bool) -> np.ndarray:
    """``m[:, :, None] >= thr`` (``>`` when strict); NaN never fires."""
    with np.errstate(invalid="ignore"):
        return m[:, :, None] > thr[None, None, :] if strict else m[:, :, None] >= thr[None, None, :]


# --------------------------------------------------------------------------- intervals
def wilson_ci(k, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score intervals of ``k / n``, vectorised over candidates (NaN where ``n`` is 0).

    The closed form of :func:`scipy.stats.binomtest` ``(...).proportion_ci(method="wilson")``
    (equal to it, tested), written with NumPy because scipy computes one interval per call
    and a full p-value each time: thousands of candidates x scopes would cost seconds.
    """
    k = np.asarray(k, dtype="float64").ravel()
    n = np.asarray(n, dtype="float64").ravel()
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        lo, hi = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    empty = ~(n > 0)
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def katz_lift_ci(k_lost, n_lost, k_ret, n_ret, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Katz log interval of the lift (ratio of two proportions), vectorised.

    ``exp(log(rr) +- z * sqrt(1/a - 1/n1 + 1/c - 1/n2))``; when ``a`` or ``c`` is 0 (or equals
    its total) 0.5 is added to every cell of that row (Haldane). NaN where a group is empty.
    Equals :func:`scipy.stats.contingency.relative_risk` when no cell is empty.
    """
    a, n1, c, n2 = (np.asarray(x, dtype="float64").ravel() for x in (k_lost, n_lost, k_ret, n_ret))
    zero = (a == 0) | (c == 0) | (a == n1) | (c == n2)
    a, c = np.where(zero, a + 0.5, a), np.where(zero, c + 0.5, c)
    n1, n2 = np.where(zero, n1 + 1.0, n1), np.where(zero, n2 + 1.0, n2)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rr = np.log((a / n1) / (c / n2))
        se = np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
        lo, hi = np.exp(log_rr - z * se), np.exp(log_rr + z * se)
    empty = (n1 <= 0) | (n2 <= 0)
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


# --------------------------------------------------------------------------- metrics
def grid_metrics(lead: np.ndarray, is_lost: np.ndarray, min_lead_weeks: int, confidence: float = 0.95
                 ) -> pd.DataFrame:
    """Recall, false-alarm rate, precision, lift, median lead (with intervals) per candidate.

    Parameters
    ----------
    lead : ``(windows, candidates)`` from :func:`lead_weeks_matrix` (a subset of windows).
    is_lost : bool per window (False: a matched retained window).
    min_lead_weeks : a window is hit when the candidate fired at least this many weeks ahead.

    Returns
    -------
    DataFrame, one row per candidate (grid order): ``n_lost``, ``n_retained``, ``lost_hits``,
    ``retained_hits``, ``recall`` (+ ``recall_low``/``recall_high``), ``false_alarm_rate``
    (+ ``far_low``/``far_high``), ``precision`` (+ ``precision_low``/``precision_high``),
    ``lift`` (+ ``lift_low``/``lift_high``), ``median_lead_weeks``.
    """
    is_lost = np.asarray(is_lost, dtype=bool)
    with np.errstate(invalid="ignore"):
        hit = lead >= int(min_lead_weeks)
    n_l, n_r = int(is_lost.sum()), int((~is_lost).sum())
    lh = hit[is_lost].sum(axis=0).astype(np.int64)
    rh = hit[~is_lost].sum(axis=0).astype(np.int64)
    out = pd.DataFrame({"n_lost": n_l, "n_retained": n_r, "lost_hits": lh, "retained_hits": rh})
    with np.errstate(divide="ignore", invalid="ignore"):
        out["recall"] = lh / n_l if n_l else np.nan
        out["false_alarm_rate"] = rh / n_r if n_r else np.nan
        alerts = lh + rh
        out["precision"] = np.where(alerts > 0, lh / np.where(alerts > 0, alerts, 1), np.nan)
        out["lift"] = out["recall"] / out["false_alarm_rate"]
    out["recall_low"], out["recall_high"] = wilson_ci(lh, np.full(len(lh), n_l), confidence)
    out["far_low"], out["far_high"] = wilson_ci(rh, np.full(len(rh), n_r), confidence)
    out["precision_low"], out["precision_high"] = wilson_ci(lh, alerts, confidence)
    out["lift_low"], out["lift_high"] = katz_lift_ci(lh, np.full(len(lh), n_l), rh, np.full(len(rh), n_r),
                                                     confidence)
    lost_lead = lead[is_lost]
    fired_any = np.isfinite(lost_lead).any(axis=0)
    med = np.full(lead.shape[1], np.nan)
    if fired_any.any():
        med[fired_any] = np.nanmedian(lost_lead[:, fired_any], axis=0)
    out["median_lead_weeks"] = med
    return out


def time_split(windows: pd.DataFrame, tune_share: float = 0.5) -> pd.Series:
    """``"tune"`` or ``"evaluate"`` per window: earlier departures tune, later ones evaluate.

    Parameters
    ----------
    windows : ``window_id``, ``group``, ``ref_date``, ``case_id`` (:attr:`RetroAudit.windows_`).
    tune_share : share of the lost clients (earliest reference dates) that tune.

    Returns
    -------
    Series of strings aligned on ``windows``; a retained window follows its lost client;
    every lost client of the cut-off date tunes.
    """
    if not 0 < tune_share < 1:
        raise ConfigError(f"tune_share is {tune_share}; expected a share strictly between 0 and 1.")
    lost = windows.loc[windows["group"].eq(LOST)]
    dates = lost["ref_date"].sort_values(kind="stable").to_numpy()
    cut = dates[max(int(math.ceil(tune_share * len(dates))) - 1, 0)]
    case_period = pd.Series(np.where(lost["ref_date"].to_numpy() <= cut, "tune", "evaluate"),
                            index=lost["customer_id"].astype("string").to_numpy())
    period = windows["case_id"].astype("string").map(case_period)
    if period.eq("evaluate").sum() == 0 or period.eq("tune").sum() == 0:
        raise NotEnoughDataError(
            f"The {len(dates)} lost clients of the audit share too few departure dates to split them in time "
            "(earlier ones to tune, later ones to evaluate); audit more lost clients (n_lost).")
    return period.astype("string")


def _choose(m: pd.DataFrame, cand: pd.DataFrame, objective: str, min_median_lead: float, recall_floor: float,
            far_budget: float) -> int | None:
    """Grid row (position in ``cand``) chosen on metrics ``m`` (aligned on ``cand``), or None."""
    ok = m["median_lead_weeks"].ge(min_median_lead)
    if objective == "precision":
        ok &= m["recall"].ge(recall_floor) & m["precision"].notna()
        keys = ["precision", "recall"]
    else:
        ok &= m["false_alarm_rate"].le(far_budget) & m["recall"].gt(0)
        keys = ["recall", "_neg_far"]
    if not ok.any():
        return None
    cols = [c for c in cand.columns if c in {p for ps in PARAM_COLUMNS.values() for p in ps}
            and cand[c].notna().any()]
    default_row = cand.loc[cand["is_default"], cols].iloc[0]
    changed = cand[cols].ne(default_row).sum(axis=1).to_numpy()
    ranked = m.assign(_neg_far=-m["false_alarm_rate"], _changed=changed, _order=np.arange(len(m))).loc[ok]
    ranked = ranked.sort_values([*keys, "_changed", "_order"], ascending=[False, False, True, True],
                                kind="stable")
    return int(ranked["_order"].iloc[0])


def _lift_bounds(m: pd.DataFrame, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Katz lift interval at another level for the rows of :func:`grid_metrics`."""
    lo, hi = katz_lift_ci(m["lost_hits"], m["n_lost"], m["retained_hits"], m["n_retained"], confidence)
    return lo, hi


def _bootstrap_gain(lead_t: np.ndarray, lead_d: np.ndarray, is_lost: np.ndarray, cases: np.ndarray,
                    measure: str, min_lead_weeks: int, n_boot: int, confidence: float,
                    rng: np.random.Generator) -> tuple[float, float, float]:
    """Paired cluster bootstrap of the gain of tuned over default: (gain, low, high).

    ``measure``: ``"precision"`` or ``"recall"`` (tuned minus default), or
    ``"far_reduction"`` (default's false-alarm rate minus tuned's). Clusters are the lost
    clients with their matched retained windows, resampled with replacement (multinomial
    weights, one matrix product per count)."""
    codes, uniq = pd.factorize(pd.Series(cases))
    n_c = len(uniq)
    with np.errstate(invalid="ignore"):
        ht, hd = lead_t >= min_lead_weeks, lead_d >= min_lead_weeks

    def per_case(v: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=v.astype("float64"), minlength=n_c)

    lt, rt = per_case(ht & is_lost), per_case(ht & ~is_lost)
    ld, rd = per_case(hd & is_lost), per_case(hd & ~is_lost)
    nl, nr = per_case(is_lost), per_case(~is_lost)
    w = np.vstack([np.ones(n_c), rng.multinomial(n_c, np.full(n_c, 1.0 / n_c), size=int(n_boot))])

    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "precision":
            val_t = (w @ lt) / (w @ (lt + rt))
            val_d = (w @ ld) / (w @ (ld + rd))
        elif measure == "recall":
            val_t = (w @ lt) / (w @ nl)
            val_d = (w @ ld) / (w @ nl)
        else:
            val_t = -(w @ rt) / (w @ nr)
            val_d = -(w @ rd) / (w @ nr)
    gains = val_t - val_d
    point, boot = float(gains[0]), gains[1:]
    finite = boot[np.isfinite(boot)]
    if len(finite) < 0.95 * len(boot):  # tuned or default raised no alert in many resamples
        return point, float("nan"), float("nan")
    alpha = 1 - confidence
    return point, float(np.quantile(finite, alpha / 2)), float(np.quantile(finite, 1 - alpha / 2))


# --------------------------------------------------------------------------- the tuner
@dataclass
class _Scope:
    name: str
    mask: np.ndarray


class ThresholdTuner:
    """Choose each indicator's threshold on the earlier departures, check it on the later ones.

    Parameters
    ----------
    grid : candidates (:func:`default_grid` of the configured thresholds by default).
    objective : ``"precision"`` (default: highest precision with median lead >=
        ``min_median_lead_weeks`` and recall >= ``recall_floor``) or ``"recall"`` (highest
        recall with median lead >= ``min_median_lead_weeks`` and false-alarm rate <= ``far_budget``).
    min_median_lead_weeks : median lead a candidate needs (weeks).
    recall_floor : minimum recall (objective precision).
    far_budget : maximum false-alarm rate (objective recall).
    tune_share : share of the lost clients (earliest) that tune; the others evaluate.
    min_segment_lost : lost clients a segment needs in each period for its own threshold.
    segments : segment columns to try (default: ``ds.segment_columns()``); ``()`` for none.
    confidence : level of the Wilson, Katz and bootstrap intervals.
    n_boot : bootstrap resamples of the validation.
    random_state : seed of the bootstrap.

    Attributes
    ----------
    defaults_ : the thresholds in force (resolved :class:`SignalParams`).
    candidates_ : the grid (:func:`default_grid`).
    periods_ : ``"tune"`` / ``"evaluate"`` per audit window (:func:`time_split`).
    day_thresholds_ : the day thresholds the dataset's config sets (not the defaults).
    split_ok_ : False when the departures share too few dates to be split in time; every
        indicator then keeps its default (status ``too_few_departures``).
    split_date_ : the last reference date of the tuning period.
    n_lost_, n_retained_ : lost and retained windows of the audit.
    lead_ : ``(windows, candidates)`` lead times (:func:`lead_weeks_matrix`).
    grid_ : the metrics of every candidate (:func:`grid_metrics`) per ``scope`` (``"base"`` or
        ``column=value``) and ``period`` (``all``, ``tune``, ``evaluate``), with the candidate's
        thresholds, ``is_default`` and ``is_tuned`` (chosen on the tuning period).
    recommendations_ : one row per (scope, indicator): ``scope``, ``indicator``, ``status``
        (:data:`STATUSES`), ``informative``, ``default`` and ``tuned`` (candidate ids),
        ``adopted`` (the candidate to use), default and tuned ``precision`` and ``recall``
        (+ Wilson interval), ``false_alarm_rate``, ``lift`` (+ Katz interval), ``median_lead_weeks`` on the evaluation
        period (``eval_*_default`` / ``eval_*_tuned``), ``gain``, ``gain_low``, ``gain_high``
        (tuned minus default on ``gain_measure``: precision, recall or far_reduction; bootstrap
        interval), ``n_lost_tune``, ``n_lost_eval``.
    """

    def __init__(self, grid: pd.DataFrame | None = None, objective: str = "precision",
                 min_median_lead_weeks: float = 4, recall_floor: float = 0.20, far_budget: float = 0.20,
                 tune_share: float = 0.5, min_segment_lost: int = MIN_SEGMENT_LOST,
                 segments: tuple[str, ...] | None = None, confidence: float = 0.95, n_boot: int = 2000,
                 random_state: int | None = 0):
        self.grid = grid
        self.objective = objective
        self.min_median_lead_weeks = min_median_lead_weeks
        self.recall_floor = recall_floor
        self.far_budget = far_budget
        self.tune_share = tune_share
        self.min_segment_lost = min_segment_lost
        self.segments = segments
        self.confidence = confidence
        self.n_boot = n_boot
        self.random_state = random_state

    def fit(self, audit: RetroAudit, ds: Dataset) -> ThresholdTuner:
        """Tune on a fitted :class:`RetroAudit` of ``ds`` (only its replayed windows are read).

        Returns
        -------
        self
        """
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective is '{self.objective}'; expected one of {list(OBJECTIVES)}.")
        for name, value in (("recall_floor", self.recall_floor), ("far_budget", self.far_budget),
                            ("confidence", self.confidence)):
            if not 0 <= float(value) <= 1:
                raise ConfigError(f"{name} is {value}; expected a share between 0 and 1.")
        if int(self.n_boot) < 100:
            raise ConfigError(f"n_boot is {self.n_boot}; expected at least 100 bootstrap resamples.")
        if not hasattr(audit, "indicator_rows_"):
            raise ConfigError("ThresholdTuner.fit needs a fitted RetroAudit (call audit.fit(ds, as_of) first).")
        self.as_of_ = audit.as_of_
        th, plain = ds.config.thresholds, Thresholds()
        self.day_thresholds_ = {k: getattr(th, k) for k in DAY_THRESHOLDS if getattr(th, k) != getattr(plain, k)}
        self.min_lead_weeks_ = int(audit.min_lead_weeks)
        self.defaults_ = (audit.params or ds.config.signal_params).resolved(ds)
        grid = self.grid if self.grid is not None else default_grid(self.defaults_)
        self.candidates_ = grid.reset_index(drop=True)
        windows = audit.windows_.reset_index(drop=True)
        self.windows_ = windows
        try:
            self.periods_ = time_split(windows, self.tune_share)
            self.split_ok_ = True
        except NotEnoughDataError:  # every departure on one date: nothing to validate on
            self.periods_ = pd.Series("tune", index=windows.index, dtype="string")
            self.split_ok_ = False
        lost_w = windows["group"].eq(LOST).to_numpy()
        self.split_date_ = pd.Timestamp(windows.loc[lost_w & self.periods_.eq("tune").to_numpy(), "ref_date"].max())
        self.n_lost_ = int(lost_w.sum())
        self.n_retained_ = int((~lost_w).sum())
        self.lead_ = lead_weeks_matrix(audit.indicator_rows_, windows, self.candidates_, int(audit.lookback_weeks))
        is_lost = windows["group"].eq(LOST).to_numpy()
        available = {ind: bool(audit.per_indicator_.set_index("indicator")["available"].get(ind, False))
                     for ind in TUNED_INDICATORS}
        self.available_ = available
        scopes = [_Scope(BASE, np.ones(len(windows), dtype=bool))]
        scopes += self._segment_scopes(ds, windows, is_lost)
        rng = np.random.default_rng(self.random_state)
        tables, recs = [], []
        periods = self.periods_.to_numpy()
        for scope in scopes:  # a loop over the base and the large segments
            per_period = {}
            for period in ("all", "tune", "evaluate"):
                sel = scope.mask & ((periods == period) if period != "all" else True)
                m = grid_metrics(self.lead_[sel], is_lost[sel], self.min_lead_weeks_, self.confidence)
                per_period[period] = m
                tables.append(pd.concat([pd.DataFrame({"scope": scope.name, "period": period}, index=m.index),
                                         self.candidates_, m], axis=1))
            for ind in TUNED_INDICATORS:  # five indicators
                recs.append(self._recommend(scope, ind, per_period, is_lost, windows, rng, available[ind]))
        self.recommendations_ = pd.DataFrame(recs)
        tuned = self.recommendations_[["scope", "indicator", "tuned"]].dropna()
        grid_all = pd.concat(tables, ignore_index=True)
        key = tuned.assign(is_tuned=True, candidate=tuned["tuned"].astype("int64"))[["scope", "candidate", "is_tuned"]]
        grid_all = grid_all.merge(key, on=["scope", "candidate"], how="left")
        grid_all["is_tuned"] = grid_all["is_tuned"].eq(True).to_numpy()
        grid_all["scope"] = grid_all["scope"].astype("string")
        grid_all["period"] = grid_all["period"].astype("string")
        self.grid_ = grid_all
        return self

    def _segment_scopes(self, ds: Dataset, windows: pd.DataFrame, is_lost: np.ndarray) -> list[_Scope]:
        cols = list(ds.segment_columns()) if self.segments is None else list(self.segments)
        if not cols:
            return []
        cust = ds.customers.assign(customer_id=ds.customers["customer_id"].astype("string")).set_index("customer_id")
        case = windows["case_id"].astype("string")
        periods = self.periods_.to_numpy()
        out = []
        for col in cols:  # a loop over segment columns and their values, not customers
            if col not in cust.columns:
                raise ConfigError(f"segment column '{col}' is not in the customers table; "
                                  f"expected one of {list(cust.columns)}.")
            seg = case.map(cust[col].astype("string"))
            for value in sorted(seg.loc[is_lost].dropna().unique()):
                mask = seg.eq(value).fillna(False).to_numpy(dtype=bool)
                n_t = int((mask & is_lost & (periods == "tune")).sum())
                n_e = int((mask & is_lost & (periods == "evaluate")).sum())
                if n_t >= self.min_segment_lost and n_e >= self.min_segment_lost:
                    out.append(_Scope(f"{col}={value}", np.asarray(mask, dtype=bool)))
        return out

    def _recommend(self, scope: _Scope, ind: str, per: dict[str, pd.DataFrame], is_lost: np.ndarray,
                   windows: pd.DataFrame, rng: np.random.Generator, available: bool) -> dict:
        cand = self.candidates_.loc[self.candidates_["indicator"].eq(ind)]
        idx = cand.index.to_numpy()
        default = int(cand.loc[cand["is_default"], "candidate"].iloc[0])
        d_pos = int(np.flatnonzero(cand["is_default"].to_numpy())[0])
        tune, ev = per["tune"].iloc[idx].reset_index(drop=True), per["evaluate"].iloc[idx].reset_index(drop=True)
        rec: dict = {"scope": scope.name, "indicator": ind, "default": default, "gain_measure": self.objective,
                     "n_lost_tune": int(tune["n_lost"].iloc[0]), "n_lost_eval": int(ev["n_lost"].iloc[0])}
        if not available:
            return {**rec, "status": "not_available", "informative": None, "tuned": None, "adopted": None}
        chosen = _choose(tune, cand.reset_index(drop=True), self.objective, self.min_median_lead_weeks,
                         self.recall_floor, self.far_budget)
        # Bonferroni: half the error rate over the indicator's candidates on the tuning windows, half
        # over the two thresholds (default, chosen) checked on the evaluation windows
        alpha = 1 - self.confidence
        tune_lift_low, _ = _lift_bounds(tune, 1 - alpha / (2 * len(cand)))
        ev_lift_low, _ = _lift_bounds(ev, 1 - alpha / 4)
        informative = bool((tune_lift_low > 1).any() or ev_lift_low[d_pos] > 1
                           or (chosen is not None and ev_lift_low[chosen] > 1))
        rec["informative"] = informative
        for name, pos in (("default", d_pos), ("tuned", chosen if chosen is not None else d_pos)):
            e = ev.iloc[pos]
            for col in ("precision", "precision_low", "precision_high", "recall", "recall_low", "recall_high",
                        "false_alarm_rate", "lift", "lift_low", "lift_high", "median_lead_weeks"):
                rec[f"eval_{col}_{name}"] = float(e[col])
            rec[f"tune_{self.objective}_{name}"] = float(tune.iloc[pos][self.objective])
        if not self.split_ok_:
            return {**rec, "status": "too_few_departures", "tuned": None, "adopted": default,
                    "gain": np.nan, "gain_low": np.nan, "gain_high": np.nan}
        if chosen is None:
            return {**rec, "status": "no_eligible", "tuned": None, "adopted": default,
                    "gain": np.nan, "gain_low": np.nan, "gain_high": np.nan}
        tuned = int(cand["candidate"].iloc[chosen])
        rec["tuned"] = tuned
        if tuned == default:
            return {**rec, "status": "default_best", "adopted": default, "gain": 0.0, "gain_low": np.nan,
                    "gain_high": np.nan}
        sel = scope.mask & (self.periods_.to_numpy() == "evaluate")
        measure = self.objective
        if self.objective == "recall" and not tune.iloc[d_pos]["false_alarm_rate"] <= self.far_budget:
            measure = "far_reduction"  # the default breaks the budget: what the tuned one must win is fewer alarms
        rec["gain_measure"] = measure
        gain, lo, hi = _bootstrap_gain(self.lead_[sel, tuned], self.lead_[sel, default], is_lost[sel],
                                       windows["case_id"].astype("string").to_numpy()[sel], measure,
                                       self.min_lead_weeks_, int(self.n_boot), float(self.confidence), rng)
        tuned_lift_low = float(ev.iloc[chosen]["lift_low"])
        adopted = bool(np.isfinite(lo) and lo > 0 and tuned_lift_low > 1)
        return {**rec, "status": "adopted" if adopted else "default_kept", "adopted": tuned if adopted else default,
                "gain": gain, "gain_low": lo, "gain_high": hi}

    # ----------------------------------------------------------------- outputs
    def params_of(self, candidate: int) -> dict[str, float | int]:
        """The thresholds a candidate sets (``freq_months``, ``recency_alert_days`` and
        ``nps_drop`` as integers)."""
        row = self.candidates_.set_index("candidate").loc[int(candidate)]
        ind = str(row["indicator"])
        out: dict[str, float | int] = {}
        for col in PARAM_COLUMNS[ind]:
            v = float(row[col])
            out[col] = int(v) if col in ("freq_months", "recency_alert_days", "nps_drop") else v
        return out

    def uninformative(self, scope: str = BASE) -> list[str]:
        """Indicators that no threshold makes informative (lift interval never above 1)."""
        r = self.recommendations_
        r = r.loc[r["scope"].eq(scope) & r["informative"].eq(False)]
        return [str(i) for i in r["indicator"]]

    def thresholds_block(self, current: dict | None = None, switch_off: bool = False) -> dict:
        """The suggested ``thresholds:`` mapping for ``dataset.yml``.

        Parameters
        ----------
        current : the day thresholds to copy first (``watch_days`` ... ``churn_horizon_days``),
            so that the block replaces the old one whole; default those the dataset's config
            sets (:attr:`day_thresholds_`).
        switch_off : also list the uninformative indicators under ``disabled``.

        Returns
        -------
        dict: the current day thresholds, the adopted threshold of every available tuned
        indicator on the base, ``disabled`` when asked, and ``segments`` (column -> value ->
        thresholds) where a segment's adopted threshold differs from the base's.
        """
        block: dict = dict(self.day_thresholds_ if current is None else current)
        r = self.recommendations_
        base = r.loc[r["scope"].eq(BASE) & r["adopted"].notna()].set_index("indicator")
        for ind in TUNED_INDICATORS:
            if ind in base.index:
                block.update(self.params_of(int(base.loc[ind, "adopted"])))
        if switch_off and self.uninformative():
            block["disabled"] = self.uninformative()
        segs: dict = {}
        for row in r.loc[r["scope"].ne(BASE) & r["status"].eq("adopted")].itertuples(index=False):
            if _adopted_of(base, row.indicator) == row.adopted:
                continue
            col, value = str(row.scope).split("=", 1)
            segs.setdefault(col, {}).setdefault(value, {}).update(self.params_of(int(row.adopted)))
        if segs:
            block["segments"] = segs
        return block

    def tradeoff(self, period: str = "tune", scope: str = BASE) -> pd.DataFrame:
        """Median lead versus precision of every candidate (the trade-off figure's data):
        ``indicator``, ``candidate``, ``median_lead_weeks``, ``precision``, ``recall``,
        ``is_default``, ``is_tuned``, ``is_adopted``."""
        g = self.grid_.loc[self.grid_["period"].eq(period) & self.grid_["scope"].eq(scope)]
        adopted = set(self.recommendations_.loc[self.recommendations_["scope"].eq(scope), "adopted"].dropna()
                      .astype("int64"))
        out = g[["indicator", "candidate", "median_lead_weeks", "precision", "recall", "is_default", "is_tuned"]]
        out = out.assign(is_adopted=out["candidate"].isin(adopted).to_numpy())
        avail = [i for i, ok in self.available_.items() if ok]
        return out.loc[out["indicator"].isin(avail)].reset_index(drop=True)

    def watch(self, scope: str = BASE) -> list[str]:
        """Indicators worth watching on this base: informative and, with the adopted
        threshold on the evaluation period, a lift interval above 1, a median lead of at least
        ``min_median_lead_weeks`` and a recall of at least ``recall_floor``; ranked like
        :meth:`RetroAudit.watch_first` by recall minus false-alarm rate (Youden's J) there."""
        r = self.recommendations_.loc[self.recommendations_["scope"].eq(scope)
                                      & self.recommendations_["informative"].eq(True)]
        rows = []
        for row in r.itertuples(index=False):
            which = "tuned" if row.status == "adopted" else "default"
            low = getattr(row, f"eval_lift_low_{which}")
            recall = getattr(row, f"eval_recall_{which}")
            j = recall - getattr(row, f"eval_false_alarm_rate_{which}")
            lead = getattr(row, f"eval_median_lead_weeks_{which}")
            if low > 1 and lead >= self.min_median_lead_weeks and recall >= self.recall_floor:
                rows.append((str(row.indicator), j))
        return [i for i, _ in sorted(rows, key=lambda x: (-x[1], x[0]))]

    def key_figures(self) -> dict:
        """Figures for the notebook sidecar: per indicator (base) the status, adopted
        thresholds and default/tuned evaluation precision, recall, lift and median lead;
        the indicators worth watching and the uninformative ones. In the JSON an infinite
        value is null (a lift with no false alarm; ``interval_drift`` switched off)."""
        per = {}
        for row in self.recommendations_.loc[self.recommendations_["scope"].eq(BASE)].itertuples(index=False):
            d = row._asdict()
            per[str(row.indicator)] = {
                "status": row.status,
                "informative": row.informative,
                "adopted": self.params_of(int(row.adopted)) if pd.notna(row.adopted) else None,
                **{k: d.get(k) for k in d if k.startswith("eval_") or k.startswith("gain")},
            }
        return {"tuning_objective": self.objective, "tuning_per_indicator": per, "tuning_watch": self.watch(),
                "tuning_uninformative": self.uninformative(),
                "tuning_segments": sorted(set(self.recommendations_["scope"]) - {BASE})}


def _adopted_of(base: pd.DataFrame, indicator: str) -> float | None:
    """The base's adopted candidate of ``indicator`` (None if absent)."""
    return base.loc[indicator, "adopted"] if indicator in base.index else None
