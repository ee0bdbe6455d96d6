"""Retro-audit of lost clients (SPEC section 5): did they send signals before leaving?

The claim to test [003]: "apply the six indicators retroactively to the last 100 lost
clients; about 80 % of them sent clear signals weeks or months before leaving". The audit
replays every indicator of :mod:`analysis.metrics.signals` week by week before each lost client's
churn date, and does the same for a matched group of *retained* clients over the same
calendar windows, so that each signal's false alarms are known, not only its hits.

Definitions
-----------
window
    One (client, reference date) pair. For a lost client the reference date is its churn
    date (:func:`analysis.metrics.lifecycle.lost_clients`); for a matched retained client it is the
    churn date of the lost client it is matched to (its *pseudo-churn date*).
replay dates
    ``ref_date - 7 k`` days for ``k = 1 .. lookback_weeks``. At each replay date the
    indicators read only data strictly before that date (guaranteed by
    :func:`analysis.metrics.signals.indicators`), so nothing at or after the churn date is used.
fired, first firing, lead time
    An indicator *fired* in a window if its alert is True at one replay date at least.
    The first firing is the earliest such date; the lead time is
    ``(ref_date - first firing) / 7`` weeks (an integer ``k`` here).
signal at h weeks ahead
    The indicator fired at a replay date at least ``h`` weeks before the reference date,
    i.e. lead time >= h. "Any indicator" fires at a date when at least one indicator does.
recall (per indicator)
    Share of lost windows in which the indicator fired at least ``min_lead_weeks`` ahead
    (an actionable signal). Denominator: every lost window.
false-alarm rate
    Share of retained windows in which the indicator fired at least ``min_lead_weeks``
    before the pseudo-churn date. Denominator: every retained window.
precision (in the audit sample)
    ``recall * P / (recall * P + far * N)`` with ``P`` lost and ``N`` retained windows,
    i.e. true alerts / all alerts among the audited windows. It depends on the matching
    ratio (the sample holds ``1 / (1 + ratio)`` lost windows), so it is *not* the precision
    the signal would have on the whole base; compare indicators with it, don't quote it alone.
lift
    ``recall / false-alarm rate``: how many times more often the signal fires before a
    churn than in a retained client's comparable window. 1 means no discrimination;
    infinite when the signal never fired in a retained window.
coverage
    Share of lost windows where the indicator could be evaluated at least once (its alert
    was not NA: the table exists and the client had enough history).

Recall and false-alarm rate use every window as denominator, so an indicator that cannot
be evaluated for a client counts as "did not warn" for that client; an indicator that
cannot be evaluated for anyone (its table is absent) gets NA everywhere.

Comparison group
----------------
For each lost client with churn date ``d``, ``ratio`` retained clients are drawn at random
(``random_state``) among the customers that, at ``d``, had signed up and were not lost,
and that were still not lost at ``min(d + horizon, as_of)`` (so a client who churns within
the horizon after its pseudo-churn date is never "retained"; nothing after ``as_of`` is
read, so for churn dates within the horizon of ``as_of`` retention is known up to ``as_of``
only). Candidates must share the lost client's tenure band (tenure at ``d``) and value tier
(:func:`analysis.metrics.priority.value_tiers` at the window start ``d - lookback``, before any
signal, so that the matching does not erase value erosion). Sampling is without
replacement within a lost client; one customer may serve as a control for several lost
clients (risk-set sampling). Lost clients without an eligible candidate in their stratum
get fewer controls; their count is in :attr:`RetroAudit.unmatched_`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.data.dataset import Dataset
from analysis.data.partitions import base_context
from analysis.data.schema import TABLES
from analysis.data.warehouse import Warehouse
from analysis.errors import ConfigError, DataError, NotEnoughDataError
from analysis.metrics import aggregates
from analysis.metrics import signals as _signals
from analysis.metrics.lifecycle import as_dates, check_as_of, lost_clients, status_at
from analysis.metrics.priority import value_tiers

__all__ = [
    "ANCHORS",
    "ANY",
    "INDICATOR_TABLES",
    "LOST",
    "RETAINED",
    "VERDICTS",
    "RetroAudit",
    "replay_grid",
    "replay_signals",
    "window_signals",
    "indicator_summary",
    "signal_shares",
    "firing_order",
    "claim_verdict",
    "discriminates",
    "match_retained",
    "revenue_before",
    "swimlane_frame",
    "replay_indicators",
]

#: Name of the pseudo-indicator "at least one indicator fired".
ANY = "any"
LOST = "lost"
RETAINED = "retained"
#: Possible verdicts on the 80 % claim.
VERDICTS: tuple[str, ...] = ("confirmed", "not_confirmed", "inconclusive")
#: What a lost client's replay window ends on (see :class:`RetroAudit`).
ANCHORS: tuple[str, ...] = ("churn", "last_interaction")
#: The table each indicator needs (None: any activity table). ``value`` needs order amounts.
INDICATOR_TABLES: dict[str, str | None] = {
    "frequency": None, "recency": None, "email": "email_events", "value": "orders", "nps": "nps", "usage": "usage",
}
#: Default tenure bands (days at the reference date): <6 months, 6-12, 12-24, >24 months.
TENURE_BANDS: tuple[int, ...] = (0, 182, 365, 730)

_WINDOW_KEYS = ["window_id", "customer_id", "group", "ref_date"]


def _indicator_columns() -> dict[str, str]:
    return dict(_signals.INDICATORS)


def _check_columns(frame: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {missing}; expected at least {list(needed)}.")


def _check_weeks(lookback_weeks: int, min_lead_weeks: int) -> None:
    if int(lookback_weeks) < 1:
        raise ConfigError(f"lookback_weeks is {lookback_weeks}; expected a whole number of weeks >= 1.")
    if not 1 <= int(min_lead_weeks) <= int(lookback_weeks):
        raise ConfigError(
            f"min_lead_weeks is {min_lead_weeks}; expected between 1 and lookback_weeks ({lookback_weeks})."
        )


# --------------------------------------------------------------------------- replay
def replay_grid(windows: pd.DataFrame, lookback_weeks: int = 26) -> pd.DataFrame:
    """The replay dates of every window: ``ref_date - 7 k`` days, ``k = 1 .. lookback_weeks``.

    Parameters
    ----------
    windows : DataFrame with columns ``window_id`` (unique), ``customer_id``, ``group``
        (``"lost"`` or ``"retained"``) and ``ref_date`` (churn or pseudo-churn date).
    lookback_weeks : number of weekly replay dates per window.

    Returns
    -------
    DataFrame with the window columns plus ``weeks_before`` (int, k) and ``as_of``
    (the replay date), one row per (window, k), sorted by window_id then k.
    """
    _check_columns(windows, _WINDOW_KEYS, "windows")
    if int(lookback_weeks) < 1:
        raise ConfigError(f"lookback_weeks is {lookback_weeks}; expected a whole number of weeks >= 1.")
    ks = pd.DataFrame({"weeks_before": np.arange(1, int(lookback_weeks) + 1, dtype="int64")})
    grid = windows[_WINDOW_KEYS].merge(ks, how="cross")
    grid["ref_date"] = pd.to_datetime(grid["ref_date"]).dt.normalize()
    grid["as_of"] = grid["ref_date"] - pd.to_timedelta(7 * grid["weeks_before"], unit="D")
    return grid.sort_values(["window_id", "weeks_before"], kind="stable").reset_index(drop=True)


def replay_signals(table: pd.DataFrame, grid: pd.DataFrame,
                   indicators: dict[str, str] | None = None) -> pd.DataFrame:
    """The alert of every indicator at every replay date of every window (long format).

    Parameters
    ----------
    table : indicator table with columns ``as_of``, ``customer_id`` and alert columns
        (nullable booleans, NA = not evaluable), e.g. the output of
        :func:`analysis.metrics.signals.indicators`. Alert columns it lacks count as NA.
    grid : output of :func:`replay_grid`.
    indicators : indicator name -> alert column (default :data:`analysis.metrics.signals.INDICATORS`).

    Returns
    -------
    DataFrame with columns ``window_id``, ``customer_id``, ``group``, ``ref_date``,
    ``weeks_before``, ``as_of``, ``indicator`` (string, including the pseudo-indicator
    ``"any"``) and ``alert`` (``boolean``: NA where the indicator could not be evaluated or
    the client had not signed up yet). ``any`` is True if one indicator is True, False if
    none is True and one is False, NA if all are NA.
    """
    indicators = dict(indicators or _indicator_columns())
    _check_columns(table, ["as_of", "customer_id"], "indicator table")
    _check_columns(grid, [*_WINDOW_KEYS, "weeks_before", "as_of"], "replay grid")
    cols = [c for c in indicators.values() if c in table.columns]
    tab = table[["as_of", "customer_id", *cols]].copy()
    tab["as_of"] = pd.to_datetime(tab["as_of"]).dt.normalize()
    tab["customer_id"] = tab["customer_id"].astype("string")
    g = grid.copy()
    g["customer_id"] = g["customer_id"].astype("string")
    merged = g.merge(tab, on=["as_of", "customer_id"], how="left", validate="many_to_one")
    for name, col in indicators.items():
        merged[name] = merged[col].astype("boolean") if col in merged.columns else pd.array(
            [pd.NA] * len(merged), dtype="boolean")
    keys = [*_WINDOW_KEYS, "weeks_before", "as_of"]
    names = list(indicators)
    wide = merged[keys + names]
    block = wide[names]
    any_true = block.eq(True).any(axis=1)
    any_false = block.eq(False).any(axis=1)
    wide = wide.assign(**{ANY: pd.array(np.where(any_true, True, np.where(any_false, False, pd.NA)),
                                        dtype="boolean")})
    long = wide.melt(id_vars=keys, value_vars=[*names, ANY], var_name="indicator", value_name="alert")
    long["indicator"] = long["indicator"].astype("string")
    long["alert"] = long["alert"].astype("boolean")
    return long.sort_values(["window_id", "indicator", "weeks_before"], kind="stable").reset_index(drop=True)


def window_signals(replayed: pd.DataFrame, horizons: Sequence[int] = (4, 8, 12),
                   min_lead_weeks: int = 4) -> pd.DataFrame:
    """Per window and indicator: evaluable, fired, first firing, lead time, signal at h weeks.

    Parameters
    ----------
    replayed : output of :func:`replay_signals`.
    horizons : the leads ``h`` (weeks) for which ``signal_<h>w`` columns are returned.
    min_lead_weeks : lead for ``signal_min_lead``.

    Returns
    -------
    DataFrame, one row per (window, indicator): ``window_id``, ``customer_id``, ``group``,
    ``ref_date``, ``indicator``, ``evaluable`` (the alert was not NA at one date at least),
    ``fired`` (True at one date at least), ``first_fired`` (date, NaT if never),
    ``lead_weeks`` (float, NaN if never), ``signal_<h>w`` for each h and
    ``signal_min_lead`` (lead_weeks >= min_lead_weeks), all bool.
    """
    _check_columns(replayed, [*_WINDOW_KEYS, "indicator", "weeks_before", "as_of", "alert"], "replayed signals")
    r = replayed.assign(
        _eval=replayed["alert"].notna().to_numpy(),
        _true=replayed["alert"].fillna(False).astype(bool).to_numpy(),
    )
    r = r.assign(_fired_at=r["as_of"].where(r["_true"]))
    out = (
        r.groupby([*_WINDOW_KEYS, "indicator"], sort=True, observed=True)
        .agg(evaluable=("_eval", "any"), fired=("_true", "any"), first_fired=("_fired_at", "min"))
        .reset_index()
    )
    out["lead_weeks"] = (out["ref_date"] - out["first_fired"]).dt.days / 7.0
    for h in horizons:
        out[f"signal_{int(h)}w"] = out["lead_weeks"].ge(h).to_numpy()
    out["signal_min_lead"] = out["lead_weeks"].ge(min_lead_weeks).to_numpy()
    return out


# --------------------------------------------------------------------------- summaries
def _share_ci(k: int, n: int, confidence: float) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def indicator_summary(signals: pd.DataFrame, min_lead_weeks: int = 4) -> pd.DataFrame:
    """Recall, false-alarm rate, precision, lift and lead times per indicator (module docstring).

    Parameters
    ----------
    signals : output of :func:`window_signals` (both groups).
    min_lead_weeks : the lead a signal needs to count as a hit or a false alarm.

    Returns
    -------
    DataFrame, one row per indicator (``any`` last): ``indicator``, ``available`` (evaluable
    for at least one lost client), ``n_lost``, ``n_retained``, ``coverage``, ``lost_fired``
    and ``retained_fired`` (counts with lead >= min_lead_weeks), ``recall``,
    ``false_alarm_rate``, ``precision``, ``lift``, ``n_fired_any_lead`` (lost windows where it
    fired at all), ``median_lead_weeks``, ``q1_lead_weeks``, ``q3_lead_weeks`` (over those),
    ``false_alarms_per_hit`` (retained_fired / lost_fired). Rates are NaN when not available
    or when a group is empty. Rows follow :data:`analysis.metrics.signals.INDICATORS`.
    """
    s = signals.assign(_hit=signals["lead_weeks"].ge(min_lead_weeks).to_numpy())
    lost = s.loc[s["group"].eq(LOST)]
    ret = s.loc[s["group"].eq(RETAINED)]
    gl = lost.groupby("indicator", observed=True)
    gr = ret.groupby("indicator", observed=True)
    names = pd.Index(pd.unique(s["indicator"]), dtype="string", name="indicator")
    lead = lost.loc[lost["fired"]].groupby("indicator", observed=True)["lead_weeks"]
    out = pd.DataFrame(index=names)
    out["n_lost"] = gl.size().reindex(names).fillna(0).astype("int64")
    out["n_retained"] = gr.size().reindex(names).fillna(0).astype("int64")
    out["available"] = gl["evaluable"].any().reindex(names).fillna(False).astype(bool)
    out["coverage"] = gl["evaluable"].mean().reindex(names)
    out["lost_fired"] = gl["_hit"].sum().reindex(names).fillna(0).astype("int64")
    out["retained_fired"] = gr["_hit"].sum().reindex(names).fillna(0).astype("int64")
    avail = out["available"]
    recall = (out["lost_fired"] / out["n_lost"].where(out["n_lost"] > 0)).where(avail)
    far = (out["retained_fired"] / out["n_retained"].where(out["n_retained"] > 0)).where(avail)
    out["recall"] = recall.astype("float64")
    out["false_alarm_rate"] = far.astype("float64")
    alerts = (out["lost_fired"] + out["retained_fired"]).astype("float64")
    out["precision"] = (out["lost_fired"] / alerts.where(alerts > 0)).where(avail & out["n_retained"].gt(0))
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = out["recall"].to_numpy() / out["false_alarm_rate"].to_numpy()
    lift = np.where(out["recall"].eq(0) & out["false_alarm_rate"].eq(0), np.nan, lift)
    out["lift"] = lift
    out["n_fired_any_lead"] = lead.size().reindex(names).fillna(0).astype("int64")
    out["median_lead_weeks"] = lead.median().reindex(names)
    out["q1_lead_weeks"] = lead.quantile(0.25).reindex(names)
    out["q3_lead_weeks"] = lead.quantile(0.75).reindex(names)
    known = list(_indicator_columns())
    present = set(names)
    order = [n for n in known if n in present] + sorted(n for n in present if n not in known and n != ANY)
    order += [ANY] if ANY in present else []
    out["false_alarms_per_hit"] = out["retained_fired"] / out["lost_fired"].where(out["lost_fired"] > 0)
    return out.loc[order].reset_index()


def signal_shares(signals: pd.DataFrame, horizons: Sequence[int] = (4, 8, 12),
                  confidence: float = 0.95) -> pd.DataFrame:
    """Share of lost and retained windows with at least one signal ``h`` weeks ahead, with CI.

    Parameters
    ----------
    signals : output of :func:`window_signals` (the ``any`` rows are used).
    horizons : the leads in weeks.
    confidence : level of the Wilson confidence interval.

    Returns
    -------
    DataFrame, one row per (group, lead): ``group``, ``lead_weeks``, ``n``, ``k`` (windows
    with a signal), ``share``, ``ci_low``, ``ci_high``.
    """
    anyrows = signals.loc[signals["indicator"].eq(ANY)]
    rows = []
    for group in (LOST, RETAINED):
        g = anyrows.loc[anyrows["group"].eq(group)]
        n = len(g)
        for h in horizons:
            k = int(g["lead_weeks"].ge(h).sum())
            lo, hi = _share_ci(k, n, confidence)
            rows.append({"group": group, "lead_weeks": int(h), "n": n, "k": k,
                         "share": k / n if n else float("nan"), "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def firing_order(signals: pd.DataFrame) -> pd.DataFrame:
    """In which order indicators fire before a churn.

    Parameters
    ----------
    signals : output of :func:`window_signals`; only lost windows are used.

    Returns
    -------
    DataFrame, one row per indicator (not ``any``) that fired at least once, sorted by
    ``share_first`` then ``median_lead_weeks`` descending: ``indicator``, ``n_fired``,
    ``share_first`` (share of lost clients with a signal whose earliest signal was this
    indicator; ties count for every tied indicator, so shares may add up to more than 1),
    ``median_lead_weeks`` and ``rank`` (1 = typically fires first).
    """
    lost = signals.loc[signals["group"].eq(LOST) & signals["indicator"].ne(ANY) & signals["fired"]]
    cols = ["indicator", "n_fired", "share_first", "median_lead_weeks", "rank"]
    if lost.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols}).astype({"indicator": "string"})
    earliest = lost.groupby("window_id")["first_fired"].transform("min")
    first = lost.assign(_first=lost["first_fired"].eq(earliest).to_numpy())
    n_windows = first["window_id"].nunique()
    g = first.groupby("indicator", observed=True)
    out = pd.DataFrame({
        "n_fired": g.size(),
        "share_first": g["_first"].sum() / n_windows,
        "median_lead_weeks": g["lead_weeks"].median(),
    }).reset_index()
    out = out.sort_values(["share_first", "median_lead_weeks", "indicator"], ascending=[False, False, True],
                          kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out["indicator"] = out["indicator"].astype("string")
    return out[cols]


def claim_verdict(k: int, n: int, claim: float = 0.80, confidence: float = 0.95) -> str:
    """Verdict on "``claim`` of lost clients showed a signal", from ``k`` of ``n``.

    ``confirmed`` if the lower bound of the Wilson interval is at least ``claim``,
    ``not_confirmed`` if its upper bound is below ``claim``, ``inconclusive`` otherwise
    (including ``n == 0``).
    """
    if not 0 < claim < 1:
        raise ConfigError(f"claim is {claim}; expected a share between 0 and 1 (0.80 for 80 %).")
    lo, hi = _share_ci(k, n, confidence)
    if n == 0:
        return "inconclusive"
    if lo >= claim:
        return "confirmed"
    if hi < claim:
        return "not_confirmed"
    return "inconclusive"


def discriminates(k_lost: int, n_lost: int, k_retained: int, n_retained: int, min_lift: float = 1.5,
                  alpha: float = 0.05) -> bool:
    """Whether a signal tells leavers from stayers: ``k_lost`` of ``n_lost`` lost windows and
    ``k_retained`` of ``n_retained`` retained windows fired.

    True when the lost share is significantly higher (one-sided Fisher exact test at
    ``alpha``) *and* at least ``min_lift`` times the retained share (any positive lost share
    when no retained window fired). False when a group is empty.
    """
    if n_lost == 0 or n_retained == 0:
        return False
    table = [[k_lost, n_lost - k_lost], [k_retained, n_retained - k_retained]]
    significant = stats.fisher_exact(table, alternative="greater").pvalue < alpha
    p_lost, p_ret = k_lost / n_lost, k_retained / n_retained
    large = p_lost > 0 if p_ret == 0 else p_lost / p_ret >= min_lift
    return bool(significant and large)


# --------------------------------------------------------------------------- replay
#: Clients replayed per partition by :func:`replay_indicators`.
REPLAY_PART_SIZE = 5_000


def replay_indicators(ds: Dataset, customer_ids: pd.Series, dates, params=None,
                      part_size: int = REPLAY_PART_SIZE) -> pd.DataFrame:
    """The six indicators of the replayed clients only, computed partition by partition.

    The per-client replay reads each client's own rows: the clients (lost and matched
    retained) are split into partitions of ``part_size`` customers, each a
    :class:`~analysis.data.dataset.Dataset` holding every row of its customers and the
    whole base's context (:func:`analysis.data.partitions.base_context`: the revenue and
    usage denominators of the indicators), so the result equals
    :func:`analysis.metrics.signals.indicators` on the whole base restricted to these clients,
    while the replay's size is set by the audited clients, not by the base.

    Parameters
    ----------
    ds : the dataset (cut at the audit date).
    customer_ids : the clients to replay (duplicates allowed).
    dates : the replay dates.
    params : indicator thresholds, as for :func:`analysis.metrics.signals.indicators`.
    part_size : clients per partition.

    Returns
    -------
    The rows of :func:`analysis.metrics.signals.indicators` of these clients, sorted by
    as_of then customer_id; ``attrs["unavailable"]`` as on the whole base.
    """
    if int(part_size) < 1:
        raise ConfigError(f"part_size is {part_size}; expected at least 1 client per partition.")
    base = base_context(ds)
    ids = pd.Index(pd.unique(customer_ids.astype("string").dropna())).sort_values()
    parts = []
    for start in range(0, len(ids), int(part_size)):  # a loop over partitions of clients, not over clients
        keep = ids[start:start + int(part_size)]
        tables = {name: frame.loc[frame["customer_id"].astype("string").isin(keep)].reset_index(drop=True)
                  for name, frame in ds.tables.items()}
        part = Dataset(**tables, config=ds.config, report=ds.report, path=ds.path,
                       observed_from=ds.observed_from, observed_until=ds.observed_until, base=base)
        parts.append(_signals.indicators(part, dates, params=params))
    if not parts:
        return _signals.indicators(ds, dates, params=params).iloc[0:0]
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    out = out.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)
    out.attrs.update(parts[0].attrs)
    out.attrs["unavailable"] = [name for name, table in INDICATOR_TABLES.items() if table is not None
                                and not (ds.has_amounts if name == "value" else ds.has(table))]
    return out


def _has_before(wh: Warehouse, table: str, as_of: pd.Timestamp) -> bool:
    """True if ``table`` holds a row dated before ``as_of`` (``Dataset.before(as_of).has(table)``)."""
    if not wh.has(table):
        return False
    col = TABLES[table].time_column
    if col is None:
        return bool(wh.query("SELECT count(*) AS n FROM customers WHERE signup_date < $cut",
                             {"cut": as_of.to_pydatetime()})["n"].iloc[0])
    return bool(wh.query(f'SELECT count(*) AS n FROM {table} WHERE "{col}" < $cut',
                         {"cut": as_of.to_pydatetime()})["n"].iloc[0])


# --------------------------------------------------------------------------- matching
def _value_tiers_at(ds: Dataset, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """``date``, ``customer_id``, ``value_tier`` for each date (12-month value before it)."""
    if not ds.has_amounts:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "customer_id": pd.Series(dtype="string"),
                             "value_tier": pd.Series(dtype="string")})
    parts = []
    for d in dates:  # a loop over the distinct window starts (at most n_lost), not over customers
        vt = value_tiers(ds, d)[["customer_id", "value_tier"]]
        parts.append(vt.assign(date=d))
    out = pd.concat(parts, ignore_index=True)
    out["customer_id"] = out["customer_id"].astype("string")
    out["value_tier"] = out["value_tier"].astype("string")
    return out


def match_retained(ds: Dataset, lost: pd.DataFrame, as_of, *, lookback_weeks: int = 26, ratio: int = 3,
                   tenure_bands: Sequence[int] = TENURE_BANDS, horizon_days: int | None = None,
                   random_state: int | None = 0) -> pd.DataFrame:
    """Draw ``ratio`` retained clients per lost client, same tenure band and value tier.

    See the module docstring for the eligibility rule (not lost at the pseudo-churn date
    ``d`` nor at ``min(d + horizon, as_of)``) and the strata.

    Parameters
    ----------
    ds : the dataset.
    lost : the lost clients, columns ``customer_id`` and ``churn_date``.
    as_of : the audit date; nothing at or after it is read.
    lookback_weeks : the value tier is measured at ``d - lookback_weeks`` weeks.
    ratio : retained clients drawn per lost client (fewer when the stratum is short).
    tenure_bands : left edges, in days, of the tenure bands (tenure at ``d``).
    horizon_days : churn horizon (default: the config's ``churn_horizon_days``).
    random_state : seed of the random draw.

    Returns
    -------
    DataFrame with columns ``customer_id`` (the retained client), ``ref_date`` (pseudo-churn
    date), ``case_id`` (customer_id of the lost client matched), ``tenure_band``,
    ``value_tier``; sorted by case then draw order.
    """
    _check_columns(lost, ["customer_id", "churn_date"], "lost clients")
    if int(ratio) < 1:
        raise ConfigError(f"ratio is {ratio}; expected at least 1 retained client per lost client.")
    as_of = check_as_of(as_of)
    horizon = int(horizon_days or ds.config.thresholds.churn_horizon_days)
    cases = lost[["customer_id", "churn_date"]].rename(columns={"customer_id": "case_id", "churn_date": "ref_date"})
    cases = cases.assign(ref_date=pd.to_datetime(cases["ref_date"]).dt.normalize(),
                         case_id=cases["case_id"].astype("string"))
    cols = ["customer_id", "ref_date", "case_id", "tenure_band", "value_tier"]
    if cases.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in cols}).astype({"ref_date": "datetime64[ns]"})
    if isinstance(ds, Warehouse):
        return _match_retained_sql(ds, cases, as_of, lookback_weeks, ratio, tenure_bands, horizon, random_state)
    refs = as_dates(cases["ref_date"])
    checks = pd.DataFrame({"ref_date": refs, "check": (refs + pd.Timedelta(days=horizon)).where(
        refs + pd.Timedelta(days=horizon) < as_of, as_of)})
    st = status_at(ds, refs.union(pd.DatetimeIndex(checks["check"])), horizon_days=horizon)
    at_ref = st.loc[~st["lost"], ["as_of", "customer_id", "tenure_days"]].rename(columns={"as_of": "ref_date"})
    at_ref = at_ref.merge(checks, on="ref_date")
    still = st.loc[~st["lost"], ["as_of", "customer_id"]].rename(columns={"as_of": "check"})
    cand = at_ref.merge(still, on=["check", "customer_id"])
    edges = sorted({int(b) for b in tenure_bands})
    labels = [f"{a}-{b}" for a, b in zip(edges[:-1], edges[1:], strict=True)] + [f"{edges[-1]}+"]
    bins = [*edges, np.inf]

    def band(days: pd.Series) -> pd.Series:
        return pd.cut(days, bins=bins, labels=labels, right=False).astype("string").fillna("unknown")

    cand["tenure_band"] = band(cand["tenure_days"])
    lost_tenure = cases.merge(ds.customers[["customer_id", "signup_date"]].rename(columns={"customer_id": "case_id"}),
                              on="case_id", how="left")
    cases = cases.assign(tenure_band=band((lost_tenure["ref_date"] - lost_tenure["signup_date"]).dt.days).array)
    starts = cases["ref_date"] - pd.Timedelta(weeks=int(lookback_weeks))
    tiers = _value_tiers_at(ds, as_dates(starts))
    cases = cases.assign(start=starts.to_numpy())
    cand = cand.assign(start=cand["ref_date"] - pd.Timedelta(weeks=int(lookback_weeks)))

    def tier(frame: pd.DataFrame, id_col: str) -> pd.Series:
        m = frame[["start", id_col]].merge(tiers.rename(columns={"date": "start", "customer_id": id_col}),
                                           on=["start", id_col], how="left")
        return m["value_tier"].astype("string").fillna("none")

    cases["value_tier"] = tier(cases, "case_id").array
    cand["value_tier"] = tier(cand, "customer_id").array
    pairs = cases[["case_id", "ref_date", "tenure_band", "value_tier"]].merge(
        cand[["customer_id", "ref_date", "tenure_band", "value_tier"]],
        on=["ref_date", "tenure_band", "value_tier"])
    pairs = pairs.loc[pairs["customer_id"].ne(pairs["case_id"])]
    pairs = pairs.sort_values(["case_id", "customer_id"], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(random_state)
    pairs["_key"] = rng.random(len(pairs))
    pairs["_draw"] = pairs.groupby("case_id")["_key"].rank(method="first")
    chosen = pairs.loc[pairs["_draw"] <= int(ratio)].sort_values(["case_id", "_draw"], kind="stable")
    return chosen[cols].reset_index(drop=True)


def _band_sql(days: str, tenure_bands: Sequence[int]) -> str:
    """SQL of the tenure band label of ``days`` (as ``pd.cut(..., right=False)``; else unknown)."""
    edges = sorted({int(b) for b in tenure_bands})
    labels = [f"{a}-{b}" for a, b in zip(edges[:-1], edges[1:], strict=True)] + [f"{edges[-1]}+"]
    whens = " ".join(f"WHEN {days} >= {lo} AND {days} < {hi} THEN '{lab}'"
                     for lo, hi, lab in zip(edges, [*edges[1:], None], labels, strict=True) if hi is not None)
    return f"CASE {whens} WHEN {days} >= {edges[-1]} THEN '{labels[-1]}' ELSE 'unknown' END"


def _match_retained_sql(wh: Warehouse, cases: pd.DataFrame, as_of: pd.Timestamp, lookback_weeks: int,
                        ratio: int, tenure_bands: Sequence[int], horizon: int,
                        random_state: int | None) -> pd.DataFrame:
    """:func:`match_retained` over a warehouse: eligibility, tenure bands and value tiers of
    every customer are computed by SQL; only the candidate pairs (two integer codes each) and
    the draw leave DuckDB. The draw is the same as on a Dataset (same pairs, same order, same
    random keys), hence the same retained clients."""
    from analysis.metrics.aggregates import status_sql
    from analysis.metrics.priority import _tier_from_values  # noqa: F401  (the rule reproduced below)

    refs = as_dates(cases["ref_date"])
    check = (refs + pd.Timedelta(days=horizon)).where(refs + pd.Timedelta(days=horizon) < as_of, as_of)
    wh.con.register("_match_checks", pd.DataFrame({"ref_date": refs, "check_date": check}))
    wh.con.register("_match_dates", pd.DataFrame({"as_of": as_dates(refs.union(pd.DatetimeIndex(check)))}))
    starts = cases["ref_date"] - pd.Timedelta(weeks=int(lookback_weeks))
    wh.con.register("_match_cases", cases.assign(start=starts.to_numpy())[["case_id", "ref_date", "start"]])
    wh.con.register("_match_starts", pd.DataFrame({"start": as_dates(starts)}))
    cut = f"TIMESTAMP '{as_of.isoformat(sep=' ')}'"
    lookback = f"INTERVAL {7 * int(lookback_weeks)} DAY"
    if wh.has_amounts:  # value: net revenue of the 365 days before the start; tier high = top 20 % of positives
        tiers = f"""
        val AS (
            SELECT s.start, cu.customer_id, coalesce(v.value, 0.0) AS value
            FROM _match_starts s JOIN customers cu ON cu.signup_date < s.start AND cu.signup_date < {cut}
            LEFT JOIN (SELECT s2.start, o.customer_id, fsum(o.amount) AS value
                       FROM _match_starts s2 JOIN orders o
                         ON o.order_date < s2.start AND o.order_date >= s2.start - INTERVAL 365 DAY
                            AND o.order_date < {cut}
                       GROUP BY 1, 2) v ON v.start = s.start AND v.customer_id = cu.customer_id),
        tier AS (
            SELECT start, customer_id,
                   CASE WHEN value > 0 AND rank() OVER (PARTITION BY start ORDER BY CASE WHEN value > 0
                             THEN value END DESC NULLS LAST) <= 0.2 * count(*) FILTER (WHERE value > 0)
                             OVER (PARTITION BY start)
                        THEN 'high' ELSE 'standard' END AS value_tier
            FROM val),"""
    else:
        tiers = ("tier AS (SELECT CAST(NULL AS TIMESTAMP) AS start, CAST(NULL AS VARCHAR) AS customer_id, "
                 "CAST(NULL AS VARCHAR) AS value_tier WHERE false),")
    sql = f"""
        WITH s AS ({status_sql(wh, '_match_dates', as_of, horizon)}),
        {tiers}
        cand AS (
            SELECT a.as_of AS ref_date, a.customer_id, {_band_sql('a.tenure_days', tenure_bands)} AS tenure_band,
                   coalesce(t.value_tier, 'none') AS value_tier
            FROM s a JOIN _match_checks c ON a.as_of = c.ref_date AND NOT a.lost
            JOIN s b ON b.as_of = c.check_date AND b.customer_id = a.customer_id AND NOT b.lost
            LEFT JOIN tier t ON t.start = a.as_of - {lookback} AND t.customer_id = a.customer_id),
        cs AS (
            SELECT k.case_id, CAST(k.ref_date AS TIMESTAMP) AS ref_date,
                   {_band_sql(_days_sql('CAST(k.ref_date AS TIMESTAMP)', 'cu.signup_date'), tenure_bands)} AS tenure_band,
                   coalesce(t.value_tier, 'none') AS value_tier
            FROM _match_cases k LEFT JOIN customers cu ON cu.customer_id = k.case_id
            LEFT JOIN tier t ON t.start = CAST(k.start AS TIMESTAMP) AND t.customer_id = k.case_id),
        num AS (SELECT customer_id, row_number() OVER (ORDER BY customer_id) AS cust_no FROM customers)
        """
    # the cases in case_id order, then their candidate pairs as two integer codes in (case_id,
    # customer_id) order: the order of the pairs a Dataset gives, at 16 bytes a pair
    cases_sql = ("SELECT case_id, ref_date, tenure_band, value_tier, "
                 "row_number() OVER (ORDER BY case_id) AS case_no FROM cs")
    cs = wh.query(sql + cases_sql + " ORDER BY case_no")
    wh.con.register("_match_cs", cs)
    pairs = wh.query(sql + """
        SELECT k.case_no, num.cust_no
        FROM _match_cs k JOIN cand ON cand.ref_date = CAST(k.ref_date AS TIMESTAMP)
             AND cand.tenure_band = k.tenure_band AND cand.value_tier = k.value_tier
        JOIN num ON num.customer_id = cand.customer_id
        WHERE cand.customer_id <> k.case_id
        ORDER BY k.case_no, num.cust_no""")
    rng = np.random.default_rng(random_state)
    pairs["_key"] = rng.random(len(pairs))
    pairs["_draw"] = pairs.groupby("case_no", sort=False)["_key"].rank(method="first")
    chosen = pairs.loc[pairs["_draw"] <= int(ratio)].sort_values(["case_no", "_draw"], kind="stable")
    del pairs
    wh.con.register("_match_chosen", chosen[["cust_no"]].drop_duplicates())
    ids = wh.query(sql + "SELECT num.cust_no, num.customer_id FROM num JOIN _match_chosen c USING (cust_no)")
    out = chosen[["case_no", "cust_no"]].merge(ids, on="cust_no", how="left").merge(cs, on="case_no", how="left")
    out = out[["customer_id", "ref_date", "case_id", "tenure_band", "value_tier"]].reset_index(drop=True)
    for col in ("customer_id", "case_id", "tenure_band", "value_tier"):
        out[col] = out[col].astype("string")
    out["ref_date"] = out["ref_date"].astype("datetime64[ns]")
    return out


def _days_sql(later: str, earlier: str) -> str:
    return f"CAST(floor((epoch_us({later}) - epoch_us({earlier})) / 86400000000) AS BIGINT)"


# --------------------------------------------------------------------------- revenue
def revenue_before(ds: Dataset, clients: pd.DataFrame, days: int = 365) -> pd.Series:
    """Net revenue (refunds included) of each client over ``days`` before its date.

    Parameters
    ----------
    ds : the dataset (orders with amounts).
    clients : columns ``customer_id`` and ``ref_date``.

    Returns
    -------
    Series aligned on ``clients.index``: sum of ``amount`` over orders with
    ``ref_date - days <= order_date < ref_date`` (0 without orders); all NaN when the
    dataset has no amounts.
    """
    _check_columns(clients, ["customer_id", "ref_date"], "clients")
    if not ds.has_amounts:
        return pd.Series(np.nan, index=clients.index, dtype="float64")
    c = clients[["customer_id", "ref_date"]].reset_index(names="_row")
    c["customer_id"] = c["customer_id"].astype("string")
    o = ds.orders[["customer_id", "order_date", "amount"]]
    m = c.merge(o, on="customer_id", how="inner")
    m = m.loc[(m["order_date"] < m["ref_date"]) & (m["order_date"] >= m["ref_date"] - pd.Timedelta(days=days))]
    sums = m.groupby("_row")["amount"].sum()
    return pd.Series(sums.reindex(c["_row"]).fillna(0.0).to_numpy(), index=clients.index, dtype="float64")


# --------------------------------------------------------------------------- figures' data
def swimlane_frame(signals: pd.DataFrame, replayed: pd.DataFrame) -> pd.DataFrame:
    """The data of the swimlane chart: one lane per lost client, a mark per firing.

    Parameters
    ----------
    signals : output of :func:`window_signals`.
    replayed : output of :func:`replay_signals`.

    Returns
    -------
    DataFrame with ``lane`` (0 = earliest first signal; silent churners last),
    ``customer_id``, ``ref_date``, ``lead_weeks_any`` (NaN when silent), ``indicator``
    (NA for a silent churner's single row) and ``weeks_before`` (the replay date's lead, NaN
    when silent): one row per (lost client, indicator, replay date) where the alert was True.
    """
    anyrows = signals.loc[signals["group"].eq(LOST) & signals["indicator"].eq(ANY),
                          ["window_id", "customer_id", "ref_date", "lead_weeks"]]
    lanes = anyrows.sort_values(["lead_weeks", "ref_date", "customer_id"], ascending=[False, False, True],
                                na_position="last", kind="stable").reset_index(drop=True)
    lanes = lanes.assign(lane=np.arange(len(lanes))).rename(columns={"lead_weeks": "lead_weeks_any"})
    marks = replayed.loc[replayed["group"].eq(LOST) & replayed["indicator"].ne(ANY)
                         & replayed["alert"].fillna(False).astype(bool), ["window_id", "indicator", "weeks_before"]]
    out = lanes.merge(marks, on="window_id", how="left")
    out["weeks_before"] = out["weeks_before"].astype("float64")
    out["indicator"] = out["indicator"].astype("string")
    cols = ["lane", "customer_id", "ref_date", "lead_weeks_any", "indicator", "weeks_before"]
    return out.sort_values(["lane", "indicator", "weeks_before"], kind="stable")[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- the audit
class RetroAudit:
    """Replay the early-warning indicators before the last lost clients' churn dates.

    Parameters
    ----------
    n_lost : the last ``n_lost`` lost clients before ``as_of`` are audited.
    lookback_weeks : weekly replay dates per client before its churn date.
    min_lead_weeks : the lead a team needs to act; signals with less lead are not "usable".
    horizons : leads (weeks) for which the share of lost clients with a signal is reported.
    ratio : matched retained clients per lost client.
    tenure_bands : left edges (days) of the tenure bands used for matching.
    claim : the share to test (0.80 for "80 % of lost clients sent signals").
    confidence : level of the Wilson confidence intervals.
    min_lift : "any indicator" must fire at least ``min_lift`` times more often before a
        churn than in retained windows (and significantly so) for the signals to be said to
        discriminate.
    anchor : ``"churn"`` (default) replays the weeks before each churn date;
        ``"last_interaction"`` the weeks before the lost client's last significant interaction
        (its churn date if it never interacted). For a non-contractual base the churn date is
        the day the inactivity horizon was crossed, so the weeks just before it are silent by
        definition and time-since-last-interaction alerts there are not early warnings;
        anchoring on the last interaction asks whether the client warned *before going
        quiet*. Controls then take the lost client's last interaction date as pseudo date.
    horizon_days : churn horizon (default: the dataset config's ``churn_horizon_days``).
    params : passed to :func:`analysis.metrics.signals.indicators`.
    random_state : seed of the matching draw.

    Attributes
    ----------
    as_of_ : the audit date.
    lost_ : the audited lost clients (rows of :func:`analysis.metrics.lifecycle.lost_clients`).
    ref_dates_ : the end of each lost client's replay window (churn date, or last
        interaction with ``anchor="last_interaction"``), aligned on ``lost_``.
    controls_ : the matched retained clients (:func:`match_retained`).
    windows_ : ``window_id``, ``customer_id``, ``group``, ``ref_date``, ``case_id``.
    replayed_ : :func:`replay_signals` output.
    indicator_rows_ : the indicator table's rows (every column, raw values included) at each
        (window_id, weeks_before) of the replay grid, for :mod:`analysis.models.tuning`.
    signals_ : :func:`window_signals` output.
    per_indicator_ : :func:`indicator_summary` output.
    shares_ : :func:`signal_shares` output (leads ``horizons`` and ``min_lead_weeks``).
    order_ : :func:`firing_order` output.
    clients_ : one row per lost client: ``customer_id``, ``churn_date``, ``ref_date`` (the
        anchor of its replay window), ``tenure_days``,
        ``revenue_12m``, ``lead_weeks_any``, ``signal_min_lead``, ``silent``,
        ``indicators_fired`` (comma list), ``indicators_evaluable`` (comma list).
    silent_ : rows of ``clients_`` with no signal at all in the window, plus the non-personal
        segment attributes of the customers table.
    preventable_revenue_ : 12-month net revenue before churn of lost clients with a usable
        signal (NaN without amounts).
    lost_revenue_ : the same for every audited lost client.
    share_min_lead_, share_min_lead_ci_ : share of lost clients with a signal at least
        ``min_lead_weeks`` ahead and its confidence interval.
    false_alarm_any_ : the same share among retained windows.
    discriminates_ : True if lost clients have a usable signal more often than retained
        ones, significantly (one-sided Fisher exact test at 5 %) and by a factor of at least
        ``min_lift`` (a statistically significant lift of 1.05 is not a usable difference).
    verdict_ : :func:`claim_verdict` on ``share_min_lead_``.
    available_ : the indicators that could be evaluated for at least one lost client.
    unavailable_ : indicator -> table, for the indicators whose table (or order amounts)
        the export lacks.
    unmatched_ : number of lost clients with fewer than ``ratio`` controls.
    reaction_delay_days_ : None: the data contract records no actions, so the delay
        between an alert and the first action cannot be measured.
    """

    def __init__(self, n_lost: int = 100, lookback_weeks: int = 26, min_lead_weeks: int = 4,
                 horizons: Sequence[int] = (4, 8, 12), ratio: int = 3,
                 tenure_bands: Sequence[int] = TENURE_BANDS, claim: float = 0.80, confidence: float = 0.95,
                 min_lift: float = 1.5, anchor: str = "churn", horizon_days: int | None = None,
                 params=None, random_state: int | None = 0):
        self.n_lost = n_lost
        self.lookback_weeks = lookback_weeks
        self.min_lead_weeks = min_lead_weeks
        self.horizons = horizons
        self.ratio = ratio
        self.tenure_bands = tenure_bands
        self.claim = claim
        self.confidence = confidence
        self.min_lift = min_lift
        self.anchor = anchor
        self.horizon_days = horizon_days
        self.params = params
        self.random_state = random_state

    def fit(self, ds: Dataset, as_of, indicator_table: pd.DataFrame | None = None) -> RetroAudit:
        """Run the audit at ``as_of``.

        Parameters
        ----------
        ds : the dataset.
        as_of : the audit date; only data strictly before it is read.
        indicator_table : optional precomputed indicator table (columns ``as_of``,
            ``customer_id`` and the alert columns of :data:`analysis.metrics.signals.INDICATORS`)
            covering every replay date; default: one call of
            :func:`analysis.metrics.signals.indicators` on the union of replay dates.

        Returns
        -------
        self
        """
        _check_weeks(self.lookback_weeks, self.min_lead_weeks)
        if self.anchor not in ANCHORS:
            raise ConfigError(f"anchor is '{self.anchor}'; expected one of {list(ANCHORS)}.")
        if int(self.n_lost) < 1:
            raise ConfigError(f"n_lost is {self.n_lost}; expected at least 1 lost client.")
        as_of = check_as_of(as_of)
        self.as_of_ = as_of
        sql = isinstance(ds, Warehouse)  # base-wide steps by SQL, the replay on the audited clients' rows
        past = ds if sql else ds.before(as_of)
        lost = (aggregates.lost_clients(ds, as_of, int(self.n_lost), self.horizon_days) if sql
                else lost_clients(past, as_of, int(self.n_lost), self.horizon_days))
        if lost.empty:
            raise NotEnoughDataError(
                f"No client was lost before {as_of.date()}: the retro-audit needs lost clients. "
                "Choose a later as_of date or check churn_date / the churn horizon."
            )
        self.lost_ = lost
        ref = lost["churn_date"].dt.normalize()
        if self.anchor == "last_interaction":
            ref = lost["last_interaction"].dt.normalize().fillna(ref)
        self.ref_dates_ = ref
        controls = match_retained(past, lost.assign(churn_date=ref), as_of, lookback_weeks=self.lookback_weeks,
                                  ratio=self.ratio, tenure_bands=self.tenure_bands,
                                  horizon_days=self.horizon_days, random_state=self.random_state)
        self.controls_ = controls
        counts = controls.groupby("case_id").size().reindex(lost["customer_id"].astype("string")).fillna(0)
        self.unmatched_ = int((counts < int(self.ratio)).sum())
        w_lost = pd.DataFrame({"customer_id": lost["customer_id"].astype("string"), "group": LOST,
                               "ref_date": ref,
                               "case_id": lost["customer_id"].astype("string")})
        w_ret = pd.DataFrame({"customer_id": controls["customer_id"].astype("string"), "group": RETAINED,
                              "ref_date": controls["ref_date"], "case_id": controls["case_id"]})
        windows = pd.concat([w_lost, w_ret], ignore_index=True)
        windows.insert(0, "window_id", np.arange(len(windows), dtype="int64"))
        windows["group"] = windows["group"].astype("string")
        self.windows_ = windows
        if sql:  # every row of the audited clients (and the base's context), cut at as_of
            available = {t: _has_before(ds, t, as_of) for t in ds.tables}
            has_amounts = aggregates.has_amounts_before(ds, as_of)
            past = ds.subset(windows["customer_id"], before=as_of)
        else:
            available = {t: past.has(t) for t in past.tables}
            has_amounts = past.has_amounts
        self.dataset_ = past
        grid = replay_grid(windows, self.lookback_weeks)
        if indicator_table is None:
            indicator_table = replay_indicators(past, windows["customer_id"], as_dates(grid["as_of"]), self.params)
            indicator_table.attrs["unavailable"] = [  # as on the whole base, whatever the audited clients hold
                n for n, t in INDICATOR_TABLES.items()
                if t is not None and not (has_amounts if n == "value" else available.get(t, False))]
        self.replayed_ = replay_signals(indicator_table, grid)
        # hook for the threshold tuner (models/tuning.py): the raw indicator rows of the replay grid
        rows = grid[["window_id", "weeks_before", "as_of", "customer_id"]].astype({"customer_id": "string"})
        tab = indicator_table.loc[indicator_table["customer_id"].isin(windows["customer_id"])]  # small first
        self.indicator_rows_ = rows.merge(tab.astype({"customer_id": "string"}), on=["as_of", "customer_id"],
                                          how="left", validate="many_to_one")
        horizons = tuple(int(h) for h in self.horizons)
        self.signals_ = window_signals(self.replayed_, horizons, int(self.min_lead_weeks))
        self.per_indicator_ = indicator_summary(self.signals_, int(self.min_lead_weeks))
        leads = tuple(dict.fromkeys([*horizons, int(self.min_lead_weeks)]))
        self.shares_ = signal_shares(self.signals_, leads, self.confidence)
        self.order_ = firing_order(self.signals_)
        self.available_ = [str(i) for i in self.per_indicator_.loc[
            self.per_indicator_["available"] & self.per_indicator_["indicator"].ne(ANY), "indicator"]]
        self._summarise_clients(past, has_amounts)
        row = self.shares_.loc[self.shares_["group"].eq(LOST)
                               & self.shares_["lead_weeks"].eq(int(self.min_lead_weeks))].iloc[0]
        self.share_min_lead_ = float(row["share"])
        self.share_min_lead_ci_ = (float(row["ci_low"]), float(row["ci_high"]))
        ret = self.shares_.loc[self.shares_["group"].eq(RETAINED)
                               & self.shares_["lead_weeks"].eq(int(self.min_lead_weeks))].iloc[0]
        self.false_alarm_any_ = float(ret["share"]) if ret["n"] else float("nan")
        self.verdict_ = claim_verdict(int(row["k"]), int(row["n"]), self.claim, self.confidence)
        self.discriminates_ = discriminates(int(row["k"]), int(row["n"]), int(ret["k"]), int(ret["n"]),
                                            min_lift=float(self.min_lift))
        self.unavailable_ = {
            name: table for name, table in INDICATOR_TABLES.items()
            if table is not None and not (has_amounts if name == "value" else available.get(table, False))
        }
        self.reaction_delay_days_ = None
        return self

    def _summarise_clients(self, ds: Dataset, has_amounts: bool) -> None:
        lost_sig = self.signals_.loc[self.signals_["group"].eq(LOST)]
        anyrows = lost_sig.loc[lost_sig["indicator"].eq(ANY)].set_index("customer_id")
        real = lost_sig.loc[lost_sig["indicator"].ne(ANY)]
        fired = real.loc[real["fired"]].groupby("customer_id")["indicator"].agg(lambda s: ", ".join(sorted(s)))
        evaluable = real.loc[real["evaluable"]].groupby("customer_id")["indicator"].agg(
            lambda s: ", ".join(sorted(s)))
        lost = self.lost_
        ids = lost["customer_id"].astype("string")
        clients = pd.DataFrame({
            "customer_id": ids.array,
            "churn_date": lost["churn_date"].to_numpy(),
            "ref_date": self.ref_dates_.to_numpy(),
            "tenure_days": (lost["churn_date"] - lost["signup_date"]).dt.days.to_numpy(),
            "last_interaction": lost["last_interaction"].to_numpy(),
        })
        clients["revenue_12m"] = revenue_before(
            ds, pd.DataFrame({"customer_id": clients["customer_id"], "ref_date": clients["churn_date"]})).to_numpy()
        if has_amounts and not ds.has_amounts:  # audited clients without any order in a base with amounts
            clients["revenue_12m"] = 0.0
        clients["lead_weeks_any"] = anyrows["lead_weeks"].reindex(ids).to_numpy()
        clients["signal_min_lead"] = clients["lead_weeks_any"].ge(int(self.min_lead_weeks)).to_numpy()
        clients["silent"] = clients["lead_weeks_any"].isna().to_numpy()
        clients["indicators_fired"] = fired.reindex(ids).fillna("").astype("string").array
        clients["indicators_evaluable"] = evaluable.reindex(ids).fillna("").astype("string").array
        self.clients_ = clients
        segs = ds.segment_columns()
        attrs = ds.customers[["customer_id", *segs]].assign(customer_id=lambda d: d["customer_id"].astype("string"))
        self.silent_ = clients.loc[clients["silent"]].merge(attrs, on="customer_id", how="left").reset_index(drop=True)
        if has_amounts:
            self.preventable_revenue_ = float(clients.loc[clients["signal_min_lead"], "revenue_12m"].sum())
            self.lost_revenue_ = float(clients["revenue_12m"].sum())
        else:
            self.preventable_revenue_ = float("nan")
            self.lost_revenue_ = float("nan")

    # ----------------------------------------------------------------- outputs
    def swimlane(self) -> pd.DataFrame:
        """:func:`swimlane_frame` of the fitted audit."""
        return swimlane_frame(self.signals_, self.replayed_)

    def lead_times(self) -> pd.DataFrame:
        """Lead time of each indicator's first firing per lost client (``customer_id``,
        ``indicator``, ``lead_weeks``), for the lead-time distributions."""
        s = self.signals_
        keep = s["group"].eq(LOST) & s["fired"] & s["indicator"].ne(ANY)
        return s.loc[keep, ["customer_id", "indicator", "lead_weeks"]].reset_index(drop=True)

    def watch_first(self, top: int = 2) -> list[str]:
        """The indicators to watch first, at most ``top``.

        Candidates warned at least one lost client in time (recall > 0) and discriminate
        (lift >= ``min_lift``); they are ranked by ``recall - false_alarm_rate`` (Youden's J:
        the share of lost clients warned in excess of the retained clients alarmed), so a
        precise but rare signal does not outrank one that catches most departures.
        """
        p = self.per_indicator_
        ok = p.loc[p["indicator"].ne(ANY) & p["recall"].gt(0) & p["lift"].ge(float(self.min_lift))]
        ok = ok.assign(_j=ok["recall"] - ok["false_alarm_rate"])
        ok = ok.sort_values(["_j", "recall", "indicator"], ascending=[False, False, True], kind="stable")
        return [str(i) for i in ok["indicator"].head(top)]

    def key_figures(self) -> dict:
        """The figures recorded in the notebook's JSON sidecar (keys agreed with the report).

        Shares are fractions (0.93 = 93 %); ``share_signal_<h>w_ci`` and
        ``share_signal_min_lead_ci`` are ``[low, high]`` Wilson intervals; ``per_indicator``
        maps each indicator (and ``any``) to recall, false_alarm_rate, precision, lift and
        median_lead_weeks. NaN becomes null in the JSON: an indicator whose table is absent
        has null rates, and a lift is null when the indicator never fired for a retained
        client (infinite lift; its false_alarm_rate is then 0). ``verdict`` is one of
        :data:`VERDICTS`; ``reaction_delay_days`` is null (no actions recorded).
        """
        lost_sh = self.shares_.loc[self.shares_["group"].eq(LOST)].set_index("lead_weeks")
        sh = lost_sh["share"]
        per = {}
        for r in self.per_indicator_.itertuples(index=False):
            per[str(r.indicator)] = {"recall": r.recall, "false_alarm_rate": r.false_alarm_rate,
                                     "precision": r.precision, "lift": r.lift,
                                     "median_lead_weeks": r.median_lead_weeks}
        figures = {
            "anchor": self.anchor,
            "n_lost": len(self.lost_),
            "n_retained": len(self.controls_),
            "lookback_weeks": int(self.lookback_weeks),
            "min_lead_weeks": int(self.min_lead_weeks),
            "share_signal_min_lead": self.share_min_lead_,
            "share_signal_min_lead_ci": list(self.share_min_lead_ci_),
            "false_alarm_any": self.false_alarm_any_,
            "signals_discriminate": self.discriminates_,
            "verdict": self.verdict_,
            "silent_churners": int(self.clients_["silent"].sum()),
            "preventable_revenue": self.preventable_revenue_,
            "lost_revenue": self.lost_revenue_,
            "per_indicator": per,
            "indicators_available": list(self.available_),
            "watch_first": self.watch_first(),
            "reaction_delay_days": self.reaction_delay_days_,
        }
        for h in (4, 8, 12):
            figures[f"share_signal_{h}w"] = float(sh[h]) if h in sh.index else None
            figures[f"share_signal_{h}w_ci"] = ([float(lost_sh.loc[h, "ci_low"]), float(lost_sh.loc[h, "ci_high"])]
                                                if h in sh.index else None)
        return figures
