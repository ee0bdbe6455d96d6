"""Churn Radar: find customers going quiet before they are lost.

The package behind the notebooks in ``notebooks/``. Start with :func:`load`::

    import analysis
    ds = analysis.load("data/sample")
    print(ds.report.to_text())
"""

import pandas as _pd

from analysis.data.config import DatasetConfig, read_config
from analysis.data.dataset import Dataset, from_frames, load
from analysis.data.warehouse import Warehouse
from analysis.errors import ChurnRadarError, ConfigError, DataError, NotEnoughDataError, ReportError
from analysis.paths import PROJECT_ROOT, REPORTS_DIR, SAMPLE_DIR

# Strings are Arrow-backed, as they are by default in pandas 3: vectorised string checks
# run in C++, and every module gets the same `string` dtype from `.astype("string")`.
_pd.set_option("mode.string_storage", "pyarrow")

__version__ = "0.1.0"


def warehouse(path) -> Warehouse:
    """The dataset folder ``path`` as a DuckDB :class:`~analysis.data.warehouse.Warehouse` over
    its validated copy (validated first if needed): KPIs and cohorts computed by SQL, without
    loading the base into pandas. ``kpis.base_health`` and ``cohorts.cohort_decay`` accept it
    in place of a :class:`Dataset`."""
    return Warehouse.open(path)


__all__ = [
    "ChurnRadarError", "ConfigError", "DataError", "Dataset", "DatasetConfig",
    "NotEnoughDataError", "PROJECT_ROOT", "REPORTS_DIR", "ReportError", "SAMPLE_DIR",
    "__version__", "from_frames", "load", "read_config", "Warehouse", "warehouse",
]
