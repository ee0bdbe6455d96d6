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
(:func:`retention_matrix_spark`), and the customer KPIs per month from each bucket's additive
counts (:func:`customer_kpis_spark`). Not on Spark (the local engine runs them as DuckDB SQL
over the bucketed copy, :mod:`analysis.metrics.aggregates`): the email KPIs (a campaign's
month is its first send over the whole base) and the revenue and activity retention matrices.

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
from analysis.data.spark import (
    BUCKET_COLUMN,
    SparkSettings,
    by_bucket,
    long_frame,
    partition_frames,
    read_validated,
    table_dtypes,
)
from analysis.errors import EngineError, NotEnoughDataError
from analysis.models.classifier import NOT_CALLED

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

    from analysis.models.classifier import ScoreResult

__all__ = ["SparkSource", "spark_source", "map_buckets", "indicators_spark", "features_spark", "SparkScoreRun", "score_spark",
           "spark_call_order", "forward_spark", "lifetimes_spark", "retention_matrix_spark",
           "customer_kpis_spark"]

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


def retention_matrix_spark(spark: SparkSession, source: SparkSource, as_of, period: str = "M",
                           max_age: int | None = None, horizon_days: int | None = None,
                           lifetimes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The cohort retention matrix of customers (:func:`analysis.metrics.cohorts.retention_matrix`,
    ``metric="customers"``) from the per-customer survival inputs of :func:`lifetimes_spark`:
    the matrix is a small aggregate of one row per customer, made on the driver by the
    in-memory code (the customers table, one row per customer, gives the dates)."""
    from analysis.metrics.cohorts import retention_matrix

    if source.pds is None:
        raise EngineError("the Spark cohort matrix needs the validated copy of the export (load_partitioned).")
    pds = source.pds
    life = lifetimes if lifetimes is not None else lifetimes_spark(spark, source, as_of, period, horizon_days)
    customers = pds.customers(columns=["customer_id", "signup_date", "churn_date"])
    shell = Dataset(customers=customers, config=pds.config, path=pds.path, observed_from=pds.observed_from,
                    observed_until=pds.observed_until, base=pds.base)
    return retention_matrix(shell, as_of, period, "customers", max_age=max_age, horizon_days=horizon_days,
                            lifetimes=life)


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
