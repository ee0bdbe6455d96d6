"""Re-activation cycles and the sunset rule of [001]: hand-worked history."""

from __future__ import annotations

import pandas as pd

from analysis.data.dataset import from_frames
from analysis.metrics.cycles import cycle_history, list_counts, off_active_list, sunset_lists


def _ds(extra_orders=()):
    cust = pd.DataFrame({"customer_id": ["X", "Y", "Z", "W"], "signup_date": "2025-01-01"})
    orders = [("X", "2025-12-01"), ("Y", "2026-02-20"), ("Z", "2026-01-10"), ("Z", "2026-02-15"),
              ("Z", "2026-03-20"), ("W", "2026-04-25"), *extra_orders]
    iv = []
    for k, day in (("K1", "2026-01-05"), ("K2", "2026-02-09"), ("K3", "2026-03-16")):
        iv += [("X", day, k, "treatment"), ("Y", day, k, "treatment"), ("Z", day, k, "treatment")]
    iv += [("Z", "2026-04-20", "K4", "treatment"), ("W", "2026-01-05", "K1", "control"),
           ("X", "2026-04-02", None, "treatment")]                   # a call: not a cycle
    return from_frames(
        customers=cust,
        orders=pd.DataFrame(orders, columns=["customer_id", "order_date"]),
        interventions=pd.DataFrame(iv, columns=["customer_id", "action_date", "campaign_id", "group"]).assign(
            action="email_sequence"),
    )


def test_cycles_and_lists_by_hand():
    h = cycle_history(_ds(), "2026-05-01")
    got = h.groupby("customer_id")["outcome"].apply(list).to_dict()
    # X never answers; Y answers K2 only (order 02-20 in [02-09, 03-11)); Z answers K1-K3, K4 still open
    assert got == {"X": ["failed"] * 3, "Y": ["failed", "responded", "failed"],
                   "Z": ["responded"] * 3 + ["open"]}
    s = sunset_lists(_ds(), "2026-05-01").set_index("customer_id")
    assert s.loc["X", ["cycles", "failed", "failed_in_a_row", "list_status"]].tolist() == [3, 3, 3, "removal_candidate"]
    assert s.loc["Y", ["cycles", "failed", "responded", "failed_in_a_row", "list_status"]].tolist() == \
        [3, 2, 1, 1, "separate_list"]
    assert s.loc["Z", ["cycles", "open", "list_status"]].tolist() == [4, 1, "active_list"]
    assert s.loc["W", ["cycles", "list_status"]].tolist() == [0, "active_list"]
    assert s.loc["X", "inactivity_action"] == "personal_call"           # 151 days: time alone would not remove
    # three failed cycles needed: X stays removable, nobody else
    lists = sunset_lists(_ds(), "2026-05-01")
    assert list_counts(lists) == {"active_list": 2, "separate_list": 1, "removal_candidate": 1}
    assert off_active_list(lists)["customer_id"].tolist() == ["X", "Y"]      # most failures in a row first
    s3 = sunset_lists(_ds(), "2026-05-01", failed_cycles=3)
    assert s3.loc[s3["list_status"].eq("removal_candidate"), "customer_id"].tolist() == ["X"]


def test_cycles_read_nothing_on_or_after_as_of():
    base = sunset_lists(_ds(), "2026-05-01")
    later = sunset_lists(_ds(extra_orders=[("X", "2026-05-01"), ("Y", "2026-06-01")]), "2026-05-01")
    pd.testing.assert_frame_equal(base, later)
