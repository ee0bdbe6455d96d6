"""Scoring on partitions of customers: the local engine of issue 16 (and the pieces Spark runs).

:func:`analysis.models.classifier.score` holds the whole base in memory. Here the same work
is split into pure functions of **one partition** (a :class:`~analysis.data.dataset.Dataset`
of one bucket of customers, :mod:`analysis.data.partitions`) plus small **global** objects,
so that peak memory is set by a bucket, not by the base:

1. :func:`plan_run` — the run's dates and parameters (:class:`RunPlan`, picklable), from the
   customers table only.
2. :func:`rfm_part` per partition — each customer's BG/NBD summary (frequency, recency, T)
   at every date: one small row per customer and date. :func:`fit_bgnbd` fits each date's
   BG/NBD on the concatenated summaries (the buyer sample is the one of the in-memory path:
   the summaries are sorted by customer first).
3. :func:`snapshot_rows` per partition — features (:func:`analysis.models.features.features`
   with the fitted BG/NBD models) and labels at every snapshot, each row with ``_u``, a
   uniform number from a hash of (customer, snapshot, seed) (:func:`row_hash`); the rows with
   ``_u`` below the plan's pre-filter are kept, with the row count of every (snapshot, label)
   stratum; and the feature rows at ``as_of`` with each customer's value.
4. :func:`fit_scorer` — the **capped, stratified training sample**: when the labelled rows
   exceed ``training_cap``, each (snapshot, label) stratum keeps its share of the cap, the
   rows with the smallest ``_u`` (so the sample depends neither on the bucket order nor on the
   engine); below the cap every row is used, and the backtest, the model and the scores are
   those of :func:`~analysis.models.classifier.score`. Then the backtest
   (:func:`~analysis.models.classifier.backtest_on_rows`), the final model, the value tiers'
   threshold from every scored customer's value: a :class:`FittedScorer` (picklable).
5. :func:`score_partition` per partition, then :func:`finish` puts every partition's rows in
   call order (a :class:`~analysis.models.classifier.ScoreResult`).

:func:`score_partitioned` runs the five steps with the local engine: partitions read one
at a time, the feature rows at ``as_of`` kept on disk between steps 3 and 5, progress on the
``analysis.engine`` logger (one line per step and every few buckets).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.data.config import DatasetConfig
from analysis.data.dataset import Dataset
from analysis.data.partitions import PartitionedDataset, _crc32, _map, iter_partitions
from analysis.errors import NotEnoughDataError
from analysis.metrics.lifecycle import as_dates
from analysis.metrics.priority import VALUE_DTYPE
from analysis.models.baselines import fit_bgnbd_at, rfm_summary
from analysis.models.classifier import (
    SCORE_COLUMNS,
    Backtest,
    ChurnClassifier,
    ScoreResult,
    _labelled,
    backtest_on_rows,
    call_order,
    customer_value,
    fit_final_model,
    forward_metrics,
    resolve_run_parameters,
    score_rows,
    time_split,
)
from analysis.models.features import _CATEGORICAL, KEYS, features, labels, snapshot_dates

__all__ = [
    "DEFAULT_TRAINING_CAP", "RunPlan", "BgnbdFits", "PartRows", "FittedScorer", "plan_run", "row_hash",
    "rfm_part", "fit_bgnbd", "snapshot_rows", "training_sample", "fit_scorer", "score_partition",
    "finish", "score_partitioned", "canonical_columns", "MATRIX_EXTRAS", "forward_evaluation_partitioned",
    "engine_buckets", "default_workers", "open_source", "source_has", "score_source", "forward_evaluation_source",
]

log = logging.getLogger("analysis.engine")

#: Default cap on the labelled snapshot rows the models are trained and tested on.
DEFAULT_TRAINING_CAP = 300_000
#: Columns kept beside :data:`SCORE_COLUMNS` in the partitioned result's ``matrix``.
MATRIX_EXTRAS = ("value_tier", "bgnbd_expected_purchases", "any_alert")
_MASK64 = (1 << 64) - 1


# ------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class RunPlan:
    """Dates and parameters of one partitioned scoring run (picklable).

    Attributes
    ----------
    as_of, horizon_days, capacity, random_state : as for :func:`~analysis.models.classifier.score`.
    snapshots : the snapshot dates (:func:`~analysis.models.features.snapshot_dates`).
    training_cap : at most this many labelled snapshot rows train and test the models (None: all).
    expected_rows : labelled snapshot rows of the whole base (from the customers table).
    prefilter : a partition keeps its rows with ``_u`` below it (twice the cap's share, 1
        when the cap is not binding).
    config : the dataset's configuration.
    has_orders, has_amounts : whether the base has orders, with amounts.
    n_known : customers signed up before ``as_of``.
    """

    as_of: pd.Timestamp
    horizon_days: int
    capacity: int
    random_state: int
    snapshots: tuple[pd.Timestamp, ...]
    training_cap: int | None
    expected_rows: int
    prefilter: float
    config: DatasetConfig
    has_orders: bool
    has_amounts: bool
    n_known: int
    n_test: int = 1
    test_fraction: float = 0.5
    importance_rows: int = 3000

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The snapshots and ``as_of`` (every date features are computed at)."""
        return as_dates([*self.snapshots, self.as_of])


def _customers(source: Dataset | PartitionedDataset) -> pd.DataFrame:
    if isinstance(source, PartitionedDataset):
        return source.customers(columns=["customer_id", "signup_date", "churn_date"])
    return source.customers[["customer_id", "signup_date", "churn_date"]]


def _has(source: Dataset | PartitionedDataset, table: str) -> bool:
    if isinstance(source, PartitionedDataset):
        rep = source.report.tables.get(table)
        return table in source.tables and rep is not None and rep.rows_kept > 0
    return source.has(table)


def plan_run(source: Dataset | PartitionedDataset, as_of, horizon_days: int | None = None,
             capacity: int | None = None, random_state: int = 0, *,
             training_cap: int | None = DEFAULT_TRAINING_CAP, freq: str = "MS", min_history_days: int = 30,
             max_snapshots: int | None = 12, n_test: int = 1, test_fraction: float = 0.5,
             importance_rows: int = 3000) -> RunPlan:
    """The :class:`RunPlan` of a run (reads the customers table only).

    Parameters are those of :func:`~analysis.models.classifier.score`, plus
    ``training_cap``: the labelled snapshot rows used to train and test the models are a
    stratified sample of at most that many rows (None: all).
    """
    h, cap = resolve_run_parameters(source, horizon_days, capacity)
    cut = pd.Timestamp(as_of).normalize()
    snaps = snapshot_dates(source, cut, h, freq=freq, min_history_days=min_history_days,
                           max_snapshots=max_snapshots)
    cust = _customers(source)
    signup = cust["signup_date"].to_numpy(dtype="datetime64[ns]")
    churn = cust["churn_date"].to_numpy(dtype="datetime64[ns]")
    expected = 0
    for d in snaps:  # a dozen snapshot dates
        known = signup < np.datetime64(d)
        if source.config.contractual:
            known &= ~(churn < np.datetime64(d))  # NaT compares False: not ended
        expected += int(known.sum())
    prefilter = 1.0
    if training_cap and expected > training_cap:
        prefilter = min(1.0, 2.0 * training_cap / expected + 1e-3)
    has_orders = _has(source, "orders")
    if isinstance(source, PartitionedDataset):
        has_amounts = has_orders and "amount" in pq.read_schema(source.table_files("orders")[0]).names
    else:
        has_amounts = source.has_amounts
    return RunPlan(as_of=cut, horizon_days=h, capacity=cap, random_state=int(random_state),
                   snapshots=tuple(snaps), training_cap=training_cap, expected_rows=expected,
                   prefilter=prefilter, config=source.config, has_orders=has_orders, has_amounts=has_amounts,
                   n_known=int((signup < np.datetime64(cut)).sum()), n_test=n_test,
                   test_fraction=test_fraction, importance_rows=importance_rows)


def row_hash(customer_ids: pd.Series, dates: pd.Series, seed: int = 0) -> np.ndarray:
    """A uniform number in [0, 1) per (customer, date, seed), the same in every engine.

    ``splitmix64(crc32(UTF-8 id) * 2^32 + day + seed * 0x9E3779B97F4A7C15)`` (day: days
    since 1970-01-01; arithmetic modulo 2^64), top 53 bits / 2^53.
    """
    ids = pd.Series(customer_ids).astype("string")
    codes, uniques = pd.factorize(ids)
    crc = _crc32(pa.array(np.asarray(uniques, dtype=object), type=pa.large_string())).astype(np.uint64)
    day = pd.to_datetime(pd.Series(dates)).to_numpy(dtype="datetime64[D]").astype(np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (crc[codes] << np.uint64(32)) + day + np.uint64((int(seed) * 0x9E3779B97F4A7C15) & _MASK64)
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


# ------------------------------------------------------------------------------ BG/NBD
@dataclass
class BgnbdFits:
    """The BG/NBD models of every date, fitted on the whole base (picklable).

    ``models[date] = (model or None, record)``; ``records`` in date order.
    """

    models: dict = field(default_factory=dict)
    records: list[dict] = field(default_factory=list)


def rfm_part(part: Dataset, plan: RunPlan) -> pd.DataFrame:
    """Frequency, recency and T of the partition's customers at every date of the plan.

    Returns
    -------
    DataFrame with ``as_of``, ``customer_id``, ``frequency``, ``recency``, ``T`` (empty
    without orders).
    """
    cols = {"as_of": "datetime64[ns]", "customer_id": "string", "frequency": "float64",
            "recency": "float64", "T": "float64"}
    if not part.has("orders"):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in cols.items()})
    signup = part.customers.set_index("customer_id")["signup_date"]
    parts = [rfm_summary(part.orders, d, signup=signup).reset_index().assign(as_of=d) for d in plan.dates]
    return pd.concat(parts, ignore_index=True)[list(cols)]


def fit_bgnbd(rfm: pd.DataFrame | Iterable[pd.DataFrame], plan: RunPlan, dates=None) -> BgnbdFits:
    """Each date's BG/NBD fit on the summaries of every partition (:func:`rfm_part`);
    ``dates``: only these dates of the plan (default all)."""
    if not isinstance(rfm, pd.DataFrame):
        rfm = pd.concat(list(rfm), ignore_index=True)
    out = BgnbdFits()
    if not plan.has_orders:
        return out
    for d in (plan.dates if dates is None else as_dates(dates)):  # a dozen dates
        summ = rfm.loc[rfm["as_of"] == d].drop(columns="as_of").set_index("customer_id").sort_index()
        model, record, _ = fit_bgnbd_at(summ, d, plan.horizon_days, random_state=plan.random_state)
        out.models[pd.Timestamp(d)] = (model, record)
        out.records.append(record)
    return out


# ------------------------------------------------------------------------- snapshots
@dataclass
class PartRows:
    """What one partition gives the training step.

    Attributes
    ----------
    training : labelled snapshot rows with ``_u`` below the plan's pre-filter.
    counts : labelled rows per stratum: ``as_of``, ``label``, ``n``.
    now : feature rows at ``as_of`` with ``value``.
    """

    training: pd.DataFrame
    counts: pd.DataFrame
    now: pd.DataFrame


def snapshot_rows(part: Dataset, plan: RunPlan, bgnbd: BgnbdFits) -> PartRows:
    """Features and labels of one partition at every snapshot, and its features at ``as_of``."""
    feats = features(part, plan.dates, horizon_days=plan.horizon_days, random_state=plan.random_state,
                     bgnbd=bgnbd.models if plan.has_orders else None)
    snaps = as_dates(plan.snapshots)
    data = _labelled(part, feats.loc[feats["as_of"].isin(snaps)], snaps, plan.horizon_days, plan.as_of)
    data["_u"] = row_hash(data["customer_id"], data["as_of"], plan.random_state)
    counts = data.groupby(["as_of", "label"], as_index=False).size().rename(columns={"size": "n"})
    training = data.loc[data["_u"] < plan.prefilter].reset_index(drop=True)
    now = feats.loc[feats["as_of"] == plan.as_of].reset_index(drop=True)
    if len(now):
        value, _ = customer_value(part, plan.as_of)
        now = now.merge(value, on="customer_id", how="left")
    else:
        now = now.assign(value=pd.Series(dtype="float64"))
    return PartRows(training=training, counts=counts, now=now)


def canonical_columns(frames: Iterable[pd.DataFrame], segments: Iterable[str]) -> tuple[list[str], set[str]]:
    """The column order of the in-memory :func:`~analysis.models.features.features` for the
    union of the columns of ``frames`` (partitions lack the one-hot columns of categories
    absent from them), and the set of one-hot columns (0 where a partition lacks them).

    Order: the other columns as first seen, then the one-hot groups of ``email_segment``,
    ``nps_category``, ``status`` and of each segment column (levels sorted).
    """
    seen: dict[str, None] = {}
    for f in frames:
        seen.update(dict.fromkeys(f.columns))
    groups = [f"is_{c}_" for c in _CATEGORICAL] + [f"seg_{c}" for c in segments]
    base, grouped = [], {g: [] for g in groups}
    dummies: set[str] = set()
    for col in seen:
        owner = None
        for g in groups:  # longest matching prefix owns the column
            if col == g or col.startswith(g if g.startswith("is_") else g + "_"):
                if owner is None or len(g) > len(owner):
                    owner = g
        if owner is None:
            base.append(col)
        else:
            grouped[owner].append(col)
            if col != owner:
                dummies.add(col)
    order = list(base)
    for g in groups:
        exact = [c for c in grouped[g] if c == g]
        order += exact + sorted(c for c in grouped[g] if c != g)
    return order, dummies


def _aligned(frame: pd.DataFrame, order: list[str], dummies: set[str]) -> pd.DataFrame:
    missing = [c for c in order if c not in frame.columns]
    if missing:
        add = pd.DataFrame({c: (0.0 if c in dummies else np.nan) for c in missing}, index=frame.index)
        frame = pd.concat([frame, add], axis=1)
    return frame[[c for c in order if c in frame.columns]]


def training_sample(rows: pd.DataFrame, counts: pd.DataFrame, cap: int | None) -> pd.DataFrame:
    """The capped, stratified sample of labelled snapshot rows (sorted by as_of, customer_id).

    Below the cap, every row. Above it, each (as_of, label) stratum of ``counts`` keeps
    ``round(cap * n_stratum / n_total)`` rows: its rows with the smallest ``_u``. ``rows``
    are those a partition kept (``_u`` below the plan's pre-filter, twice the cap's share):
    on average twice each quota, so only a stratum of a few rows can fall short of its quota
    (it then keeps every row it has).
    """
    total = int(counts["n"].sum())
    if cap and total > cap:
        per = counts.groupby(["as_of", "label"], as_index=False)["n"].sum()
        per["quota"] = np.round(cap * per["n"] / total).astype(np.int64)
        rows = rows.sort_values(["as_of", "label", "_u"], kind="stable")
        rank = rows.groupby(["as_of", "label"]).cumcount()
        quota = rows[["as_of", "label"]].merge(per, on=["as_of", "label"], how="left")["quota"].to_numpy()
        rows = rows.loc[rank.to_numpy() < quota]
    return rows.sort_values(KEYS, kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------- fit
@dataclass
class FittedScorer:
    """Everything a partition needs to be scored (picklable; broadcast by Spark).

    Attributes
    ----------
    plan : the :class:`RunPlan`.
    model, cols : the :class:`ChurnClassifier` that scores and its feature columns.
    backtest : the :class:`~analysis.models.classifier.Backtest` on the training sample.
    columns, dummies : :func:`canonical_columns` of the feature rows.
    positive_values : sorted positive values of every scored customer (value tiers).
    value_basis : ``revenue_12m``, ``orders_12m`` or ``constant``.
    bgnbd : the :class:`BgnbdFits`.
    n_training_rows, n_labelled_rows : rows of the training sample, labelled rows of the base.
    """

    plan: RunPlan
    model: ChurnClassifier
    cols: list[str]
    backtest: Backtest
    columns: list[str]
    dummies: set[str]
    positive_values: np.ndarray
    value_basis: str
    bgnbd: BgnbdFits
    n_training_rows: int
    n_labelled_rows: int

    @property
    def cap_binding(self) -> bool:
        """True when the training sample is smaller than the labelled rows of the base."""
        return self.n_training_rows < self.n_labelled_rows


def fit_scorer(training_rows: pd.DataFrame | Iterable[pd.DataFrame], counts: pd.DataFrame | Iterable[pd.DataFrame],
               values: np.ndarray | Iterable[np.ndarray], plan: RunPlan, bgnbd: BgnbdFits,
               segments: Iterable[str] = (), now_columns: Iterable[pd.DataFrame] = ()) -> FittedScorer:
    """The backtest, the final model and the value threshold, from every partition's rows.

    Parameters
    ----------
    training_rows, counts : :attr:`PartRows.training` and :attr:`PartRows.counts` of every
        partition (frames or one concatenated frame).
    values : ``value`` of every scored customer (:attr:`PartRows.now`).
    plan, bgnbd : from :func:`plan_run` and :func:`fit_bgnbd`.
    segments : the base's segment columns (``BaseContext.segment_columns``).
    now_columns : empty frames with the columns of each partition's ``now`` rows (their
        one-hot columns join the canonical order).
    """
    parts = [training_rows] if isinstance(training_rows, pd.DataFrame) else list(training_rows)
    counts = counts if isinstance(counts, pd.DataFrame) else pd.concat(list(counts), ignore_index=True)
    order, dummies = canonical_columns([*parts, *now_columns], list(segments))
    # the sample is chosen on the keys alone, then only its rows are gathered (bounded memory)
    keys = pd.concat([p[["as_of", "customer_id", "label", "_u"]].assign(_p=i, _r=np.arange(len(p)))
                      for i, p in enumerate(parts) if len(p)], ignore_index=True)
    chosen = training_sample(keys, counts, plan.training_cap)
    del keys
    picked = [_aligned(parts[i].iloc[g["_r"].to_numpy()], order, dummies)
              for i, g in chosen.groupby("_p", sort=True)]  # over partitions
    data = pd.concat(picked, ignore_index=True).drop(columns="_u") if picked else pd.DataFrame(columns=order)
    del picked
    for c in dummies:
        if c in data.columns:
            data[c] = data[c].fillna(0.0)
    data = data.sort_values(KEYS, kind="stable").reset_index(drop=True)
    if data.empty:
        raise NotEnoughDataError("No labelled snapshot row: nobody was known at the snapshots.")
    log.info("training     %s labelled snapshot rows of %s (cap %s)", f"{len(data):,}",
             f"{int(counts['n'].sum()):,}", plan.training_cap)
    split = time_split(plan.snapshots, plan.horizon_days, n_test=plan.n_test)
    used = as_dates(list(split.train) + list(split.test))
    fits = [f for f in bgnbd.records if pd.Timestamp(f["as_of"]) in used]
    bt = backtest_on_rows(data.loc[data["as_of"].isin(used)].reset_index(drop=True), split, plan.capacity,
                          plan.random_state, test_fraction=plan.test_fraction,
                          importance_rows=plan.importance_rows, max_fit_rows=None,
                          has_orders=plan.has_orders, bgnbd_fits=fits)
    log.info("backtest     best model %s", bt.best_model)
    model, cols = fit_final_model(data, bt.best_model, plan.random_state, max_fit_rows=None)
    v = np.concatenate([np.asarray(x, dtype="float64") for x in
                        ([values] if isinstance(values, np.ndarray) else values)] or [np.zeros(0)])
    v = np.nan_to_num(v, nan=0.0)
    basis = "revenue_12m" if plan.has_amounts else ("orders_12m" if plan.has_orders else "constant")
    return FittedScorer(plan=plan, model=model, cols=cols, backtest=bt, columns=order, dummies=dummies,
                        positive_values=np.sort(v[v > 0]), value_basis=basis, bgnbd=bgnbd,
                        n_training_rows=int(len(data)), n_labelled_rows=int(counts["n"].sum()))


def _tiers(value: pd.Series, positive: np.ndarray, top_share: float = 0.20) -> pd.Series:
    """The value tier of :func:`analysis.metrics.priority.priority_matrix` against the
    positive values of the whole base: ``high`` when ``(1 + #{w > v}) / n_pos <= top_share``
    (the ``min`` percentile rank of ``v``)."""
    v = value.fillna(0.0).to_numpy(dtype="float64")
    n = len(positive)
    greater = n - np.searchsorted(positive, v, side="right")
    high = (v > 0) & ((greater + 1.0) / max(n, 1) <= top_share)
    return pd.Series(pd.Categorical(np.where(high, "high", "standard"), dtype=VALUE_DTYPE), index=value.index)


def score_partition(now_rows: pd.DataFrame, fitted: FittedScorer) -> pd.DataFrame:
    """Score the feature rows at ``as_of`` of one partition (:attr:`PartRows.now`).

    Returns
    -------
    :data:`SCORE_COLUMNS` and :data:`MATRIX_EXTRAS` (with ``days_since_last`` and
    ``churn_probability`` among the former), one row per customer, not in call order.
    """
    if now_rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in [*SCORE_COLUMNS, *MATRIX_EXTRAS]})
    now = _aligned(now_rows, [*fitted.columns, *[c for c in now_rows.columns if c not in fitted.columns]],
                   fitted.dummies)
    for c in fitted.dummies:
        if c in now.columns:
            now[c] = now[c].fillna(0.0)
    tier = _tiers(now["value"], fitted.positive_values)
    mat = score_rows(now, fitted.model, fitted.cols, fitted.backtest.importance, fitted.plan.config, value_tier=tier)
    keep = [*SCORE_COLUMNS, *(c for c in MATRIX_EXTRAS if c in mat.columns)]
    out = mat[keep].copy()
    for c in out.columns:  # compact strings: a million rows stay small
        if isinstance(out[c].dtype, pd.StringDtype) or out[c].dtype == object:
            out[c] = out[c].astype("string[pyarrow]")
    if "value_tier" in out.columns:
        out["value_tier"] = out["value_tier"].astype("string[pyarrow]")
    return out


def finish(parts: pd.DataFrame | Iterable[pd.DataFrame], fitted: FittedScorer) -> ScoreResult:
    """Every partition's scored rows in call order, as a :class:`ScoreResult`."""
    frames = [parts] if isinstance(parts, pd.DataFrame) else [p for p in parts if len(p)]
    if not frames:
        raise NotEnoughDataError(f"No customer is known on {fitted.plan.as_of.date()}: nothing to score.")
    mat = call_order(pd.concat(frames, ignore_index=True))
    plan = fitted.plan
    return ScoreResult(scores=mat[SCORE_COLUMNS].copy(), matrix=mat, backtest=fitted.backtest, model=fitted.model,
                       value_basis=fitted.value_basis, capacity=plan.capacity, horizon_days=plan.horizon_days,
                       as_of=plan.as_of, bgnbd_fits=list(fitted.bgnbd.records), n_known=plan.n_known,
                       training_rows=fitted.n_training_rows, labelled_rows=fitted.n_labelled_rows,
                       training_cap=plan.training_cap)


# ------------------------------------------------------------------------ local engine
def _features_of(part: Dataset, b: int, plan: RunPlan, bg: BgnbdFits, tmp: str) -> tuple:
    """:func:`snapshot_rows` of one partition; its rows at ``as_of`` go to ``tmp``."""
    pr = snapshot_rows(part, plan, bg)
    pq.write_table(pa.Table.from_pandas(pr.now, preserve_index=False), Path(tmp) / f"now-{b:04d}.parquet")
    return pr.training, pr.counts, pr.now["value"].to_numpy(dtype="float64"), pr.now.iloc[:0]


def _features_task(task: tuple) -> tuple:
    """A worker's task: read bucket ``b`` of a :class:`PartitionedDataset` and run :func:`_features_of`."""
    source, b, plan, bg, tmp = task
    return _features_of(source.partition(b), b, plan, bg, tmp)


def score_partitioned(source: Dataset | PartitionedDataset, as_of, horizon_days: int | None = None,
                      capacity: int | None = None, random_state: int = 0, *, n_buckets: int | None = None,
                      training_cap: int | None = DEFAULT_TRAINING_CAP, progress: Callable[[str], None] | None = None,
                      every: int = 1, workdir: str | Path | None = None, workers: int = 1,
                      **plan_kwargs) -> ScoreResult:
    """:func:`~analysis.models.classifier.score` with the local partitioned engine.

    Parameters
    ----------
    source : a :class:`PartitionedDataset` (buckets read from disk one at a time) or an
        in-memory :class:`Dataset` split into ``n_buckets`` (tests, small bases).
    as_of, horizon_days, capacity, random_state : as for :func:`~analysis.models.classifier.score`.
    training_cap : cap of the stratified training sample (None: every labelled row).
    progress : callable receiving one line per step and every ``every`` buckets.
    workdir : folder for the feature rows at ``as_of`` between the passes (default a
        temporary folder, removed at the end).
    workers : processes computing features at once for a :class:`PartitionedDataset`
        (1: this process only; each worker holds one bucket). Results do not depend on it.
    plan_kwargs : ``freq``, ``min_history_days``, ``max_snapshots``, ``n_test``,
        ``test_fraction``, ``importance_rows`` of :func:`plan_run`.

    Returns
    -------
    :class:`~analysis.models.classifier.ScoreResult`; ``matrix`` holds :data:`SCORE_COLUMNS`
    and :data:`MATRIX_EXTRAS` only. Equal to the in-memory result when the cap is not binding.
    """
    say = progress or (lambda line: log.info("%s", line))
    n = source.n_buckets if isinstance(source, PartitionedDataset) else int(n_buckets or 1)
    plan = plan_run(source, as_of, horizon_days, capacity, random_state, training_cap=training_cap, **plan_kwargs)
    say(f"plan         {len(plan.snapshots)} snapshots to {plan.snapshots[-1].date()}, {plan.expected_rows:,} "
        f"labelled rows, training cap {training_cap}, {n} bucket(s)")

    def parts() -> Iterable[Dataset]:
        return iter_partitions(source, n_buckets=None if isinstance(source, PartitionedDataset) else n)

    segments = (source.base.segment_columns if isinstance(source, PartitionedDataset)
                else source.segment_columns())
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        bg = BgnbdFits()
        if plan.has_orders:  # summaries on disk, one file per date and bucket: one date in memory at a time
            for b, part in enumerate(parts()):
                rfm = rfm_part(part, plan)
                for i, d in enumerate(plan.dates):
                    pq.write_table(pa.Table.from_pandas(rfm.loc[rfm["as_of"] == d], preserve_index=False),
                                   Path(tmp) / f"rfm-{i:02d}-{b:04d}.parquet")
                del rfm, part
                if (b + 1) % every == 0 or b + 1 == n:
                    say(f"BG/NBD       summaries of bucket {b + 1}/{n}")
            for i, d in enumerate(plan.dates):
                one = fit_bgnbd(pq.read_table(sorted(Path(tmp).glob(f"rfm-{i:02d}-*.parquet"))).to_pandas(),
                                plan, dates=[d])
                bg.models.update(one.models)
                bg.records.extend(one.records)
            say(f"BG/NBD       fitted at {len(bg.records)} date(s)")
        training, counts, values, shapes = [], [], [], []
        if isinstance(source, PartitionedDataset) and workers > 1:  # buckets read by the workers themselves
            results = _map(_features_task, [(source, b, plan, bg, tmp) for b in range(n)], workers)
        else:
            results = (_features_of(part, b, plan, bg, tmp) for b, part in enumerate(parts()))
        for b, (tr, ct, val, shape) in enumerate(results):
            training.append(tr)
            counts.append(ct)
            values.append(val)
            shapes.append(shape)
            if (b + 1) % every == 0 or b + 1 == n:
                say(f"features     bucket {b + 1}/{n}")
        fitted = fit_scorer(training, counts, values, plan, bg, segments=segments, now_columns=shapes)
        del training
        say(f"model        {fitted.backtest.best_model} trained on {fitted.n_training_rows:,} of "
            f"{fitted.n_labelled_rows:,} labelled rows")
        scored = []
        for b in range(n):
            now = pq.read_table(Path(tmp) / f"now-{b:04d}.parquet").to_pandas()
            scored.append(score_partition(now, fitted))
            if (b + 1) % every == 0 or b + 1 == n:
                say(f"scores       bucket {b + 1}/{n}")
    result = finish(scored, fitted)
    return result



def forward_evaluation_partitioned(source: Dataset | PartitionedDataset, result: ScoreResult,
                                   n_buckets: int | None = None) -> pd.DataFrame | None:
    """:func:`~analysis.models.classifier.forward_evaluation` with the labels gathered
    partition by partition (None when the export does not cover ``as_of + horizon``)."""
    cut, h = result.as_of, result.horizon_days
    end = cut + pd.Timedelta(days=h)
    if source.observed_until is None or source.observed_until + pd.Timedelta(days=1) < end:
        return None
    n = None if isinstance(source, PartitionedDataset) else int(n_buckets or 1)
    lab = pd.concat([labels(part, [cut], h, end) for part in iter_partitions(source, n_buckets=n)],
                    ignore_index=True)
    return forward_metrics(result, lab.sort_values(KEYS, kind="stable").reset_index(drop=True))


# ------------------------------------------------------------- the report's engine switch
def engine_buckets(data_dir: str | Path, config: DatasetConfig | None = None) -> int:
    """Buckets of customers a run on the export in ``data_dir`` uses, by the rule of
    ``churn-radar score``: ``engine.buckets`` of dataset.yml, else one bucket per
    ``engine.rows_per_bucket`` event rows (default 1,000,000). One bucket: the whole base
    in memory, as before."""
    from analysis.data.config import read_config
    from analysis.data.partitions import choose_buckets, estimate_rows

    config = config or read_config(data_dir)
    return int(config.engine.buckets or choose_buckets(estimate_rows(data_dir, config), config.engine.rows_per_bucket))


def default_workers(config: DatasetConfig, n_buckets: int) -> int:
    """Processes computing features at once: ``engine.workers`` of dataset.yml, else 2 on a
    machine with 2 cores or more when there are 4 buckets or more, else 1 (as ``churn-radar score``)."""
    import os

    if config.engine.workers:
        return int(config.engine.workers)
    return 2 if (os.cpu_count() or 1) >= 2 and n_buckets >= 4 else 1


def open_source(data_dir: str | Path, progress: Callable[[str], None] | None = None) -> Dataset | PartitionedDataset:
    """The export of ``data_dir`` for scoring: the in-memory :class:`Dataset` of
    :func:`analysis.load` when it fits one bucket (:func:`engine_buckets`), else its bucketed
    validated copy (:func:`~analysis.data.partitions.load_partitioned`; no event is held in
    memory, buckets are read one at a time). Notebook 04 uses it; ``engine.kind: spark`` runs
    the report on this local engine too."""
    from analysis.data.config import read_config
    from analysis.data.dataset import load
    from analysis.data.partitions import load_partitioned

    config = read_config(data_dir)
    n = engine_buckets(data_dir, config)
    if n == 1:
        return load(data_dir)
    return load_partitioned(data_dir, n, progress=progress, workers=default_workers(config, n))


def source_has(source: Dataset | PartitionedDataset, table: str) -> bool:
    """True if ``table`` was provided and kept at least one row (:meth:`Dataset.has`)."""
    return _has(source, table)


def score_source(source: Dataset | PartitionedDataset, as_of, horizon_days: int | None = None,
                 capacity: int | None = None, random_state: int = 0,
                 progress: Callable[[str], None] | None = None) -> ScoreResult:
    """:func:`~analysis.models.classifier.score` of an in-memory :class:`Dataset`, or
    :func:`score_partitioned` of a :class:`PartitionedDataset` (training cap and workers from
    the ``engine:`` block of dataset.yml, as ``churn-radar score``). The scores are the same
    while the training cap is not binding (tests/test_partitions_scores.py)."""
    from analysis.models.classifier import score

    if not isinstance(source, PartitionedDataset):
        return score(source, as_of, horizon_days, capacity=capacity, random_state=random_state)
    n = source.n_buckets
    return score_partitioned(source, as_of, horizon_days, capacity, random_state,
                             training_cap=source.config.engine.training_cap, progress=progress,
                             every=max(1, n // 10), workers=default_workers(source.config, n))


def forward_evaluation_source(source: Dataset | PartitionedDataset, result: ScoreResult) -> pd.DataFrame | None:
    """:func:`~analysis.models.classifier.forward_evaluation` of an in-memory :class:`Dataset`,
    or :func:`forward_evaluation_partitioned` (labels gathered bucket by bucket)."""
    from analysis.models.classifier import forward_evaluation

    if isinstance(source, PartitionedDataset):
        return forward_evaluation_partitioned(source, result)
    return forward_evaluation(source, result)
