"""DuckDB connections opened on a dataset, with the ``engine:`` settings of its dataset.yml.

Every DuckDB connection the product opens on a dataset's tables (the warehouse's views, the
streaming CSV reader of the validation into buckets, the CSV reader of the in-memory load,
the campaign range joins) is made by :func:`connect`, so that ``engine.memory_limit`` (memory
DuckDB may hold before it spills to its temporary folder; default 3GB) and ``engine.threads``
(default: the CPUs this process may use) apply to all of them:

.. code-block:: yaml

    engine:
      memory_limit: 1GB    # an 8 GB laptop: notebooks 01/02 stay under ~2 GB at 1 M customers
      threads: 4           # a shared 16-core server: leave the other CPUs to other work

Spills go to ``<system temporary folder>/churn-radar-duckdb`` rather than DuckDB's default
(a ``.tmp`` folder in the working directory, which may be a notebook or data folder).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from analysis.data.config import EngineConfig

__all__ = ["TEMP_DIRNAME", "connect", "apply_settings"]

#: Folder, under the system's temporary folder, DuckDB spills to beyond its memory limit.
TEMP_DIRNAME = "churn-radar-duckdb"


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def apply_settings(con: duckdb.DuckDBPyConnection, engine: EngineConfig | None = None) -> duckdb.DuckDBPyConnection:
    """Set ``threads``, ``memory_limit`` and the spill folder of ``con`` from ``engine``
    (None: the defaults of :class:`~analysis.data.config.EngineConfig`); return ``con``."""
    eng = engine if isinstance(engine, EngineConfig) else EngineConfig()
    con.execute(f"SET threads = {int(eng.duckdb_threads)}")
    con.execute(f"SET memory_limit = '{int(eng.memory_limit_bytes)}B'")
    con.execute(f"SET temp_directory = {_literal(Path(tempfile.gettempdir()) / TEMP_DIRNAME)}")
    return con


def connect(engine: EngineConfig | None = None) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with the settings of ``engine`` (see :func:`apply_settings`).

    Parameters
    ----------
    engine : the ``engine:`` block of the dataset's configuration (``config.engine``), or None
        for the defaults (3GB, the CPUs this process may use).
    """
    return apply_settings(duckdb.connect(database=":memory:"), engine)
