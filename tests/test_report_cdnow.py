"""The monthly report on the CDNOW log (orders only, non-contractual), run once for all these
tests (the ``cdnow_report`` fixture of conftest.py: as of 1998-07-01, in English, quarterly
cohorts). One module, so that pytest-xdist (``--dist loadfile``) runs it in one worker.
"""

from __future__ import annotations

import pytest
import test_notebook_01 as nb01
import test_notebook_03 as nb03
from notebook_runs import from_report

import analysis
from analysis.paths import EXAMPLES_DIR
from analysis.reporting.i18n import t

pytestmark = pytest.mark.notebook


def test_nb01_on_cdnow_orders_only(cdnow_report):
    side, nb, _ = from_report(cdnow_report, "01_base_health")  # as of 1998-07-01, en
    ds = analysis.load(EXAMPLES_DIR / "cdnow")
    nb01._check_against_package(side, ds, "1998-07-01", "en")
    assert side["customers"] == 23570 and side["month"] == "1998-06"
    assert side["tables"] == {"customers": 23570, "orders": 69659}
    assert t("not_available", "en", table=t("email_events", "en")) in nb01._text_outputs(nb)


def test_nb03_on_cdnow_orders_only(cdnow_report):
    side, nb, run_dir = from_report(cdnow_report, nb03.NAME)  # as of 1998-07-01, en, quarterly cohorts
    ds = analysis.load(EXAMPLES_DIR / "cdnow")
    nb03._check_against_package(side, ds, "1998-07-01", "Q")
    # one acquisition quarter, 23,570 customers; lost = 180 days without a purchase, so
    # nobody can be lost before 180 days (5.9 months)
    assert side["n_customers"] == 23570 and side["n_cohorts"] == 1
    assert side["business_model"] == "non_contractual" and side["churn_horizon_days"] == 180
    assert side["retention_3m"] == pytest.approx(1.0)
    assert side["retention_12m"] < side["retention_6m"] < 1
    text = nb03._text_outputs(nb)
    assert t("coh_lost_non_contractual", "en", days=180) in text
    assert {"activity_decay.png", "activity_heatmap.png", "survival_by_cohort.png"} <= nb03._figures(run_dir)


def test_report_on_cdnow_transactions_only(cdnow_report):
    result = cdnow_report.result
    assert result.ok, [(n.name, n.error) for n in result.failed]
    assert (cdnow_report.out / "1998-07-01" / "index.html").exists()
    assert result.manifest["dataset"]["tables"] == ["customers", "orders"]
    assert result.manifest["skipped"] == ["05_reactivation"]       # no interventions table
    assert cdnow_report.validations() == [f"runner {(EXAMPLES_DIR / 'cdnow').resolve()}"]
