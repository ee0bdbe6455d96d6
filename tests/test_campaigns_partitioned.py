"""Notebook 05 on buckets (issue 16): the customers of the campaigns loaded from the bucketed
copy and the base-level figures computed bucket by bucket give the in-memory numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.dataset import load
from analysis.data.partitions import load_partitioned
from analysis.metrics.campaigns import analyse_campaigns
from analysis.metrics.cycles import list_counts, off_active_list
from analysis.metrics.reaction import reaction_key_figures, reaction_summary
from analysis.models.reactivation_engine import (
    campaign_customer_ids,
    campaign_data,
    load_customers,
    reactivation_base,
)
from analysis.models.uplift import evaluate_uplift
from analysis.paths import resolve_data_dir

AS_OF = "2026-11-01"


@pytest.fixture(scope="module")
def sample():
    return load(resolve_data_dir("data/sample"))


@pytest.fixture(scope="module")
def buckets(tmp_path_factory):
    """The sample validated into 3 buckets, in a cache of its own."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURN_RADAR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield load_partitioned(resolve_data_dir("data/sample"), n_buckets=3)
    mp.undo()


@pytest.fixture(scope="module")
def in_memory(sample):
    campaigns = analyse_campaigns(sample, AS_OF)
    uplift = evaluate_uplift(sample, AS_OF, random_state=0, result=campaigns)
    base = reactivation_base(sample, AS_OF, target="lapsed_buyers", holdout=0.1, seed=0, weeks=26,
                             failed_cycles=2, uplift=uplift)
    return campaigns, uplift, base


@pytest.fixture(scope="module")
def on_buckets(buckets):
    ds = campaign_data(buckets)
    campaigns = analyse_campaigns(ds, AS_OF)
    uplift = evaluate_uplift(ds, AS_OF, random_state=0, result=campaigns)
    base = reactivation_base(buckets, AS_OF, target="lapsed_buyers", holdout=0.1, seed=0, weeks=26,
                             failed_cycles=2, uplift=uplift, progress=lambda _line: None)
    return ds, campaigns, uplift, base


def test_load_customers_holds_every_row_of_those_customers_only(sample, buckets):
    ids = campaign_customer_ids(buckets)
    assert ids.tolist() == sorted(sample.interventions["customer_id"].unique())  # 1,553 on the sample
    ds = load_customers(buckets, ids)
    assert ds.base is buckets.base and ds.config is buckets.config
    for table, whole in sample.tables.items():
        want = whole.loc[whole["customer_id"].isin(set(ids))]
        got = getattr(ds, table)
        assert len(got) == len(want) and set(got["customer_id"]) <= set(ids)
        assert dict(got.dtypes) == dict(want.dtypes), table
        cols = list(want.columns)
        key = [c for c in cols if not isinstance(want[c].dtype, pd.CategoricalDtype)]
        pd.testing.assert_frame_equal(got[cols].sort_values(key, kind="stable").reset_index(drop=True),
                                      want.sort_values(key, kind="stable").reset_index(drop=True))
    few = load_customers(buckets, ["C000001", "nobody"])
    assert few.customers["customer_id"].tolist() == ["C000001"]
    assert len(few.orders) == int(sample.orders["customer_id"].eq("C000001").sum())


def test_campaign_effects_balance_and_uplift_equal_in_memory(in_memory, on_buckets):
    campaigns, uplift, _ = in_memory
    ds, got, got_uplift, _ = on_buckets
    assert len(ds.customers) == 1553 < len(campaigns.customers) + 3000  # the contacted customers only
    pd.testing.assert_frame_equal(got.effects, campaigns.effects)
    pd.testing.assert_frame_equal(got.balance, campaigns.balance)
    assert got.key_figures() == campaigns.key_figures()
    assert uplift.status == got_uplift.status == "ok"
    assert got_uplift.qini == uplift.qini and got_uplift.qini_ci == uplift.qini_ci
    assert got_uplift.qini_vs_churn_risk == uplift.qini_vs_churn_risk and got_uplift.features == uplift.features
    assert got_uplift.key_figures() == uplift.key_figures()
    pd.testing.assert_frame_equal(got_uplift.curves, uplift.curves)
    pd.testing.assert_frame_equal(got_uplift.test, uplift.test)


def test_base_figures_by_buckets_equal_in_memory(in_memory, on_buckets):
    _, uplift, base = in_memory
    _, _, _, got = on_buckets
    assert base.n_buckets == 1 and got.n_buckets == 3
    pd.testing.assert_frame_equal(got.plan.assignments, base.plan.assignments)
    assert got.plan.key_figures() == base.plan.key_figures()
    assert base.plan.n_treatment + base.plan.n_control > 0 and base.plan.baseline_purchase is not None
    pd.testing.assert_frame_equal(got.delays, base.delays)
    for by in (None, "owner", "indicator"):
        pd.testing.assert_frame_equal(reaction_summary(got.delays, by), reaction_summary(base.delays, by))
    assert reaction_key_figures(got.delays) == reaction_key_figures(base.delays)
    pd.testing.assert_frame_equal(got.lists, base.lists)
    assert list_counts(got.lists) == list_counts(base.lists)
    pd.testing.assert_frame_equal(off_active_list(got.lists), off_active_list(base.lists))
    assert len(base.okr) == 2 and base.okr["value"].notna().all()
    pd.testing.assert_frame_equal(got.okr, base.okr, rtol=1e-12)  # revenue summed in another order
    assert uplift.beats_random and base.incremental_value is not None
    pd.testing.assert_frame_equal(got.incremental_value, base.incremental_value, rtol=1e-12)
    assert np.isclose(got.incremental_value["expected_incremental_value"].sum(),
                      base.incremental_value["expected_incremental_value"].sum(), rtol=1e-12)


def test_the_subset_keeps_the_whole_base_segments(sample, on_buckets):
    ds = on_buckets[0]
    assert ds.segment_levels == {"plan": 3, "sector": 8, "size": 4, "region": 12, "channel": 5}  # 3,000 customers
    for k in (3, 4, 10, 12, 30):
        assert ds.segment_columns(k) == sample.segment_columns(k)
    assert ds.segment_columns(10) == ["plan", "sector", "size", "channel"]  # region's 12 values: left out
