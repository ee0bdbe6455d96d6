"""Spark plumbing of the Spark engine: settings, the session, reading tables, buckets.

The Spark engine (:mod:`analysis.models.spark_engine`) runs the *same* per-partition
functions as the local engine (:mod:`analysis.data.partitions`,
:mod:`analysis.models.partitioned`) through PySpark's grouped pandas functions
(``groupBy("bucket").applyInPandas``). This module holds what is Spark-specific and knows
nothing of models:

* :class:`SparkSettings`: the ``engine: spark:`` mapping of ``dataset.yml`` (Spark settings
  passed through as they are, ``spark.master`` among them, and table paths or URIs) and
  ``--spark-conf key=value``;
* :func:`require_spark` and :func:`spark_session`: a session in local mode by default
  (``local[2]``), quiet (log level ERROR, no progress bars), Arrow on, bound to the loopback
  address in local mode; :func:`spark_session` is a context manager that stops what it started;
* :func:`bucket_column`: the bucket of every row, the SAME function as the local engine's
  :func:`analysis.data.partitions.bucket_of` (CRC-32 of the UTF-8 id, modulo the number of
  buckets; a null id goes to bucket 0);
* :func:`read_validated` and :func:`long_frame`: the validated tables of a cache entry (or
  Parquet / CSV paths and URIs) as Spark DataFrames, then one long frame of every table's rows
  with their bucket (columns prefixed by table, so that two tables may hold a column of the same
  name with other types), and :func:`partition_frames`, which turns the rows of one bucket back
  into pandas tables with their validated dtypes inside ``applyInPandas``.

PySpark is an optional extra (``pip install 'churn-radar[spark]'``) and needs a Java runtime
(17 or later for PySpark 4); without either, :func:`require_spark` raises an
:class:`~analysis.errors.EngineError` naming what to install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.data.schema import EMAIL_EVENTS, TABLES
from analysis.errors import ConfigError, EngineError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

__all__ = [
    "DEFAULT_MASTER", "INSTALL_HINT", "SPARK_DEFAULTS", "SUBMIT_WINS", "SparkSettings", "parse_spark_settings",
    "parse_spark_conf", "require_spark", "spark_session", "bucket_column", "read_validated",
    "table_dtypes", "long_frame", "by_bucket", "partition_frames", "TABLE_COLUMN", "BUCKET_COLUMN",
]

#: Spark master used when neither dataset.yml nor the command line names one.
DEFAULT_MASTER = "local[2]"
#: What to install when PySpark is missing.
INSTALL_HINT = "pip install 'churn-radar[spark]'"
#: Settings every session gets unless dataset.yml or --spark-conf say otherwise.
SPARK_DEFAULTS: dict[str, str] = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # pandas writes nanosecond timestamps, which Spark reads only as integers (converted back
    # to datetime64[ns] exactly, in the partition function)
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
}
#: The defaults that give way to spark-submit's own settings (``--conf``, ``--properties-file``,
#: ``spark-defaults.conf``): a cluster's parallelism and UI are its own. The others are needed
#: for the numbers (Arrow, nanosecond timestamps, UTC) and stay unless dataset.yml says otherwise.
SUBMIT_WINS: tuple[str, ...] = ("spark.sql.shuffle.partitions", "spark.ui.enabled", "spark.ui.showConsoleProgress")
#: Column of the long frame naming the table a row comes from, and the bucket column.
TABLE_COLUMN = "_table"
BUCKET_COLUMN = "bucket"
_SEP = "__"
_FILE, _ROW = "_file", "_row"


@dataclass(frozen=True)
class SparkSettings:
    """Where and how the Spark engine runs.

    Attributes
    ----------
    master : Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``...); None leaves it
        to ``spark-submit`` or the platform (a Databricks job), ``local[2]`` when run directly.
    conf : Spark settings passed through as they are (``spark.executor.memory: 8g``).
    tables : table name -> Parquet or CSV path or URI (``s3a://bucket/orders/``) of its
        *validated* rows, read by Spark instead of the local cache entry.
    app_name : the application name shown by the cluster.
    """

    master: str | None = None
    conf: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    app_name: str = "churn-radar"

    def merged(self, conf: Mapping[str, str] | None = None, master: str | None = None) -> SparkSettings:
        """These settings with ``conf`` (e.g. from ``--spark-conf``) and ``master`` on top."""
        extra = dict(conf or {})
        m = extra.pop("spark.master", None) or master or self.master
        return SparkSettings(master=m, conf={**self.conf, **extra}, tables=dict(self.tables),
                             app_name=self.app_name)


def parse_spark_settings(raw: Mapping[str, Any] | None, where: str = "engine.spark") -> SparkSettings:
    """The ``engine: spark:`` mapping of dataset.yml as :class:`SparkSettings`.

    Every key is a Spark setting passed through as it is (``spark.master`` is the master),
    except ``tables.<table>``, the path or URI of that table's validated rows:

    .. code-block:: yaml

        engine:
          kind: spark
          spark:
            spark.master: spark://host:7077          # default local[2]
            spark.executor.memory: 8g
            spark.sql.shuffle.partitions: 200
            tables.orders: s3a://bucket/validated/orders/

    Raises
    ------
    ConfigError
        On a key that is neither a Spark setting (``spark.``) nor ``tables.<table>``.
    """
    if not raw:
        return SparkSettings()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"dataset.yml: {where} is {_shown(raw)}; expected a mapping of Spark settings.")
    conf: dict[str, str] = {}
    tables: dict[str, str] = {}
    for key, value in raw.items():
        key = str(key).strip()
        if key.startswith("tables."):
            table = key.partition(".")[2]
            if table not in TABLES:
                raise ConfigError(f"dataset.yml: {where}.{key}: unknown table '{table}'; expected one of "
                                  f"{list(TABLES)}.")
            if not str(value).strip():
                raise ConfigError(f"dataset.yml: {where}.{key} is empty; expected a path or URI.")
            tables[table] = str(value).strip()
        elif key.startswith("spark."):
            conf[key] = _conf_value(value)
        else:
            raise ConfigError(f"dataset.yml: {where} has '{_shown(key)}'; expected Spark settings, whose names "
                              "start with 'spark.' (spark.master, spark.executor.memory...), or tables.<table>.")
    master = conf.pop("spark.master", None)
    return SparkSettings(master=master or None, conf=conf, tables=tables)


def parse_spark_conf(pairs: list[str] | None) -> dict[str, str]:
    """``["spark.executor.memory=8g", ...]`` (``--spark-conf``, repeatable) as a mapping.

    Raises
    ------
    ConfigError
        On an item without ``=`` or whose key does not start with ``spark.``.
    """
    out: dict[str, str] = {}
    for item in pairs or []:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key.startswith("spark."):
            raise ConfigError(f"--spark-conf {_shown(str(item))}: expected key=value with a Spark setting "
                              "as key, e.g. spark.executor.memory=8g.")
        out[key] = value.strip()
    return out


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# ------------------------------------------------------------------------------ the session
def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def require_spark() -> None:
    """Check that PySpark and a Java runtime are there.

    Raises
    ------
    EngineError
        One line naming what to install: the ``spark`` extra, or a Java runtime.
    """
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise EngineError(f"the Spark engine needs PySpark, which is not installed: run {INSTALL_HINT} "
                          "(or use --engine local).") from None
    if _java() is None:
        raise EngineError("the Spark engine needs a Java runtime (17 or later), and none was found on PATH "
                          "or in JAVA_HOME: install one, e.g. apt-get install default-jre-headless "
                          "(or use --engine local).")


_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


@contextlib.contextmanager
def spark_session(settings: SparkSettings | None = None) -> Iterator[SparkSession]:
    """A Spark session for the engine; stopped on exit if this call started it.

    Local mode (``local[2]`` unless ``settings.master`` says otherwise) binds to the loopback
    address and runs the Python workers with this interpreter. Every session gets
    :data:`SPARK_DEFAULTS` below ``settings.conf`` (which wins); logs are at ERROR and there
    are no progress bars. An already running session (a Databricks job) is reused as it is and
    left running. Under ``spark-submit`` the master is spark-submit's (unless ``settings.master``
    names one) and so are the :data:`SUBMIT_WINS` settings it was given. In a Databricks job
    (``DATABRICKS_RUNTIME_VERSION`` set) no master is set and the cluster's session is never
    stopped, even when this call obtained it (:func:`_session_plan`).

    Raises
    ------
    EngineError
        Without PySpark or Java (:func:`require_spark`), or when the session cannot start.
    """
    require_spark()
    from pyspark.sql import SparkSession

    settings = settings or SparkSettings()
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    master, stop_at_end = _session_plan(settings)
    local = master is not None and master.startswith("local")
    tmp = tempfile.mkdtemp(prefix="churn-radar-spark-")
    log4j = Path(tmp) / "log4j2.properties"
    log4j.write_text(_LOG4J, encoding="utf-8")
    conf = _session_conf(settings, _submitted_conf())
    opts = f"-Dlog4j2.configurationFile=file:{log4j}"
    conf["spark.driver.extraJavaOptions"] = " ".join(
        x for x in (conf.get("spark.driver.extraJavaOptions"), opts) if x)
    if local:
        conf.setdefault("spark.driver.host", "127.0.0.1")
        conf.setdefault("spark.driver.bindAddress", "127.0.0.1")
        conf.setdefault("spark.pyspark.python", sys.executable)
        conf.setdefault("spark.pyspark.driver.python", sys.executable)
    env_before = {k: os.environ.get(k) for k in ("SPARK_LOCAL_IP", "PYSPARK_PYTHON")}
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(settings.app_name)
    if master:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM's own error, on one line
        shutil.rmtree(tmp, ignore_errors=True)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EngineError(f"the Spark session could not start (master {master or 'from spark-submit'}): "
                          f"{first[:300]}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        if stop_at_end:
            spark.stop()
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


def _session_conf(settings: SparkSettings, submitted: dict[str, str]) -> dict[str, str]:
    """The settings a new session is built with: :data:`SPARK_DEFAULTS`, except the
    :data:`SUBMIT_WINS` ones spark-submit already set (``submitted``), under ``settings.conf``."""
    defaults = {k: v for k, v in SPARK_DEFAULTS.items() if not (k in SUBMIT_WINS and k in submitted)}
    return {**defaults, **settings.conf}


def _submitted_conf() -> dict[str, str]:
    """The Spark settings spark-submit gave this driver (the ``spark.*`` system properties of the
    JVM it started, read through PySpark's gateway to it); empty when not run by spark-submit."""
    if not _submitted():
        return {}
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # the gateway to spark-submit's JVM (PYSPARK_GATEWAY_PORT)
    return dict(SparkConf().getAll())


def _session_plan(settings: SparkSettings) -> tuple[str | None, bool]:
    """(the master a new session is built with, whether this call stops it at the end).

    The master is ``settings.master``, else none when a platform runs the driver (spark-submit
    or a Databricks job: its own master), else :data:`DEFAULT_MASTER`. A Databricks job's
    session belongs to the cluster (``builder.getOrCreate()`` returns it even when no session
    was active in this process): it is never stopped here.
    """
    databricks = bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))
    master = settings.master or (None if _submitted() or databricks else DEFAULT_MASTER)
    return master, not databricks


def _submitted() -> bool:
    """True when run by ``spark-submit`` (which sets the master itself)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_SUBMIT" in os.environ or bool(
        os.environ.get("PYSPARK_SUBMIT_ARGS"))


# ------------------------------------------------------------------------------ buckets
def bucket_column(customer_id, n_buckets: int):
    """The Spark column of the bucket of ``customer_id`` (a Column): ``crc32(UTF-8 id) % n``,
    null ids in bucket 0, exactly :func:`analysis.data.partitions.bucket_of`."""
    from pyspark.sql import functions as F

    if int(n_buckets) < 1:
        raise ConfigError(f"buckets is {n_buckets}; expected a whole number, 1 or more.")
    h = F.pmod(F.crc32(customer_id.cast("string").cast("binary")), F.lit(int(n_buckets)))
    return F.coalesce(h, F.lit(0)).cast("int")


# ------------------------------------------------------------------------------ tables
def table_dtypes(schema) -> dict[str, Any]:
    """The pandas dtypes of a validated table, from its Arrow schema and the pandas metadata
    pandas wrote in it: what :func:`partition_frames` casts the rows of a bucket back to."""
    meta = {c["name"]: c for c in (schema.pandas_metadata or {}).get("columns", []) if c.get("name")}
    empty = schema.empty_table().to_pandas()
    out: dict[str, Any] = {}
    for col in schema.names:
        kind = meta.get(col, {})
        if kind.get("numpy_type") == "string":
            out[col] = pd.StringDtype()
        elif kind.get("pandas_type") == "categorical":
            out[col] = pd.CategoricalDtype(EMAIL_EVENTS if col == "event" else None)
        else:
            out[col] = empty[col].dtype
    return out


def read_validated(spark: SparkSession, files: Mapping[str, list[Path] | str],
                   schemas: Mapping[str, Any]) -> dict[str, SparkFrame]:
    """Read the validated tables with Spark.

    Parameters
    ----------
    spark : the session.
    files : table -> its Parquet files (a cache entry's ``tables/<table>/bucket-*.parquet``),
        or one path or URI (Parquet, or CSV when it ends in ``.csv`` / ``.csv.gz``).
    schemas : table -> Arrow schema of its validated rows (the columns read).

    Returns
    -------
    table -> Spark DataFrame with the schema's columns, then ``_file`` and ``_row`` (the file
    name and the row's index in it, for Parquet: the order of the validated copy, which the
    partition function restores; null for CSV, whose rows are ordered by customer and time).
    """
    from pyspark.sql import functions as F

    out = {}
    for table, where in files.items():
        paths = [str(p) for p in where] if isinstance(where, list | tuple) else [str(where)]
        if not paths:
            continue
        csv = all(p.lower().endswith((".csv", ".csv.gz")) for p in paths)
        reader = spark.read.option("header", "true") if csv else spark.read
        frame = reader.csv(paths) if csv else reader.parquet(*paths)
        missing = [c for c in schemas[table].names if c not in frame.columns]
        if missing:
            raise EngineError(f"{paths[0]}: table {table} has no column(s) {missing}; expected the "
                              f"validated columns {list(schemas[table].names)}.")
        order = ([F.col("_metadata.file_name").alias(_FILE), F.col("_metadata.row_index").alias(_ROW)]
                 if not csv else [F.lit(None).cast("string").alias(_FILE), F.lit(None).cast("long").alias(_ROW)])
        out[table] = frame.select(*[F.col(f"`{c}`") for c in schemas[table].names], *order)
    return out


def long_frame(tables: Mapping[str, SparkFrame], n_buckets: int) -> SparkFrame:
    """Every table's rows in one frame with ``_table`` and ``bucket``.

    A column ``c`` of table ``t`` becomes ``t__c`` (two tables may hold a column of the same
    name with different types: ``customers.channel`` and ``interventions.channel``); the
    union is by name with the other tables' columns null.
    """
    from pyspark.sql import functions as F

    parts = []
    for table, frame in tables.items():
        order = [F.col(c) for c in (_FILE, _ROW) if c in frame.columns]
        renamed = frame.select(
            F.lit(table).alias(TABLE_COLUMN),
            bucket_column(F.col("customer_id"), n_buckets).alias(BUCKET_COLUMN), *order,
            *[F.col(f"`{c}`").alias(f"{table}{_SEP}{c}") for c in frame.columns if c not in (_FILE, _ROW)])
        parts.append(renamed)
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p, allowMissingColumns=True)
    return out


def by_bucket(frame: SparkFrame, n_buckets: int, partitions: int | None = None) -> SparkFrame:
    """``frame`` shuffled by bucket once and kept (memory, then disk): the passes of an engine
    run (``groupBy("bucket").applyInPandas``) then reuse it without reading and shuffling again.
    ``partitions`` defaults to ``min(n_buckets, spark.sql.shuffle.partitions)``."""
    from pyspark import StorageLevel

    spark = frame.sparkSession
    n = partitions or max(1, min(int(n_buckets), int(spark.conf.get("spark.sql.shuffle.partitions"))))
    order = [c for c in (BUCKET_COLUMN, TABLE_COLUMN, _FILE, _ROW) if c in frame.columns]
    # sorted by bucket inside each partition: applyInPandas then needs neither shuffle nor sort
    return frame.repartition(n, BUCKET_COLUMN).sortWithinPartitions(*order).persist(StorageLevel.MEMORY_AND_DISK)


def partition_frames(rows: pd.DataFrame, dtypes: Mapping[str, Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    """The rows of one bucket (a pandas frame of :func:`long_frame` columns) back as tables.

    Each table keeps its own columns, unprefixed, cast to the validated ``dtypes`` (integers
    holding nanoseconds become ``datetime64[ns]``; ``event`` gets the categories of
    :data:`analysis.data.schema.EMAIL_EVENTS`), in the order of the validated copy (file, then
    row; by customer and time where that order is unknown).
    A table of ``dtypes`` without rows in this bucket is an empty frame of the same columns.
    """
    out = {}
    kind = rows[TABLE_COLUMN].to_numpy() if len(rows) else np.array([], dtype=object)
    for table, types in dtypes.items():
        sub = rows.loc[kind == table] if len(rows) else rows
        if len(sub) and _ROW in sub.columns and sub[_ROW].notna().all():
            sub = sub.sort_values([_FILE, _ROW], kind="stable")
        frame = pd.DataFrame(index=pd.RangeIndex(len(sub)))
        for col, dtype in types.items():
            src = sub[f"{table}{_SEP}{col}"] if f"{table}{_SEP}{col}" in sub.columns else pd.Series(
                [None] * len(sub), dtype=object)
            values = src.to_numpy()
            if pd.api.types.is_datetime64_any_dtype(dtype):
                frame[col] = pd.to_datetime(pd.array(values, dtype="Int64"), unit="ns") if values.dtype.kind in "iuO" \
                    else pd.to_datetime(values)
            elif isinstance(dtype, pd.CategoricalDtype):
                cats = EMAIL_EVENTS if col == "event" else dtype.categories
                frame[col] = pd.Categorical(values, categories=cats if len(cats) else None)
            elif pd.api.types.is_bool_dtype(dtype):
                frame[col] = values.astype(bool)
            else:
                frame[col] = pd.Series(values).astype(dtype).array
        if len(sub) and not (_ROW in sub.columns and sub[_ROW].notna().all()):
            time_col = TABLES[table].time_column if table in TABLES else None
            keys = ["customer_id", time_col] if time_col and time_col in frame.columns else ["customer_id"]
            frame = frame.sort_values(keys, kind="stable")
        out[table] = frame.reset_index(drop=True)
    return out
