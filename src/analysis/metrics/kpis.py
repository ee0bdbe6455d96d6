"""Email and customer KPIs per month, campaign and segment, with thresholds, alerts and decisions.

Everything here is computed at an as-of date from data strictly before it (the dataset is
cut with :meth:`analysis.data.dataset.Dataset.before` first), so events after ``as_of`` never
change a figure.

Numbers and codes only: a KPI's status against its threshold is a code (:data:`STATUSES`),
an alert is ``{"kind", "code", "kpi", "value", "threshold"}`` and a decision is a code of
:data:`DECISIONS`; :mod:`analysis.reporting.tables` and :mod:`analysis.reporting.narrative`
word them. :func:`base_health` gathers everything notebook 01 shows in one typed result.

Email KPIs (SPEC section 2)
---------------------------
Counts are of distinct (campaign, customer) pairs: a customer who opens a campaign three
times is one opener of it. With ``sent`` = pairs with a ``sent`` event, ``delivered`` = pairs
with a ``delivered`` event, and so on:

====================  ==============================================  =================
kpi                   formula                                         alert (default)
====================  ==============================================  =================
deliverability        delivered / sent                                < 95 %
hard_bounce_rate      pairs with a hard bounce / sent                 >= 2 %
soft_bounce_rate      pairs with a soft bounce / sent                 (none)
open_rate             unique openers / delivered                      < 10 %
click_rate            unique clickers / delivered                     = 0 (nil)
ctor                  unique clickers / unique openers                (none)
response_rate         unique repliers / delivered                     (none)
unsubscribe_rate      unique unsubscribes / sent                      > 1 %
complaint_rate        unique spam complaints / delivered              >= 0.1 %
inactivity_rate_<X>   contacts with no open and no click for X days   (none)
                      / contacts sent to in the period
====================  ==============================================  =================

A zero denominator gives NaN (shown as "–"), never 0 and never an error; an alert is never
raised on NaN.

*Periods.* A campaign belongs to the calendar month of its first ``sent`` event (its first
event of any kind if it has no ``sent`` event), and all its events before ``as_of`` count
for that campaign, even those that arrive the next month: an open on 2 November of a
campaign sent on 30 October is an October open. Monthly tables hold *complete* calendar
months only, that is months that end on or before ``as_of``: with ``as_of`` = 2026-10-31
(data read up to 30 October) the last month is September 2026; with ``as_of`` =
2026-11-01 it is October. The report month is :func:`report_month`.

*Inactivity rate at X days.* The period's reference date is the month's end (the first day
of the next month) for a month, the campaign's send time for a campaign. Among the contacts
sent to in the period, a contact is inactive at X days if it has no open and no click in the
X days before the reference date *and* it was first sent to at least X days before it (a
contact emailed for the first time last week cannot yet have been silent for 90 days).

*Machine opens* (``open_correction=True``, off by default). Privacy protection and image
pre-loading open emails automatically, inflating opens [002]. With the correction on, an
``open`` event is a machine open when it comes at most ``machine_open_seconds`` (default 10)
after the delivery of the same (campaign, customer) pair (its ``sent`` time if there is no
``delivered`` event) and that pair has no click. Machine opens are dropped everywhere: open
rate, CTOR and the inactivity rates. The correction needs time-of-day timestamps; on an
export with dates only it raises :class:`~analysis.errors.DataError`. Every dashboard says
which option was used.

Period-over-period alarm [002]: "bounces doubled or complaints exploded: suspend sends and
audit the base". It fires for a month when

* ``bounces_doubled``: the hard-bounce rate is at least ``growth`` (2) times the previous
  month's, the previous being above 0; or it went from 0 to at least the hard-bounce
  threshold (2 %);
* ``complaints_exploded``: the complaint rate is more than ``growth`` times the previous
  month's (any rise from 0 counts) *and* at least the complaint threshold (0.1 %).

Both need the two months to have a value (sends in both) and at least ``alarm_min_events``
(10) events in the month (hard bounces, complaints), when the counts are given: a rate that
doubles on a handful of events is noise. The alarm carries its counts (``count`` events out of
``base``: hard bounces out of sent, complaints out of delivered) for the report to show them.

Customer KPIs (per complete month ``[start, end)``, from :func:`analysis.metrics.lifecycle.status_at`)
----------------------------------------------------------------------------------------------
``customers`` signed up before ``end``; ``active_customers`` among them not lost at ``end``;
``new_customers`` signed up in the month; ``lost_customers`` whose churn date falls in the
month; ``churn_rate`` = customers active at ``start`` and lost by ``end`` / customers active
at ``start``; ``revenue`` = net amount of the month's orders (refunds subtracted; NaN without
amounts); ``level_<L>_share`` = share of the active customers at ``end`` whose days since the
last significant interaction fall in inactivity level L (0, 30, 60, 90, 180: the highest
threshold reached, SPEC section 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.data.config import KpiThresholds
from analysis.data.dataset import Dataset
from analysis.data.warehouse import Warehouse
from analysis.errors import ConfigError, DataError
from analysis.metrics import aggregates
from analysis.metrics.lifecycle import check_as_of, month_boundaries, months_between, status_at

__all__ = [
    "EMAIL_KPIS",
    "CUSTOMER_KPIS",
    "KpiThresholds",
    "MonthlyReview",
    "report_month",
    "complete_months",
    "EMAIL_COUNTS",
    "email_events_before",
    "drop_machine_opens",
    "segment_frame",
    "email_pairs",
    "email_kpis",
    "email_counts",
    "email_kpis_from_counts",
    "customer_kpis",
    "customer_kpi_counts",
    "customer_kpis_from_counts",
    "with_thresholds",
    "STATUSES",
    "period_alarms",
    "monthly_dashboard",
    "month_alerts",
    "DECISIONS",
    "revenue_zero_alert",
    "decisions",
    "base_summary",
    "BaseHealth",
    "base_health",
    "monthly_review",
    "email_segment_shares",
    "month_transitions",
    "SEGMENT_KPIS",
    "UNSEGMENTED",
    "segment_kpis",
]

#: Rate KPIs computed from the email events, in dashboard order (inactivity rates are added
#: for each level of the dataset's thresholds, e.g. ``inactivity_rate_90``).
EMAIL_KPIS: tuple[str, ...] = (
    "deliverability",
    "hard_bounce_rate",
    "soft_bounce_rate",
    "open_rate",
    "click_rate",
    "ctor",
    "response_rate",
    "unsubscribe_rate",
    "complaint_rate",
)

#: Customer KPIs per month, in dashboard order (level shares are added per inactivity level).
CUSTOMER_KPIS: tuple[str, ...] = (
    "customers",
    "active_customers",
    "new_customers",
    "lost_customers",
    "churn_rate",
    "revenue",
)

#: Count columns behind the email rates: output name -> email event (defined with the SQL
#: counts, which this module's rates also finish).
EMAIL_COUNTS = aggregates.EMAIL_COUNTS

#: kpi -> (numerator count, denominator count)
_RATIOS: dict[str, tuple[str, str]] = {
    "deliverability": ("delivered", "sent"),
    "hard_bounce_rate": ("hard_bounces", "sent"),
    "soft_bounce_rate": ("soft_bounces", "sent"),
    "open_rate": ("openers", "delivered"),
    "click_rate": ("clickers", "delivered"),
    "ctor": ("clickers", "openers"),
    "response_rate": ("repliers", "delivered"),
    "unsubscribe_rate": ("unsubscribes", "sent"),
    "complaint_rate": ("complaints", "delivered"),
}

#: Segment code of customers whose segment attribute is blank (the email engagement
#: segments use :data:`analysis.metrics.signals.NO_SEGMENT`, "not emailed yet", instead).
UNSEGMENTED = "(none)"


# ----------------------------------------------------------------------------- periods
def report_month(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """First day of the last complete calendar month before ``as_of``.

    A month is complete when it ends on or before ``as_of`` (data is read strictly before
    ``as_of``): ``2026-11-01`` -> ``2026-10-01``; ``2026-10-31`` -> ``2026-09-01``.
    """
    cut = check_as_of(as_of)
    return (cut.to_period("M").to_timestamp() - pd.offsets.MonthBegin(1)).normalize()


def complete_months(ds: Dataset, as_of: str | pd.Timestamp) -> pd.DatetimeIndex:
    """First days of the complete calendar months from the start of the data to ``as_of``.

    The first month is the month of ``ds.observed_from`` (or of the first signup if the
    dataset has no dated event); empty if no month is complete yet.
    """
    start = ds.observed_from
    if start is None or pd.isna(start):
        start = ds.customers["signup_date"].min()
    return months_between(start, report_month(as_of))


# ----------------------------------------------------------------------------- email pairs
def email_pairs(ds: Dataset, as_of: str | pd.Timestamp, open_correction: bool = False,
                thresholds: KpiThresholds | None = None) -> pd.DataFrame:
    """One row per (campaign, customer) pair emailed before ``as_of``, with what happened.

    Parameters
    ----------
    ds : dataset with ``email_events`` (customer_id, campaign_id, event_time, event).
    as_of : only events strictly before this date are read.
    open_correction : drop machine opens (see the module docstring); off by default.
    thresholds : gives ``machine_open_seconds``.

    Returns
    -------
    DataFrame with ``campaign_id``, ``customer_id``, ``campaign_time`` (first ``sent`` event
    of the campaign, else its first event), ``month`` (first day of the campaign's month),
    and one bool column per count of the KPIs: ``sent``, ``delivered``, ``openers``,
    ``clickers``, ``repliers``, ``hard_bounces``, ``soft_bounces``, ``unsubscribes``,
    ``complaints``, plus ``machine_open`` (bool: every open of the pair was a machine open;
    always False without the correction). Empty (same columns) without email events.

    Raises
    ------
    DataError
        If ``open_correction`` is on and the events carry no time of day.
    """
    th = thresholds or ds.config.kpi_thresholds
    ev = email_events_before(ds, as_of)
    cols = ["campaign_id", "customer_id", "campaign_time", "month", *EMAIL_COUNTS, "machine_open"]
    if ev.empty:
        return _empty_pairs(cols)
    if open_correction:
        ev = drop_machine_opens(ev, th.machine_open_seconds)
    keys = ["campaign_id", "customer_id"]
    flags = (ev.assign(one=1)
             .pivot_table(index=keys, columns="event", values="one", aggfunc="sum", observed=True)
             .reindex(columns=list(dict.fromkeys(EMAIL_COUNTS.values())))
             .fillna(0)
             .gt(0))
    flags.columns = flags.columns.astype(str)
    pairs = pd.DataFrame({name: flags[event].to_numpy() for name, event in EMAIL_COUNTS.items()},
                         index=flags.index).reset_index()
    machine = ev.attrs.get("machine_pairs")
    if machine is not None and not machine.empty:
        pairs = pairs.merge(machine, on=keys, how="left", indicator="_machine")
        pairs["machine_open"] = (pairs["_machine"] == "both").to_numpy()
        pairs = pairs.drop(columns="_machine")
    else:
        pairs["machine_open"] = False
    when = _campaign_times(ev)
    pairs = pairs.merge(when, on="campaign_id", how="left")
    pairs["month"] = pairs["campaign_time"].dt.to_period("M").dt.to_timestamp()
    for c in ("campaign_id", "customer_id"):
        pairs[c] = pairs[c].astype("string")
    return pairs[cols].sort_values(["campaign_time", "campaign_id", "customer_id"], kind="stable") \
        .reset_index(drop=True)


def _empty_pairs(cols: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="bool") for c in cols})
    out["campaign_id"] = out["campaign_id"].astype("string")
    out["customer_id"] = out["customer_id"].astype("string")
    out["campaign_time"] = out["campaign_time"].astype("datetime64[ns]")
    out["month"] = out["month"].astype("datetime64[ns]")
    return out


def email_events_before(ds: Dataset, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """The email events strictly before ``as_of`` (customer_id, campaign_id, event_time,
    event), typed; an empty typed frame without an email table."""
    cut = check_as_of(as_of)
    if not ds.has("email_events"):
        return pd.DataFrame({"customer_id": pd.Series(dtype="string"),
                             "campaign_id": pd.Series(dtype="string"),
                             "event_time": pd.Series(dtype="datetime64[ns]"),
                             "event": pd.Series(dtype="string")})
    ev = ds.email_events
    ev = ev.loc[ev["event_time"] < cut, ["customer_id", "campaign_id", "event_time", "event"]]
    return ev.assign(event=ev["event"].astype("string")).reset_index(drop=True)


def _campaign_times(ev: pd.DataFrame) -> pd.DataFrame:
    """campaign_id -> campaign_time: first ``sent`` event, else first event of any kind."""
    first_any = ev.groupby("campaign_id", observed=True)["event_time"].min()
    first_sent = ev.loc[ev["event"] == "sent"].groupby("campaign_id", observed=True)["event_time"].min()
    when = first_sent.reindex(first_any.index).fillna(first_any)
    return when.rename("campaign_time").reset_index()


def drop_machine_opens(ev: pd.DataFrame, seconds: float) -> pd.DataFrame:
    """``ev`` without machine opens; ``attrs['machine_pairs']`` lists pairs left with no open."""
    times = ev["event_time"]
    if not (times - times.dt.normalize()).dt.total_seconds().gt(0).any():
        raise DataError(
            "email_events.event_time holds dates only (no time of day), so machine opens cannot "
            "be told from human ones; run with open_correction=False or export event times "
            "with hours, minutes and seconds."
        )
    keys = ["campaign_id", "customer_id"]
    delivered = ev.loc[ev["event"] == "delivered"].groupby(keys, observed=True)["event_time"].min()
    sent = ev.loc[ev["event"] == "sent"].groupby(keys, observed=True)["event_time"].min()
    base = delivered.combine_first(sent).rename("delivered_time")
    clicked = ev.loc[ev["event"] == "click", keys].drop_duplicates().assign(has_click=True)
    opens = ev.loc[ev["event"] == "open"].reset_index()
    opens = opens.merge(base.reset_index(), on=keys, how="left").merge(clicked, on=keys, how="left")
    delay = (opens["event_time"] - opens["delivered_time"]).dt.total_seconds()
    machine = opens["has_click"].isna() & delay.between(0, seconds)
    drop_idx = opens.loc[machine, "index"]
    kept_opens = opens.loc[~machine, keys].drop_duplicates()
    machine_pairs = opens.loc[machine, keys].drop_duplicates()
    machine_pairs = machine_pairs.merge(kept_opens, on=keys, how="left", indicator=True)
    machine_pairs = machine_pairs.loc[machine_pairs["_merge"] == "left_only", keys].reset_index(drop=True)
    out = ev.drop(index=drop_idx).reset_index(drop=True)
    out.attrs["machine_pairs"] = machine_pairs
    return out


# ----------------------------------------------------------------------------- email KPIs
def _ratios(counts: pd.DataFrame) -> pd.DataFrame:
    out = counts.copy()
    for kpi, (num, den) in _RATIOS.items():
        d = out[den].astype("float64")
        out[kpi] = out[num].astype("float64") / d.where(d > 0)
    return out


def segment_frame(ds: Dataset, segment: str | pd.DataFrame | None, dates: pd.DatetimeIndex) -> pd.DataFrame | None:
    """(as_of?, customer_id, segment) for the segment asked for, or None: a customer
    attribute (refused if personal or unknown, ConfigError), ``"email_segment"`` at each of
    ``dates``, or a table given by the caller (checked)."""
    if segment is None:
        return None
    if isinstance(segment, pd.DataFrame):
        if "customer_id" not in segment.columns or "segment" not in segment.columns:
            raise ConfigError("a segment table needs the columns customer_id and segment "
                              "(and as_of when segments change over time).")
        return segment
    if segment == "email_segment":
        from analysis.metrics import signals

        if not hasattr(signals, "email_segments"):
            raise ConfigError("email engagement segments are not available in this version "
                              "(analysis.metrics.signals.email_segments is missing).")
        seg = signals.email_segments(ds, dates)
        seg = seg.rename(columns={"email_segment": "segment"})[["as_of", "customer_id", "segment"]]
        seg["segment"] = seg["segment"].astype("string").fillna(signals.NO_SEGMENT)
        seg.attrs["fill"] = signals.NO_SEGMENT  # not signed up yet at the date: not emailed either
        return seg
    if segment not in ds.customers.columns:
        raise ConfigError(
            f"segment '{segment}' is not a column of the customers table; expected one of "
            f"{', '.join(ds.segment_columns()) or '(no segment column)'} or 'email_segment'."
        )
    if segment in ds.config.personal_columns or segment in ("customer_id", "signup_date", "churn_date"):
        raise ConfigError(f"'{segment}' cannot be used as a segment (personal or key column).")
    return ds.customers[["customer_id", segment]].rename(columns={segment: "segment"})


def _attach_segment(frame: pd.DataFrame, seg: pd.DataFrame | None, when: str) -> pd.DataFrame:
    """Add a ``segment`` column to ``frame`` (customer_id and the date column ``when``).

    Customers without a segment get ``seg.attrs["fill"]`` (default ``"(none)"``)."""
    if seg is None:
        return frame
    if "as_of" in seg.columns:
        s = seg[["as_of", "customer_id", "segment"]].rename(columns={"as_of": when})
        out = frame.merge(s, on=[when, "customer_id"], how="left")
    else:
        out = frame.merge(seg[["customer_id", "segment"]], on="customer_id", how="left")
    out["segment"] = out["segment"].astype("string").fillna(seg.attrs.get("fill", UNSEGMENTED))
    return out


def email_kpis(ds: Dataset, as_of: str | pd.Timestamp, by: str = "month",
               segment: str | pd.DataFrame | None = None, open_correction: bool = False,
               thresholds: KpiThresholds | None = None) -> pd.DataFrame:
    """Email KPIs per complete month or per campaign, optionally per segment.

    Parameters
    ----------
    ds : dataset; without ``email_events`` the result is empty.
    as_of : only events strictly before this date are read.
    by : ``"month"`` (complete calendar months, see :func:`report_month`) or ``"campaign"``.
    segment : ``None``; a column of ``customers`` (sector, size...); ``"email_segment"``
        (the engagement segment of :func:`analysis.metrics.signals.email_segments` at the start of
        the month, or on the campaign's send day); or a DataFrame with ``customer_id``,
        ``segment`` and optionally ``as_of`` (the segment valid from that date). Customers
        without a segment are grouped under ``"(none)"``.
    open_correction : drop machine opens (module docstring); off by default.
    thresholds : only ``machine_open_seconds`` is used here.

    Returns
    -------
    DataFrame, one row per period (and segment): ``month`` (first day) or ``campaign_id``
    and ``campaign_time``; ``segment`` if asked; the counts ``sent``, ``delivered``,
    ``openers``, ``clickers``, ``repliers``, ``hard_bounces``, ``soft_bounces``,
    ``unsubscribes``, ``complaints``, ``contacts``; the rates of :data:`EMAIL_KPIS`; and
    ``inactivity_rate_<X>`` for X in the dataset's inactivity levels (30, 60, 90, 180).
    Rates are NaN when their denominator is 0. Months with no send are kept (NaN rates).
    """
    if by not in ("month", "campaign"):
        raise ConfigError(f"by is '{by}'; expected 'month' or 'campaign'.")
    levels = ds.config.thresholds.levels()
    if isinstance(ds, Warehouse):  # the same counts by DuckDB SQL over the validated copy
        counts, keys, months = aggregates.email_counts(ds, as_of, by, segment, open_correction, thresholds)
        return email_kpis_from_counts(counts, keys, months, levels)
    cut = check_as_of(as_of)
    pairs = email_pairs(ds, cut, open_correction, thresholds)
    months = complete_months(ds, cut) if by == "month" else None
    counts, keys, _ = email_counts(ds, cut, pairs, by, segment, months, open_correction, thresholds)
    return email_kpis_from_counts(counts, keys, months, levels)


def email_kpis_from_counts(counts: pd.DataFrame, keys: list[str], months: pd.DatetimeIndex | None,
                           levels: tuple[int, ...]) -> pd.DataFrame:
    """The e-mail KPI table of :func:`email_kpis` from its additive counts (:func:`email_counts`,
    or their sums over groups of customers): every complete month kept when ``months`` is
    given (months without a send get zero counts and NaN rates), then the rates."""
    out = counts
    if months is not None:
        grid = pd.DataFrame({"month": months})
        if "segment" in keys:
            segs = pd.DataFrame({"segment": pd.array(sorted(out["segment"].unique()), dtype="string")})
            grid = grid.merge(segs, how="cross")
        out = grid.merge(out, on=keys, how="left")
        fill = [*EMAIL_COUNTS, "contacts", *[f"inactive_{x}" for x in levels]]
        out[fill] = out[fill].fillna(0).astype("int64")
    out = _ratios(out)
    for x in levels:
        c = out["contacts"].astype("float64")
        out[f"inactivity_rate_{x}"] = out[f"inactive_{x}"].astype("float64") / c.where(c > 0)
    rates = [*EMAIL_KPIS, *[f"inactivity_rate_{x}" for x in levels]]
    cols = [*keys, *EMAIL_COUNTS, "contacts", *[f"inactive_{x}" for x in levels], *rates]
    return out[cols].sort_values(keys, kind="stable").reset_index(drop=True)


def email_counts(ds: Dataset, cut: pd.Timestamp, pairs: pd.DataFrame, by: str, segment: str | pd.DataFrame | None,
                 months: pd.DatetimeIndex | None, open_correction: bool = False,
                 thresholds: KpiThresholds | None = None) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """The additive counts behind :func:`email_kpis`, per period (and segment): the pair
    counts, ``contacts`` and ``inactive_<X>``, before any rate is taken.

    ``pairs`` come from :func:`email_pairs` (their ``campaign_time`` and ``month`` may be
    re-dated by the caller, as the Spark engine does with the whole base's campaign times);
    ``months`` are the complete months kept when ``by="month"``. Counts of separate groups of
    customers add up, which is how the Spark engine sums its buckets.

    Returns
    -------
    (counts, keys, pairs) : the counts with the group ``keys`` as columns, the keys, and
    the pairs with their reference date and segment attached.
    """
    levels = ds.config.thresholds.levels()
    if by == "month":
        pairs = pairs.loc[pairs["month"].isin(months)]
        pairs = pairs.assign(ref=pairs["month"] + pd.offsets.MonthBegin(1))
        keys = ["month"]
        pairs = _attach_segment(pairs, segment_frame(ds, segment, months), "month")
    else:
        pairs = pairs.assign(ref=pairs["campaign_time"])
        keys = ["campaign_id", "campaign_time"]
        seg = segment_frame(ds, segment, pd.DatetimeIndex(pairs["campaign_time"].dt.normalize().unique()))
        if seg is not None and "as_of" in seg.columns:
            pairs = pairs.assign(send_day=pairs["campaign_time"].dt.normalize())
            pairs = _attach_segment(pairs, seg, "send_day").drop(columns="send_day")
        else:
            pairs = _attach_segment(pairs, seg, "campaign_time")
    if segment is not None:
        keys = [*keys, "segment"]
    counts = pairs.groupby(keys, observed=True, sort=True)[list(EMAIL_COUNTS)].sum().astype("int64")
    contacts = _inactivity(ds, cut, pairs, keys, levels, open_correction, thresholds)
    return counts.join(contacts, how="left").reset_index(), keys, pairs


def _inactivity(ds: Dataset, cut: pd.Timestamp, pairs: pd.DataFrame, keys: list[str],
                levels: tuple[int, ...], open_correction: bool,
                thresholds: KpiThresholds | None) -> pd.DataFrame:
    """Per group: ``contacts`` sent to and ``inactive_<X>`` among them (module docstring)."""
    sent = pairs.loc[pairs["sent"], [*keys, "customer_id", "ref"]]
    # one reference date per (group, customer): the group's (month end or campaign time)
    per = sent.groupby([*keys, "customer_id"], observed=True)["ref"].min().reset_index()
    ev = email_events_before(ds, cut)
    if open_correction and not ev.empty:
        ev = drop_machine_opens(ev, (thresholds or ds.config.kpi_thresholds).machine_open_seconds)
    eng = ev.loc[ev["event"].isin(["open", "click"]), ["customer_id", "event_time"]]
    eng = eng.rename(columns={"event_time": "last_engagement"}).sort_values("last_engagement", kind="stable")
    first = (ev.loc[ev["event"] == "sent"].groupby("customer_id", observed=True)["event_time"].min()
             .rename("first_sent"))
    per["customer_id"] = per["customer_id"].astype("string")
    eng = eng.assign(customer_id=eng["customer_id"].astype("string"))
    per = per.sort_values("ref", kind="stable")
    per = pd.merge_asof(per, eng, left_on="ref", right_on="last_engagement", by="customer_id",
                        allow_exact_matches=False, direction="backward")
    per["first_sent"] = per["customer_id"].map(first)
    agg = {"contacts": ("customer_id", "size")}
    for x in levels:
        start = per["ref"] - pd.Timedelta(days=x)
        per[f"inactive_{x}"] = (per["first_sent"] <= start) & (
            per["last_engagement"].isna() | (per["last_engagement"] < start))
        agg[f"inactive_{x}"] = (f"inactive_{x}", "sum")
    out = per.groupby(keys, observed=True).agg(**agg)
    return out.astype("int64")


# ----------------------------------------------------------------------------- customer KPIs
def customer_kpis(ds: Dataset, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """Customer KPIs for every complete month before ``as_of`` (definitions in the module docstring).

    Parameters
    ----------
    ds : dataset (``customers`` with customer_id, signup_date, churn_date; ``orders`` with
        order_date and amount for revenue).
    as_of : only data strictly before this date is read.

    Returns
    -------
    DataFrame, one row per month: ``month`` (first day), ``customers``,
    ``active_customers``, ``new_customers``, ``lost_customers``, ``churn_rate``,
    ``revenue`` (NaN without amounts), and ``level_<L>_share`` for L in 0 and the
    dataset's inactivity levels (shares of the active customers at the month's end, summing to 1).
    """
    if isinstance(ds, Warehouse):  # the same table by DuckDB SQL over the validated copy
        return aggregates.customer_kpis(ds, as_of)
    return customer_kpis_from_counts(customer_kpi_counts(ds, as_of), (0, *ds.config.thresholds.levels()))


def customer_kpi_counts(ds: Dataset, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """The counts behind :func:`customer_kpis`, one row per complete month before ``as_of``.

    Every column is a sum over customers, so the counts of disjoint sets of customers (the
    buckets of a base, :mod:`analysis.data.partitions`) add up to those of the whole base:
    :func:`customer_kpis_from_counts` of the summed counts is :func:`customer_kpis`.

    Returns
    -------
    DataFrame: ``month``, ``customers``, ``active_customers``, ``new_customers``,
    ``lost_customers``, ``active_at_start`` (active on the month's first day),
    ``churned_from_start`` (of those, lost by its end), ``revenue`` (NaN without amounts) and
    ``level_<L>`` (active customers at inactivity level L at the month's end) for L in 0 and
    the dataset's levels; integers except ``revenue``.
    """
    cut = check_as_of(as_of)
    cut_ds = ds.before(cut)
    months = complete_months(ds, cut)
    levels = (0, *ds.config.thresholds.levels())
    level_cols = [f"level_{lv}" for lv in levels]
    counts = ["customers", "active_customers", "new_customers", "lost_customers", "active_at_start",
              "churned_from_start"]
    if len(months) == 0:
        return pd.DataFrame({c: pd.Series(dtype="int64") for c in [*counts, *level_cols]}).assign(
            month=pd.Series(dtype="datetime64[ns]"), revenue=pd.Series(dtype="float64"))[
            ["month", *counts, "revenue", *level_cols]]
    ends = months + pd.offsets.MonthBegin(1)
    dates = months.union(ends)
    st = status_at(cut_ds, dates)
    st = st.assign(active=~st["lost"])
    at_end = st.loc[st["as_of"].isin(ends)].copy()
    at_end["month"] = at_end["as_of"] - pd.offsets.MonthBegin(1)
    at_end["level"] = _level(at_end["days_since_last"], levels)
    at_end["lost_in_month"] = at_end["churn_date"].ge(at_end["month"]) & at_end["lost"]
    start_active = st.loc[st["as_of"].isin(months) & st["active"], ["as_of", "customer_id"]]
    start_active = start_active.rename(columns={"as_of": "month"})
    at_end = at_end.merge(start_active, on=["month", "customer_id"], how="left", indicator="_start")
    at_end["active_at_start"] = (at_end["_start"] == "both").to_numpy()
    at_end["churned_from_start"] = at_end["active_at_start"] & at_end["lost"]
    g = at_end.groupby("month")
    out = pd.DataFrame({
        "customers": g.size(),
        "active_customers": g["active"].sum(),
        "lost_customers": g["lost_in_month"].sum(),
        "active_at_start": g["active_at_start"].sum(),
        "churned_from_start": g["churned_from_start"].sum(),
    }).reindex(months, fill_value=0)
    out.index.name = "month"
    signup_month = cut_ds.customers["signup_date"].dt.to_period("M").dt.to_timestamp()
    out["new_customers"] = signup_month.value_counts().reindex(months, fill_value=0).to_numpy()
    if cut_ds.has_amounts:
        o = cut_ds.orders
        rev = o.groupby(o["order_date"].dt.to_period("M").dt.to_timestamp())["amount"].sum()
        out["revenue"] = rev.reindex(months, fill_value=0.0).astype("float64").to_numpy()
    else:
        out["revenue"] = np.nan
    active = at_end.loc[at_end["active"]]
    lv = pd.crosstab(active["month"], active["level"]).reindex(index=months, columns=list(levels), fill_value=0)
    for level in levels:
        out[f"level_{level}"] = lv[level].to_numpy()
    out = out.reset_index()
    for c in [*counts, *level_cols]:
        out[c] = out[c].astype("int64")
    return out[["month", *counts, "revenue", *level_cols]]


def customer_kpis_from_counts(counts: pd.DataFrame, levels: tuple[int, ...]) -> pd.DataFrame:
    """:func:`customer_kpis` from the counts of :func:`customer_kpi_counts` (``levels``: 0 and
    the dataset's inactivity levels): the churn rate and the level shares are their ratios,
    NaN when the denominator is 0."""
    share_cols = [f"level_{lv}_share" for lv in levels]
    if counts.empty:  # no complete month: float columns, as the SQL twin gives
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in ["month", *CUSTOMER_KPIS, *share_cols]}).assign(
            month=pd.Series(dtype="datetime64[ns]"))
    out = counts.copy()
    den = out["active_at_start"].astype("float64")
    out["churn_rate"] = out["churned_from_start"].astype("float64") / den.where(den > 0)
    tot = out[[f"level_{lv}" for lv in levels]].sum(axis=1).astype("float64")
    for level in levels:
        out[f"level_{level}_share"] = out[f"level_{level}"].astype("float64") / tot.where(tot > 0)
    return out[["month", *CUSTOMER_KPIS, *share_cols]].reset_index(drop=True)


def _level(days: pd.Series, levels: tuple[int, ...]) -> pd.Series:
    """The highest level in ``levels`` (increasing, starting at 0) that ``days`` reaches."""
    bins = [*levels, np.inf]
    return pd.cut(days, bins=bins, right=False, labels=list(levels)).astype("int64")


# ----------------------------------------------------------------------------- thresholds
#: Status code of a KPI value against its threshold (reporting/ turns it into a reading).
STATUSES: tuple[str, ...] = ("alert", "ok", "no_value", "no_threshold")


def with_thresholds(frame: pd.DataFrame, keys: list[str],
                    thresholds: KpiThresholds | None = None) -> pd.DataFrame:
    """A wide KPI table in long form, each value with its threshold, alert and status code.

    Parameters
    ----------
    frame : wide table such as :func:`email_kpis` or :func:`customer_kpis` returns.
    keys : its key columns (e.g. ``["month"]`` or ``["month", "segment"]``).
    thresholds : alert thresholds (default :class:`KpiThresholds`).

    Returns
    -------
    DataFrame: the ``keys``, ``kpi``, ``value``, ``rule`` (lt / le / gt / ge, empty if the
    KPI has no threshold), ``threshold`` (NaN if none), ``alert`` (bool; False when the
    value is NaN or the KPI has no threshold) and ``status`` (one of :data:`STATUSES`:
    ``no_value`` when the value is NaN, else ``no_threshold``, ``alert`` or ``ok``) for
    every KPI column of ``frame`` (counts excluded).
    """
    th = thresholds or KpiThresholds()
    rules = th.rules()
    kpis = [c for c in frame.columns if _is_kpi(c)]
    long = frame.melt(id_vars=keys, value_vars=kpis, var_name="kpi", value_name="value")
    long["value"] = long["value"].astype("float64")
    long["rule"] = long["kpi"].map(lambda k: rules.get(k, ("", np.nan))[0]).astype("string")
    long["threshold"] = long["kpi"].map(lambda k: rules.get(k, ("", np.nan))[1]).astype("float64")
    v, thr, rule = long["value"], long["threshold"], long["rule"]
    alert = ((rule == "lt") & (v < thr)) | ((rule == "le") & (v <= thr)) \
        | ((rule == "gt") & (v > thr)) | ((rule == "ge") & (v >= thr))
    long["alert"] = alert.fillna(False).astype(bool)
    status = np.select([v.isna().to_numpy(), thr.isna().to_numpy(), long["alert"].to_numpy()],
                       ["no_value", "no_threshold", "alert"], "ok")
    long["status"] = pd.array(status, dtype="string")
    return long


def _is_kpi(col: str) -> bool:
    return col in EMAIL_KPIS or col in CUSTOMER_KPIS or col.startswith("inactivity_rate_") \
        or (col.startswith("level_") and col.endswith("_share"))


def period_alarms(monthly: pd.DataFrame, thresholds: KpiThresholds | None = None) -> pd.DataFrame:
    """The "bounces doubled / complaints exploded" alarm of every month (module docstring).

    Parameters
    ----------
    monthly : :func:`email_kpis` by month (without segment): ``month``,
        ``hard_bounce_rate``, ``complaint_rate``, one row per consecutive month; with the
        counts ``hard_bounces``, ``sent``, ``complaints``, ``delivered`` (as :func:`email_kpis`
        gives them) an alarm also needs ``thresholds.alarm_min_events`` events in the month.

    Returns
    -------
    DataFrame, one row per (month, alarm): ``month``, ``alarm`` (``bounces_doubled`` or
    ``complaints_exploded``), ``kpi``, ``value``, ``prev_value``, ``count`` and ``base``
    (events and the emails they are counted on, this month; NaN without the counts),
    ``prev_count``, ``prev_base`` (the previous month's), ``fired`` (bool).
    """
    th = thresholds or KpiThresholds()
    m = monthly.sort_values("month", kind="stable").reset_index(drop=True)
    parts = []
    for alarm, kpi, floor, events, base in (
            ("bounces_doubled", "hard_bounce_rate", th.hard_bounce_max, "hard_bounces", "sent"),
            ("complaints_exploded", "complaint_rate", th.complaint_max, "complaints", "delivered")):
        v = m[kpi].astype("float64")
        p = v.shift(1)
        n = m[events].astype("float64") if events in m else pd.Series(np.nan, index=m.index)
        b = m[base].astype("float64") if base in m else pd.Series(np.nan, index=m.index)
        both = v.notna() & p.notna()
        if alarm == "bounces_doubled":
            fired = both & (((p > 0) & (v >= th.growth * p)) | ((p == 0) & (v >= floor)))
        else:
            fired = both & (v > th.growth * p) & (v >= floor)
        if events in m:
            fired &= n >= th.alarm_min_events
        parts.append(pd.DataFrame({"month": m["month"], "alarm": alarm, "kpi": kpi,
                                   "value": v, "prev_value": p, "count": n, "base": b,
                                   "prev_count": n.shift(1), "prev_base": b.shift(1),
                                   "fired": fired.astype(bool)}))
    out = pd.concat(parts, ignore_index=True)
    out["alarm"] = out["alarm"].astype("string")
    out["kpi"] = out["kpi"].astype("string")
    return out.sort_values(["month", "alarm"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- dashboard
def monthly_dashboard(ds: Dataset, as_of: str | pd.Timestamp,
                      open_correction: bool = False, thresholds: KpiThresholds | None = None,
                      months: int | None = None, *, customer: pd.DataFrame | None = None,
                      email: pd.DataFrame | None = None) -> pd.DataFrame:
    """The fixed monthly dashboard: every email and customer KPI, month over month.

    Parameters
    ----------
    ds : dataset (email KPIs are absent when it has no ``email_events``).
    as_of : only data strictly before this date is read; complete months only.
    open_correction : machine-open correction of the email KPIs (off by default).
    thresholds : alert thresholds (default: the dataset's, ``ds.config.kpi_thresholds``).
    months : keep the last ``months`` months (all when None).
    customer, email : :func:`customer_kpis` and :func:`email_kpis` by month for the same
        arguments, when already computed.

    Returns
    -------
    Long DataFrame: ``month`` (first day), ``family`` (``email`` / ``customer``), ``kpi``,
    ``value``, ``prev_value`` (previous month), ``change`` (value - prev_value),
    ``rule``, ``threshold``, ``alert``, ``status`` (see :func:`with_thresholds`).
    """
    cut = check_as_of(as_of)
    thresholds = thresholds or ds.config.kpi_thresholds
    parts = []
    cust = customer if customer is not None else customer_kpis(ds, cut)
    parts.append(with_thresholds(cust, ["month"], thresholds).assign(family="customer"))
    if ds.has("email_events"):
        em = email if email is not None else email_kpis(ds, cut, "month", open_correction=open_correction,
                                                        thresholds=thresholds)
        parts.append(with_thresholds(em, ["month"], thresholds).assign(family="email"))
    long = pd.concat(parts, ignore_index=True)
    long["family"] = long["family"].astype("string")
    order = {k: i for i, k in enumerate(long["kpi"].drop_duplicates())}
    long = long.sort_values(["kpi", "month"], kind="stable")
    long["prev_value"] = long.groupby("kpi", sort=False)["value"].shift(1)
    long["change"] = long["value"] - long["prev_value"]
    fam = {"email": 0, "customer": 1}
    long = long.assign(_f=long["family"].map(fam), _k=long["kpi"].map(order)) \
        .sort_values(["month", "_f", "_k"], kind="stable").drop(columns=["_f", "_k"])
    if months is not None:
        keep = long["month"].drop_duplicates().sort_values().iloc[-int(months):]
        long = long.loc[long["month"].isin(keep)]
    cols = ["month", "family", "kpi", "value", "prev_value", "change", "rule", "threshold", "alert", "status"]
    return long[cols].reset_index(drop=True)


def month_alerts(dashboard: pd.DataFrame, alarms: pd.DataFrame | None,
                 month: pd.Timestamp) -> list[dict[str, Any]]:
    """The alerts of one month: threshold alerts, then fired period-over-period alarms.

    Parameters
    ----------
    dashboard : :func:`monthly_dashboard` (``month``, ``kpi``, ``value``, ``threshold``,
        ``alert``).
    alarms : :func:`period_alarms` or None.
    month : first day of the month.

    Returns
    -------
    List of dicts (codes and numbers, no text): ``kind`` (``threshold`` or ``alarm``),
    ``code`` (the KPI for a threshold alert, ``bounces_doubled`` / ``complaints_exploded`` /
    ``revenue_zero`` (:func:`revenue_zero_alert`) for an alarm), ``kpi``, ``value`` and ``threshold`` (the previous month's value for an
    alarm); a fired period alarm also has ``count``, ``base``, ``prev_count``, ``prev_base``
    (events out of emails, this month and the previous one; None when unknown). :func:`analysis.reporting.narrative.alert_text` words them.
    """
    month = pd.Timestamp(month)
    rows = dashboard.loc[(dashboard["month"] == month) & dashboard["alert"]]
    out = [{"kind": "threshold", "code": str(r.kpi), "kpi": str(r.kpi), "value": r.value, "threshold": r.threshold}
           for r in rows.itertuples()]
    zero = revenue_zero_alert(dashboard, month)
    if zero is not None:
        out.append(zero)
    if alarms is not None and not alarms.empty:
        fired = alarms.loc[(alarms["month"] == month) & alarms["fired"]]
        out += [{"kind": "alarm", "code": str(r.alarm), "kpi": str(r.kpi), "value": r.value,
                 "threshold": r.prev_value,
                 **{k: (None if pd.isna(getattr(r, k, np.nan)) else int(getattr(r, k)))
                    for k in ("count", "base", "prev_count", "prev_base")}}
                for r in fired.itertuples()]
    return out


def revenue_zero_alert(dashboard: pd.DataFrame, month: pd.Timestamp) -> dict[str, Any] | None:
    """The ``revenue_zero`` alarm: revenue of exactly 0 in ``month`` after a positive revenue
    the month before (an incomplete export as often as a collapse). Returns it as codes and
    numbers like the other alarms (``kind`` alarm, ``code`` revenue_zero, ``kpi`` revenue,
    ``value`` 0, ``threshold`` = the previous month's revenue), or None."""
    month = pd.Timestamp(month)
    rows = dashboard.loc[dashboard["kpi"].eq("revenue")].set_index("month")["value"]
    now = rows.get(month)
    prev = rows.get(month - pd.offsets.MonthBegin(1))
    if now is None or prev is None or pd.isna(now) or pd.isna(prev) or not (now == 0 and prev > 0):
        return None
    return {"kind": "alarm", "code": "revenue_zero", "kpi": "revenue", "value": 0.0, "threshold": float(prev)}


#: (alert kind, alert code) -> decision code, most urgent first (SPEC section 5, monthly
#: review); ``keep_course`` when no alert calls for a decision.
DECISIONS: dict[tuple[str, str], str] = {
    ("alarm", "revenue_zero"): "check_revenue",
    ("alarm", "bounces_doubled"): "suspend_audit",
    ("alarm", "complaints_exploded"): "suspend_audit",
    ("threshold", "hard_bounce_rate"): "remove_hard_bounces",
    ("threshold", "complaint_rate"): "complaints",
    ("threshold", "deliverability"): "deliverability",
    ("threshold", "unsubscribe_rate"): "targeting",
    ("threshold", "open_rate"): "reengage",
    ("threshold", "click_rate"): "content",
}


def decisions(alerts: list[dict[str, Any]], max_decisions: int = 3) -> list[str]:
    """At most ``max_decisions`` decision codes for the month's alerts, most urgent first.

    Each alert maps to a decision (:data:`DECISIONS`); two alerts calling for the same
    decision give it once. With no alert, the single decision is ``keep_course``.
    """
    found = {(a["kind"], a["code"]) for a in alerts}
    chosen = list(dict.fromkeys(d for k, d in DECISIONS.items() if k in found))
    return (chosen or ["keep_course"])[:max_decisions]


def base_summary(ds: Dataset, as_of: str | pd.Timestamp) -> dict[str, Any]:
    """What is in the base: customers and active customers at ``as_of``, rows per table, quarantine.

    Returns
    -------
    dict with ``customers`` (signed up before ``as_of``), ``active_customers`` (of those,
    not lost at ``as_of``, :func:`analysis.metrics.lifecycle.status_at`), ``tables`` (rows kept per
    table loaded), ``quarantined_rows`` (all tables), ``observed_from`` and
    ``observed_until`` (ISO dates).
    """
    if isinstance(ds, Warehouse):  # the same figures by DuckDB SQL over the validated copy
        return aggregates.base_summary(ds, as_of, ds.report.rows_quarantined)
    cut = check_as_of(as_of)
    st = status_at(ds.before(cut), cut)
    return {
        "customers": int(len(st)),
        "active_customers": int((~st["lost"]).sum()),
        "tables": {name: int(len(frame)) for name, frame in ds.tables.items()},
        "quarantined_rows": int(ds.report.rows_quarantined),
        "observed_from": None if ds.observed_from is None else ds.observed_from.date().isoformat(),
        "observed_until": None if ds.observed_until is None else ds.observed_until.date().isoformat(),
    }


@dataclass
class MonthlyReview:
    """The monthly KPI review of one report month (what the notebook and the summary read).

    Attributes
    ----------
    month : report month as ``YYYY-MM`` (None when no month is complete).
    dashboard : :func:`monthly_dashboard`.
    alarms : :func:`period_alarms` (empty without email events).
    kpis_month, kpis_prev_month : KPI -> value for the report month and the month before.
    alerts : :func:`month_alerts` of the report month (codes and numbers).
    decisions : at most three decision codes (:func:`decisions`).
    open_correction : whether machine opens were removed.
    """

    month: str | None
    dashboard: pd.DataFrame
    alarms: pd.DataFrame
    kpis_month: dict[str, float] = field(default_factory=dict)
    kpis_prev_month: dict[str, float] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    open_correction: bool = False


def monthly_review(ds: Dataset, as_of: str | pd.Timestamp, open_correction: bool = False,
                   thresholds: KpiThresholds | None = None, *, customer: pd.DataFrame | None = None,
                   email: pd.DataFrame | None = None) -> MonthlyReview:
    """Dashboard, alerts, alarms and decisions of the report month (:func:`report_month`).

    ``customer`` and ``email`` are :func:`customer_kpis` and :func:`email_kpis` by month for
    the same arguments, when the caller already has them (they are computed otherwise).
    """
    cut = check_as_of(as_of)
    thresholds = thresholds or ds.config.kpi_thresholds
    dash = monthly_dashboard(ds, cut, open_correction, thresholds, customer=customer, email=email)
    if ds.has("email_events"):
        em = email if email is not None else email_kpis(ds, cut, "month", open_correction=open_correction,
                                                        thresholds=thresholds)
        alarms = period_alarms(em, thresholds)
    else:
        alarms = pd.DataFrame(columns=["month", "alarm", "kpi", "value", "prev_value", "count", "base",
                                       "prev_count", "prev_base", "fired"])
    month = report_month(cut)
    if dash.empty or not (dash["month"] == month).any():
        return MonthlyReview(None, dash, alarms, decisions=[], open_correction=open_correction)
    prev = month - pd.offsets.MonthBegin(1)
    now = dash.loc[dash["month"] == month].set_index("kpi")["value"]
    before = dash.loc[dash["month"] == prev].set_index("kpi")["value"]
    alerts = month_alerts(dash, alarms, month)
    return MonthlyReview(
        month=month.strftime("%Y-%m"), dashboard=dash, alarms=alarms,
        kpis_month=_plain(now), kpis_prev_month=_plain(before),
        alerts=alerts, decisions=decisions(alerts), open_correction=open_correction,
    )


@dataclass
class BaseHealth:
    """Everything notebook 01 shows, computed once: :func:`base_health` builds it.

    Attributes
    ----------
    as_of : the analysis date (ISO).
    base : :func:`base_summary`.
    monthly : :func:`customer_kpis`.
    review : :func:`monthly_review`.
    email_available : whether the export has email events.
    segment_attribute : the customer attribute the email KPIs are split by (the first of
        :meth:`Dataset.segment_columns`), or None.
    by_attribute, by_engagement : :func:`segment_kpis` of the report month by
        ``segment_attribute`` and by engagement segment; None when there is nothing to split
        (no email events, no attribute, no complete month).
    segment_shares : :func:`email_segment_shares`, None without email events.
    transitions : :func:`month_transitions`, None without email events or complete month.
    """

    as_of: str
    base: dict[str, Any]
    monthly: pd.DataFrame
    review: MonthlyReview
    email_available: bool
    segment_attribute: str | None = None
    by_attribute: pd.DataFrame | None = None
    by_engagement: pd.DataFrame | None = None
    segment_shares: pd.DataFrame | None = None
    transitions: pd.DataFrame | None = None

    @property
    def month(self) -> str | None:
        """The report month ``YYYY-MM`` (None when no month is complete)."""
        return self.review.month

    def transition_matrix(self) -> pd.DataFrame | None:
        """:func:`analysis.metrics.signals.transition_matrix` of :attr:`transitions`, or None if empty."""
        from analysis.metrics import signals

        if self.transitions is None or self.transitions.empty:
            return None
        return signals.transition_matrix(self.transitions)

    def key_figures(self) -> dict[str, Any]:
        """The figures of the notebook's JSON sidecar (schema:
        :class:`analysis.reporting.summary.BaseHealthFigures`)."""
        r = self.review
        return {
            "customers": self.base["customers"], "active_customers": self.base["active_customers"],
            "tables": self.base["tables"], "quarantined_rows": self.base["quarantined_rows"],
            "observed_from": self.base["observed_from"], "observed_until": self.base["observed_until"],
            "month": r.month, "kpis_month": r.kpis_month, "kpis_prev_month": r.kpis_prev_month,
            "alerts": r.alerts, "decisions": r.decisions, "open_correction": r.open_correction,
            "email_available": self.email_available, "as_of": self.as_of,
        }


def base_health(ds: Dataset, as_of: str | pd.Timestamp, open_correction: bool = False,
                thresholds: KpiThresholds | None = None) -> BaseHealth:
    """The base-health review at ``as_of``: what is in the base, the KPIs of the report month
    with their alerts and decisions, the email KPIs per segment and the engagement segments.

    Each KPI table is computed once and shared (the dashboard, the alarms and the review
    read the same :func:`email_kpis` frame).
    """
    cut = check_as_of(as_of)
    has_email = ds.has("email_events")
    monthly = customer_kpis(ds, cut)
    email = email_kpis(ds, cut, "month", open_correction=open_correction, thresholds=thresholds) \
        if has_email else None
    review = monthly_review(ds, cut, open_correction, thresholds, customer=monthly, email=email)
    attrs = ds.segment_columns()
    attribute = attrs[0] if attrs else None
    split = has_email and review.month is not None
    return BaseHealth(
        as_of=cut.date().isoformat(), base=base_summary(ds, cut), monthly=monthly, review=review,
        email_available=has_email, segment_attribute=attribute,
        by_attribute=segment_kpis(ds, cut, attribute, open_correction, thresholds) if split and attribute else None,
        by_engagement=segment_kpis(ds, cut, "email_segment", open_correction, thresholds) if split else None,
        segment_shares=email_segment_shares(ds, cut) if has_email else None,
        transitions=month_transitions(ds, cut) if split else None,
    )


_INT_KPIS = ("customers", "active_customers", "new_customers", "lost_customers")


def _plain(values: pd.Series) -> dict[str, float | int | None]:
    """KPI -> value as plain Python numbers (counts as int, NaN as None)."""
    out: dict[str, float | int | None] = {}
    for k, v in values.items():
        if pd.isna(v):
            out[str(k)] = None
        elif k in _INT_KPIS:
            out[str(k)] = int(v)
        else:
            out[str(k)] = float(v)
    return out


# ----------------------------------------------------------------------------- engagement segments
def email_segment_shares(ds: Dataset, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """Emailed contacts per engagement segment at each month boundary before ``as_of``.

    Segments are those of :func:`analysis.metrics.signals.email_segments` (data strictly before each
    date). Dates are the first days of the complete months and the end of the last one.

    Returns
    -------
    DataFrame: ``as_of``, ``email_segment`` (string, in :data:`analysis.metrics.signals.EMAIL_SEGMENTS`
    order), ``customers`` and ``share`` (of the contacts emailed before ``as_of``: customers
    never emailed are left out). Empty without email events.
    """
    if isinstance(ds, Warehouse):  # the same table by DuckDB SQL over the validated copy
        return aggregates.email_segment_shares(ds, as_of)
    from analysis.metrics import signals

    cut = check_as_of(as_of)
    dates = month_boundaries(complete_months(ds, cut))
    cols = {"as_of": "datetime64[ns]", "email_segment": "string", "customers": "int64", "share": "float64"}
    if not ds.has("email_events") or len(dates) == 0:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in cols.items()})
    seg = signals.email_segments(ds.before(cut), dates)
    seg = seg.loc[seg["email_segment"].notna()]
    counts = seg.groupby(["as_of", "email_segment"], observed=False).size().rename("customers")
    counts = counts.reindex(pd.MultiIndex.from_product([dates, list(signals.EMAIL_SEGMENTS)],
                                                       names=["as_of", "email_segment"]), fill_value=0)
    out = counts.reset_index()
    tot = out.groupby("as_of")["customers"].transform("sum").astype("float64")
    out["share"] = out["customers"].astype("float64") / tot.where(tot > 0)
    out["email_segment"] = out["email_segment"].astype("string")
    out["customers"] = out["customers"].astype("int64")
    return out[list(cols)]


def month_transitions(ds: Dataset, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """Moves between engagement segments over the report month (:func:`report_month`).

    Returns
    -------
    :func:`analysis.metrics.signals.segment_transitions` between the first day of the report month
    and the first day of the next (``period_start``, ``period_end``, ``from_segment``,
    ``to_segment``, ``customers``); ``no_email`` marks customers not emailed yet. Empty
    without email events or complete month.
    """
    if isinstance(ds, Warehouse):  # the same table by DuckDB SQL over the validated copy
        return aggregates.month_transitions(ds, as_of)
    from analysis.metrics import signals

    cut = check_as_of(as_of)
    start = report_month(cut)
    end = start + pd.offsets.MonthBegin(1)
    cols = {"period_start": "datetime64[ns]", "period_end": "datetime64[ns]", "from_segment": "string",
            "to_segment": "string", "customers": "int64"}
    if not ds.has("email_events") or end > cut or len(complete_months(ds, cut)) == 0:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in cols.items()})
    seg = signals.email_segments(ds.before(cut), [start, end])
    return signals.segment_transitions(seg)


# ----------------------------------------------------------------------------- per segment
#: Email KPIs shown per segment (the others stay in the exported CSV).
SEGMENT_KPIS: tuple[str, ...] = ("deliverability", "hard_bounce_rate", "open_rate", "click_rate", "ctor",
                                 "unsubscribe_rate", "complaint_rate", "inactivity_rate_90")


def segment_kpis(ds: Dataset, as_of: str | pd.Timestamp, segment: str, open_correction: bool = False,
                 thresholds: KpiThresholds | None = None) -> pd.DataFrame:
    """Email KPIs of the report month per segment (:func:`email_kpis` for the numbers).

    Returns
    -------
    DataFrame: ``segment``, ``sent`` and the rates of :data:`SEGMENT_KPIS` that exist, one
    row per segment sent to in the report month; engagement segments in
    :data:`analysis.metrics.signals.EMAIL_SEGMENTS` order, ``no_email`` last.
    """
    from analysis.metrics.signals import EMAIL_SEGMENTS, NO_SEGMENT

    cut = check_as_of(as_of)
    table = email_kpis(ds, cut, "month", segment=segment, open_correction=open_correction, thresholds=thresholds)
    table = table.loc[(table["month"] == report_month(cut)) & (table["sent"] > 0)]
    if segment == "email_segment":
        rank = {s: i for i, s in enumerate((*EMAIL_SEGMENTS, NO_SEGMENT))}
        table = table.assign(_r=table["segment"].map(rank).fillna(len(rank))).sort_values("_r", kind="stable")
    cols = ["segment", "sent", *[k for k in SEGMENT_KPIS if k in table.columns]]
    return table[cols].reset_index(drop=True)
