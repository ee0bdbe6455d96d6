"""Notebook 03 (cohort decay) executed headless; its sidecar is checked by hand on a tiny
base and against the package's own computation on the sample and on CDNOW.

Runs here on tiny datasets; the runs on ``data/sample`` and on the CDNOW example (orders
only, non-contractual: activity decay) are those of the shared reports, checked in
test_report_sample.py and test_report_cdnow.py with the helpers below.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from notebook_runs import (
    execute,
    output_text,
)
from test_cohorts import contractual_frames

import analysis
from analysis.metrics import cohorts
from analysis.metrics.cohorts import MONTH_DAYS
from analysis.paths import NOTEBOOKS_DIR
from analysis.reporting.i18n import t

pytestmark = pytest.mark.notebook

NOTEBOOK = NOTEBOOKS_DIR / "03_cohort_decay.ipynb"
NAME = "03_cohort_decay"
#: the keys the monthly report's executive summary reads
KEYS = {"cohort_period", "n_cohorts", "retention_3m", "retention_6m", "retention_12m",
        "median_lifetime_months", "trend", "trend_delta", "fastest_segment",
        "fastest_segment_retention_12m", "logrank_p"}


def _tiny(folder: Path, amounts: bool = True) -> Path:
    """The contractual base of tests/test_cohorts.py (A..G), with a personal column."""
    folder.mkdir(parents=True, exist_ok=True)
    customers, orders = contractual_frames()
    customers.assign(email=[f"{c.lower()}@client-secret.fr" for c in customers["customer_id"]]).to_csv(
        folder / "customers.csv", index=False)  # email: a personal column, never shown
    (orders if amounts else orders.drop(columns="amount")).to_csv(folder / "orders.csv", index=False)
    (folder / "dataset.yml").write_text("business_model: contractual\nobserved_until: 2026-06-30\n",
                                        encoding="utf-8")
    return folder


def _run(tmp_path: Path, data_dir: Path | str, as_of: str, lang: str,
         **params) -> tuple[dict, nbformat.NotebookNode]:
    side, nb, _ = execute(NAME, tmp_path, {"data_dir": str(data_dir), "as_of": as_of, "lang": lang, **params})
    return side, nb


_text_outputs = output_text


def _check_against_package(side: dict, ds: analysis.Dataset, as_of: str, period: str,
                           segment_by: str = "auto") -> dict:
    assert KEYS <= set(side)
    expected = cohorts.cohort_summary(ds, as_of, period, segment_by=cohorts.resolve_segment(ds, segment_by))
    for key, value in expected.items():
        if isinstance(value, float):
            assert side[key] == pytest.approx(value, rel=1e-5), key
        else:
            assert side[key] == value, key
    return expected


def _figures(out_dir: Path) -> set[str]:
    return {p.name.removeprefix(f"{NAME}_") for p in (out_dir / "figures").glob("*.png")}


def test_notebook_on_tiny_dataset(tmp_path):
    data = _tiny(tmp_path / "data")
    side, nb = _run(tmp_path, data, "2026-05-01", "fr")
    _check_against_package(side, analysis.load(data), "2026-05-01", "M")
    # by hand (see tests/test_cohorts.py): 6 customers before as_of in 3 monthly cohorts;
    # KM: C lost at 20 days (6 at risk), F censored at 21, D lost at 57 (4), A lost at 64 (3)
    assert side["n_customers"] == 6 and side["n_cohorts"] == 3 and side["cohort_period"] == "M"
    assert side["retention_3m"] == pytest.approx(5 / 6 * 3 / 4 * 2 / 3, rel=1e-5)
    assert side["retention_6m"] is None and side["retention_12m"] is None
    assert side["median_lifetime_months"] == pytest.approx(64 / MONTH_DAYS, rel=1e-5)
    assert side["trend"] is None  # a single cohort is 3 months old
    assert side["segment_by"] == "size" and side["fastest_segment"] is None
    assert 0 < side["logrank_p"] <= 1
    text = _text_outputs(nb)
    assert "client-secret" not in text  # personal column never shown
    assert t("coh_lost_contractual", "fr") in text
    assert {"retention_heatmap.png", "survival_by_cohort.png", "retention_at_3_6_12.png",
            "survival_by_segment.png", "revenue_retention.png", "activity_decay.png"} <= _figures(tmp_path / "out")
    at_risk = pd.read_csv(tmp_path / "out" / "tables" / f"{NAME}_at_risk_by_cohort.csv")
    assert {"group", "months", "at_risk", "lost", "censored"} <= set(at_risk.columns)
    wide = pd.read_csv(tmp_path / "out" / "tables" / f"{NAME}_retention_matrix_customers.csv")
    assert wide.iloc[2, 1:].isna().tolist() == [False, True, True, True]  # April cohort: one cell


def test_notebook_without_amounts_quarterly(tmp_path):
    data = _tiny(tmp_path / "data", amounts=False)
    side, nb = _run(tmp_path, data, "2026-05-01", "en", cohort_period="Q", metric="revenue",
                    segment_by="none")
    _check_against_package(side, analysis.load(data), "2026-05-01", "Q", "none")
    assert side["n_cohorts"] == 2 and side["heatmap_metric"] == "customers"
    assert side["segment_by"] is None and side["logrank_p"] is None
    text = _text_outputs(nb)
    assert t("not_available", "en", table=t("coh_amounts", "en")) in text
    assert t("coh_no_segment", "en") in text


