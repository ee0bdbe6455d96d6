"""Earlier runs in a reports folder: the previous month's call list, for stability figures.

>>> from analysis.reporting.history import previous_scores
>>> previous, when = previous_scores("reports", "2026-11-01")   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["previous_scores"]


def previous_scores(reports_dir, as_of, columns: list[str] | None = None) -> tuple[pd.DataFrame | None, str]:
    """The latest ``scores.csv`` of a run dated in the calendar month before ``as_of``.

    Looks for ``<reports_dir>/<YYYY-MM-DD>/scores.csv``. Returns the scores (or None) and the
    as-of date of that run (or the previous month, ``YYYY-MM``, when none exists).
    ``columns``: only these columns are read (a large base's scores stay small).
    """
    cut = pd.Timestamp(as_of).normalize()
    start = cut.replace(day=1) - pd.DateOffset(months=1)
    end = start + pd.offsets.MonthEnd(0)
    found = []
    folder = Path(reports_dir)
    if folder.is_dir():
        for sub in folder.iterdir():  # a handful of dated run folders
            d = pd.to_datetime(sub.name, format="%Y-%m-%d", errors="coerce")
            if pd.notna(d) and start <= d <= end and (sub / "scores.csv").exists():
                found.append((d, sub / "scores.csv"))
    if not found:
        return None, start.strftime("%Y-%m")
    d, path = max(found)
    prev = pd.read_csv(path, dtype={"customer_id": "string"}, usecols=columns)
    return prev, d.date().isoformat()
