"""OKR tracking: key-result progress against targets, hand-worked."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.data.config import parse_config
from analysis.data.dataset import from_frames
from analysis.metrics.okr import okr_progress

OBJECTIVES = {"objectives": [{"objective": "Réactiver les acheteurs inactifs", "key_results": [
    {"metric": "repurchase_rate", "population": "lapsed_buyers", "target": 0.5, "period": "2026-Q2"},
    {"metric": "revenue", "population": "lapsed_buyers", "target": 1000, "period": "2026-Q2"},
    {"metric": "retention", "population": "all", "target": 0.9,
     "period": {"start": "2026-04-01", "end": "2026-06-30"}},
]}]}


def _ds(extra=()):
    cust = pd.DataFrame({"customer_id": list("ABCD"), "signup_date": "2025-01-01",
                         "churn_date": [None, "2026-04-15", None, None]})
    orders = [("A", "2025-12-20", 100.0), ("B", "2025-11-01", 50.0), ("C", "2026-03-25", 70.0),
              ("D", "2026-03-28", 20.0),
              ("A", "2026-04-10", 300.0), ("C", "2026-05-01", 1000.0), ("B", "2026-07-05", 80.0), *extra]
    return from_frames(customers=cust, orders=pd.DataFrame(orders, columns=["customer_id", "order_date", "amount"]),
                       config=parse_config(OBJECTIVES))


def test_okr_progress_by_hand():
    # lapsed buyers on 2026-04-01 (bought before, not in the 30 days before): A and B
    p = okr_progress(_ds(), "2026-05-01").set_index("metric")
    rr = p.loc["repurchase_rate"]
    assert (rr["status"], rr["n"], rr["value"], bool(rr["on_track"])) == ("in_progress", 2, 0.5, True)
    assert rr["elapsed_share"] == pytest.approx(30 / 91)
    rev = p.loc["revenue"]                                       # A's 300 (C is not in the population)
    assert (rev["value"], rev["progress"]) == (300.0, 0.3)
    assert rev["expected"] == pytest.approx(1000 * 30 / 91) and not rev["on_track"]
    ret = p.loc["retention"]                                     # B churned on 04-15: 3 of 4 kept
    assert (ret["n"], ret["value"], bool(ret["on_track"])) == (4, 0.75, False)
    closed = okr_progress(_ds(), "2026-08-01").set_index("metric")
    assert closed["status"].eq("closed").all()
    assert bool(closed.loc["repurchase_rate", "achieved"])      # B's order of 07-05 is after the period
    assert not closed.loc["revenue", "achieved"] and closed.loc["revenue", "value"] == 300.0
    early = okr_progress(_ds(), "2026-03-01")
    assert early["status"].eq("not_started").all() and not early["on_track"].any()


def test_okr_reads_nothing_on_or_after_as_of():
    base = okr_progress(_ds(), "2026-05-01")
    later = okr_progress(_ds(extra=[("B", "2026-05-01", 999.0), ("A", "2026-06-01", 5.0)]), "2026-05-01")
    pd.testing.assert_frame_equal(base, later)
