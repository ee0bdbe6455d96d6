"""Aggregates across customers as DuckDB SQL over a :class:`~analysis.data.warehouse.Warehouse`.

The SQL twins of the pandas functions of :mod:`analysis.metrics.kpis` and
:mod:`analysis.metrics.cohorts` whose result is small (one row per month, campaign, segment
or cohort cell) but whose input is every event: the email KPIs, the customer KPIs, the base
summary, the survival inputs (one row per customer, built by SQL) and the numerators of the
revenue and activity retention matrices. Each returns the same frame, with the same columns
and types, as its pandas reference (tests compare them to 1e-9); the pandas versions stay
the reference of every definition, which the module docstrings of ``kpis`` and ``cohorts``
give. Nothing on or after ``as_of`` is read: every query filters its events with
``time < as_of`` and drops the customers signed up on or after it.

Not in SQL (per customer, computed on partitions or in pandas): the email engagement
segments of :func:`analysis.metrics.signals.email_segments` (``segment="email_segment"``
is refused here) and the Kaplan-Meier fits (lifelines, on the one-row-per-customer table).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.data.config import KpiThresholds
from analysis.data.warehouse import Warehouse, interactions_sql
from analysis.errors import ConfigError, DataError
from analysis.metrics.lifecycle import as_dates, check_as_of, month_boundaries, months_between

__all__ = [
    "complete_months",
    "status_sql",
    "status_at",
    "lost_clients",
    "EMAIL_COUNTS",
    "email_counts",
    "customer_kpis",
    "base_summary",
    "customer_status",
    "event_retention",
    "has_amounts_before",
    "email_segments_sql",
    "email_segments",
    "email_segment_shares",
    "month_transitions",
]

#: Count columns behind the email rates: output name -> email event (one (customer, campaign)
#: pair counts once per kind). The rates built on them are defined once, in
#: :func:`analysis.metrics.kpis.email_kpis_from_counts`, for every engine.
EMAIL_COUNTS: dict[str, str] = {
    "sent": "sent", "delivered": "delivered", "openers": "open", "clickers": "click", "repliers": "reply",
    "hard_bounces": "bounce_hard", "soft_bounces": "bounce_soft", "unsubscribes": "unsubscribe",
    "complaints": "spam_complaint",
}
_CUSTOMER_KPIS = ("customers", "active_customers", "new_customers", "lost_customers", "churn_rate", "revenue")
UNSEGMENTED = "(none)"
_DAY_US = 86_400_000_000


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _days(later: str, earlier: str) -> str:
    """SQL: whole days from ``earlier`` to ``later`` (floor, as pandas ``Timedelta.days``)."""
    return f"CAST(floor((epoch_us({later}) - epoch_us({earlier})) / {_DAY_US}) AS BIGINT)"


def _register(wh: Warehouse, name: str, frame: pd.DataFrame) -> str:
    wh.con.register(name, frame)
    return name


# ----------------------------------------------------------------------------- periods
def complete_months(wh: Warehouse, as_of: str | pd.Timestamp) -> pd.DatetimeIndex:
    """As :func:`analysis.metrics.kpis.complete_months` (first signup in SQL when needed)."""
    cut = check_as_of(as_of)
    last = (cut.to_period("M").to_timestamp() - pd.offsets.MonthBegin(1)).normalize()
    start = wh.observed_from
    if start is None or pd.isna(start):
        start = wh.query("SELECT min(signup_date) AS s FROM customers")["s"].iloc[0]
    return months_between(start, last)


# ----------------------------------------------------------------------------- status
def status_sql(wh: Warehouse, dates_table: str, cut: pd.Timestamp, horizon_days: int | None = None) -> str:
    """SQL of :func:`analysis.metrics.lifecycle.status_at` on the data before ``cut``.

    ``dates_table`` names a relation with one column ``as_of`` (every date on or before
    ``cut``). Columns: ``as_of``, ``customer_id``, ``signup_date``, ``last_interaction``,
    ``days_since_last``, ``tenure_days``, ``churn_date`` (NULL if not lost), ``lost``.
    """
    horizon = int(horizon_days or wh.config.thresholds.churn_horizon_days)
    c = f"TIMESTAMP '{cut.isoformat(sep=' ')}'"
    inter = interactions_sql(wh)
    ref = "coalesce(g.last_interaction, g.signup_date)"
    if wh.config.contractual:
        churn = "CASE WHEN g.churn_date < g.as_of THEN g.churn_date END"
    else:
        churn = (f"CASE WHEN {ref} + INTERVAL {horizon} DAY < g.as_of "
                 f"THEN {ref} + INTERVAL {horizon} DAY END")
    return f"""
        WITH cust AS (
            SELECT customer_id, CAST(signup_date AS TIMESTAMP) AS signup_date,
                   CASE WHEN churn_date < {c} THEN CAST(churn_date AS TIMESTAMP) END AS churn_date
            FROM customers WHERE signup_date < {c}),
        grid AS (
            SELECT CAST(d.as_of AS TIMESTAMP) AS as_of, cust.*
            FROM cust CROSS JOIN {dates_table} d WHERE cust.signup_date < d.as_of),
        inter AS (SELECT customer_id, CAST(time AS TIMESTAMP) AS t FROM ({inter}) WHERE time < {c}),
        g AS (
            SELECT grid.*, inter.t AS last_interaction
            FROM grid ASOF LEFT JOIN inter
              ON grid.customer_id = inter.customer_id AND grid.as_of > inter.t)
        SELECT g.as_of, g.customer_id, g.signup_date, g.last_interaction,
               {_days('g.as_of', ref)} AS days_since_last,
               {_days('g.as_of', 'g.signup_date')} AS tenure_days,
               {churn} AS churn_date,
               ({churn}) IS NOT NULL AS lost
        FROM g"""


def status_at(wh: Warehouse, dates, horizon_days: int | None = None,
              as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """:func:`analysis.metrics.lifecycle.status_at` in SQL (one row per customer and date).

    ``as_of`` (default: the last date + 1 day) is the first day not read. Sorted by as_of
    then customer_id, like the pandas version.
    """
    idx = as_dates(dates)
    cut = check_as_of(as_of) if as_of is not None else idx.max() + pd.Timedelta(days=1)
    name = _register(wh, "_status_dates", pd.DataFrame({"as_of": idx}))
    out = wh.query(status_sql(wh, name, cut, horizon_days) + " ORDER BY as_of, customer_id")
    out["customer_id"] = out["customer_id"].astype("string")
    for col in ("as_of", "signup_date", "last_interaction", "churn_date"):
        out[col] = out[col].astype("datetime64[ns]")
    out["lost"] = out["lost"].astype(bool)
    return out


def lost_clients(wh: Warehouse, as_of: str | pd.Timestamp, n: int | None = None,
                 horizon_days: int | None = None) -> pd.DataFrame:
    """:func:`analysis.metrics.lifecycle.lost_clients` in SQL: the rows of :func:`status_at` at
    ``as_of`` of the clients lost before it, most recent churn first (the last ``n`` if given)."""
    cut = check_as_of(as_of)
    name = _register(wh, "_lost_dates", pd.DataFrame({"as_of": [cut]}))
    limit = f" LIMIT {int(n)}" if n else ""
    out = wh.query(f"SELECT * FROM ({status_sql(wh, name, cut, horizon_days)}) WHERE lost "
                   f"ORDER BY churn_date DESC, customer_id{limit}")
    out["customer_id"] = out["customer_id"].astype("string")
    for col in ("as_of", "signup_date", "last_interaction", "churn_date"):
        out[col] = out[col].astype("datetime64[ns]")
    out["lost"] = out["lost"].astype(bool)
    return out


# ----------------------------------------------------------------------------- email segments
def email_segments_sql(wh: Warehouse, dates_table: str, cut: pd.Timestamp) -> str:
    """SQL of :func:`analysis.metrics.signals.email_segments` on the data before ``cut``.

    ``dates_table`` names a relation with one column ``as_of`` (dates on or before ``cut``).
    Columns ``as_of`` (TIMESTAMP), ``customer_id``, ``email_segment`` (one of
    :data:`analysis.metrics.signals.EMAIL_SEGMENTS`, NULL when never emailed before the date),
    one row per customer signed up before the date. Days are whole calendar days, as there.
    """
    from analysis.metrics.signals import EMAIL_SEGMENTS

    p = wh.config.signal_params.resolved(wh)
    a, i = int(p.segment_active_days), int(p.segment_inactive_days)
    c = f"TIMESTAMP '{cut.isoformat(sep=' ')}'"
    e0, e1, e2, e3 = (f"'{s}'" for s in EMAIL_SEGMENTS)
    return f"""
        WITH grid AS (
            SELECT CAST(d.as_of AS TIMESTAMP) AS as_of, CAST(d.as_of AS DATE) AS day, cu.customer_id
            FROM customers cu CROSS JOIN {dates_table} d
            WHERE cu.signup_date < {c} AND cu.signup_date < d.as_of),
        ev AS (SELECT customer_id, CAST(event_time AS DATE) AS day, CAST(event AS VARCHAR) AS event
               FROM email_events WHERE event_time < {c}),
        firsts AS (SELECT customer_id, min(day) AS first_day FROM ev GROUP BY customer_id),
        opens AS (SELECT DISTINCT customer_id, day FROM ev WHERE event IN ('open', 'click')),
        clicks AS (SELECT DISTINCT customer_id, day FROM ev WHERE event = 'click'),
        g AS (
            SELECT grid.as_of, grid.day, grid.customer_id, f.first_day, o.day AS last_open, k.day AS last_click
            FROM grid
            LEFT JOIN firsts f ON f.customer_id = grid.customer_id
            ASOF LEFT JOIN opens o ON o.customer_id = grid.customer_id AND grid.day > o.day
            ASOF LEFT JOIN clicks k ON k.customer_id = grid.customer_id AND grid.day > k.day),
        h AS (SELECT *, day - coalesce(last_open, first_day) AS since FROM g)
        SELECT as_of, customer_id,
               CASE WHEN first_day IS NULL OR first_day >= day THEN NULL
                    WHEN last_open IS NOT NULL AND since < {a} AND last_click >= day - {a} THEN {e0}
                    WHEN last_open IS NOT NULL AND since < {a} THEN {e1}
                    WHEN since < {i} THEN {e2}
                    ELSE {e3} END AS email_segment
        FROM h"""


def email_segments(wh: Warehouse, dates, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """:func:`analysis.metrics.signals.email_segments` by SQL: ``as_of``, ``customer_id``,
    ``email_segment`` (ordered categorical, NA if never emailed), sorted by as_of then
    customer_id. ``as_of`` (default: the last date + 1 day) is the first day not read."""
    from analysis.metrics.signals import SEGMENT_DTYPE

    idx = as_dates(dates)
    cut = check_as_of(as_of) if as_of is not None else idx.max() + pd.Timedelta(days=1)
    name = _register(wh, "_segment_dates", pd.DataFrame({"as_of": idx}))
    if not wh.has("email_events"):
        out = wh.query(f"SELECT CAST(d.as_of AS TIMESTAMP) AS as_of, cu.customer_id, NULL AS email_segment "
                       f"FROM customers cu CROSS JOIN {name} d WHERE cu.signup_date < d.as_of "
                       f"ORDER BY as_of, customer_id")
        out.attrs["unavailable"] = ["email"]
    else:
        out = wh.query(email_segments_sql(wh, name, cut) + " ORDER BY as_of, customer_id")
    out["as_of"] = out["as_of"].astype("datetime64[ns]")
    out["customer_id"] = out["customer_id"].astype("string")
    out["email_segment"] = pd.Categorical(out["email_segment"].astype(object), dtype=SEGMENT_DTYPE)
    return out


def email_segment_shares(wh: Warehouse, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """:func:`analysis.metrics.kpis.email_segment_shares` by SQL (counts per date and segment)."""
    from analysis.metrics.signals import EMAIL_SEGMENTS

    cut = check_as_of(as_of)
    dates = month_boundaries(complete_months(wh, cut))
    cols = {"as_of": "datetime64[ns]", "email_segment": "string", "customers": "int64", "share": "float64"}
    if not wh.has("email_events") or len(dates) == 0:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in cols.items()})
    name = _register(wh, "_share_dates", pd.DataFrame({"as_of": dates}))
    counts = wh.query(f"SELECT as_of, email_segment, count(*) AS customers FROM ({email_segments_sql(wh, name, cut)}) "
                      f"WHERE email_segment IS NOT NULL GROUP BY 1, 2")
    counts["as_of"] = counts["as_of"].astype("datetime64[ns]")
    full = pd.MultiIndex.from_product([dates, list(EMAIL_SEGMENTS)], names=["as_of", "email_segment"])
    out = counts.set_index(["as_of", "email_segment"])["customers"].reindex(full, fill_value=0).reset_index()
    tot = out.groupby("as_of")["customers"].transform("sum").astype("float64")
    out["share"] = out["customers"].astype("float64") / tot.where(tot > 0)
    out["email_segment"] = out["email_segment"].astype("string")
    out["customers"] = out["customers"].astype("int64")
    return out[list(cols)]


def month_transitions(wh: Warehouse, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """:func:`analysis.metrics.kpis.month_transitions` by SQL (customers per pair of segments)."""
    from analysis.metrics.signals import EMAIL_SEGMENTS, NO_SEGMENT

    cut = check_as_of(as_of)
    start = (cut.to_period("M").to_timestamp() - pd.offsets.MonthBegin(1)).normalize()
    end = start + pd.offsets.MonthBegin(1)
    cols = {"period_start": "datetime64[ns]", "period_end": "datetime64[ns]", "from_segment": "string",
            "to_segment": "string", "customers": "int64"}
    if not wh.has("email_events") or end > cut or len(complete_months(wh, cut)) == 0:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in cols.items()})
    name = _register(wh, "_move_dates", pd.DataFrame({"as_of": [start, end]}))
    ts = f"TIMESTAMP '{start.isoformat(sep=' ')}'"
    te = f"TIMESTAMP '{end.isoformat(sep=' ')}'"
    out = wh.query(f"""
        WITH s AS ({email_segments_sql(wh, name, cut)}),
        cur AS (SELECT customer_id, coalesce(email_segment, '{NO_SEGMENT}') AS to_segment FROM s WHERE as_of = {te}),
        prev AS (SELECT customer_id, coalesce(email_segment, '{NO_SEGMENT}') AS from_segment FROM s WHERE as_of = {ts})
        SELECT coalesce(prev.from_segment, '{NO_SEGMENT}') AS from_segment, cur.to_segment, count(*) AS customers
        FROM cur LEFT JOIN prev USING (customer_id) GROUP BY 1, 2""")
    rank = {s: i for i, s in enumerate((*EMAIL_SEGMENTS, NO_SEGMENT))}
    out = out.assign(_f=out["from_segment"].map(rank), _t=out["to_segment"].map(rank)) \
        .sort_values(["_f", "_t"], kind="stable").drop(columns=["_f", "_t"])
    out.insert(0, "period_end", end)
    out.insert(0, "period_start", start)
    out = out.astype(cols)
    return out[list(cols)].reset_index(drop=True)


# ----------------------------------------------------------------------------- email KPIs
def _email_events_sql(wh: Warehouse, cut: pd.Timestamp, open_correction: bool, seconds: float) -> str:
    """SQL of the email events before ``cut`` (machine opens dropped when asked)."""
    c = f"TIMESTAMP '{cut.isoformat(sep=' ')}'"
    raw = (f"SELECT customer_id, campaign_id, CAST(event_time AS TIMESTAMP) AS event_time, "
           f"CAST(event AS VARCHAR) AS event FROM email_events WHERE event_time < {c}")
    if not open_correction:
        return raw
    timed = wh.query(f"SELECT bool_or(CAST(event_time AS TIMESTAMP) <> date_trunc('day', event_time)) AS t "
                     f"FROM email_events WHERE event_time < {c}")["t"].iloc[0]
    if timed is None or pd.isna(timed) or not bool(timed):
        raise DataError(
            "email_events.event_time holds dates only (no time of day), so machine opens cannot "
            "be told from human ones; run with open_correction=False or export event times "
            "with hours, minutes and seconds."
        )
    return f"""
        WITH raw AS ({raw}),
        pb AS (
            SELECT campaign_id, customer_id,
                   coalesce(min(event_time) FILTER (WHERE event = 'delivered'),
                            min(event_time) FILTER (WHERE event = 'sent')) AS base_time,
                   bool_or(event = 'click') AS has_click
            FROM raw GROUP BY campaign_id, customer_id)
        SELECT raw.customer_id, raw.campaign_id, raw.event_time, raw.event
        FROM raw JOIN pb ON raw.campaign_id = pb.campaign_id AND raw.customer_id = pb.customer_id
        WHERE NOT coalesce(raw.event = 'open' AND NOT pb.has_click
                           AND (epoch_us(raw.event_time) - epoch_us(pb.base_time)) / 1e6
                               BETWEEN 0 AND {float(seconds)!r}, false)"""


def _segment_join(wh: Warehouse, segment: str | pd.DataFrame | None, by: str,
                  cut: pd.Timestamp) -> tuple[str, str] | None:
    """(extra CTEs, the SELECT of ``ps``) attaching a ``segment`` to the pairs ``p``, or None.

    As :func:`analysis.metrics.kpis._segment_frame` and ``_attach_segment``: a customer
    attribute, ``"email_segment"`` (the engagement segment at the start of the month or on the
    campaign's send day, ``no_email`` when none) or a table (``customer_id``, ``segment``,
    optionally ``as_of``); customers without a segment get ``"(none)"`` (or ``attrs["fill"]``).
    """
    from analysis.metrics.signals import NO_SEGMENT

    if segment is None:
        return None
    when = "p.month" if by == "month" else "date_trunc('day', p.campaign_time)"
    if isinstance(segment, pd.DataFrame):
        if "customer_id" not in segment.columns or "segment" not in segment.columns:
            raise ConfigError("a segment table needs the columns customer_id and segment "
                              "(and as_of when segments change over time).")
        fill = str(segment.attrs.get("fill", UNSEGMENTED)).replace("'", "''")
        dated = "as_of" in segment.columns
        cols = ["as_of", "customer_id", "segment"] if dated else ["customer_id", "segment"]
        frame = segment[cols].astype({"customer_id": "string", "segment": "string"})
        _register(wh, "_segment_table", frame)
        on = "s.customer_id = p.customer_id" + (f" AND CAST(s.as_of AS TIMESTAMP) = {when}" if dated else "")
        return "", (f"SELECT p.*, coalesce(s.segment, '{fill}') AS segment "
                    f"FROM p LEFT JOIN _segment_table s ON {on}")
    if segment == "email_segment":
        days = "SELECT DISTINCT month AS as_of FROM p" if by == "month" else \
            "SELECT DISTINCT date_trunc('day', campaign_time) AS as_of FROM p"
        if not wh.has("email_events"):
            return "", f"SELECT p.*, '{NO_SEGMENT}' AS segment FROM p"
        ctes = f"seg_days AS ({days}), segs AS ({email_segments_sql(wh, 'seg_days', cut)}),"
        return ctes, (f"SELECT p.*, coalesce(s.email_segment, '{NO_SEGMENT}') AS segment FROM p "
                      f"LEFT JOIN segs s ON s.customer_id = p.customer_id AND s.as_of = {when}")
    if segment not in wh.columns("customers"):
        raise ConfigError(
            f"segment '{segment}' is not a column of the customers table; expected one of "
            f"{', '.join(wh.segment_columns()) or '(no segment column)'} or 'email_segment'."
        )
    if segment in wh.config.personal_columns or segment in ("customer_id", "signup_date", "churn_date"):
        raise ConfigError(f"'{segment}' cannot be used as a segment (personal or key column).")
    return "", (f"SELECT p.*, coalesce(CAST(cu.{_q(segment)} AS VARCHAR), '{UNSEGMENTED}') AS segment "
                f"FROM p LEFT JOIN customers cu ON cu.customer_id = p.customer_id")


def email_counts(wh: Warehouse, as_of: str | pd.Timestamp, by: str = "month", segment: str | None = None,
                 open_correction: bool = False, thresholds: KpiThresholds | None = None
                 ) -> tuple[pd.DataFrame, list[str], pd.DatetimeIndex | None]:
    """The additive counts behind :func:`analysis.metrics.kpis.email_kpis`, in SQL: the same
    arguments (``segment`` a column of ``customers``, ``"email_segment"``, a table, or None)
    and the same counts as :func:`analysis.metrics.kpis.email_counts`, which
    :func:`~analysis.metrics.kpis.email_kpis_from_counts` turns into the KPI table. Every count
    is a ``GROUP BY`` over the email events; the last open or click before each reference
    date is an ``ASOF JOIN``.

    Returns
    -------
    (counts, keys, months) : one row per period (and segment) that has a send, with the
        ``keys`` as columns, the :data:`EMAIL_COUNTS`, ``contacts`` and ``inactive_<X>`` per
        inactivity level; the keys; the complete months kept (``by="month"``) or None.

    Raises
    ------
    ConfigError
        On an unknown ``by``, or a segment that is not a customer attribute.
    DataError
        If ``open_correction`` is on and the events carry no time of day.
    """
    if by not in ("month", "campaign"):
        raise ConfigError(f"by is '{by}'; expected 'month' or 'campaign'.")
    cut = check_as_of(as_of)
    th = thresholds or wh.config.kpi_thresholds
    levels = wh.config.thresholds.levels()
    seg = _segment_join(wh, segment, by, cut)
    months = complete_months(wh, cut) if by == "month" else None
    keys = ["month"] if by == "month" else ["campaign_id", "campaign_time"]
    gkeys = [*keys, "segment"] if seg else keys
    if not wh.has("email_events"):
        return _no_email(gkeys, levels), gkeys, months
    ev = _email_events_sql(wh, cut, open_correction, th.machine_open_seconds)
    flags = ",\n".join(f"bool_or(event = '{e}') AS {n}" for n, e in EMAIL_COUNTS.items())
    seg_ctes, seg_select = seg if seg else ("", "SELECT * FROM p")
    if by == "month":
        mlist = _register(wh, "_kpi_months", pd.DataFrame({"month": months}))
        period = ("date_trunc('month', camp.campaign_time) AS month, "
                  "date_trunc('month', camp.campaign_time) + INTERVAL 1 MONTH AS ref")
        keep = f"WHERE date_trunc('month', camp.campaign_time) IN (SELECT CAST(month AS TIMESTAMP) FROM {mlist})"
    else:
        period = "camp.campaign_time, camp.campaign_time AS ref"
        keep = ""
    gk = ", ".join(gkeys)
    level_cols = ",\n".join(
        f"count(*) FILTER (WHERE f.first_sent <= per.ref - INTERVAL {x} DAY AND "
        f"(e.t IS NULL OR e.t < per.ref - INTERVAL {x} DAY)) AS inactive_{x}" for x in levels)
    sums = ", ".join(f"CAST(sum(CAST({n} AS INTEGER)) AS BIGINT) AS {n}" for n in EMAIL_COUNTS)
    sql = f"""
        WITH ev AS ({ev}),
        camp AS (
            SELECT campaign_id, coalesce(min(event_time) FILTER (WHERE event = 'sent'), min(event_time))
                   AS campaign_time
            FROM ev GROUP BY campaign_id),
        p0 AS (SELECT campaign_id, customer_id, {flags} FROM ev GROUP BY campaign_id, customer_id),
        p AS (SELECT p0.*, {period} FROM p0 JOIN camp ON camp.campaign_id = p0.campaign_id {keep}),
        {seg_ctes}
        ps AS ({seg_select}),
        counts AS (SELECT {gk}, {sums} FROM ps GROUP BY {gk}),
        per AS (SELECT {gk}, customer_id, min(ref) AS ref FROM ps WHERE sent GROUP BY {gk}, customer_id),
        eng AS (SELECT customer_id, event_time AS t FROM ev WHERE event IN ('open', 'click')),
        f AS (SELECT customer_id, min(event_time) AS first_sent FROM ev WHERE event = 'sent' GROUP BY customer_id),
        inact AS (
            SELECT {', '.join('per.' + k for k in gkeys)}, count(*) AS contacts,
                   {level_cols}
            FROM per ASOF LEFT JOIN eng e ON per.customer_id = e.customer_id AND per.ref > e.t
                     LEFT JOIN f ON f.customer_id = per.customer_id
            GROUP BY {', '.join('per.' + k for k in gkeys)})
        SELECT counts.*, inact.* EXCLUDE ({gk})
        FROM counts LEFT JOIN inact USING ({gk})"""
    out = wh.query(sql)
    if by == "month":
        out["month"] = out["month"].astype("datetime64[ns]")
    else:
        out["campaign_id"] = out["campaign_id"].astype("string")
        out["campaign_time"] = out["campaign_time"].astype("datetime64[ns]")
    if seg:
        out["segment"] = out["segment"].astype("string")
    fill = [*EMAIL_COUNTS, "contacts", *[f"inactive_{x}" for x in levels]]
    out[fill] = out[fill].fillna(0).astype("int64")
    return out[[*gkeys, *fill]], gkeys, months


def _no_email(keys: list[str], levels: tuple[int, ...]) -> pd.DataFrame:
    """The counts of :func:`email_counts` without an email table: no row, typed columns."""
    types = {"month": "datetime64[ns]", "campaign_id": "string", "campaign_time": "datetime64[ns]",
             "segment": "string"}
    ints = [*EMAIL_COUNTS, "contacts", *[f"inactive_{x}" for x in levels]]
    return pd.DataFrame({**{k: pd.Series(dtype=types[k]) for k in keys},
                         **{c: pd.Series(dtype="int64") for c in ints}})


# ----------------------------------------------------------------------------- customer KPIs
def customer_kpis(wh: Warehouse, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """:func:`analysis.metrics.kpis.customer_kpis` in SQL: the status of every customer at
    every month boundary is an ``ASOF JOIN`` inside DuckDB; only one row per month leaves it."""
    cut = check_as_of(as_of)
    months = complete_months(wh, cut)
    levels = (0, *wh.config.thresholds.levels())
    share_cols = [f"level_{lv}_share" for lv in levels]
    if len(months) == 0:
        cols = ["month", *_CUSTOMER_KPIS, *share_cols]
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols}).assign(
            month=pd.Series(dtype="datetime64[ns]"))
    ends = months + pd.offsets.MonthBegin(1)
    dates = _register(wh, "_kpi_dates", pd.DataFrame({"as_of": months.union(ends)}))
    c = f"TIMESTAMP '{cut.isoformat(sep=' ')}'"
    level = "CASE " + " ".join(f"WHEN s.days_since_last >= {lv} THEN {lv}" for lv in reversed(levels)) + " END"
    level_counts = ", ".join(f"count(*) FILTER (WHERE NOT s.lost AND {level} = {lv}) AS n_level_{lv}"
                             for lv in levels)
    sql = f"""
        WITH s AS ({status_sql(wh, dates, cut)}),
        e AS (SELECT s.*, s.as_of - INTERVAL 1 MONTH AS month FROM s
              WHERE s.as_of IN (SELECT CAST(month AS TIMESTAMP) + INTERVAL 1 MONTH FROM _kpi_months_c)),
        st AS (SELECT as_of AS month, customer_id FROM s WHERE NOT lost
               AND as_of IN (SELECT CAST(month AS TIMESTAMP) FROM _kpi_months_c))
        SELECT e.month,
               count(*) AS customers,
               count(*) FILTER (WHERE NOT e.lost) AS active_customers,
               count(*) FILTER (WHERE e.lost AND e.churn_date >= e.month) AS lost_customers,
               count(st.customer_id) AS active_at_start,
               count(st.customer_id) FILTER (WHERE e.lost) AS churned_from_start,
               {level_counts.replace('s.', 'e.')}
        FROM e LEFT JOIN st ON st.month = e.month AND st.customer_id = e.customer_id
        GROUP BY e.month"""
    _register(wh, "_kpi_months_c", pd.DataFrame({"month": months}))
    agg = wh.query(sql)
    agg["month"] = agg["month"].astype("datetime64[ns]")
    out = agg.set_index("month").reindex(months, fill_value=0)
    out.index.name = "month"
    new = wh.query(f"SELECT date_trunc('month', signup_date) AS month, count(*) AS n FROM customers "
                   f"WHERE signup_date < {c} GROUP BY 1")
    new["month"] = new["month"].astype("datetime64[ns]")
    out["new_customers"] = new.set_index("month")["n"].reindex(months, fill_value=0).to_numpy()
    den = out["active_at_start"].astype("float64")
    out["churn_rate"] = out["churned_from_start"].astype("float64") / den.where(den > 0)
    amounts = wh.has_amounts and int(wh.query(
        f"SELECT count(*) AS n FROM orders WHERE order_date < {c}")["n"].iloc[0]) > 0
    if amounts:
        rev = wh.query(f"SELECT date_trunc('month', order_date) AS month, fsum(amount) AS revenue FROM orders "
                       f"WHERE order_date < {c} GROUP BY 1")
        rev["month"] = rev["month"].astype("datetime64[ns]")
        out["revenue"] = rev.set_index("month")["revenue"].fillna(0.0).reindex(months, fill_value=0.0) \
            .astype("float64").to_numpy()
    else:
        out["revenue"] = np.nan
    tot = sum(out[f"n_level_{lv}"] for lv in levels).astype("float64")
    for lv in levels:
        out[f"level_{lv}_share"] = (out[f"n_level_{lv}"].astype("float64") / tot.where(tot > 0)).to_numpy()
    out = out.reset_index()
    for col in ("customers", "active_customers", "new_customers", "lost_customers"):
        out[col] = out[col].astype("int64")
    return out[["month", *_CUSTOMER_KPIS, *share_cols]]


def base_summary(wh: Warehouse, as_of: str | pd.Timestamp, quarantined_rows: int = 0) -> dict[str, Any]:
    """:func:`analysis.metrics.kpis.base_summary` in SQL (``quarantined_rows`` from the
    validation report, which the warehouse does not hold)."""
    cut = check_as_of(as_of)
    dates = _register(wh, "_base_dates", pd.DataFrame({"as_of": [cut]}))
    row = wh.query(f"SELECT count(*) AS n, count(*) FILTER (WHERE NOT lost) AS active "
                   f"FROM ({status_sql(wh, dates, cut)})").iloc[0]

    def iso(value: pd.Timestamp | None) -> str | None:
        return None if value is None else pd.Timestamp(value).date().isoformat()

    return {
        "customers": int(row["n"]), "active_customers": int(row["active"]),
        "tables": {name: wh.rows(name) for name in wh.tables},
        "quarantined_rows": int(quarantined_rows),
        "observed_from": iso(wh.observed_from), "observed_until": iso(wh.observed_until),
    }


# ----------------------------------------------------------------------------- cohorts
def has_amounts_before(wh: Warehouse, as_of: str | pd.Timestamp) -> bool:
    """True if orders before ``as_of`` exist and carry amounts (``Dataset.before(as_of).has_amounts``)."""
    if not wh.has_amounts:
        return False
    cut = check_as_of(as_of)
    return int(wh.query(f"SELECT count(*) AS n FROM orders WHERE order_date < TIMESTAMP '{cut.isoformat(sep=' ')}'")
               ["n"].iloc[0]) > 0


def customer_status(wh: Warehouse, as_of: str | pd.Timestamp, end: pd.Timestamp,
                    horizon_days: int | None = None, attributes: list[str] | None = None) -> pd.DataFrame:
    """One row per customer signed up before ``as_of``: its status at ``end`` (the end of
    observation, on or before ``as_of``) and the customer ``attributes``, built by SQL.

    Columns ``customer_id``, ``signup_date``, ``churn_date`` (NULL if not lost by ``end``)
    then ``attributes``; sorted by customer_id. The input of
    :func:`analysis.metrics.cohorts.customer_lifetimes`.
    """
    cut = check_as_of(as_of)
    dates = _register(wh, "_life_dates", pd.DataFrame({"as_of": [pd.Timestamp(end)]}))
    attrs = list(attributes or [])
    sel = "".join(f", cu.{_q(a)}" for a in attrs)
    out = wh.query(f"SELECT s.customer_id, s.signup_date, s.churn_date{sel} "
                   f"FROM ({status_sql(wh, dates, cut, horizon_days)}) s "
                   f"JOIN customers cu ON cu.customer_id = s.customer_id ORDER BY s.customer_id")
    out["customer_id"] = out["customer_id"].astype("string")
    for col in ("signup_date", "churn_date"):
        out[col] = out[col].astype("datetime64[ns]")
    for a in attrs:
        if out[a].dtype == object:
            out[a] = out[a].astype("string")
    return out


def event_retention(wh: Warehouse, as_of: str | pd.Timestamp, life: pd.DataFrame, metric: str,
                    top: int) -> pd.DataFrame:
    """Numerators of the revenue or activity retention matrix, by SQL over the events.

    Parameters
    ----------
    life : ``customer_id``, ``cohort``, ``signup_month`` (month ordinal) of the customers
        followed (one row per customer).
    metric : ``"revenue"`` (net amount per cohort and age) or ``"activity"`` (distinct
        customers with a significant interaction per cohort and age).
    top : last age kept.

    Returns
    -------
    DataFrame ``cohort``, ``age`` (int64), ``numerator`` (float64) for the cells with events.
    """
    cut = check_as_of(as_of)
    c = f"TIMESTAMP '{cut.isoformat(sep=' ')}'"
    _register(wh, "_life", life[["customer_id", "cohort", "signup_month"]]
              .astype({"customer_id": "string", "signup_month": "int64"}))
    if metric == "revenue":
        ev = f"SELECT customer_id, order_date AS time, amount AS x FROM orders WHERE order_date < {c} AND amount IS NOT NULL"
        agg = "fsum(x)"
    elif metric == "activity":
        ev = f"SELECT customer_id, time, 1.0 AS x FROM ({interactions_sql(wh)}) WHERE time < {c}"
        agg = "count(DISTINCT customer_id)"
    else:
        raise ConfigError(f"metric is '{metric}'; expected revenue or activity.")
    out = wh.query(f"""
        WITH ev AS ({ev}),
        j AS (SELECT l.cohort, l.customer_id, ev.x,
                     year(ev.time) * 12 + month(ev.time) - 1 - l.signup_month AS age
              FROM ev JOIN _life l ON l.customer_id = ev.customer_id)
        SELECT cohort, age, CAST({agg} AS DOUBLE) AS numerator FROM j
        WHERE age BETWEEN 0 AND {int(top)} GROUP BY cohort, age""")
    out["cohort"] = out["cohort"].astype("datetime64[ns]")
    out["age"] = out["age"].astype("int64")
    return out
