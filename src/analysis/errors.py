"""Named errors whose messages a non-programmer can act on.

Each message says which file, which column, which rows and what was expected.
The CLI turns any :class:`ChurnRadarError` into that message and exit code 1.
"""

from __future__ import annotations

__all__ = ["ChurnRadarError", "ConfigError", "DataError", "EngineError", "NotEnoughDataError", "ReportError"]


class ChurnRadarError(Exception):
    """Base class: something the user can fix in their data, config or parameters."""


class ConfigError(ChurnRadarError):
    """``dataset.yml`` or a parameter says something that cannot be used."""


class DataError(ChurnRadarError):
    """A table cannot be used at all (missing column, empty file, unreadable file...)."""


class NotEnoughDataError(ChurnRadarError):
    """The data is valid but too short or too small for the analysis asked for."""


class ReportError(ChurnRadarError):
    """The monthly report cannot be produced as asked (existing folder, unknown notebook...)."""


class EngineError(ChurnRadarError):
    """The computing engine asked for cannot run here (e.g. Spark without PySpark or Java)."""
