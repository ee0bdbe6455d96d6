"""The six early-warning indicators of SPEC section 4, per customer, at one or many as-of dates.

CONTRACT (other modules rely on these names):

``indicators(ds, dates, params=None) -> DataFrame`` — one row per (as_of, customer_id)
for customers signed up before as_of; computed from data strictly before as_of, in one
set-based pass over all dates. Columns:

keys        as_of, customer_id, lost (bool), tenure_days
frequency   freq_30, freq_60, freq_90, freq_baseline, freq_change_m1, freq_change_m2, alert_frequency
            (the trailing counts are named after ``freq_windows``: ``freq_<w>`` per window,
            see :func:`indicator_columns`)
recency     days_since_last, recency_level (0/30/60/90/180), alert_recency
email       email_sends_10, open_rate_10, ctor_10, open_rate_prev_10, email_segment, alert_email
value       revenue_12m, basket_3m, basket_prev_6m, basket_change, interval_recent_days,
            interval_prev_days, interval_drift, revenue_share_q, revenue_share_prev_q, alert_value
nps         nps_last, nps_prev, nps_change, nps_category, days_since_nps, alert_nps
usage       usage_dui, usage_score, usage_score_prev, usage_change, alert_usage
summary     n_alerts, any_alert

A few extra columns are added (``days_since_strong``, ``email_sudden_stop``,
``alert_basket``, ``alert_interval``, ``alert_share``, ``usage_sessions_30``,
``days_since_use``); the contract columns keep their names.

Alert columns are pandas nullable ``boolean``: NA means "not enough history" or "table
absent", never a false alert. ``n_alerts`` counts the alerts that are True (NA counts as
not fired); ``any_alert`` is True when at least one alert is True, else False (never NA).

Definitions (every threshold is a field of :class:`SignalParams`; defaults from SPEC)
------------------------------------------------------------------------------------

Time is counted in whole days. An event belongs to the window ``[as_of - w, as_of)`` when
its calendar day ``d`` satisfies ``as_of - w <= d < as_of``; nothing on or after ``as_of`` is
read. "Observed since" is the later of the customer's signup and the start of the export.

1. **frequency** — significant interactions (:meth:`analysis.Dataset.interactions`, every
   kind counted once) in the trailing 30 / 60 / 90 days. ``freq_baseline`` is the customer's
   own earlier level: the mean count per 30-day month over the 6 months
   ``[as_of - 240, as_of - 60)``. ``freq_change_m1`` compares the last month
   ``[as_of - 30, as_of)`` with it, ``freq_change_m2`` the month before
   ``[as_of - 60, as_of - 30)`` (``count / baseline - 1``). Alert: both months 40 % or more
   below the baseline. Needs 240 days observed (else NA); a zero baseline gives changes NA
   and alert False (nothing to fall from).
2. **recency** — ``days_since_last`` is the days since the last significant interaction
   of any kind (since signup if none), exactly as :func:`analysis.metrics.lifecycle.status_at`.
   ``recency_level`` is the highest of 0 / 30 / 60 / 90 / 180 (the config thresholds)
   reached. Weights enter through ``days_since_strong``: days since the last interaction
   whose weight is at least ``strong_weight`` (default 3: product use, support or purchase
   with the default weights), NA if there was none. Alert: ``days_since_last`` reaches
   ``recency_alert_days`` (default the watch threshold, 30 days). Always defined.
3. **email** — a *send* is one (customer, campaign) pair, dated by its first event. Over
   the customer's last 10 sends before as_of: ``email_sends_10`` sends, of which delivered
   = not bounced before as_of; ``open_rate_10`` = sends opened (an open or a click before
   as_of) / delivered; ``ctor_10`` = sends clicked / sends opened; ``open_rate_prev_10``
   the same open rate over the 10 sends before those. Sudden stop (the alert): none of the
   last 3 sends opened while at least 80 % of the (up to) 10 delivered sends before them
   were, with at least 5 of those; fewer sends gives NA.
   ``email_segment`` (SPEC section 3, see :func:`email_segments`).
4. **value** — needs orders with amounts. Revenue is *net* (purchases plus refunds, which
   are negative); baskets and purchase intervals use purchases only.
   ``revenue_12m`` net revenue over 365 days. ``basket_3m`` mean purchase amount over the
   last 90 days, ``basket_prev_6m`` over the 180 days before; ``basket_change`` their ratio
   minus 1; alert (``alert_basket``) below -25 %, needs a purchase in both windows and
   270 days observed. ``interval_recent_days`` = the larger of the mean of the last two
   gaps between purchases and the days since the last purchase (a customer who stops
   buying drifts); ``interval_prev_days`` = mean of the (up to) five gaps before those;
   ``interval_drift`` their ratio minus 1; alert (``alert_interval``) at +100 % or more,
   needs 4 purchases. ``revenue_share_q`` = the customer's net revenue over the last 90
   days / the base's net revenue then; ``revenue_share_prev_q`` the same for the 90 days
   before; alert (``alert_share``) when the share falls by 50 % or more, needs a positive
   previous share and 180 days observed. ``alert_value`` = any of the three True; False if
   one is known and none True; NA if all three are NA.
5. **nps** — last and previous answers before as_of; ``nps_change`` = last - previous;
   ``nps_category`` promoter (9-10) / passive (7-8) / detractor (0-6) of the last answer.
   Alert: a drop of 2 points or more, or promoter to detractor; needs two answers.
6. **usage** — over the last 30 days: ``usage_dui`` (Deep Usage Index) = distinct features
   the customer used / distinct features used by the whole base in the same window;
   ``usage_sessions_30`` sessions; ``days_since_use`` days since the last use.
   ``usage_score`` (0-100) = 100 x (F + D + R) / 3 with F = min(1, sessions / 20),
   D = DUI, R = max(0, 1 - days_since_use / 30) (0 without use in the window).
   ``usage_score_prev`` is the same score at ``as_of - 30`` (data before that date only).
   ``usage_change`` = score / previous - 1; alert: a fall of 30 % or more. Needs 60 days
   observed; a zero previous score gives change NA and alert False. Without a ``feature``
   column, D counts as 0 and ``usage_dui`` is NA.

Switched-off indicators (``thresholds: disabled``) and per-segment thresholds
(``thresholds: segments``) of ``dataset.yml`` apply when no ``params`` are passed;
:func:`alert_severities` and :func:`apply_thresholds` replay any threshold from the raw
values without recomputing the indicators (issue #15).

A table that is absent leaves its indicator NA for everyone; :func:`indicators` lists
those indicators once, as codes, in ``DataFrame.attrs["unavailable"]`` (reporting/ words it).

Many dates at once
------------------
Each table is read and indexed once: events are sorted by (customer, day) under a single
integer key, and every (as_of, customer) row finds its window bounds with one vectorised
``searchsorted`` per window edge; sums come from per-customer running totals, "last k
events" from positions just below the as-of bound. No Python loop runs over customers or
events (only over the six indicators, the last 20 email sends and a few window edges), so
52 weekly dates cost one pass, and each date's rows equal a single-date call (tested).

Labels (``locales/signals.yml``): ``sig_indicator_<name>`` for the keys of
:data:`INDICATORS`, ``sig_segment_<segment>`` (and ``sig_segment_no_email``),
``sig_nps_<category>``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.data.config import SignalParams
from analysis.data.dataset import Dataset
from analysis.errors import ConfigError
from analysis.metrics.lifecycle import as_dates, status_at

__all__ = [
    "CONTRACT_COLUMNS",
    "EMAIL_SEGMENTS",
    "EXTRA_COLUMNS",
    "INDICATORS",
    "NO_SEGMENT",
    "NPS_CATEGORIES",
    "SEGMENT_DTYPE",
    "SignalParams",
    "email_segments",
    "indicator_columns",
    "indicators",
    "segment_transitions",
    "transition_matrix",
    "THRESHOLD_RULES",
    "alert_severities",
    "apply_thresholds",
]

INDICATORS: dict[str, str] = {
    "frequency": "alert_frequency",
    "recency": "alert_recency",
    "email": "alert_email",
    "value": "alert_value",
    "nps": "alert_nps",
    "usage": "alert_usage",
}

#: Email engagement segments (SPEC section 3), most engaged first.
EMAIL_SEGMENTS: tuple[str, ...] = ("engaged_active", "passive_active", "recent_inactive", "chronic_inactive")
SEGMENT_DTYPE = pd.CategoricalDtype(list(EMAIL_SEGMENTS), ordered=True)

#: NPS categories of a score (SPEC section 4, indicator 5).
NPS_CATEGORIES: tuple[str, ...] = ("detractor", "passive", "promoter")

#: Label used by :func:`segment_transitions` for a customer without a segment (never emailed, or not yet signed up).
NO_SEGMENT = "no_email"

_NEVER = np.iinfo(np.int64).max // 4  # "no such event" day
_OFFSET = 1 << 21  # keeps days positive in the composite key
_K = np.int64(1 << 23)  # room for days in the composite key
_SERIAL = itertools.count()

#: Alert component -> (indicator, the SignalParams field that is its threshold, strict).
#: An alert component fires where its severity (:func:`alert_severities`) is >= the
#: threshold (> when strict); see :func:`apply_thresholds`.
THRESHOLD_RULES: dict[str, tuple[str, str, bool]] = {
    "frequency_m1": ("frequency", "freq_drop", False),
    "frequency_m2": ("frequency", "freq_drop", False),
    "recency": ("recency", "recency_alert_days", False),
    "basket": ("value", "basket_drop", True),
    "interval": ("value", "interval_drift", False),
    "share": ("value", "share_drop", False),
    "nps": ("nps", "nps_drop", False),
    "usage": ("usage", "usage_drop", False),
}


# --------------------------------------------------------------------------- helpers
def _days(values) -> np.ndarray:
    """Calendar day numbers (days since 1970-01-01) of datetimes, as int64."""
    arr = np.asarray(pd.to_datetime(values).to_numpy(dtype="datetime64[ns]"))
    return arr.astype("datetime64[D]").astype(np.int64)



class _Query:
    """Rows ``(code, day)`` asked about; remembers search positions per (events, offset)."""

    def __init__(self, code: np.ndarray, day: np.ndarray) -> None:
        self.code = np.asarray(code, dtype=np.int64)
        self.day = np.asarray(day, dtype=np.int64)
        self.base = self.code * _K + _OFFSET + self.day
        self.cache: dict[tuple, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.code)


class _Events:
    """Events of many customers sorted by (customer code, day) for window queries.

    Every query is vectorised over the rows of a :class:`_Query`: positions come from one
    ``searchsorted`` on the composite key ``code * K + day``. Offsets are in days before the
    as-of date: ``count(q, 30)`` counts events with ``day - 30 <= d < day``.
    """

    def __init__(self, codes: np.ndarray, days: np.ndarray, tiebreak: np.ndarray | None = None,
                 **values: np.ndarray) -> None:
        codes = np.asarray(codes, dtype=np.int64)
        days = np.asarray(days, dtype=np.int64)
        keep = codes >= 0
        keys = (tiebreak[keep], days[keep], codes[keep]) if tiebreak is not None else (days[keep], codes[keep])
        order = np.lexsort(keys)
        self.codes = codes[keep][order]
        self.days = days[keep][order]
        self.keys = self.codes * _K + (self.days + _OFFSET)
        self.values = {k: np.asarray(v)[keep][order] for k, v in values.items()}
        self._cum: dict[str, np.ndarray] = {}
        self.serial = next(_SERIAL)  # cache key in queries (never reused, unlike id())

    def __len__(self) -> int:
        return len(self.codes)

    def pos(self, q: _Query, off: int = 0) -> np.ndarray:
        """Index of the first event of the row's customer on or after ``day - off``."""
        key = (self.serial, "pos", int(off))
        if key not in q.cache:
            q.cache[key] = np.searchsorted(self.keys, q.base - int(off), side="left")
        return q.cache[key]

    def start(self, q: _Query) -> np.ndarray:
        """Index of the first event of the row's customer."""
        key = (self.serial, "start")
        if key not in q.cache:
            q.cache[key] = np.searchsorted(self.keys, q.code * _K, side="left")
        return q.cache[key]

    def count(self, q: _Query, lo_off: int, hi_off: int = 0) -> np.ndarray:
        """Events with ``day - lo_off <= d < day - hi_off``."""
        return self.pos(q, hi_off) - self.pos(q, lo_off)

    def _prefix(self, name: str) -> np.ndarray:
        """Per-customer inclusive running sum of ``name`` (exact whatever other customers hold)."""
        if name not in self._cum:
            v = pd.Series(self.values[name], dtype="float64")
            self._cum[name] = v.groupby(self.codes, sort=False).cumsum().to_numpy()
        return self._cum[name]

    def sum(self, name: str, q: _Query, lo_off: int, hi_off: int = 0) -> np.ndarray:
        """Sum of ``name`` over events with ``day - lo_off <= d < day - hi_off``."""
        cum = self._prefix(name)
        return self._before(cum, q, self.pos(q, hi_off)) - self._before(cum, q, self.pos(q, lo_off))

    def _before(self, cum: np.ndarray, q: _Query, p: np.ndarray) -> np.ndarray:
        """Running sum of the row's customer up to position ``p`` excluded (0 if none)."""
        if len(cum) == 0:
            return np.zeros(len(q))
        prev = np.clip(p - 1, 0, None)
        same = (p > 0) & (self.codes[prev] == q.code)
        return np.where(same, cum[prev], 0.0)

    def take(self, arr: np.ndarray, p: np.ndarray, q: _Query, fill) -> np.ndarray:
        """``arr[p]`` where ``p`` is one of the row customer's positions (``p >= start``), else ``fill``.

        Callers pass ``p`` below ``pos(q, off)``, so only events before the as-of date are read.
        """
        if len(arr) == 0:
            return np.full(len(p), fill)
        ok = p >= self.start(q)
        return np.where(ok, arr[np.clip(p, 0, len(arr) - 1)], fill)

    def last(self, arr: np.ndarray, q: _Query, k: int = 1, off: int = 0, fill=_NEVER) -> np.ndarray:
        """``arr`` at the row customer's k-th last event before ``day - off`` (``fill`` if none)."""
        return self.take(arr, self.pos(q, off) - k, q, fill)


class _Stabs:
    """Half-open intervals ``(start, end]`` per customer; counts those containing a query day.

    ``count(q, off)`` = intervals with ``start < day - off <= end``
    = #(start < t) - #(end < t) with ``t = day - off``, since ``start < end``.
    """

    def __init__(self, codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        self.starts = _Events(codes, starts)
        self.ends = _Events(codes, ends)

    def count(self, q: _Query, off: int = 0) -> np.ndarray:
        return self.starts.pos(q, off) - self.ends.pos(q, off) - (self.starts.start(q) - self.ends.start(q))


@dataclass
class _Grid:
    """The (as_of, customer) rows and their integer codes.

    ``frame`` keeps the output order (as_of, customer_id); every array is in the working
    order (customer code, day), which makes the searches cache-friendly. ``inv`` maps back:
    ``array[inv]`` is in the output order.
    """

    frame: pd.DataFrame  # status_at columns, output order
    q: _Query
    observed_days: np.ndarray  # days observed before as_of (since signup or export start)
    days_since_last: np.ndarray
    inv: np.ndarray
    cust_index: pd.Index

    def __len__(self) -> int:
        return len(self.q)

    def back(self, values):
        """``values`` (working order) in the output order."""
        if isinstance(values, np.ndarray):
            return values[self.inv]
        return values.take(self.inv)

    def codes(self, customer_id: pd.Series) -> np.ndarray:
        """Integer codes of customer ids (-1 for ids not in the customers table)."""
        return _lookup(self.cust_index, customer_id)

    def per_date(self, dates: np.ndarray, values: np.ndarray, off: int = 0) -> np.ndarray:
        """``values`` (one per sorted unique date) for each row's ``day - off``."""
        return values[np.searchsorted(dates, self.q.day - off)]


def _lookup(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each of ``values`` in ``index`` (-1 if absent), through Arrow (no Python objects)."""
    value_set = pa.array(index.astype("string").array).cast(pa.large_string())
    vals = pa.array(pd.Series(values).astype("string").array)
    vals = vals.cast(pa.large_string())
    found = pc.index_in(vals, value_set=value_set).fill_null(-1)
    return np.asarray(found.to_numpy(), dtype=np.int64)


def _grid(ds: Dataset, dates) -> _Grid:
    st = status_at(ds, dates)
    cust_index = pd.Index(ds.customers["customer_id"].astype("string"))
    code = _lookup(cust_index, st["customer_id"])
    day = _days(st["as_of"])
    start = st["signup_date"]
    if ds.observed_from is not None:
        start = start.where(start >= ds.observed_from, ds.observed_from)
    observed = day - _days(start.dt.normalize())
    perm = np.lexsort((day, code))
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    dsl = st["days_since_last"].to_numpy(dtype=np.int64)
    st = st[["as_of", "customer_id", "lost", "tenure_days"]]
    return _Grid(st, _Query(code[perm], day[perm]), observed[perm], dsl[perm], inv, cust_index)


def _nullable(values: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    """A nullable boolean array: ``values`` where ``known``, NA elsewhere."""
    return pd.arrays.BooleanArray(np.asarray(values, dtype=bool), ~np.asarray(known, dtype=bool))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den`` is 0 or missing."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    out = np.full(len(num), np.nan)
    ok = np.isfinite(den) & (den != 0)
    out[ok] = num[ok] / den[ok]
    return out


def _na_float(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _na_bool(n: int) -> pd.arrays.BooleanArray:
    return _nullable(np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))


# --------------------------------------------------------------------------- email
@dataclass
class _Email:
    sends: _Events  # one event per (customer, campaign), dated by its first event
    opens: _Events  # open and click events
    clicks: _Events


def _email_events(ds: Dataset, grid: _Grid) -> _Email | None:
    if not ds.has("email_events"):
        return None
    ee = ds.email_events
    code = grid.codes(ee["customer_id"])
    day = _days(ee["event_time"])
    camp = pd.factorize(ee["campaign_id"], sort=True)[0].astype(np.int64)
    is_open = ee["event"].isin(["open", "click"]).to_numpy(dtype=bool)
    is_click = ee["event"].isin(["click"]).to_numpy(dtype=bool)
    is_bounce = ee["event"].isin(["bounce_soft", "bounce_hard"]).to_numpy(dtype=bool)
    frame = pd.DataFrame({
        "code": code, "camp": camp, "day": day,
        "open_day": np.where(is_open, day, _NEVER),
        "click_day": np.where(is_click, day, _NEVER),
        "bounce_day": np.where(is_bounce, day, _NEVER),
    })
    per = frame.groupby(["code", "camp"], sort=False).min().reset_index()
    sends = _Events(per["code"].to_numpy(), per["day"].to_numpy(), tiebreak=per["camp"].to_numpy(),
                    open_day=per["open_day"].to_numpy(), click_day=per["click_day"].to_numpy(),
                    bounce_day=per["bounce_day"].to_numpy())
    opens = _Events(code[is_open], day[is_open])
    clicks = _Events(code[is_click], day[is_click])
    return _Email(sends, opens, clicks)


def _segments(em: _Email, grid: _Grid, p: SignalParams) -> pd.Categorical:
    """Email engagement segment of every grid row (NA if never sent an email before as_of)."""
    q = grid.q
    sent = em.sends.pos(q) > em.sends.start(q)
    first_send = np.where(sent, em.sends.take(em.sends.days, em.sends.start(q), q, _NEVER), _NEVER)
    last_open = em.opens.last(em.opens.days, q)
    opened = last_open != _NEVER
    clicked = em.clicks.count(q, p.segment_active_days) > 0
    since = q.day - np.where(opened, last_open, first_send)
    active = opened & (since < p.segment_active_days)
    seg = np.select(
        [~sent, active & clicked, active, since < p.segment_inactive_days],
        [-1, 0, 1, 2], default=3,
    )
    return pd.Categorical.from_codes(seg, dtype=SEGMENT_DTYPE)


def email_segments(ds: Dataset, dates, params: SignalParams | None = None) -> pd.DataFrame:
    """Email engagement segment of every customer at each as-of date (SPEC section 3).

    Only email events strictly before ``as_of`` are read. With ``A`` = the wake-up
    threshold (``thresholds.wake_up_days``, 60) and ``I`` = the inactivity threshold
    (``thresholds.inactive_days``, 90), an *open* being an ``open`` or a ``click`` event:

    * ``engaged_active``: last open less than ``A`` days ago and a click in the last ``A`` days;
    * ``passive_active``: last open less than ``A`` days ago, no click in the last ``A`` days;
    * ``recent_inactive``: last open ``A`` to ``I`` days ago (``A <= days < I``);
    * ``chronic_inactive``: last open ``I`` days ago or more.

    A customer emailed but who never opened is measured from the first email sent to them
    (so a contact first emailed 10 days ago without opening is ``recent_inactive``, one
    first emailed 120 days ago is ``chronic_inactive``). A customer never sent an email
    before ``as_of`` has no segment (NA).

    Parameters
    ----------
    ds : the dataset; uses ``customers`` (customer_id, signup_date) and ``email_events``
        (customer_id, campaign_id, event_time, event).
    dates : one as-of date or several, computed in one set-based pass.
    params : thresholds (``segment_active_days``, ``segment_inactive_days``).

    Returns
    -------
    DataFrame with one row per (as_of, customer_id) for customers signed up before as_of:
    ``as_of`` (datetime64), ``customer_id`` (string), ``email_segment`` (ordered
    categorical of :data:`EMAIL_SEGMENTS`, NA if never emailed or no email table);
    ``attrs["unavailable"]`` is ``["email"]`` without email events.
    """
    p = (params or ds.config.signal_params).resolved(ds)
    grid = _grid(ds, dates)
    em = _email_events(ds, grid)
    seg = _segments(em, grid, p) if em is not None else pd.Categorical.from_codes(
        np.full(len(grid), -1), dtype=SEGMENT_DTYPE)
    out = grid.frame[["as_of", "customer_id"]].copy()
    out["email_segment"] = grid.back(seg)
    if em is None:
        out.attrs["unavailable"] = ["email"]  # no email_events: no email segments
    return out



def segment_transitions(segments: pd.DataFrame, segment_col: str = "email_segment") -> pd.DataFrame:
    """Customers moving between segments from one as-of date to the next.

    Parameters
    ----------
    segments : DataFrame with ``as_of``, ``customer_id`` and ``segment_col`` (e.g. the output of
        :func:`email_segments` at consecutive month starts).
    segment_col : the segment column.

    Returns
    -------
    DataFrame with ``period_start``, ``period_end`` (consecutive as-of dates), ``from_segment``,
    ``to_segment`` and ``customers`` (count). Every customer present at ``period_end`` is counted
    once, so nobody slides silently: customers without a segment (never emailed, or not yet
    signed up at ``period_start``) appear as ``no_email``. Only pairs with at least one customer
    are listed, sorted by period then segments in :data:`EMAIL_SEGMENTS` order.
    """
    need = {"as_of", "customer_id", segment_col}
    if need - set(segments.columns):
        raise ConfigError(f"segment_transitions needs columns {sorted(need)}; "
                          f"missing {sorted(need - set(segments.columns))}.")
    order = [*[str(c) for c in (segments[segment_col].cat.categories
                                 if isinstance(segments[segment_col].dtype, pd.CategoricalDtype)
                                 else pd.unique(segments[segment_col].dropna()))], NO_SEGMENT]
    seg = segments[["as_of", "customer_id", segment_col]].copy()
    seg["segment"] = seg[segment_col].astype("string").fillna(NO_SEGMENT)
    dates = pd.DatetimeIndex(seg["as_of"].unique()).sort_values()
    nxt = pd.Series(dates[1:], index=dates[:-1])
    prev = seg.loc[seg["as_of"].isin(nxt.index), ["as_of", "customer_id", "segment"]].copy()
    prev["period_end"] = prev["as_of"].map(nxt)
    cur = seg.loc[seg["as_of"].isin(nxt.to_numpy()), ["as_of", "customer_id", "segment"]]
    cur = cur.rename(columns={"as_of": "period_end", "segment": "to_segment"})
    both = cur.merge(prev.rename(columns={"as_of": "period_start", "segment": "from_segment"}),
                     on=["period_end", "customer_id"], how="left")
    both["from_segment"] = both["from_segment"].fillna(NO_SEGMENT)
    both["period_start"] = both["period_end"].map(pd.Series(nxt.index, index=nxt.to_numpy()))
    out = (both.groupby(["period_start", "period_end", "from_segment", "to_segment"], sort=False)
           .size().rename("customers").reset_index())
    rank = {s: i for i, s in enumerate(order)}
    out = out.assign(_f=out["from_segment"].map(rank), _t=out["to_segment"].map(rank))
    out = out.sort_values(["period_start", "_f", "_t"], kind="stable").drop(columns=["_f", "_t"])
    out["from_segment"] = out["from_segment"].astype("string")
    out["to_segment"] = out["to_segment"].astype("string")
    out["customers"] = out["customers"].astype("int64")
    return out.reset_index(drop=True)


def transition_matrix(transitions: pd.DataFrame, share: bool = False) -> pd.DataFrame:
    """From-segment x to-segment table summed over the periods of :func:`segment_transitions`.

    Parameters
    ----------
    transitions : DataFrame with ``from_segment``, ``to_segment``, ``customers``.
    share : if True, each row is divided by its total (share of the from-segment moving to each).

    Returns
    -------
    DataFrame indexed by ``from_segment`` with one column per ``to_segment``.
    """
    order = [*EMAIL_SEGMENTS, NO_SEGMENT]
    m = transitions.pivot_table(index="from_segment", columns="to_segment", values="customers",
                                aggfunc="sum", fill_value=0, observed=True)
    rows = [s for s in order if s in m.index] + [s for s in m.index if s not in order]
    cols = [s for s in order if s in m.columns] + [s for s in m.columns if s not in order]
    m = m.reindex(index=rows, columns=cols, fill_value=0)
    if share:
        m = m.div(m.sum(axis=1), axis=0)
    return m




# --------------------------------------------------------------------------- indicators
def _frequency(grid: _Grid, inter: _Events, p: SignalParams) -> dict:
    q = grid.q
    m = p.month_days
    out: dict = {f"freq_{w}": inter.count(q, w).astype("int64") for w in p.freq_windows}
    baseline = inter.count(q, (2 + p.freq_baseline_months) * m, 2 * m) / p.freq_baseline_months
    ch1 = _ratio(inter.count(q, m), baseline) - 1
    ch2 = _ratio(inter.count(q, 2 * m, m), baseline) - 1
    known = grid.observed_days >= (2 + p.freq_baseline_months) * m
    fired = (baseline > 0) & (ch1 <= -p.freq_drop) & ((ch2 <= -p.freq_drop) | (p.freq_months == 1))
    out["freq_baseline"] = np.where(known, baseline, np.nan)
    out["freq_change_m1"] = np.where(known, ch1, np.nan)
    out["freq_change_m2"] = np.where(known, ch2, np.nan)
    out["alert_frequency"] = _nullable(fired, known)
    return out


def _recency(grid: _Grid, strong: _Events, p: SignalParams) -> dict:
    q = grid.q
    dsl = grid.days_since_last
    levels = np.array(sorted({0, *p.recency_levels}), dtype=np.int64)
    level = levels[np.searchsorted(levels, dsl, side="right") - 1]
    last_strong = strong.last(strong.days, q)
    return {
        "days_since_last": dsl,
        "recency_level": level,
        "days_since_strong": np.where(last_strong == _NEVER, np.nan, q.day - last_strong),
        "alert_recency": _nullable(dsl >= p.recency_alert_days, np.ones(len(dsl), dtype=bool)),
    }


def _email(em: _Email | None, grid: _Grid, p: SignalParams) -> dict:
    n = len(grid)
    if em is None:
        return {"email_sends_10": pd.array([pd.NA] * n, dtype="Int64"),
                "open_rate_10": _na_float(n), "ctor_10": _na_float(n), "open_rate_prev_10": _na_float(n),
                "email_segment": pd.Categorical.from_codes(np.full(n, -1), dtype=SEGMENT_DTYPE),
                "email_sudden_stop": _na_bool(n), "alert_email": _na_bool(n), "_absent": True}
    q, s = grid.q, em.sends
    L, R = p.email_last_sends, p.email_recent_sends
    today = q.day
    # per position j back from the as-of date: sent, delivered, opened, clicked (before as_of)
    buckets = {"last": (1, L), "prev": (L + 1, 2 * L), "recent": (1, R), "prior": (R + 1, R + L)}
    tot = {b: np.zeros((4, n), dtype=np.int16) for b in buckets}
    for j in range(1, max(2 * L, R + L) + 1):  # a loop over a handful of send positions
        pj = s.pos(q) - j
        ok = pj >= s.start(q)
        if not ok.any():
            break
        delivered = ok & (s.take(s.values["bounce_day"], pj, q, _NEVER) >= today)
        opened = delivered & (s.take(s.values["open_day"], pj, q, _NEVER) < today)
        clicked = delivered & (s.take(s.values["click_day"], pj, q, _NEVER) < today)
        for b, (lo, hi) in buckets.items():
            if lo <= j <= hi:
                t = tot[b]
                t[0] += ok
                t[1] += delivered
                t[2] += opened
                t[3] += clicked
    last, prev, recent, prior = (tot[b] for b in ("last", "prev", "recent", "prior"))
    prior_rate = _ratio(prior[2], prior[1])
    known = (recent[0] == R) & (prior[1] >= p.email_min_prior_sends)
    stop = known & (recent[2] == 0) & (prior_rate >= p.email_always_opened)
    return {
        "email_sends_10": pd.array(last[0].astype(np.int64), dtype="Int64"),
        "open_rate_10": _ratio(last[2], last[1]),
        "ctor_10": _ratio(last[3], last[2]),
        "open_rate_prev_10": _ratio(prev[2], prev[1]),
        "email_segment": _segments(em, grid, p),
        "email_sudden_stop": _nullable(stop, known),
        "alert_email": _nullable(stop, known),
    }


def _combine(*alerts: pd.arrays.BooleanArray) -> pd.arrays.BooleanArray:
    """True if any is True; False if one is known and none True; NA if all NA."""
    vals = np.column_stack([a.to_numpy(dtype=bool, na_value=False) for a in alerts])
    known = np.column_stack([~np.asarray(a.isna()) for a in alerts])
    return _nullable(vals.any(axis=1), known.any(axis=1))


def _value(ds: Dataset, grid: _Grid, p: SignalParams) -> dict:
    n = len(grid)
    names = ["revenue_12m", "basket_3m", "basket_prev_6m", "basket_change", "interval_recent_days",
             "interval_prev_days", "interval_drift", "revenue_share_q", "revenue_share_prev_q"]
    if not ds.has_amounts:
        out = {k: _na_float(n) for k in names}
        out.update({k: _na_bool(n) for k in ("alert_basket", "alert_interval", "alert_share", "alert_value")})
        out["_absent"] = True
        return out
    q, obs = grid.q, grid.observed_days
    o = ds.orders
    ocode = grid.codes(o["customer_id"])
    oday = _days(o["order_date"])
    amount = o["amount"].fillna(0.0).to_numpy(dtype="float64")
    net = _Events(ocode, oday, amount=amount)
    buy = ~o["is_refund"].to_numpy(dtype=bool)
    purch = _Events(ocode[buy], oday[buy], amount=amount[buy])

    revenue = net.sum("amount", q, p.revenue_days)
    # (a) basket
    r, pr = p.basket_recent_days, p.basket_recent_days + p.basket_prev_days
    n_r, n_p = purch.count(q, r), purch.count(q, pr, r)
    b_r = _ratio(purch.sum("amount", q, r), n_r)
    b_p = _ratio(purch.sum("amount", q, pr, r), n_p)
    b_ch = _ratio(b_r, b_p) - 1
    b_known = (n_r > 0) & (n_p > 0) & (obs >= pr) & np.isfinite(b_ch)
    alert_basket = _nullable(b_ch < -p.basket_drop, b_known)
    # (b) inter-purchase interval drift
    cnt = purch.pos(q) - purch.start(q)
    t1 = purch.last(purch.days, q, 1)
    t3 = purch.last(purch.days, q, 3)
    gap_recent = np.where(cnt >= 3, (t1 - t3) / 2.0, np.nan)
    interval_recent = np.where(cnt >= 3, np.fmax(gap_recent, q.day - t1), np.nan)
    n_gaps_prev = np.minimum(cnt - 3, p.interval_prev_gaps)  # gaps ending at the third-last purchase
    t_first = purch.last(purch.days, q, 3 + np.maximum(n_gaps_prev, 0))
    interval_prev = np.where(n_gaps_prev > 0, _ratio(t3 - t_first, n_gaps_prev), np.nan)
    drift = _ratio(interval_recent, interval_prev) - 1
    alert_interval = _nullable(drift >= p.interval_drift, np.isfinite(drift))
    # (c) share of the base's revenue
    qd = p.share_quarter_days
    cust_q = net.sum("amount", q, qd)
    cust_pq = net.sum("amount", q, 2 * qd, qd)
    dates = np.unique(q.day)
    whole = ds.base.revenue_by_day if ds.base is not None else None  # a partition: the whole base's revenue
    if whole is not None:
        base = _Events(np.zeros(len(whole), np.int64), whole["day"].to_numpy(dtype=np.int64),
                       amount=whole["amount"].to_numpy(dtype="float64"))
    else:
        base = _Events(np.zeros(len(oday), np.int64), oday, amount=amount)
    bq = _Query(np.zeros(len(dates), np.int64), dates)
    share = _ratio(cust_q, grid.per_date(dates, base.sum("amount", bq, qd)))
    share_prev = _ratio(cust_pq, grid.per_date(dates, base.sum("amount", bq, 2 * qd, qd)))
    s_change = _ratio(share, share_prev) - 1
    s_known = (obs >= 2 * qd) & (share_prev > 0) & np.isfinite(s_change)
    alert_share = _nullable(s_change <= -p.share_drop, s_known)
    return {
        "revenue_12m": revenue, "basket_3m": b_r, "basket_prev_6m": b_p, "basket_change": b_ch,
        "interval_recent_days": interval_recent, "interval_prev_days": interval_prev, "interval_drift": drift,
        "revenue_share_q": share, "revenue_share_prev_q": share_prev,
        "alert_basket": alert_basket, "alert_interval": alert_interval, "alert_share": alert_share,
        "alert_value": _combine(alert_basket, alert_interval, alert_share),
    }


def _nps(ds: Dataset, grid: _Grid, p: SignalParams) -> dict:
    n = len(grid)
    if not ds.has("nps"):
        na_int = pd.array([pd.NA] * n, dtype="Int64")
        return {"nps_last": na_int, "nps_prev": na_int.copy(), "nps_change": na_int.copy(),
                "nps_category": pd.Categorical.from_codes(np.full(n, -1), categories=list(NPS_CATEGORIES)),
                "days_since_nps": _na_float(n), "alert_nps": _na_bool(n), "_absent": True}
    q = grid.q
    nps = ds.nps
    ev = _Events(grid.codes(nps["customer_id"]), _days(nps["response_date"]),
                 tiebreak=nps["response_date"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
                 score=nps["score"].to_numpy(dtype=np.int64))
    last = ev.last(ev.values["score"], q, 1, fill=-1)
    prev = ev.last(ev.values["score"], q, 2, fill=-1)
    last_day = ev.last(ev.days, q, 1)
    has_last, has_prev = last >= 0, prev >= 0
    change = last - prev
    cat = np.select([last >= 9, last >= 7, last >= 0], [2, 1, 0], default=-1)
    fired = (change <= -p.nps_drop) | ((prev >= 9) & (last <= 6))
    return {
        "nps_last": pd.arrays.IntegerArray(last, ~has_last),
        "nps_prev": pd.arrays.IntegerArray(prev, ~has_prev),
        "nps_change": pd.arrays.IntegerArray(change, ~(has_last & has_prev)),
        "nps_category": pd.Categorical.from_codes(cat, categories=list(NPS_CATEGORIES)),
        "days_since_nps": np.where(has_last, q.day - last_day, np.nan),
        "alert_nps": _nullable(fired & has_prev, has_prev),
    }


def _usage(ds: Dataset, grid: _Grid, p: SignalParams) -> dict:
    n = len(grid)
    if not ds.has("usage"):
        out = {k: _na_float(n) for k in ("usage_dui", "usage_score", "usage_score_prev", "usage_change",
                                           "usage_sessions_30", "days_since_use")}
        out["alert_usage"] = _na_bool(n)
        out["_absent"] = True
        return out
    q, w, m = grid.q, p.usage_window_days, p.month_days
    u = ds.usage
    ucode = grid.codes(u["customer_id"])
    uday = _days(u["event_date"])
    ev = _Events(ucode, uday, sessions=u["sessions"].to_numpy(dtype="float64"))
    has_feature = bool(u["feature"].notna().any())
    if has_feature:
        # distinct features in [t - w, t) = (customer, feature) pairs whose last use before t is
        # on or after t - w: each distinct use day d "covers" t in (d, min(next use, d + w)]
        fcode = pd.factorize(u["feature"], sort=True)[0].astype(np.int64)
        pairs = pd.DataFrame({"c": ucode, "f": fcode, "d": uday})
        pairs = pairs.loc[(pairs["f"] >= 0) & (pairs["c"] >= 0)].drop_duplicates().sort_values(["c", "f", "d"])
        nxt = pairs.groupby(["c", "f"], sort=False)["d"].shift(-1).fillna(_NEVER).to_numpy(dtype=np.int64)
        d = pairs["d"].to_numpy(dtype=np.int64)
        used = _Stabs(pairs["c"].to_numpy(), d, np.minimum(nxt, d + w))
        whole = ds.base.usage_feature_days if ds.base is not None else None  # a partition: whole base's uses
        if whole is not None:
            base_pairs = pd.DataFrame({"f": pd.factorize(whole["feature"], sort=True)[0].astype(np.int64),
                                       "d": whole["day"].to_numpy(dtype=np.int64)})
            base_pairs = base_pairs.loc[base_pairs["f"] >= 0].drop_duplicates().sort_values(["f", "d"])
        else:
            base_pairs = pairs[["f", "d"]].drop_duplicates().sort_values(["f", "d"])
        bn = base_pairs.groupby("f", sort=False)["d"].shift(-1).fillna(_NEVER).to_numpy(dtype=np.int64)
        bd = base_pairs["d"].to_numpy(dtype=np.int64)
        base_used = _Stabs(np.zeros(len(bd), np.int64), bd, np.minimum(bn, bd + w))
        dates = np.unique(np.concatenate([q.day, q.day - m]))
        bq = _Query(np.zeros(len(dates), np.int64), dates)
        base_count = base_used.count(bq)

    def score_at(off: int) -> tuple[np.ndarray, ...]:
        """DUI, score, sessions and days since use at ``as_of - off`` (data before it only)."""
        sessions = ev.sum("sessions", q, off + w, off)
        last = ev.last(ev.days, q, 1, off)
        since = np.where(last == _NEVER, np.nan, (q.day - off) - last)
        if has_feature:
            dui = _ratio(used.count(q, off), grid.per_date(dates, base_count, off))
            depth = np.nan_to_num(dui, nan=0.0)
        else:
            dui, depth = _na_float(n), np.zeros(n)
        freq = np.minimum(1.0, sessions / p.usage_sessions_target)
        rec = np.where(np.isnan(since), 0.0, np.clip(1.0 - since / w, 0.0, None))
        return dui, 100.0 * (freq + depth + rec) / 3.0, sessions, since

    dui, score, sessions, since = score_at(0)
    _, score_prev, _, _ = score_at(m)
    change = _ratio(score, score_prev) - 1
    known = grid.observed_days >= m + w
    fired = (score_prev > 0) & (change <= -p.usage_drop)
    return {
        "usage_dui": dui, "usage_score": score, "usage_score_prev": np.where(known, score_prev, np.nan),
        "usage_change": np.where(known, change, np.nan), "usage_sessions_30": sessions,
        "days_since_use": since, "alert_usage": _nullable(fired, known),
    }


CONTRACT_COLUMNS: tuple[str, ...] = (
    "as_of", "customer_id", "lost", "tenure_days",
    "freq_30", "freq_60", "freq_90", "freq_baseline", "freq_change_m1", "freq_change_m2", "alert_frequency",
    "days_since_last", "recency_level", "alert_recency",
    "email_sends_10", "open_rate_10", "ctor_10", "open_rate_prev_10", "email_segment", "alert_email",
    "revenue_12m", "basket_3m", "basket_prev_6m", "basket_change", "interval_recent_days",
    "interval_prev_days", "interval_drift", "revenue_share_q", "revenue_share_prev_q", "alert_value",
    "nps_last", "nps_prev", "nps_change", "nps_category", "days_since_nps", "alert_nps",
    "usage_dui", "usage_score", "usage_score_prev", "usage_change", "alert_usage",
    "n_alerts", "any_alert",
)
EXTRA_COLUMNS: tuple[str, ...] = (
    "days_since_strong", "email_sudden_stop", "alert_basket", "alert_interval", "alert_share",
    "usage_sessions_30", "days_since_use",
)
#: The trailing-window counts of :data:`CONTRACT_COLUMNS` under the default ``freq_windows``.
_DEFAULT_FREQ = ("freq_30", "freq_60", "freq_90")


def indicator_columns(params: SignalParams | None = None) -> tuple[str, ...]:
    """The columns of :func:`indicators`, in order, for the given thresholds.

    :data:`CONTRACT_COLUMNS` then :data:`EXTRA_COLUMNS`, with the trailing-window counts named
    after the configured windows: ``freq_<w>`` for each ``w`` of ``params.freq_windows``, in
    that order, where the defaults (30, 60, 90) give ``freq_30, freq_60, freq_90``.

    Raises
    ------
    ConfigError
        If ``freq_windows`` is empty or names a window twice (two columns would share a name).
    """
    windows = tuple(int(w) for w in (params or SignalParams()).freq_windows)
    if not windows or len(set(windows)) != len(windows):
        raise ConfigError(f"dataset.yml: thresholds.freq_windows is {list(windows)}; expected distinct "
                          "window lengths in days, e.g. [30, 60, 90].")
    at = CONTRACT_COLUMNS.index(_DEFAULT_FREQ[0])
    rest = tuple(c for c in CONTRACT_COLUMNS if c not in _DEFAULT_FREQ)
    return (*rest[:at], *(f"freq_{w}" for w in windows), *rest[at:], *EXTRA_COLUMNS)




def indicators(ds: Dataset, dates, params: SignalParams | None = None) -> pd.DataFrame:
    """The six early-warning indicators of every customer at one or many as-of dates.

    See the module docstring for every definition, threshold and minimum history.

    Parameters
    ----------
    ds : the dataset. Uses ``customers`` (customer_id, signup_date, churn_date) and, when
        present, ``orders`` (customer_id, order_date, amount, is_refund), ``email_events``
        (customer_id, campaign_id, event_time, event), ``nps`` (customer_id, response_date,
        score, trigger) and ``usage`` (customer_id, event_date, feature, sessions).
    dates : one as-of date or several (e.g. every week over two years). All dates are
        computed in one set-based pass: each table is indexed once, then every (date,
        customer) row is answered by vectorised searches; the result equals computing each
        date alone.
    params : thresholds; default :class:`SignalParams` with the dataset's config thresholds.

    Returns
    -------
    DataFrame, one row per (as_of, customer_id) with ``signup_date < as_of``, sorted by
    as_of then customer_id, with the contract columns (module docstring) followed by
    :data:`EXTRA_COLUMNS`. ``attrs["unavailable"]`` lists the indicators whose table (or
    order amounts) the export lacks, by code (``email``, ``value``, ``nps``, ``usage``).
    """
    p = (params or ds.config.signal_params).resolved(ds)
    names = indicator_columns(p)  # checks freq_windows before any work
    idx = as_dates(dates)
    grid = _grid(ds, idx)
    n = len(grid)
    inter_frame = ds.interactions()
    icode = grid.codes(inter_frame["customer_id"])
    iday = _days(inter_frame["time"])
    inter = _Events(icode, iday)
    strong_mask = inter_frame["weight"].to_numpy(dtype="float64") >= p.strong_weight
    strong = _Events(icode[strong_mask], iday[strong_mask])
    em = _email_events(ds, grid)
    steps = {
        "frequency": (_frequency, (grid, inter, p)),
        "recency": (_recency, (grid, strong, p)),
        "email": (_email, (em, grid, p)),
        "value": (_value, (ds, grid, p)),
        "nps": (_nps, (ds, grid, p)),
        "usage": (_usage, (ds, grid, p)),
    }
    cols: dict = {
        "as_of": grid.frame["as_of"].to_numpy(),
        "customer_id": grid.frame["customer_id"].array,
        "lost": grid.frame["lost"].to_numpy(dtype=bool),
        "tenure_days": grid.frame["tenure_days"].to_numpy(dtype=np.int64),
    }
    unavailable = []
    for name, (step, args) in steps.items():  # a loop over the six indicators
        part = step(*args)
        if part.pop("_absent", False):
            unavailable.append(name)
        cols.update({k: grid.back(v) for k, v in part.items()})
        del part
        grid.q.cache.clear()  # positions are only reused within an indicator; free the memory
    del steps, grid, inter, strong, em
    fired = np.column_stack([cols[c].to_numpy(dtype=bool, na_value=False) for c in INDICATORS.values()])
    cols["n_alerts"] = fired.sum(axis=1).astype("int64")
    cols["any_alert"] = pd.array(cols["n_alerts"] > 0, dtype="boolean")
    # built column by column in the final order, without consolidating copies
    out = pd.DataFrame({c: cols.pop(c) for c in names},
                       index=pd.RangeIndex(n), copy=False)
    out.attrs["unavailable"] = unavailable
    if params is None:
        out = _configured_overrides(ds, out, p)
    return out


# --------------------------------------------------------------------------- thresholds from raw values
def alert_severities(table: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The raw value behind each thresholded alert, so that any threshold can be replayed
    without recomputing the indicators.

    Parameters
    ----------
    table : output of :func:`indicators` (any thresholds).

    Returns
    -------
    component -> ``(severity, known)`` (float and bool arrays aligned on ``table``), for the
    components of :data:`THRESHOLD_RULES`. The component fires where ``known`` and
    ``severity >= threshold`` (``>`` when strict); NaN severity never fires. ``known`` does not
    depend on the thresholds (it is where the alert is not NA). Severities:
    ``frequency_m1`` = -freq_change_m1, ``frequency_m2`` = -max(freq_change_m1, freq_change_m2)
    (both NaN when the baseline is 0); ``recency`` = days_since_last; ``basket`` = -basket_change;
    ``interval`` = interval_drift; ``share`` = 1 - revenue_share_q / revenue_share_prev_q;
    ``nps`` = -nps_change (+inf for a promoter turned detractor, which always fires);
    ``usage`` = -usage_change (NaN when the previous score is 0).
    """
    def num(col: str) -> np.ndarray:
        return pd.to_numeric(table[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)

    def known(col: str) -> np.ndarray:
        return table[col].notna().to_numpy(dtype=bool)

    base = num("freq_baseline")
    ch1, ch2 = num("freq_change_m1"), num("freq_change_m2")
    pos = base > 0
    share = _ratio(num("revenue_share_q"), num("revenue_share_prev_q")) - 1
    last, prev = num("nps_last"), num("nps_prev")
    p2d = (prev >= 9) & (last <= 6)
    usage_prev = num("usage_score_prev")
    return {
        "frequency_m1": (np.where(pos, -ch1, np.nan), known("alert_frequency")),
        "frequency_m2": (np.where(pos, -np.fmax(ch1, ch2), np.nan), known("alert_frequency")),
        "recency": (num("days_since_last"), known("alert_recency")),
        "basket": (-num("basket_change"), known("alert_basket")),
        "interval": (num("interval_drift"), known("alert_interval")),
        "share": (-share, known("alert_share")),
        "nps": (np.where(p2d, np.inf, -num("nps_change")), known("alert_nps")),
        "usage": (np.where(usage_prev > 0, -num("usage_change"), np.nan), known("alert_usage")),
    }


def _fires(severity: np.ndarray, threshold: float, strict: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return severity > threshold if strict else severity >= threshold


def apply_thresholds(table: pd.DataFrame, params: SignalParams, rows=None,
                     disabled: tuple[str, ...] = ()) -> pd.DataFrame:
    """The alert columns of ``table`` recomputed from its raw values with ``params``.

    Parameters
    ----------
    table : output of :func:`indicators`.
    params : resolved thresholds (:meth:`SignalParams.resolved`).
    rows : boolean mask of the rows to recompute (default: all).
    disabled : indicators (keys of :data:`INDICATORS`) switched off: their alert becomes NA.

    Returns
    -------
    A copy of ``table`` whose thresholded alerts (frequency, recency, basket, interval,
    share, value, nps, usage), ``n_alerts`` and ``any_alert`` follow ``params`` on ``rows``;
    email (a pattern, no threshold) is kept unless disabled.
    """
    out = table.copy()
    mask = np.ones(len(out), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    sev = alert_severities(out)
    freq = "frequency_m1" if params.freq_months == 1 else "frequency_m2"
    new = {}
    for comp, col in ((freq, "alert_frequency"), ("recency", "alert_recency"), ("basket", "alert_basket"),
                      ("interval", "alert_interval"), ("share", "alert_share"), ("nps", "alert_nps"),
                      ("usage", "alert_usage")):
        s, k = sev[comp]
        _, field, strict = THRESHOLD_RULES[comp]
        new[col] = _nullable(_fires(s, float(getattr(params, field)), strict) & k, k)
    new["alert_value"] = _combine(new["alert_basket"], new["alert_interval"], new["alert_share"])
    for col, values in new.items():
        cur = out[col].array.copy()
        cur[mask] = values[mask]
        out[col] = cur
    for name in disabled:
        col = INDICATORS[name]
        cur = out[col].array.copy()
        cur[mask] = pd.NA
        out[col] = cur
    fired = np.column_stack([out[c].to_numpy(dtype=bool, na_value=False) for c in INDICATORS.values()])
    out["n_alerts"] = fired.sum(axis=1).astype("int64")
    out["any_alert"] = pd.array(out["n_alerts"] > 0, dtype="boolean")
    return out


def _configured_overrides(ds: Dataset, table: pd.DataFrame, p: SignalParams) -> pd.DataFrame:
    """Apply the ``thresholds:`` block's switched-off indicators and per-segment thresholds."""
    th = ds.config.thresholds
    disabled = tuple(getattr(th, "disabled", ()) or ())
    segments = getattr(th, "segments", None) or {}
    if not disabled and not segments:
        return table
    attrs = dict(table.attrs)
    if disabled:
        table = apply_thresholds(table, p, disabled=disabled)
    if segments:
        cust = ds.customers.assign(customer_id=ds.customers["customer_id"].astype("string"))
        for column, values in segments.items():  # a loop over the configured segments, not customers
            if column not in cust.columns:
                raise ConfigError(f"dataset.yml: thresholds.segments names column '{column}', "
                                  f"which the customers table lacks; expected one of {list(cust.columns)}.")
            seg = table["customer_id"].astype("string").map(cust.set_index("customer_id")[column].astype("string"))
            for value, over in values.items():
                over = dict(over)
                off = tuple(over.pop("disabled", ()) or ()) + disabled
                sp = replace(p, **over)
                rows = seg.eq(str(value)).fillna(False).to_numpy(dtype=bool)
                table = apply_thresholds(table, sp, rows=rows, disabled=off)
    table.attrs.update(attrs)
    table.attrs["disabled"] = list(disabled)  # codes of the indicators switched off for everyone
    return table
