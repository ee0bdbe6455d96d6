"""Notebook 01 (base health and monthly KPI dashboard) executed headless; its sidecar is checked
against the package's own computation on the same data.

Runs here on tiny datasets written by the tests; the runs on ``data/sample`` and on the CDNOW
example (orders only: the email sections must say "not available") are those of the shared
reports, checked in test_report_sample.py and test_report_cdnow.py with the helpers below.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from notebook_runs import (
    execute,
    output_text,
    tiny_base,
)

import analysis
from analysis.metrics import kpis
from analysis.paths import NOTEBOOKS_DIR
from analysis.reporting.i18n import t

pytestmark = pytest.mark.notebook

NOTEBOOK = NOTEBOOKS_DIR / "01_base_health.ipynb"


def _run(tmp_path: Path, data_dir: Path | str, as_of: str, lang: str,
         open_correction: bool = False) -> tuple[dict, nbformat.NotebookNode]:
    side, nb, _ = execute("01_base_health", tmp_path, {"data_dir": str(data_dir), "as_of": as_of, "lang": lang,
                                                        "open_correction": open_correction})
    return side, nb


_text_outputs = output_text


def _check_against_package(side: dict, ds: analysis.Dataset, as_of: str, lang: str,
                           open_correction: bool = False) -> kpis.MonthlyReview:
    base = kpis.base_summary(ds, as_of)
    review = kpis.monthly_review(ds, as_of, open_correction=open_correction)
    assert side["customers"] == base["customers"]
    assert side["active_customers"] == base["active_customers"]
    assert side["quarantined_rows"] == ds.report.rows_quarantined
    assert side["tables"] == {name: len(frame) for name, frame in ds.tables.items()}
    assert side["month"] == review.month == kpis.report_month(as_of).strftime("%Y-%m")
    assert side["open_correction"] is open_correction
    assert set(side["kpis_month"]) == set(review.kpis_month)
    for k, v in review.kpis_month.items():
        assert side["kpis_month"][k] == (None if v is None else pytest.approx(v, rel=1e-5)), k
    for k, v in review.kpis_prev_month.items():
        assert side["kpis_prev_month"][k] == (None if v is None else pytest.approx(v, rel=1e-5)), k
    assert [(a["kind"], a["code"]) for a in side["alerts"]] == [(a["kind"], a["code"]) for a in review.alerts]
    assert side["decisions"] == review.decisions and 1 <= len(side["decisions"]) <= 3
    return review


def test_notebook_on_tiny_dataset(tmp_path):
    data = tiny_base(tmp_path / "data")
    side, nb = _run(tmp_path, data, "2026-04-01", "fr")
    ds = analysis.load(data)
    _check_against_package(side, ds, "2026-04-01", "fr")
    # by hand: 4 customers signed up before 04-01, c3 lost on 03-15; one order row quarantined
    assert side["customers"] == 4 and side["active_customers"] == 3 and side["quarantined_rows"] == 1
    assert side["month"] == "2026-03"
    # March: campaign M, 3 sent, 2 delivered, 1 hard bounce, 1 opener (c2)
    assert side["kpis_month"]["deliverability"] == pytest.approx(2 / 3, rel=1e-5)
    assert side["kpis_month"]["hard_bounce_rate"] == pytest.approx(1 / 3, rel=1e-5)
    assert side["kpis_month"]["open_rate"] == pytest.approx(1 / 2)
    assert side["kpis_month"]["revenue"] == pytest.approx(60.0)  # -10 refund + 70
    assert side["kpis_prev_month"]["deliverability"] == pytest.approx(1.0)
    # February hard bounces 0 -> March 33 % (>= 2 %): the alarm fires, suspend-and-audit comes first
    assert ("alarm", "bounces_doubled") in [(a["kind"], a["code"]) for a in side["alerts"]]
    assert side["decisions"][0] == "suspend_audit"
    assert t("kpi_decision_suspend_audit", "fr") in _text_outputs(nb)  # the code, worded in the notebook
    text = _text_outputs(nb)
    assert "@x.fr" not in text  # personal column never shown
    assert t("kpi_open_correction_off", "fr") in text
    figures = {p.name for p in (tmp_path / "out" / "figures").glob("*.png")}
    assert {"01_base_health_new_customers.png", "01_base_health_email_kpis.png",
            "01_base_health_inactivity_levels.png"} <= figures
    dash = pd.read_csv(tmp_path / "out" / "tables" / "01_base_health_dashboard.csv")
    assert {"month", "kpi", "value", "threshold", "alert", "reading"} <= set(dash.columns)


def test_notebook_without_email_events_says_not_available(tmp_path):
    data = tiny_base(tmp_path / "data", with_email=False)
    side, nb = _run(tmp_path, data, "2026-04-01", "en", open_correction=True)
    _check_against_package(side, analysis.load(data), "2026-04-01", "en", open_correction=True)
    assert t("kpi_open_correction_on", "en", seconds="10") in _text_outputs(nb)  # says which was used
    assert "open_rate" not in side["kpis_month"] and side["email_available"] is False
    assert t("not_available", "en", table=t("email_events", "en")) in _text_outputs(nb)


