"""Shared by the notebook tests: run a report notebook headless and read what it left."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from analysis.data import cache, dataset
from analysis.paths import NOTEBOOKS_DIR, PROJECT_ROOT
from analysis.reporting.runner import ReportRun, run_report

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


def from_report(report, name: str) -> tuple[dict, nbformat.NotebookNode, Path]:
    """What notebook ``name`` left in a shared executed report (see ``tests/conftest.py``):
    its JSON sidecar, the executed notebook and the report folder (its output folder)."""
    run_dir = report.run_dir
    assert report.result.ok, [(n.name, n.error) for n in report.result.failed]
    sidecar = json.loads((run_dir / f"{name}.json").read_text(encoding="utf-8"))
    return sidecar, nbformat.read(str(run_dir / f"{name}.ipynb"), as_version=4), run_dir


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


# ------------------------------------------------- executed reports shared by the tests
#: The dates of the shared reports (fixtures of tests/conftest.py).
SAMPLE_AS_OF = "2026-11-01"
CDNOW_AS_OF = "1998-07-01"

_LOG_ENV = "CHURN_RADAR_TEST_VALIDATION_LOG"
_KERNEL_SPY = f'''
import os
import analysis.data.dataset as _dataset

_real = _dataset._validate_folder


def _logged(folder, config):
    with open(os.environ["{_LOG_ENV}"], "a", encoding="utf-8") as fh:
        fh.write(f"kernel {{os.getpid()}} {{folder}}\\n")
    return _real(folder, config)


_dataset._validate_folder = _logged
'''


@dataclass
class SharedReport:
    """One executed report: the runner's result, its folder and the validations it made."""

    result: ReportRun
    out: Path
    data_dir: Path
    as_of: str
    validation_log: Path

    @property
    def run_dir(self) -> Path:
        return self.result.run_dir

    def validations(self) -> list[str]:
        return self.validation_log.read_text(encoding="utf-8").splitlines() if self.validation_log.exists() else []


def run_shared(root: Path, data_dir: Path, as_of: str, lang: str, parameters: dict) -> SharedReport:
    """Run the report on ``data_dir`` into ``root / "reports"`` with a cold validated-copy
    cache, logging every validation of an export: in this process (the runner) and in every
    notebook kernel (an IPython startup file in a private ``IPYTHONDIR`` wraps the same
    function there)."""
    log = root / "validations.log"
    startup = root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00_count_validations.py").write_text(_KERNEL_SPY, encoding="utf-8")
    real = dataset._validate_folder

    def logged(folder, config):
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"runner {folder}\n")
        return real(folder, config)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(cache.CACHE_ENV, str(root / "validated-copies"))  # cold: nothing validated yet
        mp.setenv("IPYTHONDIR", str(root / "ipython"))
        mp.setenv(_LOG_ENV, str(log))
        mp.setattr(dataset, "_validate_folder", logged)
        result = run_report(data_dir, as_of, root / "reports", lang=lang, parameters=parameters, echo=None)
    return SharedReport(result=result, out=root / "reports", data_dir=data_dir, as_of=as_of, validation_log=log)


def tiny_base(folder: Path, with_email: bool = True) -> Path:
    """Four customers, two campaigns (the second with a hard bounce), orders with a refund and one
    unreadable date; shared by the notebook 01 and browser tests."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4"],
        "signup_date": ["2026-01-01", "2026-01-01", "2026-01-01", "2026-02-10"],
        "churn_date": ["", "", "2026-03-15", ""],
        "sector": ["retail", "retail", "industry", "industry"],
        "email": ["a@x.fr", "b@x.fr", "c@x.fr", "d@x.fr"],  # personal: never shown
    }).to_csv(folder / "customers.csv", index=False)
    pd.DataFrame({
        "customer_id": ["c1", "c2", "c2", "c4", "c1"],
        "order_date": ["2026-01-10", "2026-02-12", "2026-03-02", "2026-03-20", "not a date"],
        "amount": [100.0, 40.0, -10.0, 70.0, 5.0],
    }).to_csv(folder / "orders.csv", index=False)
    if with_email:
        rows = [(c, "F", "2026-02-15 09:00:00", "sent") for c in ("c1", "c2", "c3", "c4")]
        rows += [(c, "F", "2026-02-15 09:00:01", "delivered") for c in ("c1", "c2", "c3", "c4")]
        rows += [("c1", "F", "2026-02-15 10:00:00", "open"), ("c1", "F", "2026-02-15 10:01:00", "click")]
        rows += [(c, "M", "2026-03-16 09:00:00", "sent") for c in ("c1", "c2", "c4")]
        rows += [(c, "M", "2026-03-16 09:00:01", "delivered") for c in ("c1", "c2")]
        rows += [("c4", "M", "2026-03-16 09:00:01", "bounce_hard"), ("c2", "M", "2026-03-17 08:00:00", "open")]
        pd.DataFrame(rows, columns=["customer_id", "campaign_id", "event_time", "event"]).to_csv(
            folder / "email_events.csv", index=False)
        # one hard bounce: the alarm's minimum count of events (10 by default) lowered for this tiny base
        (folder / "dataset.yml").write_text("thresholds:\n  alarm_min_events: 1\n", encoding="utf-8")
    return folder
