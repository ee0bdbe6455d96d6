"""Notebook 05 on buckets (issue 16): the customers of the campaigns loaded from the bucketed
copy, and the base-level figures computed partition by partition, give the in-memory numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.dataset import Dataset, load
from analysis.data.partitions import bucket_of, load_partitioned
from analysis.metrics.campaigns import analyse_campaigns
from analysis.metrics.cycles import list_counts, off_active_list
from analysis.metrics.reaction import reaction_key_figures, reaction_summary
from analysis.models.reactivation_engine import (
    campaign_customer_ids,
    campaign_data,
    customer_subset,
    load_customers,
    reactivation_base,
)
from analysis.models.uplift import evaluate_uplift
from analysis.paths import resolve_data_dir

AS_OF = "2026-11-01"
WEEKS = 13  # weeks of alerts (the notebook's 26 cost twice as much and test nothing more)

# ------------------------------------------------------------------ the loader, on a tiny base
CUSTOMERS = ("customer_id,signup_date,churn_date,sector\nC1,2026-01-05,,retail\nC2,2026-02-10,,industry\n"
             "C3,2026-01-20,2026-06-01,retail\nC4,2026-03-01,,industry\nC5,2026-01-02,,retail\n")
ORDERS = ("customer_id,order_date,amount\nC1,2026-01-10,100.0\nC2,2026-02-15,200.5\nC1,2026-03-10,50.0\n"
          "C3,2026-03-01,7.25\nC4,2026-04-01,5.0\nC5,2026-05-05,1.0\nC5,2026-05-06,2.5\nC4,2026-05-01,9.0\n")
INTERVENTIONS = ("customer_id,action_date,action,campaign_id,group,variant,cost\n"
                 "C1,2026-04-01,email_sequence,K1,treatment,A,0.5\nC4,2026-04-01,email_sequence,K1,control,,\n"
                 "C1,2026-05-01,incentive,K2,treatment,,5.0\n")


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURN_RADAR_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "base"
    folder.mkdir()
    for name, text in (("customers", CUSTOMERS), ("orders", ORDERS), ("interventions", INTERVENTIONS)):
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def test_load_customers_reads_every_row_of_those_customers_only(tiny):
    pds = load_partitioned(tiny, n_buckets=3)
    assert len(set(bucket_of(pd.Series(["C1", "C4"]), 3))) == 2  # the two customers sit in two buckets
    assert campaign_customer_ids(pds).tolist() == ["C1", "C4"]
    ds = campaign_data(pds)
    whole = load(tiny, cache=False)
    assert sorted(ds.customers["customer_id"]) == ["C1", "C4"]
    assert sorted(zip(ds.orders["customer_id"], ds.orders["amount"], strict=True)) == [
        ("C1", 50.0), ("C1", 100.0), ("C4", 5.0), ("C4", 9.0)]  # by hand: C1's two orders, C4's two
    assert len(ds.interventions) == 3 and ds.base is pds.base and ds.has("orders")
    assert ds.segment_levels == {"sector": 2}
    for table in ("customers", "orders", "interventions"):
        assert dict(getattr(ds, table).dtypes) == dict(getattr(whole, table).dtypes), table
    mem = customer_subset(whole, ["C1", "C4"])
    for table in ("customers", "orders", "interventions"):
        key = ["customer_id", *[c for c in getattr(mem, table).columns if c.endswith("date")]]
        pd.testing.assert_frame_equal(getattr(ds, table).sort_values(key, kind="stable").reset_index(drop=True),
                                      getattr(mem, table).sort_values(key, kind="stable").reset_index(drop=True))
    few = load_customers(pds, ["C5", "nobody"])  # one bucket only; the others give their empty schema
    assert few.customers["customer_id"].tolist() == ["C5"] and few.orders["amount"].tolist() == [1.0, 2.5]
    assert few.interventions.empty and list(few.interventions.columns) == list(whole.interventions.columns)


# ------------------------------------------------------------------ the sample: in memory against partitions
@pytest.fixture(scope="module")
def sample():
    return load(resolve_data_dir("data/sample"))


@pytest.fixture(scope="module")
def in_memory(sample):
    campaigns = analyse_campaigns(sample, AS_OF)
    uplift = evaluate_uplift(sample, AS_OF, random_state=0, result=campaigns)
    base = reactivation_base(sample, AS_OF, target="lapsed_buyers", holdout=0.1, seed=0, weeks=WEEKS,
                             failed_cycles=2, uplift=uplift)
    return campaigns, uplift, base


@pytest.fixture(scope="module")
def by_parts(sample, in_memory):
    ds = customer_subset(sample, campaign_customer_ids(sample))
    campaigns = analyse_campaigns(ds, AS_OF)
    uplift = evaluate_uplift(ds, AS_OF, random_state=0, result=campaigns)
    base = reactivation_base(sample, AS_OF, target="lapsed_buyers", holdout=0.1, seed=0, weeks=WEEKS,
                             failed_cycles=2, uplift=in_memory[1], n_buckets=2, progress=lambda _line: None)
    return ds, campaigns, uplift, base


def test_the_subset_keeps_the_whole_base_segments(sample, by_parts):
    ds = by_parts[0]
    assert len(ds.customers) == 1553 and ds.interventions.equals(sample.interventions)  # contacted customers only
    assert ds.segment_levels == {"plan": 3, "sector": 8, "size": 4, "region": 12, "channel": 5}  # 3,000 customers
    for k in (3, 4, 10, 12, 30):
        assert ds.segment_columns(k) == sample.segment_columns(k)
    assert ds.segment_columns(10) == ["plan", "sector", "size", "channel"]  # region's 12 values: left out


def test_campaign_effects_balance_and_uplift_equal_in_memory(in_memory, by_parts):
    campaigns, uplift, _ = in_memory
    _, got, got_uplift, _ = by_parts
    pd.testing.assert_frame_equal(got.effects, campaigns.effects)
    pd.testing.assert_frame_equal(got.balance, campaigns.balance)
    assert got.key_figures() == campaigns.key_figures()
    assert uplift.status == got_uplift.status == "ok"
    assert got_uplift.qini == uplift.qini and got_uplift.qini_ci == uplift.qini_ci
    assert got_uplift.qini_vs_churn_risk == uplift.qini_vs_churn_risk and got_uplift.features == uplift.features
    assert got_uplift.key_figures() == uplift.key_figures()
    pd.testing.assert_frame_equal(got_uplift.curves, uplift.curves)
    pd.testing.assert_frame_equal(got_uplift.test, uplift.test)


def test_base_figures_by_partitions_equal_in_memory(in_memory, by_parts):
    _, uplift, base = in_memory
    got = by_parts[3]
    assert base.n_buckets == 1 and got.n_buckets == 2
    pd.testing.assert_frame_equal(got.plan.assignments, base.plan.assignments)
    assert got.plan.key_figures() == base.plan.key_figures()
    assert base.plan.n_control > 0 and base.plan.baseline_purchase is not None
    assert len(base.delays) > 0 and base.delays["status"].eq("acted").any()
    pd.testing.assert_frame_equal(got.delays, base.delays)
    for by in (None, "owner", "indicator"):
        pd.testing.assert_frame_equal(reaction_summary(got.delays, by), reaction_summary(base.delays, by))
    assert reaction_key_figures(got.delays) == reaction_key_figures(base.delays)
    pd.testing.assert_frame_equal(got.lists, base.lists)
    assert list_counts(got.lists) == list_counts(base.lists)
    pd.testing.assert_frame_equal(off_active_list(got.lists), off_active_list(base.lists))
    assert len(base.okr) == 2 and base.okr["value"].notna().all()
    pd.testing.assert_frame_equal(got.okr, base.okr, rtol=1e-12)  # revenue summed in another order
    assert uplift.beats_random and len(base.incremental_value) == len(base.plan.assignments)
    pd.testing.assert_frame_equal(got.incremental_value, base.incremental_value, rtol=1e-12)
    assert np.isclose(got.incremental_value["expected_incremental_value"].sum(),
                      base.incremental_value["expected_incremental_value"].sum(), rtol=1e-12)


def test_nothing_on_or_after_as_of_is_read(sample):
    quarter = Dataset(**{t: f.loc[bucket_of(f["customer_id"], 4) == 0].reset_index(drop=True)
                         for t, f in sample.tables.items()}, config=sample.config, report=sample.report,
                      path=sample.path, observed_from=sample.observed_from, observed_until=sample.observed_until)
    early = "2026-08-01"  # three months before the sample's end
    kw = dict(target="lapsed_buyers", holdout=0.1, seed=0, weeks=4, failed_cycles=2, n_buckets=2,
              progress=lambda _line: None)
    full = reactivation_base(quarter, early, **kw)
    cut = reactivation_base(quarter.before(early), early, **kw)
    assert quarter.orders["order_date"].max() >= pd.Timestamp(early) and len(full.plan.assignments) > 0
    pd.testing.assert_frame_equal(cut.plan.assignments, full.plan.assignments)
    assert cut.plan.key_figures() == full.plan.key_figures()
    pd.testing.assert_frame_equal(cut.delays, full.delays)
    pd.testing.assert_frame_equal(cut.lists, full.lists)
    pd.testing.assert_frame_equal(cut.okr, full.okr)
