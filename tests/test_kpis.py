"""Email and customer KPIs: values worked out by hand on a tiny base, alerts, alarms, no look-ahead.

The fixture (every figure below is counted from it by hand):

* customers c1-c4 sign up on 2026-01-01, c5 on 2026-03-05; c4's contract ends 2026-03-15;
  sectors: c1, c2 retail; c3, c4 industry; c5 none.
* orders: c1 100 on 2026-01-10 and 50 on 2026-03-05; c2 a refund of -20 on 2026-03-12.
* campaign Z, 2026-01-05: sent and delivered to c3, c4; c4 opens it on 2026-02-15.
* campaign A, 2026-03-10 09:00: sent to c1-c4; delivered to c1-c3; c4 hard-bounces;
  c1 opens twice (5 s and 1 h after) and clicks; c2 opens 2 s after delivery (no click)
  and replies; c3 unsubscribes.
* campaign B, 2026-03-20 09:00: sent to c1-c3; delivered to c1, c2; c3 soft-bounces;
  c2 opens and clicks; c1 complains.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.errors import ConfigError, DataError
from analysis.metrics import kpis
from analysis.reporting import narrative, tables
from analysis.reporting.i18n import fmt_kpi, t


def _frames():
    customers = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4", "c5"],
        "signup_date": ["2026-01-01", "2026-01-01", "2026-01-01", "2026-01-01", "2026-03-05"],
        "churn_date": [None, None, None, "2026-03-15", None],
        "sector": ["retail", "retail", "industry", "industry", None],
    })
    orders = pd.DataFrame({"customer_id": ["c1", "c1", "c2"],
                           "order_date": ["2026-01-10", "2026-03-05", "2026-03-12"],
                           "amount": [100.0, 50.0, -20.0]})
    ev = [
        ("c3", "Z", "2026-01-05 08:00:00", "sent"), ("c4", "Z", "2026-01-05 08:00:00", "sent"),
        ("c3", "Z", "2026-01-05 08:00:01", "delivered"), ("c4", "Z", "2026-01-05 08:00:01", "delivered"),
        ("c4", "Z", "2026-02-15 18:00:00", "open"),
        *[(c, "A", "2026-03-10 09:00:00", "sent") for c in ("c1", "c2", "c3", "c4")],
        *[(c, "A", "2026-03-10 09:00:01", "delivered") for c in ("c1", "c2", "c3")],
        ("c4", "A", "2026-03-10 09:00:02", "bounce_hard"),
        ("c1", "A", "2026-03-10 09:00:05", "open"), ("c1", "A", "2026-03-10 10:00:00", "open"),
        ("c2", "A", "2026-03-10 09:00:03", "open"),
        ("c1", "A", "2026-03-10 10:01:00", "click"),
        ("c2", "A", "2026-03-10 11:00:00", "reply"),
        ("c3", "A", "2026-03-10 12:00:00", "unsubscribe"),
        *[(c, "B", "2026-03-20 09:00:00", "sent") for c in ("c1", "c2", "c3")],
        *[(c, "B", "2026-03-20 09:00:01", "delivered") for c in ("c1", "c2")],
        ("c3", "B", "2026-03-20 09:00:02", "bounce_soft"),
        ("c2", "B", "2026-03-20 14:00:00", "open"), ("c2", "B", "2026-03-20 14:01:00", "click"),
        ("c1", "B", "2026-03-20 15:00:00", "spam_complaint"),
    ]
    email = pd.DataFrame(ev, columns=["customer_id", "campaign_id", "event_time", "event"])
    return customers, orders, email


@pytest.fixture(scope="module")
def ds():
    c, o, e = _frames()
    return analysis.from_frames(customers=c, orders=o, email_events=e)


def _row(frame: pd.DataFrame, **keys) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for k, v in keys.items():
        mask &= (frame[k] == (pd.Timestamp(v) if k == "month" else v)).to_numpy()
    assert mask.sum() == 1, keys
    return frame.loc[mask].iloc[0]


def _close(value, expected):
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        assert value is None or math.isnan(value)
    else:
        assert value == pytest.approx(expected)


# ------------------------------------------------------------------------------ periods
def test_report_month_is_the_last_complete_month():
    assert kpis.report_month("2026-11-01") == pd.Timestamp("2026-10-01")
    assert kpis.report_month("2026-10-31") == pd.Timestamp("2026-09-01")
    assert kpis.report_month("2026-01-15") == pd.Timestamp("2025-12-01")


def test_complete_months_start_with_the_data(ds):
    months = kpis.complete_months(ds, "2026-05-01")
    assert list(months) == list(pd.date_range("2026-01-01", "2026-04-01", freq="MS"))
    assert len(kpis.complete_months(ds, "2026-01-20")) == 0


# ------------------------------------------------------------------------------ email KPIs
CAMPAIGN_A = dict(sent=4, delivered=3, openers=2, clickers=1, repliers=1, hard_bounces=1, soft_bounces=0,
                  unsubscribes=1, complaints=0, deliverability=3 / 4, hard_bounce_rate=1 / 4,
                  soft_bounce_rate=0.0, open_rate=2 / 3, click_rate=1 / 3, ctor=1 / 2, response_rate=1 / 3,
                  unsubscribe_rate=1 / 4, complaint_rate=0.0,
                  # ref 2026-03-10 09:00; 30 days earlier: 2026-02-08 09:00. c1, c2 first emailed on
                  # 03-10 (too recent); c3 emailed since 01-05, never opened: inactive; c4 opened 02-15.
                  inactivity_rate_30=1 / 4, inactivity_rate_60=1 / 4, inactivity_rate_90=0.0)
CAMPAIGN_B = dict(sent=3, delivered=2, openers=1, clickers=1, repliers=0, hard_bounces=0, soft_bounces=1,
                  unsubscribes=0, complaints=1, deliverability=2 / 3, hard_bounce_rate=0.0,
                  soft_bounce_rate=1 / 3, open_rate=1 / 2, click_rate=1 / 2, ctor=1.0, response_rate=0.0,
                  unsubscribe_rate=0.0, complaint_rate=1 / 2, inactivity_rate_30=1 / 3)


@pytest.mark.parametrize("campaign, expected", [("A", CAMPAIGN_A), ("B", CAMPAIGN_B)])
def test_campaign_kpis_by_hand(ds, campaign, expected):
    table = kpis.email_kpis(ds, "2026-05-01", by="campaign")
    row = _row(table, campaign_id=campaign)
    for k, v in expected.items():
        _close(row[k], v)


def test_monthly_kpis_by_hand(ds):
    table = kpis.email_kpis(ds, "2026-05-01", by="month")
    assert list(table["month"]) == list(pd.date_range("2026-01-01", "2026-04-01", freq="MS"))
    march = _row(table, month="2026-03-01")
    # A + B: 7 sent, 5 delivered, openers c1A c2A c2B, clickers c1A c2B
    expected = dict(sent=7, delivered=5, openers=3, clickers=2, deliverability=5 / 7, hard_bounce_rate=1 / 7,
                    soft_bounce_rate=1 / 7, open_rate=3 / 5, click_rate=2 / 5, ctor=2 / 3,
                    response_rate=1 / 5, unsubscribe_rate=1 / 7, complaint_rate=1 / 5,
                    contacts=4,
                    # month end 2026-04-01: 30 days back = 03-02 -> c3 (never opened) and c4 (last open
                    # 02-15) inactive; 60 days back = 01-31 -> c3 only; 90 days back = 01-01 -> nobody
                    # was emailed that early.
                    inactivity_rate_30=2 / 4, inactivity_rate_60=1 / 4, inactivity_rate_90=0.0,
                    inactivity_rate_180=0.0)
    for k, v in expected.items():
        _close(march[k], v)
    jan = _row(table, month="2026-01-01")  # campaign Z; c4's February open counts for Z
    for k, v in dict(sent=2, delivered=2, openers=1, open_rate=1 / 2, click_rate=0.0, ctor=0.0,
                     inactivity_rate_30=0.0).items():
        _close(jan[k], v)


def test_zero_denominators_give_nan_not_zero(ds):
    table = kpis.email_kpis(ds, "2026-05-01", by="month")
    feb = _row(table, month="2026-02-01")  # no campaign sent in February
    assert feb["sent"] == 0 and feb["contacts"] == 0
    for k in (*kpis.EMAIL_KPIS, "inactivity_rate_90"):
        assert math.isnan(feb[k]), k
    seg = kpis.email_kpis(ds, "2026-05-01", segment="sector")
    industry = _row(seg, month="2026-03-01", segment="industry")
    assert industry["openers"] == 0 and math.isnan(industry["ctor"])  # clickers / 0 openers


def test_kpis_per_customer_segment(ds):
    seg = kpis.email_kpis(ds, "2026-05-01", segment="sector")
    retail = _row(seg, month="2026-03-01", segment="retail")
    # c1, c2 in A and B: 4 sent, 4 delivered, openers c1A c2A c2B, clickers c1A c2B, complaint c1B
    for k, v in dict(sent=4, delivered=4, open_rate=3 / 4, click_rate=2 / 4, complaint_rate=1 / 4,
                     hard_bounce_rate=0.0, inactivity_rate_30=0.0).items():
        _close(retail[k], v)
    industry = _row(seg, month="2026-03-01", segment="industry")
    # c3, c4 in A (c4 bounced), c3 in B (soft bounce): 3 sent, 1 delivered
    for k, v in dict(sent=3, delivered=1, deliverability=1 / 3, hard_bounce_rate=1 / 3, soft_bounce_rate=1 / 3,
                     unsubscribe_rate=1 / 3, open_rate=0.0, inactivity_rate_30=1.0,
                     inactivity_rate_60=1 / 2).items():
        _close(industry[k], v)
    # the segment rows add up to the whole month
    month = _row(kpis.email_kpis(ds, "2026-05-01"), month="2026-03-01")
    march = seg.loc[seg["month"] == pd.Timestamp("2026-03-01")]
    for c in ("sent", "delivered", "openers", "clickers", "complaints", "contacts", "inactive_30"):
        assert march[c].sum() == month[c]


def test_kpis_per_engagement_segment(ds):
    seg = kpis.email_kpis(ds, "2026-04-01", segment="email_segment")
    march = seg.loc[seg["month"] == pd.Timestamp("2026-03-01")].set_index("segment")
    # at 2026-03-01: c1, c2 never emailed; c4 opened 14 days before (passive: no click);
    # c3 emailed 55 days before, never opened (recent inactive).
    assert march.loc["no_email", "sent"] == 4  # c1, c2 in A and B
    assert march.loc["passive_active", "sent"] == 1 and march.loc["passive_active", "hard_bounces"] == 1
    assert march.loc["recent_inactive", "sent"] == 2
    _close(march.loc["no_email", "open_rate"], 3 / 4)


def test_unknown_segment_is_a_named_error(ds):
    with pytest.raises(ConfigError, match="not a column"):
        kpis.email_kpis(ds, "2026-05-01", segment="persona")
    with pytest.raises(ConfigError, match="month"):
        kpis.email_kpis(ds, "2026-05-01", by="week")


def test_machine_open_correction(ds):
    pairs = kpis.email_pairs(ds, "2026-05-01", open_correction=True)
    machine = pairs.loc[pairs["machine_open"], ["campaign_id", "customer_id"]]
    # only c2's open of A (2 s after delivery, no click); c1's 4 s open is kept (c1 clicked)
    assert machine.values.tolist() == [["A", "c2"]]
    off = kpis.email_kpis(ds, "2026-05-01", by="campaign")
    on = kpis.email_kpis(ds, "2026-05-01", by="campaign", open_correction=True)
    _close(_row(off, campaign_id="A")["open_rate"], 2 / 3)
    _close(_row(on, campaign_id="A")["open_rate"], 1 / 3)
    _close(_row(on, campaign_id="A")["ctor"], 1.0)
    march = _row(kpis.email_kpis(ds, "2026-05-01", open_correction=True), month="2026-03-01")
    _close(march["open_rate"], 2 / 5)
    _close(march["deliverability"], 5 / 7)  # nothing else changes


def test_machine_open_correction_needs_times():
    c, o, e = _frames()
    e = e.assign(event_time=pd.to_datetime(e["event_time"]).dt.normalize())
    dates_only = analysis.from_frames(customers=c, orders=o, email_events=e)
    assert not kpis.email_kpis(dates_only, "2026-05-01").empty  # off by default: fine
    with pytest.raises(DataError, match="time of day"):
        kpis.email_kpis(dates_only, "2026-05-01", open_correction=True)


def test_no_email_table_gives_nan_rates_and_no_email_kpis_in_dashboard():
    c, o, _ = _frames()
    no_email = analysis.from_frames(customers=c, orders=o)
    table = kpis.email_kpis(no_email, "2026-05-01")
    assert (table["sent"] == 0).all() and table["open_rate"].isna().all()
    assert kpis.email_kpis(no_email, "2026-05-01", by="campaign").empty
    review = kpis.monthly_review(no_email, "2026-04-01")
    assert set(review.dashboard["family"]) == {"customer"}
    assert review.alerts == []
    assert review.decisions == ["keep_course"]


# ------------------------------------------------------------------------------ customer KPIs
def test_customer_kpis_by_hand(ds):
    m = kpis.customer_kpis(ds, "2026-05-01").set_index("month")
    assert list(m.index) == list(pd.date_range("2026-01-01", "2026-04-01", freq="MS"))
    assert m["customers"].tolist() == [4, 4, 5, 5]
    assert m["active_customers"].tolist() == [4, 4, 4, 4]  # c4 lost on 03-15
    assert m["new_customers"].tolist() == [4, 0, 1, 0]
    assert m["lost_customers"].tolist() == [0, 0, 1, 0]
    # nobody signed up before 01-01 -> NaN; March: c4 of the 4 active on 03-01
    _close(m["churn_rate"].iloc[0], float("nan"))
    assert m["churn_rate"].iloc[1:].tolist() == pytest.approx([0.0, 0.25, 0.0])
    assert m["revenue"].tolist() == pytest.approx([100.0, 0.0, 30.0, 0.0])  # net of the refund
    # days since last significant interaction at each month end, among active customers:
    # 02-01: c1 22 (order 01-10), c2 c3 c4 31 (signup)          -> 1/4 level 0, 3/4 level 30
    # 04-01: c1 21 (click 03-10), c2 11 (click 03-20), c3 90, c5 27 -> 3/4 level 0, 1/4 level 90
    # 05-01: c1 51, c2 41, c3 120, c5 57                         -> 3/4 level 30, 1/4 level 90
    assert m.loc["2026-01-01", ["level_0_share", "level_30_share"]].tolist() == pytest.approx([0.25, 0.75])
    assert m.loc["2026-03-01", ["level_0_share", "level_90_share"]].tolist() == pytest.approx([0.75, 0.25])
    assert m.loc["2026-04-01", ["level_30_share", "level_90_share"]].tolist() == pytest.approx([0.75, 0.25])
    shares = m[[c for c in m.columns if c.startswith("level_")]].sum(axis=1)
    assert shares.tolist() == pytest.approx([1.0] * 4)


def test_customer_kpis_without_amounts():
    c, o, e = _frames()
    ds = analysis.from_frames(customers=c, orders=o.drop(columns="amount"), email_events=e)
    assert kpis.customer_kpis(ds, "2026-05-01")["revenue"].isna().all()


def test_base_summary(ds):
    s = kpis.base_summary(ds, "2026-05-01")
    assert s["customers"] == 5 and s["active_customers"] == 4
    assert s["tables"] == {"customers": 5, "orders": 3, "email_events": 28}
    assert s["quarantined_rows"] == 0
    s = kpis.base_summary(ds, "2026-03-01")  # c5 not signed up, c4 not yet lost
    assert s["customers"] == 4 and s["active_customers"] == 4


# ------------------------------------------------------------------------------ alerts and alarms
def test_readings_and_alerts(ds):
    long = tables.with_readings(kpis.with_thresholds(kpis.email_kpis(ds, "2026-05-01"), ["month"]), "en")
    march = long.loc[long["month"] == pd.Timestamp("2026-03-01")].set_index("kpi")
    alerts = set(march.index[march["alert"]])
    # deliverability 71 % < 95 %; hard bounces 14 % >= 2 %; unsubscribes 14 % > 1 %; complaints 20 % >= 0.1 %
    assert alerts == {"deliverability", "hard_bounce_rate", "unsubscribe_rate", "complaint_rate"}
    assert march.loc["deliverability", "threshold"] == 0.95
    assert march.loc["deliverability", "status"] == "alert" and march.loc["open_rate", "status"] == "ok"
    assert march.loc["deliverability", "reading"] == t("kpi_alert_deliverability", "en", threshold="95.0%")
    assert march.loc["ctor", "status"] == "no_threshold" and march.loc["ctor", "reading"] == ""
    jan = long.loc[long["month"] == pd.Timestamp("2026-01-01")].set_index("kpi")
    assert set(jan.index[jan["alert"]]) == {"click_rate"}  # nil clicks
    feb = long.loc[long["month"] == pd.Timestamp("2026-02-01")]
    assert not feb["alert"].any()  # NaN never alerts
    assert (feb["status"] == "no_value").all() and (feb["reading"] == t("kpi_no_value", "en")).all()


def test_thresholds_are_parameters(ds):
    lax = kpis.KpiThresholds(deliverability_min=0.5, hard_bounce_max=0.5, unsubscribe_max=0.5, complaint_max=0.5)
    long = kpis.with_thresholds(kpis.email_kpis(ds, "2026-05-01"), ["month"], thresholds=lax)
    assert not long.loc[long["month"] == pd.Timestamp("2026-03-01"), "alert"].any()


def test_open_rate_alert_edge():
    frame = pd.DataFrame({"month": pd.to_datetime(["2026-01-01", "2026-02-01"]), "open_rate": [0.10, 0.0999]})
    long = kpis.with_thresholds(frame, ["month"])
    assert long["alert"].tolist() == [False, True]


def _monthly(hard, complaints):
    n = len(hard)
    return pd.DataFrame({"month": pd.date_range("2026-01-01", periods=n, freq="MS"),
                         "hard_bounce_rate": hard, "complaint_rate": complaints})


def test_alarm_fires_when_bounces_double_or_complaints_explode():
    al = kpis.period_alarms(_monthly([0.01, 0.02, 0.019, 0.0, 0.02], [0.0005, 0.0011, 0.0009, 0.0, 0.001]))
    fired = al.loc[al["fired"]].assign(m=lambda d: d["month"].dt.month)[["m", "alarm"]].values.tolist()
    # Feb: bounces 1 % -> 2 % (doubled), complaints 0.05 % -> 0.11 % (> x2 and >= 0.1 %)
    # Mar: nothing rises; Apr: nothing; May: bounces 0 -> 2 % (threshold), complaints 0 -> 0.1 %
    assert fired == [[2, "bounces_doubled"], [2, "complaints_exploded"],
                     [5, "bounces_doubled"], [5, "complaints_exploded"]]


def test_alarm_does_not_fire_below_doubling_or_below_threshold():
    al = kpis.period_alarms(_monthly([0.01, 0.0199, 0.0, 0.019, float("nan"), 0.05],
                                     [0.0004, 0.0009, 0.001, 0.0015, float("nan"), 0.01]))
    # bounces: x1.99; 0 -> 1.9 % (< 2 %); after a month without sends there is no previous value
    # complaints: 0.04 % -> 0.09 % is > x2 but under 0.1 %; 0.1 % -> 0.15 % is not > x2
    assert not al["fired"].any()


def _bounce_ds(contacts, jan_bounces, feb_bounces):
    """``contacts`` contacts mailed once in January and once in February, with that many hard bounces."""
    ids = [f"k{i:04d}" for i in range(contacts)]
    cust = pd.DataFrame({"customer_id": ids, "signup_date": "2025-12-01"})
    rows = []
    for camp, day, bounced in (("J", "2026-01-10", jan_bounces), ("F", "2026-02-10", feb_bounces)):
        rows += [(i, camp, f"{day} 09:00:00", "sent") for i in ids]
        rows += [(i, camp, f"{day} 09:00:01", "delivered") for i in ids[bounced:]]
        rows += [(i, camp, f"{day} 09:00:01", "bounce_hard") for i in ids[:bounced]]
        rows += [(i, camp, f"{day} 12:00:00", "open") for i in ids[contacts // 2:contacts * 8 // 10]]
        rows += [(i, camp, f"{day} 12:01:00", "click") for i in ids[contacts // 2:contacts * 6 // 10]]
    email = pd.DataFrame(rows, columns=["customer_id", "campaign_id", "event_time", "event"])
    return analysis.from_frames(customers=cust, email_events=email)


def test_alarm_through_the_monthly_review():
    # 1 000 contacts; January: 10 hard bounces (1 %); February: 30 (3 %) -> doubled, 30 >= 10 events
    ds = _bounce_ds(1000, 10, 30)
    review = kpis.monthly_review(ds, "2026-03-01")
    assert review.month == "2026-02"
    _close(review.kpis_month["hard_bounce_rate"], 0.03)
    _close(review.kpis_prev_month["hard_bounce_rate"], 0.01)
    keys = [(a["kind"], a["code"]) for a in review.alerts]
    assert keys == [("threshold", "hard_bounce_rate"), ("alarm", "bounces_doubled")]
    alarm = review.alerts[1]
    assert (alarm["count"], alarm["base"], alarm["prev_count"], alarm["prev_base"]) == (30, 1000, 10, 1000)
    assert review.decisions == ["suspend_audit", "remove_hard_bounces"]
    assert narrative.alert_texts(review.alerts, "en")[1] == (
        "Hard bounces doubled: 30 out of 1,000 emails sent (3.00%) against 10 out of 1,000 (1.00%) "
        "the month before; suspend sends and audit the base.")
    assert narrative.alert_texts(review.alerts, "fr")[1] == (
        "Les rebonds durs ont doublé : 30 sur 1 000 e-mails envoyés (3,00 %) contre 10 sur 1 000 (1,00 %) "
        "le mois précédent ; suspendre les envois et auditer la base.")
    assert narrative.decision_texts(review.decisions, "en")[0] == t("kpi_decision_suspend_audit", "en")
    # one month earlier: January alone, no previous month -> no alarm; 1 % hard bounces < 2 %
    jan = kpis.monthly_review(ds, "2026-02-01")
    assert jan.month == "2026-01" and jan.alerts == []


def test_alarm_needs_a_minimum_count_of_events():
    # 100 contacts: 1 -> 3 hard bounces is the same tripling (1 % -> 3 %) but 3 events < 10: no alarm,
    # the 3 % stays a threshold alert
    small = kpis.monthly_review(_bounce_ds(100, 1, 3), "2026-03-01")
    assert [(a["kind"], a["code"]) for a in small.alerts] == [("threshold", "hard_bounce_rate")]
    assert small.alarms.loc[small.alarms["alarm"] == "bounces_doubled", "count"].tolist() == [1, 3]
    # the minimum is a parameter (KpiThresholds.alarm_min_events, dataset.yml thresholds:)
    lax = kpis.monthly_review(_bounce_ds(100, 1, 3), "2026-03-01", thresholds=kpis.KpiThresholds(alarm_min_events=3))
    assert ("alarm", "bounces_doubled") in [(a["kind"], a["code"]) for a in lax.alerts]
    assert kpis.KpiThresholds().alarm_min_events == 10


def test_alarm_counts_complaints_out_of_delivered():
    frame = pd.DataFrame({"month": pd.date_range("2026-01-01", periods=2, freq="MS"),
                          "hard_bounce_rate": [0.0, 0.0], "complaint_rate": [2 / 4000, 12 / 4000],
                          "hard_bounces": [0, 0], "sent": [4100, 4100], "complaints": [2, 12],
                          "delivered": [4000, 4000]})
    al = kpis.period_alarms(frame).set_index(["alarm", "month"])
    row = al.loc[("complaints_exploded", pd.Timestamp("2026-02-01"))]
    assert bool(row["fired"]) and (row["count"], row["base"], row["prev_count"]) == (12, 4000, 2)
    # 5 complaints out of 4 070 delivered after 1: x5 and 0.12 % >= 0.1 %, but 5 < 10 events
    frame.loc[:, "complaints"] = [1, 5]
    frame.loc[:, "delivered"] = [4070, 4070]
    frame.loc[:, "complaint_rate"] = [1 / 4070, 5 / 4070]
    assert not kpis.period_alarms(frame)["fired"].any()


def test_decisions_are_at_most_three_in_order(ds):
    review = kpis.monthly_review(ds, "2026-04-01")
    assert review.month == "2026-03"
    assert {a["kpi"] for a in review.alerts} == {"deliverability", "hard_bounce_rate", "unsubscribe_rate",
                                                 "complaint_rate"}
    assert review.decisions == ["remove_hard_bounces", "complaints", "deliverability"]
    assert kpis.decisions([]) == ["keep_course"]
    assert review.kpis_month["new_customers"] == 1 and review.kpis_month["churn_rate"] == pytest.approx(0.25)
    assert review.kpis_prev_month["revenue"] == 0.0
    assert math.isnan(review.dashboard.set_index(["month", "kpi"]).loc[
        (pd.Timestamp("2026-02-01"), "open_rate"), "value"])


def test_dashboard_month_over_month(ds):
    dash = kpis.monthly_dashboard(ds, "2026-05-01")
    march = dash.loc[dash["month"] == pd.Timestamp("2026-03-01")].set_index("kpi")
    assert march.loc["active_customers", "prev_value"] == 4 and march.loc["customers", "change"] == 1
    assert march.loc["revenue", "change"] == pytest.approx(30.0)
    assert list(dash["kpi"].iloc[:3]) == ["deliverability", "hard_bounce_rate", "soft_bounce_rate"]
    assert set(dash["family"]) == {"email", "customer"}


# ------------------------------------------------------------------------------ no look-ahead
def test_no_look_ahead():
    as_of = "2026-04-01"
    c, o, e = _frames()
    base = analysis.from_frames(customers=c, orders=o, email_events=e)
    future_e = pd.DataFrame([
        ("c1", "B", "2026-04-01 00:00:00", "open"),      # late open of a March campaign, on as_of
        ("c3", "B", "2026-04-03 10:00:00", "click"),
        ("c1", "Z", "2026-04-02 10:00:00", "reply"),
        *[(cid, "C", "2026-04-10 09:00:00", "sent") for cid in ("c1", "c2", "c3", "c5")],
        *[(cid, "C", "2026-04-10 09:00:01", "bounce_hard") for cid in ("c1", "c2", "c3", "c5")],
    ], columns=["customer_id", "campaign_id", "event_time", "event"])
    future_c = pd.DataFrame({"customer_id": ["c6"], "signup_date": ["2026-04-01"], "churn_date": ["2026-06-01"],
                             "sector": ["retail"]})
    c2 = pd.concat([c, future_c], ignore_index=True)
    c2.loc[c2["customer_id"] == "c1", "churn_date"] = "2026-04-05"  # a churn after as_of
    later = analysis.from_frames(
        customers=c2,
        orders=pd.concat([o, pd.DataFrame({"customer_id": ["c3"], "order_date": ["2026-04-01"],
                                           "amount": [999.0]})], ignore_index=True),
        email_events=pd.concat([e, future_e], ignore_index=True),
    )
    for f in (lambda d: kpis.email_kpis(d, as_of), lambda d: kpis.email_kpis(d, as_of, by="campaign"),
              lambda d: kpis.email_kpis(d, as_of, segment="sector"),
              lambda d: kpis.email_kpis(d, as_of, segment="email_segment"),
              lambda d: kpis.email_kpis(d, as_of, open_correction=True),
              lambda d: kpis.customer_kpis(d, as_of), lambda d: kpis.monthly_dashboard(d, as_of),
              lambda d: kpis.email_segment_shares(d, as_of), lambda d: kpis.month_transitions(d, as_of)):
        pd.testing.assert_frame_equal(f(base), f(later))
    r1, r2 = kpis.monthly_review(base, as_of), kpis.monthly_review(later, as_of)
    assert (r1.kpis_month, r1.alerts, r1.decisions) == (r2.kpis_month, r2.alerts, r2.decisions)
    assert kpis.base_summary(base, as_of)["customers"] == kpis.base_summary(later, as_of)["customers"]


# ------------------------------------------------------------------------------ engagement segments
def test_segment_shares_and_transitions(ds):
    shares = kpis.email_segment_shares(ds, "2026-04-01").set_index(["as_of", "email_segment"])
    # 03-01: c4 passive (opened 02-15, no click), c3 recent inactive (first email 01-05, 55 days)
    assert shares.loc[(pd.Timestamp("2026-03-01"), "passive_active"), "customers"] == 1
    assert shares.loc[(pd.Timestamp("2026-03-01"), "recent_inactive"), "share"] == pytest.approx(0.5)
    # 04-01: c1, c2 engaged (opened and clicked in March), c4 passive, c3 recent inactive
    at = shares.loc[pd.Timestamp("2026-04-01"), "customers"]
    assert at.to_dict() == {"engaged_active": 2, "passive_active": 1, "recent_inactive": 1, "chronic_inactive": 0}
    tr = kpis.month_transitions(ds, "2026-04-01")
    moves = {(r.from_segment, r.to_segment): r.customers for r in tr.itertuples()}
    assert moves[("no_email", "engaged_active")] == 2
    assert moves[("passive_active", "passive_active")] == 1


def test_format_kpi():
    assert fmt_kpi("open_rate", 0.125, "fr") == "12,5 %"
    assert fmt_kpi("complaint_rate", 0.001, "en") == "0.10%"
    assert fmt_kpi("unsubscribe_rate", 0.012, "en") == "1.20%"  # small rates: two decimals
    assert fmt_kpi("new_customers", 1234, "fr") == "1 234"
    assert fmt_kpi("revenue", float("nan"), "en") == "–"


def test_plots_return_axes(ds):
    import matplotlib.pyplot as plt

    from analysis.metrics import signals
    from analysis.reporting.plots import kpis as pk

    m = kpis.customer_kpis(ds, "2026-04-01")
    dash = kpis.monthly_dashboard(ds, "2026-04-01")
    axes = [pk.plot_new_customers(m, lang="fr"), pk.plot_customers(m), pk.plot_inactivity_levels(m),
            pk.plot_segment_shares(kpis.email_segment_shares(ds, "2026-04-01")),
            pk.plot_transitions(signals.transition_matrix(kpis.month_transitions(ds, "2026-04-01")),
                                month="2026-03")]
    axes += list(pk.plot_kpi_trends(dash, lang="fr"))
    assert len(axes) == 11
    assert all(hasattr(a, "plot") for a in axes)
    heights = [p.get_height() for p in axes[0].patches]
    assert heights == [4, 0, 1]
    for a in axes:
        plt.close(a.figure)


def test_inactivity_levels_agree_with_the_recency_indicator(ds):
    from analysis.metrics import signals

    m = kpis.customer_kpis(ds, "2026-05-01").set_index("month")
    ind = signals.indicators(ds, ["2026-04-01", "2026-05-01"])
    active = ind.loc[~ind["lost"]]
    shares = active.groupby("as_of")["recency_level"].value_counts(normalize=True)
    for end, month in (("2026-04-01", "2026-03-01"), ("2026-05-01", "2026-04-01")):
        for level in (0, 30, 60, 90, 180):
            expected = shares.get((pd.Timestamp(end), level), 0.0)
            assert m.loc[month, f"level_{level}_share"] == pytest.approx(expected), (end, level)


# ------------------------------------------------------------------------------ the typed result of notebook 01
def test_base_health_gathers_the_review_once(ds):
    health = kpis.base_health(ds, "2026-04-01")
    review = kpis.monthly_review(ds, "2026-04-01")
    assert health.month == "2026-03" and health.email_available
    assert health.review.decisions == review.decisions == ["remove_hard_bounces", "complaints", "deliverability"]
    pd.testing.assert_frame_equal(health.review.dashboard, review.dashboard)
    pd.testing.assert_frame_equal(health.monthly, kpis.customer_kpis(ds, "2026-04-01"))
    kf = health.key_figures()
    assert kf["customers"] == 5 and kf["active_customers"] == 4 and kf["decisions"] == review.decisions
    assert {a["code"] for a in kf["alerts"]} == {"deliverability", "hard_bounce_rate", "unsubscribe_rate",
                                                 "complaint_rate"}
    assert health.segment_attribute == "sector"
    # March, by sector: the segment table holds numbers (sent, rates), one row per segment sent to
    by_sector = health.by_attribute.set_index("segment")
    # March pairs: campaign A to c1, c2 (retail), c3, c4 (industry); B to c1, c2, c3; c4 bounced, c3 soft-bounced B
    assert by_sector["sent"].to_dict() == {"industry": 3, "retail": 4}
    assert by_sector["deliverability"].tolist() == pytest.approx([1 / 3, 1.0])
    assert list(health.by_engagement.columns[:2]) == ["segment", "sent"]
    assert health.transition_matrix() is not None


def test_base_health_no_look_ahead(ds):
    c, o, e = _frames()
    later = analysis.from_frames(
        customers=c, orders=o,
        email_events=pd.concat([e, pd.DataFrame([("c1", "Z", "2026-04-02 10:00:00", "sent")],
                                                 columns=e.columns)], ignore_index=True))
    a, b = kpis.base_health(ds, "2026-04-01"), kpis.base_health(later, "2026-04-01")
    kfa, kfb = a.key_figures(), b.key_figures()
    for k in ("tables", "observed_until"):  # what the export holds, not a figure at as_of
        kfa.pop(k), kfb.pop(k)
    assert kfa == kfb
    for frame in ("by_attribute", "by_engagement", "segment_shares", "transitions"):
        pd.testing.assert_frame_equal(getattr(a, frame), getattr(b, frame))


def test_reader_tables_from_the_numbers(ds):
    health = kpis.base_health(ds, "2026-04-01")
    table = tables.dashboard_table(health.review.dashboard, health.month, "fr")
    row = table.set_index(t("kpi_kpi", "fr")).loc[t("kpi_deliverability", "fr")]
    assert row[t("kpi_alert", "fr")] == "●" and row[t("kpi_threshold", "fr")] == "95,0 %"
    assert tables.dashboard_table(health.review.dashboard, None, "fr") is None
    eng = tables.segment_table(health.by_engagement, "email_segment", "en")
    # engagement at 03-01: c4 passive, c3 recently inactive, c1 and c2 not emailed yet (segment order)
    assert eng[t("kpi_segment", "en")].tolist() == ["Passive active", "Recent inactive", "Not emailed yet"]
    assert narrative.alert_text(health.review.alerts[0], "en").startswith(t("kpi_deliverability", "en"))
