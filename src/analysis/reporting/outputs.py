"""What an executed notebook leaves behind: its key figures (JSON sidecar) and its PNG figures.

In a notebook::

    out = RunOutputs("01_base_health", as_of=as_of, output_dir=output_dir)
    out.record(customers=int(n), quarantined_rows=int(q))      # -> <dir>/01_base_health.json
    out.figure(fig, "new_customers")                            # -> <dir>/figures/01_base_health_new_customers.png

``output_dir`` empty (a notebook run by hand, in JupyterLab or with papermill) means a
scratch folder, ``reports/scratch/<notebook>/<as_of>/`` under the project root: a hand run
never writes into an official month folder. ``churn-radar report`` passes the month folder
``reports/<as_of>/`` explicitly.

Every saved figure also leaves ``figures/<notebook>_<name>.json``: what it shows
(:func:`analysis.reporting.plots.describe.figure_facts`), from which the client HTML and the
index write its alt text in the report's language. JSON is written with sorted keys and
floats rounded to 6 significant digits (to the cent from 10 000 on, so amounts keep their
units), so the same run gives the same file.
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

__all__ = ["RunOutputs", "to_jsonable", "safe_name", "SCRATCH_DIR", "FIGURE_FACTS_MIME"]

#: Where a notebook run by hand (no ``output_dir``) writes: never an official month folder.
SCRATCH_DIR: Path = REPORTS_DIR / "scratch"
#: MIME type of the (invisible) output by which a saved figure tells the HTML export what it shows.
FIGURE_FACTS_MIME = "application/vnd.churn-radar.figure-facts+json"


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for numpy / pandas values; NaN and NA become ``None``; floats rounded
    to 6 significant digits, to the cent from 10 000 on (an amount keeps its units)."""
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
        # 6 significant digits, but never coarser than cents: an amount of 4 260 387,35 stays
        # 4260387.35 (not 4260390), so a page and the summary quote the same euro
        return float(f"{f:.6g}") if abs(f) < 1e4 else round(f, 2)
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
        self.dir = Path(output_dir) if str(output_dir) else SCRATCH_DIR / notebook / str(as_of)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sidecar = self.dir / f"{notebook}.json"
        self.figures: dict[str, Any] = {}
        # a report notebook's tables are read by clients: never cut a cell's text with "..."
        # (pandas cuts at 50 characters by default); tables built with
        # analysis.reporting.client_tables.client_table wrap their text anyway
        pd.set_option("display.max_colwidth", None)

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
        from analysis.reporting.plots.describe import figure_facts

        facts = to_jsonable(figure_facts(fig))
        (folder / f"{self.notebook}_{name}.json").write_text(
            json.dumps(facts, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        _announce_facts(facts)
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


def _announce_facts(facts: dict[str, Any]) -> None:
    """Inside a Jupyter kernel, an output (empty to the eye) carrying the figure's facts, so
    the HTML export can give the inline image its alt text; nothing outside a kernel."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    display({FIGURE_FACTS_MIME: facts, "text/plain": ""}, raw=True)

