"""Notebook 05 (re-activation) on a large base with bounded memory (issues 12 and 16).

Everything notebook 05 computes is either about **the customers of the campaigns** or a
**base-level figure** that adds up over customers:

* the campaign effects and their balance (:func:`analysis.metrics.campaigns.analyse_campaigns`)
  and the uplift model (:func:`analysis.models.uplift.evaluate_uplift`) read only the rows of
  the customers named in ``interventions`` (treated and controls). On a large base,
  :func:`campaign_data` loads every table's rows of those customers only
  (:func:`load_customers`, bucket by bucket from the bucketed validated copy), so the
  notebook's memory is set by the contacted customers, not by the base;
* the next campaign's target and its baseline, the reaction delay of every alert, the
  re-activation cycles and the separate list, the OKRs and the expected incremental value
  are per customer or sums over customers: :func:`reactivation_base` computes them one
  partition of customers at a time (the six indicators, statuses and values of a customer
  read that customer's rows plus the base's context) and puts the partitions together: the
  lists concatenated in customer order, the counts and sums added, the value tiers' threshold
  taken over every customer's value. Peak memory is one bucket plus those per-customer lists.

On a base that fits one bucket (:func:`analysis.models.partitioned.engine_buckets`, the switch of
notebook 04 and ``churn-radar score``) both are the in-memory functions, unchanged. The numbers
are the same either way (tests/test_campaigns_partitioned.py: the sample in memory against
the sample split into several buckets); sums of amounts (OKR revenue) may differ in the last
bits because they are added in another order. One caveat: the next campaign's control group is
drawn in customer_id order on buckets, in the customers file's order in memory (the same
draw when the file is sorted by id, as the sample and the benchmark bases are).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from analysis.data.dataset import Dataset
from analysis.data.partitions import PartitionedDataset, bucket_of, iter_partitions
from analysis.errors import ConfigError, NotEnoughDataError
from analysis.metrics.cycles import sunset_lists
from analysis.metrics.okr import okr_from_parts, okr_parts, okr_progress
from analysis.metrics.priority import _tier_from_values, value_tiers
from analysis.metrics.reaction import reaction_at
from analysis.metrics.targeting import (
    CampaignPlan,
    assign_groups,
    finish_plan,
    plan_campaign,
    population,
    unsubscribed,
)
from analysis.models.uplift import (
    UpliftEvaluation,
    expected_incremental_value,
    incremental_value_order,
    incremental_value_rows,
)

__all__ = ["CustomerSubset", "ReactivationBase", "campaign_customer_ids", "campaign_data", "customer_subset",
           "load_customers", "reactivation_base", "source_buckets"]

log = logging.getLogger("analysis.engine")


# ------------------------------------------------------------- the customers of the campaigns
def campaign_customer_ids(source: Dataset | PartitionedDataset) -> pd.Series:
    """The distinct customers named in ``interventions`` (treated and controls), sorted;
    on a :class:`PartitionedDataset` only that table's ``customer_id`` column is read."""
    if isinstance(source, PartitionedDataset):
        files = source.table_files("interventions")
        ids = pd.concat([pq.read_table(f, columns=["customer_id"]).to_pandas()["customer_id"] for f in files],
                        ignore_index=True) if files else pd.Series([], dtype="string")
    else:
        ids = source.interventions["customer_id"] if source.interventions is not None else pd.Series([], dtype="string")
    return pd.Series(np.sort(ids.astype("string").dropna().unique().to_numpy(dtype=object)), dtype="string",
                     name="customer_id")


@dataclass
class CustomerSubset(Dataset):
    """A :class:`Dataset` of chosen customers of a large base (:func:`load_customers`): like a
    partition, it answers the base-level questions for the whole base. ``segment_levels``
    holds the whole base's number of distinct values of each segment column, so that
    :meth:`segment_columns` with a smaller ``max_levels`` (the uplift model's 10) keeps the
    columns the in-memory base would keep. (:meth:`Dataset.before` returns a plain partition.)"""

    segment_levels: dict[str, int] = field(default_factory=dict)

    def segment_columns(self, max_levels: int = 30) -> list[str]:
        """The whole base's segment columns with at most ``max_levels`` distinct values."""
        return [c for c in super().segment_columns(max_levels) if self.segment_levels.get(c, 0) <= max_levels]


def load_customers(pds: PartitionedDataset, customer_ids) -> CustomerSubset:
    """Every row of every table of the customers ``customer_ids``, from the bucketed
    validated copy: a :class:`Dataset` of those customers with the whole base's context
    (``pds.base``: segments, personal columns, tables kept), like one partition.

    Each id is looked up in its own bucket only (:func:`~analysis.data.partitions.bucket_of`),
    one bucket file at a time with a filter on ``customer_id`` (pyarrow), so memory holds one
    bucket's matching rows plus the result. Rows keep the copy's order (customer, then time)
    and the validated types. Unknown ids are ignored.
    """
    ids = pd.Series(pd.unique(pd.Series(customer_ids, dtype="string").dropna()), dtype="string")
    where = bucket_of(ids, pds.n_buckets) if len(ids) else np.array([], dtype=np.int64)
    frames: dict[str, list[pd.DataFrame]] = {t: [] for t in pds.tables}
    for b in range(pds.n_buckets):  # buckets, not customers
        wanted = ids[where == b].tolist()
        for t in pds.tables:
            file = pds.entry / "tables" / t / f"bucket-{b:04d}.parquet"
            if wanted:
                frames[t].append(pq.read_table(file, filters=[("customer_id", "in", wanted)]).to_pandas())
            elif not frames[t]:  # the schema, for a customer list that misses this bucket
                frames[t].append(pq.read_table(file).schema.empty_table().to_pandas())
    tables = {}
    for t, parts in frames.items():
        kept = [p for p in parts if len(p)] or parts[:1]
        tables[t] = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0].reset_index(drop=True)
    segs = list(pds.base.segment_columns)
    levels = pds.customers(columns=segs).nunique(dropna=True) if segs else pd.Series(dtype="int64")
    return CustomerSubset(**tables, config=pds.config, report=pds.report, path=pds.path,
                          observed_from=pds.observed_from, observed_until=pds.observed_until, base=pds.base,
                          segment_levels={c: int(levels[c]) for c in segs})


def customer_subset(ds: Dataset, customer_ids) -> CustomerSubset:
    """The in-memory counterpart of :func:`load_customers`: the rows of ``ds`` of the customers
    ``customer_ids``, with the base's context (:func:`~analysis.data.partitions.base_context`)
    and segment levels; the same numbers as :func:`load_customers` of a bucketed copy of ``ds``."""
    from analysis.data.partitions import base_context

    ids = set(pd.Series(customer_ids, dtype="string").dropna())
    tables = {t: f.loc[f["customer_id"].isin(ids)].reset_index(drop=True) for t, f in ds.tables.items()}
    base = base_context(ds)
    segs = list(base.segment_columns)
    return CustomerSubset(**tables, config=ds.config, report=ds.report, path=ds.path,
                          observed_from=ds.observed_from, observed_until=ds.observed_until, base=base,
                          segment_levels={c: int(ds.customers[c].nunique(dropna=True)) for c in segs})


def campaign_data(source: Dataset | PartitionedDataset) -> Dataset:
    """The data notebook 05's campaign sections read: the whole :class:`Dataset` when the base
    is in memory, else the customers of ``interventions`` (:func:`load_customers`)."""
    if isinstance(source, PartitionedDataset):
        return load_customers(source, campaign_customer_ids(source))
    return source


def source_buckets(source: Dataset | PartitionedDataset) -> int:
    """Buckets of customers of ``source``: 1 for a base held in memory."""
    return source.n_buckets if isinstance(source, PartitionedDataset) else 1


# ------------------------------------------------------------- base-level figures, by partition
@dataclass
class ReactivationBase:
    """The base-level results of notebook 05 (:func:`reactivation_base`).

    Attributes
    ----------
    plan : the next campaign (:func:`analysis.metrics.targeting.plan_campaign`).
    delays : every alert and its reaction delay (:func:`analysis.metrics.reaction.reaction_at`),
        None without interventions.
    lists : cycles and list status per customer (:func:`analysis.metrics.cycles.sunset_lists`).
    okr : key results' progress (:func:`analysis.metrics.okr.okr_progress`).
    incremental_value : expected incremental value of the next campaign's customers
        (:func:`analysis.models.uplift.expected_incremental_value`), None unless the uplift
        model beats random targeting.
    n_buckets : partitions of customers used (1: the whole base in memory).
    """

    plan: CampaignPlan
    delays: pd.DataFrame | None
    lists: pd.DataFrame
    okr: pd.DataFrame
    incremental_value: pd.DataFrame | None
    n_buckets: int


def _wants_value(uplift: UpliftEvaluation | None) -> bool:
    return uplift is not None and uplift.model is not None and uplift.beats_random


def reactivation_base(source: Dataset | PartitionedDataset, as_of, *, target: str = "lapsed",
                      holdout: float = 0.1, seed: int = 0, weeks: int = 26, failed_cycles: int = 2,
                      uplift: UpliftEvaluation | None = None, n_buckets: int | None = None,
                      progress: Callable[[str], None] | None = None) -> ReactivationBase:
    """The base-level figures of notebook 05 at ``as_of``, in memory or one partition at a time.

    Parameters
    ----------
    source : an in-memory :class:`Dataset`, or a :class:`PartitionedDataset` (read bucket by
        bucket).
    target, holdout, seed : the next campaign (:func:`~analysis.metrics.targeting.plan_campaign`).
    weeks : weeks of alerts whose reaction delay is measured.
    failed_cycles : failed cycles before removal (:func:`~analysis.metrics.cycles.sunset_lists`).
    uplift : the evaluated uplift model; the expected incremental value is computed when it beats
        random targeting.
    n_buckets : split an in-memory :class:`Dataset` into that many partitions (tests; default
        1: the in-memory functions themselves).
    progress : optional callable receiving a line every few buckets.

    Returns
    -------
    ReactivationBase
    """
    cut = pd.Timestamp(as_of).normalize()
    if not isinstance(source, PartitionedDataset) and (n_buckets or 1) == 1:
        plan = plan_campaign(source, cut, target=target, holdout=holdout, seed=seed)
        delays = reaction_at(source, cut, weeks=weeks) if source.has("interventions") else None
        eiv = (expected_incremental_value(source, cut, uplift, plan.assignments["customer_id"])
               if _wants_value(uplift) else None)
        return ReactivationBase(plan, delays, sunset_lists(source, cut, failed_cycles=failed_cycles),
                                okr_progress(source, cut), eiv, 1)
    return _by_partitions(source, cut, target, holdout, seed, weeks, failed_cycles, uplift, n_buckets, progress)


def _bucket(task: tuple) -> dict:
    """Everything one partition of customers contributes to :func:`reactivation_base` (a worker
    task: the partition, or a :class:`PartitionedDataset` and the bucket to read)."""
    source, b, cut, target, weeks, failed_cycles, uplift, baseline_days = task
    part = source.partition(b) if isinstance(source, PartitionedDataset) else source
    out = {"has_orders": part.has("orders"), "has_iv": part.has("interventions")}
    pop = population(part, cut, target)
    gone = pop["customer_id"].isin(unsubscribed(part, cut))
    out["n_gone"] = int(gone.sum())
    out["pop"] = pop = pop.loc[~gone, ["customer_id"]].reset_index(drop=True)
    try:
        out["values"] = vals = value_tiers(part, cut)[["customer_id", "value"]]
    except NotEnoughDataError:
        out["values"] = vals = None
    before = cut - pd.Timedelta(days=baseline_days)
    try:
        past = population(part.before(before), before, target)["customer_id"]
    except NotEnoughDataError:
        past = pd.Series([], dtype="string")
    out["n_past"] = len(past)
    out["n_react"] = out["n_bought"] = 0
    if len(past):
        inter = part.interactions()
        recent = inter.loc[(inter["time"] >= before) & (inter["time"] < cut)]
        out["n_react"] = int(past.isin(recent["customer_id"].unique()).sum())
        if out["has_orders"]:
            out["n_bought"] = int(past.isin(recent.loc[recent["kind"].eq("purchase"), "customer_id"].unique()).sum())
    out["delays"] = reaction_at(part, cut, weeks=weeks) if out["has_iv"] else None
    out["lists"] = sunset_lists(part, cut, failed_cycles=failed_cycles)
    out["okr"] = okr_parts(part, cut)
    out["eiv"] = None
    if _wants_value(uplift):
        if vals is None:  # as expected_incremental_value: the value needs amounts
            raise NotEnoughDataError("the expected incremental value needs orders with an 'amount' column.")
        out["eiv"] = incremental_value_rows(part, cut, uplift, pop["customer_id"],
                                            vals.set_index("customer_id")["value"])
    return out


def _by_partitions(source, cut, target, holdout, seed, weeks, failed_cycles, uplift, n_buckets, progress):
    from analysis.data.partitions import _map
    from analysis.models.partitioned import default_workers

    say = progress or log.info
    if not 0 < holdout < 1:  # as plan_campaign, before any work
        raise ConfigError(f"--holdout is {holdout}; expected a share strictly between 0 and 1 (e.g. 0.1).")
    baseline_days = 30  # plan_campaign's default
    if isinstance(source, PartitionedDataset):  # buckets read by the workers themselves
        n = source.n_buckets
        tasks = [(source, b, cut, target, weeks, failed_cycles, uplift, baseline_days) for b in range(n)]
        results = _map(_bucket, tasks, default_workers(source.config, n))
    else:  # an in-memory base split into partitions (tests), in this process
        n = int(n_buckets)
        results = map(_bucket, ((p, b, cut, target, weeks, failed_cycles, uplift, baseline_days)
                                for b, p in enumerate(iter_partitions(source, n_buckets=n))))
    got: list[dict] = []
    for i, r in enumerate(results):  # partitions of customers, in bucket order
        got.append(r)
        if (i + 1) % max(1, n // 10) == 0 or i + 1 == n:
            say(f"re-activation: bucket {i + 1}/{n}")
    has_orders, has_iv = got[-1]["has_orders"], got[-1]["has_iv"]
    pop = pd.concat([r["pop"] for r in got], ignore_index=True).sort_values("customer_id", kind="stable")
    pop = pop.reset_index(drop=True)
    if all(r["values"] is not None for r in got):
        allv = pd.concat([r["values"] for r in got], ignore_index=True)
        tiers = pd.Series(_tier_from_values(allv["value"], 0.20).astype("string").to_numpy(),
                          index=allv["customer_id"].astype("string").to_numpy())
        tier = pop["customer_id"].map(tiers).fillna("standard")
    else:
        tier = pd.Series("all", index=pop.index, dtype="string")
    frame = assign_groups(pop["customer_id"], tier, holdout, seed)
    n_past = sum(r["n_past"] for r in got)
    baseline = sum(r["n_react"] for r in got) / n_past if n_past else None
    baseline_purchase = sum(r["n_bought"] for r in got) / n_past if n_past and has_orders else None
    plan = finish_plan(frame, cut, sum(r["n_gone"] for r in got), baseline, baseline_days, baseline_purchase)
    okr = okr_from_parts(source.config.objectives, cut, [r["okr"] for r in got])
    delays = (pd.concat([r["delays"] for r in got], ignore_index=True)
              .sort_values(["alert_date", "customer_id", "indicator"], kind="stable").reset_index(drop=True)
              if has_iv else None)
    lists = pd.concat([r["lists"] for r in got], ignore_index=True).sort_values("customer_id", kind="stable")
    eiv = incremental_value_order(pd.concat([r["eiv"] for r in got], ignore_index=True)) if _wants_value(uplift) else None
    return ReactivationBase(plan, delays, lists.reset_index(drop=True), okr, eiv, n)
