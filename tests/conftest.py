"""Executed reports shared by the report and notebook tests (one run each per session).

``sample_report`` runs ``churn-radar report`` on ``data/sample`` as of 2026-11-01 in French
(the notebooks' own defaults) and ``cdnow_report`` on ``examples/cdnow`` as of 1998-07-01 in
English with quarterly cohorts. The tests that read them (the executed notebooks and
sidecars, checked against the package) are gathered in ``test_report_sample.py`` and
``test_report_cdnow.py``, so that pytest-xdist (``--dist loadfile``) runs each report once,
in one worker. Every validation made during a shared run is logged (see
:func:`notebook_runs.run_shared`).
"""

from __future__ import annotations

import pytest
from notebook_runs import CDNOW_AS_OF, SAMPLE_AS_OF, SharedReport, run_shared

from analysis.paths import EXAMPLES_DIR, SAMPLE_DIR


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory) -> SharedReport:
    """The monthly report on data/sample as of 2026-11-01, in French."""
    return run_shared(tmp_path_factory.mktemp("sample-report"), SAMPLE_DIR, SAMPLE_AS_OF, "fr", {})


@pytest.fixture(scope="session")
def cdnow_report(tmp_path_factory) -> SharedReport:
    """The monthly report on the CDNOW log as of 1998-07-01, in English, quarterly cohorts."""
    return run_shared(tmp_path_factory.mktemp("cdnow-report"), EXAMPLES_DIR / "cdnow", CDNOW_AS_OF, "en",
                       {"cohort_period": "Q"})
