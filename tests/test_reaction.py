"""Reaction delay between an alert (first crossing of an indicator) and the first action: hand-worked."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.metrics.reaction import (
    alert_crossings,
    reaction_delays,
    reaction_key_figures,
    reaction_summary,
)

NA = pd.NA


def _indicators() -> pd.DataFrame:
    dates = pd.to_datetime(["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"])
    rows = []
    # A: recency off, on, on, off -> one alert on 01-12; email NA, NA, on, on -> one alert on 01-19
    # B: value on from the first date -> no crossing (start unknown); usage on 01-26 only
    for i, d in enumerate(dates):
        rows.append({"as_of": d, "customer_id": "A", "alert_recency": [False, True, True, False][i],
                     "alert_email": [NA, NA, True, True][i], "alert_value": False, "alert_usage": False})
        rows.append({"as_of": d, "customer_id": "B", "alert_recency": False, "alert_email": NA,
                     "alert_value": True, "alert_usage": [False, False, False, True][i]})
    ind = pd.DataFrame(rows)
    for c in ("alert_recency", "alert_email", "alert_value", "alert_usage"):
        ind[c] = ind[c].astype("boolean")
    return ind


def _interventions() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["A", "A", "A", "B"],
        "action_date": pd.to_datetime(["2026-01-13", "2026-01-15", "2026-01-30", "2026-02-03"]),
        "action": ["email_sequence", "personal_call", "personal_call", "personal_call"],
        "group": ["control", "treatment", "treatment", "treatment"],   # a control row is no action
        "owner": ["crm", "csm_a", "csm_b", "csm_a"],
    })


def test_alerts_are_first_crossings():
    a = alert_crossings(_indicators())
    got = list(a.itertuples(index=False, name=None))
    assert got == [("A", "recency", pd.Timestamp("2026-01-12")), ("A", "email", pd.Timestamp("2026-01-19")),
                   ("B", "usage", pd.Timestamp("2026-01-26"))]


def test_reaction_delays_by_hand():
    d = reaction_delays(alert_crossings(_indicators()), _interventions(), "2026-02-01").set_index(
        ["customer_id", "indicator"])
    # A recency 01-12 -> call 01-15 (the control row of 01-13 is not an action): 3 days, csm_a
    assert d.loc[("A", "recency"), ["delay_days", "owner"]].tolist() == [3.0, "csm_a"]
    # A email 01-19 -> next action 01-30: 11 days, csm_b, late
    assert d.loc[("A", "email"), ["delay_days", "owner"]].tolist() == [11.0, "csm_b"]
    assert bool(d.loc[("A", "email"), "over_7"]) and not bool(d.loc[("A", "recency"), "over_7"])
    # B usage 01-26: the call of 02-03 is after the as-of date -> no action yet, open 6 days: unknown
    b = d.loc[("B", "usage")]
    assert b["status"] == "no_action" and b["open_days"] == 6 and pd.isna(b["over_7"])
    s = reaction_summary(d.reset_index()).iloc[0]
    assert (s["alerts"], s["acted"], s["no_action"], s["median_days"], s["known"], s["share_over_7"]) == \
        (3, 2, 1, 7.0, 2, 0.5)
    by_owner = reaction_summary(d.reset_index(), "owner").set_index("owner")
    assert by_owner.loc["csm_a", "median_days"] == 3 and by_owner.loc["csm_b", "median_days"] == 11
    by_alert = reaction_summary(d.reset_index(), "indicator").set_index("indicator")
    assert by_alert.loc["email", "share_over_7"] == 1.0 and pd.isna(by_alert.loc["usage", "share_over_7"])
    k = reaction_key_figures(d.reset_index())
    assert (k["alerts"], k["acted"], k["median_days"], k["share_over_7"]) == (3, 2, 7.0, 0.5)
    # a week later the unanswered alert is known to be late; the call of 02-03 then counts (8 days)
    later = reaction_delays(alert_crossings(_indicators()), _interventions(), "2026-02-10")
    assert later.set_index("indicator").loc["usage", "delay_days"] == pytest.approx(8.0)


def test_reaction_reads_no_action_on_or_after_as_of():
    alerts = alert_crossings(_indicators())
    base = reaction_delays(alerts, _interventions(), "2026-02-01")
    later_rows = pd.concat([_interventions(), pd.DataFrame({
        "customer_id": ["B"], "action_date": pd.to_datetime(["2026-02-01"]), "action": ["sms"],
        "group": ["treatment"], "owner": ["crm"]})], ignore_index=True)
    pd.testing.assert_frame_equal(base, reaction_delays(alerts, later_rows, "2026-02-01"))
