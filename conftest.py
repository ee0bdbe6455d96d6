"""Test-session set-up shared by tests/ and the nbval runs of notebooks/.

Set here, at configuration time, so that every notebook kernel (papermill's and nbval's)
inherits it:

- ``CHURN_RADAR_CACHE_DIR``: one validated-copy cache per session in a temporary folder, so
  each export is validated once per session and the repository's data folders stay clean;
- ``CHURN_RADAR_REPORTS_DIR``: notebooks run with their own defaults (nbval) write their
  figures there instead of the project's ``reports/``.

Every nbval item (one per notebook cell) is marked ``notebook`` (``-m "not notebook"``
leaves them out). pytest-xdist runs with ``--dist loadfile``: the cells of a notebook, like
the tests of a module, go to one worker, in order (one kernel per notebook).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_MADE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    root = tempfile.mkdtemp(prefix="churn-radar-tests-")
    _MADE.append(root)
    os.environ["CHURN_RADAR_CACHE_DIR"] = os.path.join(root, "validated-copies")
    os.environ["CHURN_RADAR_REPORTS_DIR"] = os.path.join(root, "reports")


def pytest_unconfigure(config: pytest.Config) -> None:
    for root in _MADE:
        shutil.rmtree(root, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)

