"""Lost / active status at a date, for both business models, worked out by hand."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt

import analysis
from analysis.data.config import DatasetConfig, Thresholds
from analysis.metrics.lifecycle import lost_clients, status_at

T = pd.Timestamp


def contractual():
    customers = pd.DataFrame({
        "customer_id": ["a", "b", "c"],
        "signup_date": ["2026-01-01", "2026-02-01", "2026-05-01"],
        "churn_date": ["2026-03-15", None, None],
    })
    orders = pd.DataFrame({"customer_id": ["a", "b", "c"],
                           "order_date": ["2026-01-05", "2026-02-10", "2026-05-02"], "amount": [10, 20, 30]})
    return customers, orders


def test_contractual_lost_means_churn_date_strictly_before_as_of() -> None:
    customers, orders = contractual()
    ds = analysis.from_frames(customers=customers, orders=orders)
    st = status_at(ds, ["2026-03-15", "2026-04-01"]).set_index(["as_of", "customer_id"])
    assert list(st.index) == [(T("2026-03-15"), "a"), (T("2026-03-15"), "b"),
                              (T("2026-04-01"), "a"), (T("2026-04-01"), "b")]   # c not signed up yet
    assert not st.loc[(T("2026-03-15"), "a"), "lost"]          # churns that very day: not yet known
    assert st.loc[(T("2026-04-01"), "a"), "lost"]
    assert st.loc[(T("2026-04-01"), "a"), "churn_date"] == T("2026-03-15")
    assert not st.loc[(T("2026-04-01"), "b"), "lost"]
    assert st.loc[(T("2026-04-01"), "b"), "days_since_last"] == 50   # 10 Feb -> 1 Apr
    assert st.loc[(T("2026-04-01"), "b"), "tenure_days"] == 59


def noncontractual(extra: pd.DataFrame | None = None):
    orders = pd.DataFrame({"customer_id": ["a", "a", "b"],
                           "order_date": ["2026-01-10", "2026-02-01", "2026-03-20"], "amount": [5, 5, 5]})
    if extra is not None:
        orders = pd.concat([orders, extra], ignore_index=True)
    cfg = DatasetConfig(business_model="non_contractual", thresholds=Thresholds(churn_horizon_days=30))
    return analysis.from_frames(orders=orders, config=cfg)


def test_non_contractual_lost_when_the_horizon_is_crossed() -> None:
    st = status_at(noncontractual(), ["2026-03-10", "2026-04-01"]).set_index(["as_of", "customer_id"])
    # a: last purchase 1 Feb, horizon 30 days crossed on 3 Mar
    assert st.loc[(T("2026-03-10"), "a"), "lost"]
    assert st.loc[(T("2026-03-10"), "a"), "churn_date"] == T("2026-03-03")
    assert st.loc[(T("2026-03-10"), "a"), "days_since_last"] == 37
    assert (T("2026-03-10"), "b") not in st.index             # first purchase 20 Mar
    assert not st.loc[(T("2026-04-01"), "b"), "lost"]
    assert st.loc[(T("2026-04-01"), "b"), "days_since_last"] == 12


def test_no_look_ahead_future_events_change_nothing() -> None:
    future = pd.DataFrame({"customer_id": ["a", "b", "z"], "order_date": ["2026-04-01", "2026-05-01", "2026-04-02"],
                           "amount": [1, 1, 1]})
    before = status_at(noncontractual(), ["2026-03-10", "2026-04-01"])
    after = status_at(noncontractual(future), ["2026-03-10", "2026-04-01"])
    pdt.assert_frame_equal(before, after)


def test_multi_date_equals_single_date() -> None:
    ds = noncontractual()
    both = status_at(ds, ["2026-03-10", "2026-04-01"])
    one = status_at(ds, "2026-04-01")
    pdt.assert_frame_equal(both.loc[both["as_of"] == T("2026-04-01")].reset_index(drop=True), one)


def test_lost_clients_most_recent_first() -> None:
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "signup_date": ["2025-01-01"] * 3,
                              "churn_date": ["2026-01-01", "2026-03-01", None]})
    orders = pd.DataFrame({"customer_id": ["a", "b", "c"], "order_date": ["2025-02-01"] * 3})
    ds = analysis.from_frames(customers=customers, orders=orders)
    lost = lost_clients(ds, "2026-06-01")
    assert list(lost["customer_id"]) == ["b", "a"]
    assert list(lost_clients(ds, "2026-06-01", n=1)["customer_id"]) == ["b"]


def test_check_as_of_one_contract_for_every_entry_point():
    import pandas as pd
    import pytest

    from analysis.errors import ConfigError, ReportError
    from analysis.metrics.lifecycle import check_as_of

    assert check_as_of("2026-11-01 13:45") == pd.Timestamp("2026-11-01")  # time of day dropped
    with pytest.raises(ConfigError, match="as_of is 'soon'; expected a date YYYY-MM-DD"):
        check_as_of("soon")
    with pytest.raises(ConfigError, match="as_of is 'None'"):
        check_as_of(None)
    # strict (command line, report parameters): the text form only, no time of day
    assert check_as_of("2026-11-01", strict=True) == pd.Timestamp("2026-11-01")
    for bad in ("2026-11-01 13:45", "01/11/2026", "2026-13-01"):
        with pytest.raises(ReportError, match=f"--as-of is '{bad}'"):
            check_as_of(bad, strict=True, name="--as-of", error=ReportError)
