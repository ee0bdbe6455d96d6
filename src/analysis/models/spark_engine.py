"""The Spark engine: the local engine's partition functions run by PySpark.

Bases beyond one machine run on Spark (``--engine spark``, or ``engine: {kind: spark}`` in
dataset.yml) with exactly the functions of the local engine
(:mod:`analysis.models.partitioned`); only who runs them changes:

1. **Tables.** The validated copy of the export, bucketed by customer
   (:func:`analysis.data.partitions.load_partitioned`: ``tables/<table>/bucket-NNNN.parquet``),
   or the Parquet / CSV paths or URIs of validated tables named under ``engine.spark.tables``
   in dataset.yml, are read by Spark; every row gets its bucket with the SAME function as the
   local engine (:func:`analysis.data.spark.bucket_column` = CRC-32 of the id, modulo the
   number of buckets), and the tables are unioned into one long frame with a table column
   (:func:`analysis.data.spark.long_frame`).
2. **Per bucket, in Spark.** ``groupBy("bucket").applyInPandas(fn)``: ``fn`` rebuilds the
   bucket's :class:`~analysis.data.dataset.Dataset` (:func:`analysis.data.spark.partition_frames`
   plus the broadcast configuration, dates and :class:`~analysis.data.dataset.BaseContext`) and
   calls a partition function with broadcast globals. Small per-bucket results (BG/NBD
   summaries, training rows, counts, values) travel back to the driver as pickled payloads.
3. **On the driver**, with the same code as the local engine: the BG/NBD fits
   (:func:`~analysis.models.partitioned.fit_bgnbd`) and the classifier
   (:func:`~analysis.models.partitioned.fit_scorer`).
4. **Scores, in Spark.** Every bucket is scored with the broadcast fitted scorer
   (:func:`~analysis.models.partitioned.score_partition`), the scores are written as Parquet
   (``scores_path``, one row per customer) and the call list (the first ``capacity`` in call
   order) is brought back to the driver; with ``collect=True`` every score is brought back and
   put in call order by :func:`~analysis.models.partitioned.finish`, which gives the
   :class:`~analysis.models.classifier.ScoreResult` of the local engine.

5. **Forward check** (``evaluate=True``, ``churn-radar score --engine spark --evaluate``):
   the truth at ``as_of`` (lost within the horizon, read from the rows after it) is computed
   per bucket in Spark; a few numbers per score come back for the metrics
   (:func:`forward_spark`).

Aggregates that are not per customer follow the same rule, global quantities from small
per-customer or per-group summaries: the survival inputs (:func:`lifetimes_spark`, one row
per customer) and the customers' retention matrix made from them on the driver
(:func:`retention_matrix_spark`); the revenue and activity retention matrices from each
bucket's numerators per (cohort, age), added on the driver (net revenue and active customers
are sums over disjoint sets of customers); the customer KPIs per month from each bucket's
additive counts (:func:`customer_kpis_spark`); the email KPIs per month or campaign, with or
without a segment (:func:`email_kpis_spark`), in two passes: first every campaign's time over
the whole base (its first send, from each bucket's first events), then each bucket's counts of
(campaign, customer) pairs and of contacts per period (and segment) with those times, added on
the driver before the rates are taken.

Step 4 computes the bucket's features at ``as_of`` again (:func:`now_rows`, one date) rather
than keeping them between passes: cheaper on a cluster than shipping wide feature rows around.
The long frame is shuffled by bucket once and kept (memory, then disk) for the three passes.

Errors: without PySpark or Java, :class:`~analysis.errors.EngineError` names what to install.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from analysis.data.dataset import BaseContext, Dataset
from analysis.data.partitions import PartitionedDataset
from analysis.data.schema import ACTIVITY_TABLES
from analysis.data.spark import (
    BUCKET_COLUMN,
    SparkSettings,
    by_bucket,
    long_frame,
    partition_frames,
    read_validated,
    table_dtypes,
)
from analysis.errors import ConfigError, DataError, EngineError, NotEnoughDataError
from analysis.models.classifier import NOT_CALLED

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

    from analysis.data.config import KpiThresholds
    from analysis.models.classifier import ScoreResult

__all__ = ["SparkSource", "spark_source", "map_buckets", "indicators_spark", "features_spark", "SparkScoreRun", "score_spark",
           "spark_call_order", "forward_spark", "lifetimes_spark", "retention_matrix_spark",
           "customer_kpis_spark", "email_kpis_spark"]

_PAYLOAD_SCHEMA = "bucket int, payload binary"


def _dumps(obj: Any, protocol: int = 5) -> bytes:
    """Pickle with cloudpickle (Spark's own): fitted lifetimes models hold lambdas."""
    from pyspark import cloudpickle

    return cloudpickle.dumps(obj, protocol=protocol)


def _loads(data: bytes) -> Any:
    import pickle

    return pickle.loads(data)


@dataclass
class SparkSource:
    """The validated tables of one export as seen by Spark, and what rebuilds a partition.

    Attributes
    ----------
    frame : the long Spark frame (:func:`analysis.data.spark.long_frame`) with ``bucket``,
        shuffled by bucket and kept (:func:`analysis.data.spark.by_bucket`; :meth:`release`).
    n_buckets : number of buckets.
    context : what every worker needs to rebuild a partition (pickled once, broadcast):
        the tables' pandas dtypes, the config, the dates and the base context.
    pds : the local bucketed copy it was read from (None for URIs named in dataset.yml).
    """

    frame: SparkFrame
    n_buckets: int
    context: dict[str, Any]
    pds: PartitionedDataset | None = None

    def release(self) -> None:
        """Drop the kept (persisted) long frame."""
        self.frame.unpersist()


def spark_source(spark: SparkSession, pds: PartitionedDataset, settings: SparkSettings | None = None) -> SparkSource:
    """The tables of ``pds`` (a bucketed validated copy) read by Spark.

    Tables named under ``settings.tables`` (paths or URIs of validated Parquet or CSV) are read
    from there instead of the local copy; they must hold the validated columns of the copy. The
    personal columns of ``customers`` (:attr:`BaseContext.personal_columns`) are not read: no
    per-customer computation uses them, so they never leave the driver's machine.
    """
    settings = settings or SparkSettings()
    schemas, files = {}, {}
    for table in pds.tables:
        parts = pds.table_files(table)
        if not parts:
            continue
        schema = pq.read_schema(parts[0])
        if table == "customers":  # personal data never travels to the cluster: no computation reads it
            for col in pds.base.personal_columns:
                if col in schema.names:
                    schema = schema.remove(schema.get_field_index(col))
        schemas[table] = schema
        files[table] = settings.tables.get(table) or parts
    tables = read_validated(spark, files, schemas)
    context = {
        "dtypes": {t: table_dtypes(schemas[t]) for t in tables},
        "config": pds.config, "path": pds.path, "report": None,
        "observed_from": pds.observed_from, "observed_until": pds.observed_until, "base": pds.base,
    }
    frame = by_bucket(long_frame(tables, pds.n_buckets), pds.n_buckets)
    return SparkSource(frame=frame, n_buckets=pds.n_buckets, context=context, pds=pds)


def _partition(rows: pd.DataFrame, context: dict[str, Any]) -> Dataset:
    """The :class:`Dataset` of one bucket from its rows of the long frame."""
    from analysis.data.validation import ValidationReport

    frames = partition_frames(rows, context["dtypes"])
    base: BaseContext = context["base"]
    return Dataset(**frames, config=context["config"], report=ValidationReport(), path=context["path"],
                   observed_from=context["observed_from"], observed_until=context["observed_until"], base=base)


def map_buckets(spark: SparkSession, source: SparkSource, fn: Callable[[Dataset, Any], Any],
                globals_: Any = None) -> list[Any]:
    """``fn(partition, globals_)`` on every bucket, in Spark; the results, in bucket order.

    ``fn`` and its results must pickle (results are small: summaries, counts, sampled rows);
    ``globals_`` is broadcast once with the partition context.
    """
    shared = spark.sparkContext.broadcast(_dumps((source.context, globals_), protocol=5))

    def run(rows: pd.DataFrame) -> pd.DataFrame:
        import analysis  # noqa: F401 - the package's pandas options in the worker

        context, glob = _loads(shared.value)
        bucket = int(rows[BUCKET_COLUMN].iloc[0])
        out = fn(_partition(rows, context), glob)
        return pd.DataFrame({"bucket": [bucket], "payload": [_dumps(out, protocol=5)]})

    rows = source.frame.groupBy(BUCKET_COLUMN).applyInPandas(run, _PAYLOAD_SCHEMA).collect()
    shared.unpersist()
    return [_loads(r["payload"]) for r in sorted(rows, key=lambda r: r["bucket"])]


# ----------------------------------------------------------------------------- indicators
def _indicators(part: Dataset, dates) -> pd.DataFrame:
    from analysis.metrics.signals import indicators

    return indicators(part, dates)


def indicators_spark(spark: SparkSession, source: SparkSource, dates) -> pd.DataFrame:
    """The six indicators (:func:`analysis.metrics.signals.indicators`) at ``dates`` for every
    customer, computed bucket by bucket in Spark; rows sorted by ``as_of`` and ``customer_id``."""
    parts = [p for p in map_buckets(spark, source, _indicators, dates) if len(p)]
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)


def _features(part: Dataset, args) -> pd.DataFrame:
    from analysis.models.features import features

    dates, horizon_days, random_state, bgnbd = args
    return features(part, dates, horizon_days=horizon_days, random_state=random_state, bgnbd=bgnbd)


def features_spark(spark: SparkSession, source: SparkSource, dates, horizon_days: int, bgnbd: dict | None = None,
                   random_state: int = 0) -> pd.DataFrame:
    """The feature rows (:func:`analysis.models.features.features`) at ``dates`` computed bucket
    by bucket in Spark with the BG/NBD models fitted on the whole base (``bgnbd``: date ->
    (model, record), :attr:`~analysis.models.partitioned.BgnbdFits.models`), sorted by
    ``as_of`` and ``customer_id``; a one-hot column absent from a bucket is 0 there."""
    from analysis.metrics.lifecycle import as_dates
    from analysis.models.partitioned import canonical_columns

    parts = [p for p in map_buckets(spark, source, _features, (as_dates(dates), horizon_days, random_state, bgnbd))
             if len(p)]
    if not parts:
        return pd.DataFrame()
    order, dummies = canonical_columns(parts, list(source.context["base"].segment_columns))
    out = pd.concat(parts, ignore_index=True).reindex(columns=order)
    for c in dummies:
        out[c] = out[c].fillna(0.0)
    return out.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- scoring
def spark_call_order(frame: SparkFrame) -> SparkFrame:
    """Score rows in call order, in Spark: customers to contact (priority, then expected value
    at risk and probability, highest first, then id), then the separate list, then removal;
    the order of :func:`analysis.models.classifier.call_order` (missing values last)."""
    from pyspark.sql import functions as F

    lst = F.lit(0)
    for i, action in reversed(list(enumerate(NOT_CALLED))):
        lst = F.when(F.col("recommended_action") == action, i + 1).otherwise(lst)
    return frame.withColumn("_list", lst).orderBy(
        F.col("_list").asc(), F.col("priority").asc_nulls_last(),
        F.col("expected_value_at_risk").desc_nulls_last(), F.col("churn_probability").desc_nulls_last(),
        F.col("customer_id").asc_nulls_last()).drop("_list")


@dataclass
class SparkScoreRun:
    """What the Spark engine produced.

    Attributes
    ----------
    call: the :class:`~analysis.models.classifier.ScoreResult` of the call list only: its
        ``scores`` are the first ``capacity`` customers to contact, in call order, with the
        backtest, model and parameters of the run (what ``churn-radar score`` writes).
    scores_path : the Parquet folder (path or URI) holding every score, or None.
    n_scored : customers scored.
    fitted : the :class:`~analysis.models.partitioned.FittedScorer` (model, backtest, BG/NBD fits).
    result : with ``collect=True``, the :class:`ScoreResult` of every customer (as the local
        engine's :func:`~analysis.models.partitioned.score_partitioned`), else None.
    n_buckets : number of buckets.
    forward : with ``evaluate=True``, the forward check of every score
        (:func:`forward_spark`: the metrics of
        :func:`~analysis.models.classifier.forward_evaluation`), None when the export does
        not cover ``as_of + horizon`` or without ``evaluate``.
    """

    call: ScoreResult
    scores_path: str | None
    n_scored: int
    fitted: Any
    result: ScoreResult | None
    n_buckets: int
    forward: pd.DataFrame | None = None

    @property
    def call_list(self) -> pd.DataFrame:
        """The call list (:data:`~analysis.models.classifier.SCORE_COLUMNS`), in call order."""
        return self.call.call_list.reset_index(drop=True)


def _rfm(part: Dataset, plan) -> pd.DataFrame:
    from analysis.models.partitioned import rfm_part

    return rfm_part(part, plan)


def _rows(part: Dataset, glob) -> dict[str, Any]:
    from analysis.models.partitioned import snapshot_rows

    plan, bgnbd = glob
    rows = snapshot_rows(part, plan, bgnbd)
    return {"training": rows.training, "counts": rows.counts,
            "values": rows.now["value"].to_numpy(dtype="float64"),
            "shape": rows.now.iloc[:0], "sample": rows.now.head(20)}


def now_rows(part: Dataset, plan, bgnbd) -> pd.DataFrame:
    """The feature rows at ``as_of`` of one partition, with ``value``: the ``now`` rows of
    :func:`analysis.models.partitioned.snapshot_rows`, without the snapshot dates (features are
    computed date by date, so one date gives the same rows)."""
    from analysis.metrics.lifecycle import as_dates
    from analysis.models.classifier import customer_value
    from analysis.models.features import features

    feats = features(part, as_dates([plan.as_of]), horizon_days=plan.horizon_days, random_state=plan.random_state,
                     bgnbd=bgnbd.models if plan.has_orders else None)
    now = feats.loc[feats["as_of"] == plan.as_of].reset_index(drop=True)
    if len(now):
        value, _ = customer_value(part, plan.as_of)
        return now.merge(value, on="customer_id", how="left")
    return now.assign(value=pd.Series(dtype="float64"))


def score_spark(spark: SparkSession, source: SparkSource, as_of, horizon_days: int | None = None,
                capacity: int | None = None, random_state: int = 0, *, scores_path: str | Path | None = None,
                collect: bool = False, training_cap: int | None = 300_000,
                progress: Callable[[str], None] | None = None, evaluate: bool = False,
                **plan_kwargs) -> SparkScoreRun:
    """Score every customer of ``source`` at ``as_of`` with Spark (see the module docstring).

    Parameters
    ----------
    spark : the session (:func:`analysis.data.spark.spark_session`).
    source : the tables (:func:`spark_source`).
    as_of, horizon_days, capacity, random_state, training_cap, plan_kwargs : as for the local
        engine (:func:`analysis.models.partitioned.score_partitioned`).
    scores_path : folder (path or URI) where Spark writes every score as Parquet (replaced);
        None writes nothing.
    collect : also bring every score back and return the local engine's :class:`ScoreResult`.
    progress : optional callable receiving one line per step.
    evaluate : also measure every score against what happened in the horizon after
        ``as_of`` (:func:`forward_spark`; ``SparkScoreRun.forward``).

    Returns
    -------
    :class:`SparkScoreRun`.
    """
    from pyspark.sql import functions as F

    from analysis.models.partitioned import (
        BgnbdFits,
        finish,
        fit_bgnbd,
        fit_scorer,
        plan_run,
        score_partition,
    )

    say = progress or (lambda _line: None)
    if source.pds is None:
        raise EngineError("the Spark engine needs the validated copy of the export (load_partitioned).")
    pds = source.pds
    plan = plan_run(pds, as_of, horizon_days, capacity, random_state, training_cap=training_cap, **plan_kwargs)
    say(f"plan         {len(plan.snapshots)} snapshots to {plan.snapshots[-1].date()}, {plan.expected_rows:,} "
        f"labelled rows, training cap {training_cap}, {source.n_buckets} bucket(s) on Spark")
    bgnbd = BgnbdFits()
    if plan.has_orders:
        bgnbd = fit_bgnbd(map_buckets(spark, source, _rfm, plan), plan)
        say(f"BG/NBD       summaries of {source.n_buckets} bucket(s) gathered, fitted at {len(bgnbd.records)} date(s)")
    parts = map_buckets(spark, source, _rows, (plan, bgnbd))
    say(f"features     snapshot rows of {len(parts)} bucket(s) gathered")
    fitted = fit_scorer([p["training"] for p in parts], [p["counts"] for p in parts],
                        [p["values"] for p in parts], plan, bgnbd, segments=pds.base.segment_columns,
                        now_columns=[p["shape"] for p in parts])
    say(f"model        {fitted.backtest.best_model} trained on {fitted.n_training_rows:,} of "
        f"{fitted.n_labelled_rows:,} labelled rows")
    sample = score_partition(pd.concat([p["sample"] for p in parts], ignore_index=True), fitted)
    del parts
    columns = list(sample.columns)
    schema = _spark_schema(sample)
    shared = spark.sparkContext.broadcast(_dumps((source.context, (plan, bgnbd, fitted)), protocol=5))

    def run(rows: pd.DataFrame) -> pd.DataFrame:
        import analysis  # noqa: F401 - the package's pandas options in the worker

        context, (plan_, bgnbd_, fitted_) = _loads(shared.value)
        out = score_partition(now_rows(_partition(rows, context), plan_, bgnbd_), fitted_)
        return _arrow_safe(out.reindex(columns=columns))

    scores = source.frame.groupBy(BUCKET_COLUMN).applyInPandas(run, schema)
    if scores_path is not None:
        scores_path = str(scores_path)
        scores.write.mode("overwrite").parquet(scores_path)
        scores = spark.read.schema(schema).parquet(scores_path)
        say(f"scores       written to {scores_path}")
    else:
        scores = scores.cache()
    n_scored = int(scores.count())
    called = scores.filter(~F.coalesce(F.col("recommended_action").isin(*NOT_CALLED), F.lit(False)))
    top = _from_spark(spark_call_order(called).limit(int(plan.capacity)).toPandas(), sample)
    call = finish(top, fitted) if len(top) else None
    result = None
    if collect:
        result = finish(_from_spark(scores.toPandas(), sample), fitted)
        for r in (result, call):
            if r is not None:
                r.training_rows, r.labelled_rows = fitted.n_training_rows, fitted.n_labelled_rows
                r.training_cap = training_cap
    forward = None
    if evaluate and call is not None:
        forward = forward_spark(spark, source, scores, call, sample)
        say("forward      " + ("measured on every score" if forward is not None else
                               f"not measured: the export ends before {plan.as_of.date()} + {plan.horizon_days} days"))
    if scores_path is None:
        scores.unpersist()
    shared.unpersist()
    if call is None:
        raise NotEnoughDataError(f"No customer to contact on {plan.as_of.date()}: nothing to score.")
    call.training_rows, call.labelled_rows, call.training_cap = (fitted.n_training_rows, fitted.n_labelled_rows,
                                                                 training_cap)
    say(f"scores       {n_scored:,} customers scored; call list of {len(call.scores):,}")
    return SparkScoreRun(call=call, scores_path=scores_path, n_scored=n_scored, fitted=fitted, result=result,
                         n_buckets=source.n_buckets, forward=forward)


# ----------------------------------------------------------------------------- forward check
def _labels(part: Dataset, window) -> pd.DataFrame:
    from analysis.models.features import labels

    cut, h, end = window
    return labels(part, [cut], h, end)


def forward_spark(spark: SparkSession, source: SparkSource, scores: SparkFrame, call: ScoreResult,
                  like: pd.DataFrame) -> pd.DataFrame | None:
    """:func:`~analysis.models.classifier.forward_evaluation` of Spark scores.

    The truth (:func:`analysis.models.features.labels` at ``as_of``, read from the rows after
    it) is computed bucket by bucket in Spark, as the local engine's
    :func:`~analysis.models.partitioned.forward_evaluation_partitioned` does; the scores bring
    back only what the metrics read (id, days since last interaction, probability, BG/NBD
    expected purchases), in call order (:func:`spark_call_order`): a few numbers per customer.

    Parameters
    ----------
    scores : every score row (Spark), ``call`` the run's call-list result (as_of, horizon,
        capacity), ``like`` score rows scored on the driver (their dtypes).

    Returns
    -------
    The metrics frame of :func:`~analysis.models.classifier.forward_metrics`, or None when the
    export does not cover ``as_of + horizon``.
    """
    import dataclasses

    from analysis.models.classifier import forward_metrics
    from analysis.models.features import KEYS

    cut, h = call.as_of, call.horizon_days
    end = cut + pd.Timedelta(days=h)
    until = source.context["observed_until"]
    if until is None or until + pd.Timedelta(days=1) < end:
        return None
    lab = [p for p in map_buckets(spark, source, _labels, (cut, h, end)) if len(p)]
    lab = pd.concat(lab, ignore_index=True).sort_values(KEYS, kind="stable").reset_index(drop=True)
    cols = [c for c in ("customer_id", "days_since_last", "churn_probability", "bgnbd_expected_purchases")
            if c in scores.columns]
    rows = _from_spark(spark_call_order(scores).select(*cols).toPandas(), like[cols])
    return forward_metrics(dataclasses.replace(call, matrix=rows), lab)


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with nullable extension columns as plain columns (None for missing), which
    Arrow converts to the Spark schema of :func:`_spark_schema`."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype | pd.StringDtype | pd.BooleanDtype) or s.dtype == object:
            s = s.astype(object).where(s.notna(), None)
        elif pd.api.types.is_extension_array_dtype(s.dtype):
            s = s.astype("float64")
        out[col] = s
    return pd.DataFrame(out, index=frame.index)


def _spark_schema(sample: pd.DataFrame):
    """The Spark schema of score rows, from rows scored on the driver."""
    from pyspark.sql import types as T

    fields = []
    for col in sample.columns:
        dt = sample[col].dtype
        if pd.api.types.is_bool_dtype(dt):
            st = T.BooleanType()
        elif pd.api.types.is_integer_dtype(dt) and not pd.api.types.is_extension_array_dtype(dt):
            st = T.LongType()
        elif pd.api.types.is_numeric_dtype(dt):
            st = T.DoubleType()
        else:
            st = T.StringType()
        fields.append(T.StructField(str(col), st, True))
    return T.StructType(fields)


def _from_spark(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Score rows brought back from Spark with the dtypes of ``like`` (rows scored on the driver)."""
    out = frame.copy()
    for col in like.columns:
        if col in out.columns and out[col].dtype != like[col].dtype:
            out[col] = out[col].astype(like[col].dtype)
    return out


# ----------------------------------------------------------------------------- cohorts
def _lifetimes(part: Dataset, args) -> pd.DataFrame | None:
    from analysis.metrics.cohorts import customer_lifetimes

    as_of, period, horizon_days = args
    if not (part.customers["signup_date"] < as_of).any():
        return None  # nobody of this bucket signed up before as_of
    return customer_lifetimes(part, as_of, period, horizon_days)


def lifetimes_spark(spark: SparkSession, source: SparkSource, as_of, period: str = "M",
                    horizon_days: int | None = None) -> pd.DataFrame:
    """The survival inputs (:func:`analysis.metrics.cohorts.customer_lifetimes`: one row per
    customer) computed bucket by bucket in Spark and gathered on the driver, sorted by id.

    Raises
    ------
    NotEnoughDataError
        If no customer signed up before ``as_of``.
    """
    from analysis.metrics.lifecycle import check_as_of

    cut = check_as_of(as_of)
    parts = [p for p in map_buckets(spark, source, _lifetimes, (cut, period, horizon_days)) if p is not None]
    if not parts:
        raise NotEnoughDataError(f"no customer signed up before {cut.date()}; choose a later as_of date.")
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _shell(pds: PartitionedDataset, customers: pd.DataFrame) -> Dataset:
    """A :class:`Dataset` holding only ``customers`` (rows or columns of the whole base) and the
    dates and context of ``pds``: what the driver's in-memory code reads of the base."""
    return Dataset(customers=customers, config=pds.config, path=pds.path, observed_from=pds.observed_from,
                   observed_until=pds.observed_until, base=pds.base)


#: The tables a customer's status (survival inputs, engagement segments) and the matrices read.
_STATUS_TABLES = ("customers", *ACTIVITY_TABLES)
#: Columns of the survival inputs that the matrix's grid reads (cohort sizes, observable ages).
_GRID_COLUMNS = ["customer_id", "cohort", "signup_month", "churn_date", "left_truncated"]


def _retention_part(part: Dataset, args) -> dict[str, Any] | None:
    """One bucket's survival inputs (grid columns) and its revenue or activity numerators."""
    from analysis.metrics.cohorts import customer_lifetimes, retention_matrix

    cut, period, metric, max_age, horizon_days = args
    if not (part.customers["signup_date"] < cut).any():
        return None  # nobody of this bucket signed up before as_of
    life = customer_lifetimes(part, cut, period, horizon_days)
    amounts = bool(part.has("orders") and "amount" in part.orders.columns
                   and (part.orders["order_date"] < cut).any())
    cells = None
    if (~life["left_truncated"]).any() and (metric != "revenue" or amounts):
        # this bucket's cohorts over ages 0..its own last observable age (or max_age): every
        # cell observable in the whole base is among them (a cohort's last observable age in
        # the base is at most its age in any bucket); numerator NaN where the bucket cannot
        # observe it, denominator = the bucket's month-0 revenue (revenue) or cohort size
        m = retention_matrix(part, cut, period, metric, max_age=max_age, horizon_days=horizon_days, lifetimes=life)
        cells = m[["cohort", "age", "numerator", "denominator"]]
    return {"life": life[_GRID_COLUMNS], "cells": cells, "amounts": amounts}


def retention_matrix_spark(spark: SparkSession, source: SparkSource, as_of, period: str = "M",
                           metric: str = "customers", max_age: int | None = None, horizon_days: int | None = None,
                           lifetimes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The cohort retention matrix (:func:`analysis.metrics.cohorts.retention_matrix`, same
    arguments and frame) computed from Spark.

    ``metric="customers"``: from the per-customer survival inputs of :func:`lifetimes_spark`,
    the matrix made on the driver by the in-memory code. ``metric="revenue"`` (net revenue per
    cohort and age over month 0) and ``"activity"`` (customers with a significant interaction
    per cohort and age over the cohort size): one pass in Spark where each bucket gives its
    survival inputs (the grid's columns) and its numerators per (cohort, age), computed by the
    in-memory code on the bucket; they are added on the driver (sums over disjoint sets of
    customers), on the grid of the whole base (cohort sizes, observable cells) that the
    in-memory code makes from the gathered survival inputs.

    Parameters
    ----------
    spark, source : the session and the tables (:func:`spark_source`).
    as_of, period, metric, max_age, horizon_days, lifetimes : as for the in-memory function
        (``lifetimes``, the output of :func:`lifetimes_spark` for the same arguments, then
        gives the grid).

    Raises
    ------
    ConfigError
        On an unknown ``period`` or ``metric``.
    NotEnoughDataError
        When no customer signed up before ``as_of``, no cohort is followed from its
        acquisition, or for ``metric="revenue"`` without order amounts before ``as_of``.
    """
    from analysis.metrics.cohorts import METRICS, _check_period, retention_matrix
    from analysis.metrics.lifecycle import check_as_of

    _check_period(period)
    if metric not in METRICS:
        raise ConfigError(f"metric is '{metric}'; expected one of {', '.join(METRICS)}.")
    if source.pds is None:
        raise EngineError("the Spark cohort matrix needs the validated copy of the export (load_partitioned).")
    pds = source.pds
    cut = check_as_of(as_of)
    if metric == "customers":
        life = lifetimes if lifetimes is not None else lifetimes_spark(spark, source, cut, period, horizon_days)
        customers = pds.customers(columns=["customer_id", "signup_date", "churn_date"])
        return retention_matrix(_shell(pds, customers), cut, period, "customers", max_age=max_age,
                                horizon_days=horizon_days, lifetimes=life)
    # a contract's status is its churn date: revenue then reads the orders only
    tables = ("customers", "orders") if metric == "revenue" and pds.config.contractual else _STATUS_TABLES
    parts = [p for p in map_buckets(spark, _only(source, tables), _retention_part,
                                    (cut, period, metric, max_age, horizon_days)) if p is not None]
    if not parts:
        raise NotEnoughDataError(f"no customer signed up before {cut.date()}; choose a later as_of date.")
    if lifetimes is None:
        lifetimes = pd.concat([p["life"] for p in parts], ignore_index=True).sort_values(
            "customer_id", kind="stable").reset_index(drop=True)
    customers = pds.customers(columns=["customer_id", "signup_date", "churn_date"])
    # the grid of the whole base: cohort, age, cohort_size, observable, denominator = cohort size
    grid = retention_matrix(_shell(pds, customers), cut, period, "customers", max_age=max_age,
                            horizon_days=horizon_days, lifetimes=lifetimes)
    if metric == "revenue" and not any(p["amounts"] for p in parts):
        raise NotEnoughDataError("revenue retention needs orders with an amount column; "
                                 "this export has none (map one in dataset.yml).")
    cells = [p["cells"] for p in parts if p["cells"] is not None]
    cells = pd.concat(cells, ignore_index=True) if cells else pd.DataFrame(
        {"cohort": pd.Series(dtype="datetime64[ns]"), "age": pd.Series(dtype="int64"),
         "numerator": pd.Series(dtype="float64"), "denominator": pd.Series(dtype="float64")})
    keys = pd.MultiIndex.from_frame(grid[["cohort", "age"]])
    num = cells.groupby(["cohort", "age"])["numerator"].sum().reindex(keys).fillna(0.0).to_numpy()
    grid["numerator"] = pd.Series(num, index=grid.index).where(grid["observable"])
    if metric == "revenue":  # month-0 net revenue of the cohort: the buckets' month-0 revenues added
        base = cells.loc[cells["age"].eq(0)].groupby("cohort")["denominator"].sum()
        grid["denominator"] = grid["cohort"].map(base).astype("float64").fillna(0.0)
    ok = grid["observable"] & (grid["denominator"] > 0)
    grid["value"] = (grid["numerator"] / grid["denominator"]).where(ok)
    return grid


# ----------------------------------------------------------------------------- customer KPIs
def _kpi_counts(part: Dataset, as_of) -> pd.DataFrame:
    from analysis.metrics.kpis import customer_kpi_counts

    return customer_kpi_counts(part, as_of)


def customer_kpis_spark(spark: SparkSession, source: SparkSource, as_of) -> pd.DataFrame:
    """The customer KPIs per month (:func:`analysis.metrics.kpis.customer_kpis`) from Spark:
    each bucket's counts (:func:`~analysis.metrics.kpis.customer_kpi_counts`, one small row
    per month: sums over its customers) are added on the driver, then the rates are taken
    (:func:`~analysis.metrics.kpis.customer_kpis_from_counts`)."""
    from analysis.metrics.kpis import customer_kpis_from_counts
    from analysis.metrics.lifecycle import check_as_of

    cut = check_as_of(as_of)
    levels = (0, *source.context["config"].thresholds.levels())
    parts = map_buckets(spark, source, _kpi_counts, cut)
    counts = pd.concat(parts, ignore_index=True)
    if counts.empty:
        return customer_kpis_from_counts(counts, levels)
    ints = [c for c in counts.columns if c not in ("month", "revenue")]
    summed = counts.groupby("month", sort=True).agg(
        **{c: (c, "sum") for c in ints}, revenue=("revenue", lambda x: x.sum(min_count=1)))
    summed[ints] = summed[ints].astype("int64")
    return customer_kpis_from_counts(summed.reset_index()[list(counts.columns)], levels)


# ----------------------------------------------------------------------------- email KPIs
#: The tables the email KPIs read; the engagement segments read every activity table too
#: (a customer's status at the date), as do the survival inputs.
_EMAIL_TABLES = ("customers", "email_events")


def _only(source: SparkSource, tables: tuple[str, ...]) -> SparkSource:
    """``source`` with the rows and columns of ``tables`` only: a pass that reads a few tables
    sends the executors' Python workers narrower and fewer rows (the other tables of a bucket
    become empty frames, which the partition still ``has`` through its base context)."""
    from dataclasses import replace

    from pyspark.sql import functions as F

    from analysis.data.spark import TABLE_COLUMN

    prefixes = tuple(f"{t}__" for t in tables)
    cols = [c for c in source.frame.columns if "__" not in c or c.startswith(prefixes)]
    return replace(source, frame=source.frame.filter(F.col(TABLE_COLUMN).isin(*tables)).select(*cols))


def _email_firsts(part: Dataset, args) -> dict[str, Any] | None:
    """One bucket's first event and first ``sent`` event per campaign before ``as_of`` (machine
    opens dropped when asked), and whether its events carry a time of day."""
    from analysis.metrics.kpis import drop_machine_opens, email_events_before

    cut, open_correction, seconds = args
    ev = email_events_before(part, cut)
    if ev.empty:
        return None
    times = ev["event_time"]
    timed = bool((times - times.dt.normalize()).dt.total_seconds().gt(0).any())
    if open_correction:
        try:
            ev = drop_machine_opens(ev, seconds)
        except DataError as exc:  # dates only in this bucket: the driver decides for the base
            return {"timed": False, "error": str(exc), "firsts": None}
    g = ev.groupby("campaign_id", observed=True)["event_time"]
    firsts = pd.DataFrame({"first_any": g.min()})
    firsts["first_sent"] = ev.loc[ev["event"] == "sent"].groupby("campaign_id", observed=True)["event_time"].min()
    firsts.index = firsts.index.astype("string")
    return {"timed": timed, "error": None, "firsts": firsts.rename_axis("campaign_id").reset_index()}


def _campaign_times_spark(spark: SparkSession, source: SparkSource, cut: pd.Timestamp, open_correction: bool,
                          seconds: float) -> pd.DataFrame:
    """``campaign_id`` -> ``campaign_time`` over the whole base (the first ``sent`` event of the
    campaign, else its first event: :func:`analysis.metrics.kpis.email_pairs`), from each
    bucket's first events (pass 1 of :func:`email_kpis_spark`)."""
    from pyspark.sql import types as T

    nanos = isinstance(source.frame.schema["email_events__event_time"].dataType, T.LongType)
    if not open_correction and nanos:  # a Spark aggregation over the Parquet copy, no Python worker
        return _campaign_times_sql(source, cut)
    parts = [p for p in map_buckets(spark, _only(source, ("email_events",)), _email_firsts,
                                    (cut, open_correction, seconds)) if p is not None]
    if open_correction and parts and not any(p["timed"] for p in parts):
        raise DataError(parts[0]["error"])
    untimed = [p for p in parts if p["error"] is not None]
    if open_correction and untimed:
        raise DataError(
            f"email_events.event_time: the events of {len(untimed)} of {len(parts)} Spark bucket(s) hold dates "
            "only (no time of day) while the others carry times, and machine opens are told apart bucket by "
            "bucket on Spark; run with open_correction=False, or the local engine.")
    firsts = [p["firsts"] for p in parts]
    if not firsts:
        return pd.DataFrame({"campaign_id": pd.Series(dtype="string"),
                             "campaign_time": pd.Series(dtype="datetime64[ns]")})
    g = pd.concat(firsts, ignore_index=True).groupby("campaign_id", sort=True)[["first_sent", "first_any"]].min()
    when = g["first_sent"].fillna(g["first_any"]).astype("datetime64[ns]")
    return when.rename("campaign_time").rename_axis("campaign_id").reset_index()


def _campaign_times_sql(source: SparkSource, cut: pd.Timestamp) -> pd.DataFrame:
    """:func:`_campaign_times_spark` without the machine-open correction: one ``GROUP BY
    campaign_id`` in Spark over the email events before ``cut`` (times in nanoseconds, as Spark
    reads the validated Parquet copy)."""
    from pyspark.sql import functions as F

    from analysis.data.spark import TABLE_COLUMN

    time, event = F.col("email_events__event_time"), F.col("email_events__event")
    rows = (source.frame.filter((F.col(TABLE_COLUMN) == "email_events") & (time < F.lit(int(cut.value))))
            .groupBy(F.col("email_events__campaign_id").alias("campaign_id"))
            .agg(F.min(F.when(event == "sent", time)).alias("first_sent"), F.min(time).alias("first_any"))
            .toPandas())
    first_sent, first_any = (pd.to_datetime(rows[c].astype("Int64"), unit="ns").astype("datetime64[ns]")
                             for c in ("first_sent", "first_any"))
    out = pd.DataFrame({"campaign_id": rows["campaign_id"].astype("string"),
                        "campaign_time": first_sent.fillna(first_any)})
    return out.sort_values("campaign_id", kind="stable").reset_index(drop=True)


def _email_counts(part: Dataset, args) -> pd.DataFrame | None:
    """One bucket's counts per period (and segment): the pair counts, ``contacts`` and
    ``inactive_<X>`` of :func:`analysis.metrics.kpis.email_kpis`, its campaigns dated by the
    whole base's ``times``; None when the bucket has no pair in the periods."""
    from analysis.metrics.kpis import email_counts, email_pairs

    cut, by, segment, open_correction, thresholds, times, months = args
    pairs = email_pairs(part, cut, open_correction, thresholds)
    if pairs.empty:
        return None
    pairs = pairs.drop(columns=["campaign_time", "month"]).merge(times, on="campaign_id", how="left")
    pairs["month"] = pairs["campaign_time"].dt.to_period("M").dt.to_timestamp()
    if by == "month" and not pairs["month"].isin(months).any():
        return None
    counts, _, _ = email_counts(part, cut, pairs, by, segment, months, open_correction, thresholds)
    return None if counts.empty else counts


def email_kpis_spark(spark: SparkSession, source: SparkSource, as_of, by: str = "month",
                     segment: str | pd.DataFrame | None = None, open_correction: bool = False,
                     thresholds: KpiThresholds | None = None) -> pd.DataFrame:
    """The email KPIs per complete month or per campaign, optionally per segment
    (:func:`analysis.metrics.kpis.email_kpis`: same arguments, same frame), computed from Spark.

    Two passes over the buckets. 1. Each bucket's first event and first ``sent`` event of every
    campaign before ``as_of`` (machine opens dropped when asked) are gathered and the earliest
    kept: a campaign's time is its first send over the whole base, as in memory. 2. With those
    times broadcast, each bucket gives, per period (and segment), its counts of (campaign,
    customer) pairs (distinct pairs: a customer's pairs are all in their bucket), its contacts
    and its inactive contacts at each level: numbers over disjoint sets of customers, added on
    the driver; the rates are taken after the sums (:func:`analysis.metrics.kpis.email_kpis_from_counts`).

    Parameters
    ----------
    spark, source : the session and the tables (:func:`spark_source`).
    as_of, by, segment, open_correction, thresholds : as for the in-memory function; a segment
        table (DataFrame) is broadcast to the buckets.

    Raises
    ------
    ConfigError
        On an unknown ``by`` or segment, or a segment column holding personal data (personal
        columns are never sent to the executors).
    DataError
        If ``open_correction`` is on and the events carry no time of day (or, on Spark only,
        some buckets' events have times and others dates only).
    """
    from analysis.metrics.kpis import (
        EMAIL_COUNTS,
        complete_months,
        email_kpis_from_counts,
        segment_frame,
    )
    from analysis.metrics.lifecycle import check_as_of

    if by not in ("month", "campaign"):
        raise ConfigError(f"by is '{by}'; expected 'month' or 'campaign'.")
    if source.pds is None:
        raise EngineError("the Spark email KPIs need the validated copy of the export (load_partitioned).")
    pds = source.pds
    cut = check_as_of(as_of)
    th = thresholds or pds.config.kpi_thresholds
    levels = pds.config.thresholds.levels()
    columns = pq.read_schema(pds.table_files("customers")[0]).names
    shell = _shell(pds, pds.customers(columns=["customer_id", "signup_date"]).reindex(columns=columns))
    months = complete_months(shell, cut) if by == "month" else None
    if isinstance(segment, str) and segment != "email_segment":
        segment_frame(shell, segment, months)  # the in-memory checks: a usable customer attribute
        if segment in pds.base.personal_columns:
            raise ConfigError(f"'{segment}' cannot be used as a segment (personal column: never sent to Spark).")
    elif isinstance(segment, pd.DataFrame):
        segment = segment_frame(shell, segment, months)
    inactive = [f"inactive_{x}" for x in levels]
    parts = []
    if "email_events" in source.context["dtypes"] and (pds.base.kept_tables is None
                                                      or "email_events" in pds.base.kept_tables):
        times = _campaign_times_spark(spark, source, cut, open_correction, th.machine_open_seconds)
        tables = _EMAIL_TABLES if not (isinstance(segment, str) and segment == "email_segment") else _STATUS_TABLES
        parts = [p for p in map_buckets(spark, _only(source, tables), _email_counts,
                                        (cut, by, segment, open_correction, th, times, months)) if p is not None]
    keys = ["month"] if by == "month" else ["campaign_id", "campaign_time"]
    if segment is not None:
        keys = [*keys, "segment"]
    if parts:
        out = pd.concat(parts, ignore_index=True).groupby(keys, sort=True)[[*EMAIL_COUNTS, "contacts", *inactive]] \
            .sum(min_count=1).reset_index()
        out[list(EMAIL_COUNTS)] = out[list(EMAIL_COUNTS)].astype("int64")
        for c in ["contacts", *inactive]:  # int64, or float64 with NaN for a group without any send (as in memory)
            out[c] = out[c].astype("int64") if out[c].notna().all() else out[c].astype("float64")
    else:
        dtypes = {"month": "datetime64[ns]", "campaign_id": "string", "campaign_time": "datetime64[ns]",
                  "segment": "string"}
        out = pd.DataFrame({**{k: pd.Series(dtype=dtypes[k]) for k in keys},
                            **{c: pd.Series(dtype="int64") for c in [*EMAIL_COUNTS, "contacts", *inactive]}})
    return email_kpis_from_counts(out, keys, months if by == "month" else None, levels)
