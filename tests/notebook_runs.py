"""Shared by the notebook tests: run a report notebook headless and read what it left."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from analysis.paths import NOTEBOOKS_DIR, PROJECT_ROOT

#: The real CDNOW log, shipped in the repository (examples/cdnow/README.md).
CDNOW_FILE = PROJECT_ROOT / "examples" / "cdnow" / "CDNOW_master.txt"


def execute(name: str, tmp_path: Path, parameters: dict) -> tuple[dict, nbformat.NotebookNode, Path]:
    """Run ``notebooks/<name>.ipynb`` with papermill into ``tmp_path``.

    ``output_dir`` is set to ``tmp_path / "out"``. Returns the JSON sidecar, the executed
    notebook and the output folder.
    """
    import papermill as pm

    out_dir = tmp_path / "out"
    executed = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"), str(executed), kernel_name="churn-radar",
                        progress_bar=False, parameters={**parameters, "output_dir": str(out_dir)},
                        cwd=str(tmp_path))
    sidecar = json.loads((out_dir / f"{name}.json").read_text(encoding="utf-8"))
    return sidecar, nbformat.read(str(executed), as_version=4), out_dir


def output_text(nb: nbformat.NotebookNode) -> str:
    """Every text a reader sees in the outputs (Markdown, HTML, plain text, streams)."""
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            parts.append(str(data.get("text/markdown", "")) + str(data.get("text/html", ""))
                         + str(data.get("text/plain", "")) + str(o.get("text", "")))
    return "\n".join(parts)


def image_count(nb: nbformat.NotebookNode) -> int:
    """How many figures the executed notebook shows (PNG outputs)."""
    return sum("image/png" in o.get("data", {}) for cell in nb.cells for o in cell.get("outputs", []))


def assert_no_personal_values(ds, text: str, n: int = 20) -> None:
    """None of the first ``n`` values of any personal column appears in ``text``."""
    for col in [c for c in ds.config.personal_columns if c in ds.customers.columns]:
        shown = ds.customers[col].dropna().astype(str).head(n)
        assert not any(v in text for v in shown if len(v) > 3), col
