"""Where things live. Notebooks take their paths from here, never from '../data' fiddling.

The project root is found from the installed package (editable install, src layout);
``CHURN_RADAR_ROOT`` overrides it. ``CHURN_RADAR_REPORTS_DIR`` moves the default reports
folder (where a notebook run by hand writes when ``output_dir`` is empty); the test suite
uses it to keep the project's own ``reports/`` untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PROJECT_ROOT", "SAMPLE_DIR", "REPORTS_DIR", "NOTEBOOKS_DIR", "EXAMPLES_DIR", "resolve_data_dir"]


def _find_root() -> Path:
    env = os.environ.get("CHURN_RADAR_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "notebooks").is_dir():
            return parent
    return Path.cwd()


PROJECT_ROOT: Path = _find_root()
SAMPLE_DIR: Path = PROJECT_ROOT / "data" / "sample"
REPORTS_DIR: Path = Path(os.environ.get("CHURN_RADAR_REPORTS_DIR") or PROJECT_ROOT / "reports")
NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
EXAMPLES_DIR: Path = PROJECT_ROOT / "examples"


def resolve_data_dir(data_dir: str | os.PathLike) -> Path:
    """A dataset folder: absolute as given, else relative to the working folder if it exists
    there, else relative to the project root (so notebooks run from any folder)."""
    p = Path(data_dir)
    if p.is_absolute() or p.exists():
        return p.resolve()
    return (PROJECT_ROOT / p).resolve()
