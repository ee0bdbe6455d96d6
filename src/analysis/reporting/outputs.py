"""What an executed notebook leaves behind: its key figures (JSON sidecar) and its PNG figures.

In a notebook::

    out = RunOutputs("01_base_health", as_of=as_of, output_dir=output_dir)
    out.record(customers=int(n), quarantined_rows=int(q))      # -> <dir>/01_base_health.json
    out.figure(fig, "new_customers")                            # -> <dir>/figures/01_base_health_new_customers.png

``output_dir`` empty means ``reports/<as_of>/`` under the project root (what papermill
runs of ``churn-radar report`` pass explicitly). JSON is written with sorted keys and
floats rounded to 6 significant digits, so the same run gives the same file.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.paths import REPORTS_DIR

__all__ = ["RunOutputs", "to_jsonable", "safe_name"]


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for numpy / pandas values; NaN and NA become ``None``."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return to_jsonable(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return to_jsonable(value.to_dict())
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f) or math.isinf(f):
            return None
        return float(f"{f:.6g}")
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return pd.Timestamp(value).date().isoformat() if pd.Timestamp(value).normalize() == pd.Timestamp(value) \
            else pd.Timestamp(value).isoformat()
    if isinstance(value, Path):
        return str(value)
    return value if isinstance(value, str) else str(value)


class RunOutputs:
    """The output folder of one notebook run and its JSON sidecar."""

    def __init__(self, notebook: str, as_of: str, output_dir: str | Path = ""):
        self.notebook = notebook
        self.dir = Path(output_dir) if str(output_dir) else REPORTS_DIR / str(as_of)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sidecar = self.dir / f"{notebook}.json"
        self.figures: dict[str, Any] = {}

    def record(self, **figures: Any) -> dict[str, Any]:
        """Add key figures to the sidecar (rewritten at each call, sorted keys)."""
        self.figures.update(to_jsonable(figures))
        self.sidecar.write_text(json.dumps(self.figures, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                encoding="utf-8")
        return self.figures

    def figure(self, fig, name: str):
        """Save ``fig`` (a matplotlib Figure or Axes) as PNG for slides; return the figure."""
        fig = getattr(fig, "figure", fig)
        folder = self.dir / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        fig.savefig(folder / f"{self.notebook}_{safe_name(name)}.png", dpi=150, bbox_inches="tight",
                    metadata={"Software": None})
        return fig

    def table(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """Save a result table as CSV next to the figures (users export them); return it.

        The CSV is meant for people: personal columns are masked and formula-like cells
        neutralised (:func:`analysis.reporting.safety.write_people_csv`); a Parquet copy
        beside it keeps the exact values.
        """
        from analysis.reporting.safety import mask_personal, write_people_csv

        folder = self.dir / "tables"
        folder.mkdir(parents=True, exist_ok=True)
        write_people_csv(mask_personal(frame, by_name=False), folder / f"{self.notebook}_{safe_name(name)}.csv")
        return frame


def safe_name(name: str) -> str:
    """``name`` usable as part of a file name: a name built from data (a segment column such
    as ``../x`` or ``<b>``) cannot leave the folder; other characters become ``_``."""
    cleaned = re.sub(r"[^\w.-]+", "_", str(name)).strip("._") or "unnamed"
    return cleaned[:100]
