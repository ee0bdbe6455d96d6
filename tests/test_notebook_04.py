"""Notebook 04 (churn risk) executed headless on CDNOW at the end of 1997 (a history too short
for a time gap: hold-out split); its sidecar and scores are checked (figures to reach: the
model beats both baselines). The run on the sample is the shared report's, checked in
test_report_sample.py with the helpers below."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from notebook_runs import execute, image_count, output_text

from analysis.models.classifier import SCORE_COLUMNS
from analysis.paths import EXAMPLES_DIR, NOTEBOOKS_DIR

pytestmark = pytest.mark.notebook

NOTEBOOK = NOTEBOOKS_DIR / "04_churn_risk.ipynb"


def _run(tmp_path: Path, params: dict) -> tuple[dict, pd.DataFrame, nbformat.NotebookNode]:
    return _outputs(*execute("04_churn_risk", tmp_path, params))


def _outputs(side: dict, nb: nbformat.NotebookNode, out_dir: Path) -> tuple[dict, pd.DataFrame, nbformat.NotebookNode]:
    scores = pd.read_csv(out_dir / "scores.csv", dtype={"customer_id": "string"})
    for fig in ("reliability", "gains", "drivers", "priority_matrix"):
        assert (out_dir / "figures" / f"04_churn_risk_{fig}.png").exists(), fig
    assert image_count(nb) == 4  # every figure saved is also shown to the reader
    return side, scores, nb


_outputs_text = output_text


def _common_checks(side: dict, scores: pd.DataFrame, as_of: str, horizon: int, capacity: int) -> None:
    assert side["horizon_days"] == horizon and side["capacity"] == capacity
    end = pd.Timestamp(as_of)
    for d in side["train_snapshots"] + side["test_snapshots"]:
        assert pd.Timestamp(d) + pd.Timedelta(days=horizon) <= end  # no label read after as_of
    assert max(side["train_snapshots"]) < min(side["test_snapshots"])
    assert list(scores.columns) == [*SCORE_COLUMNS, "reasons"]
    assert scores["reasons"].notna().all()
    assert side["n_scored"] == len(scores) and scores["customer_id"].is_unique
    assert side["n_priority_1"] == int((scores["priority"] == "P1").sum())
    assert len(side["top_priorities"]) == min(10, len(scores))
    assert sum(side["n_by_status"].values()) == len(scores)
    callable_ = scores.loc[~scores["recommended_action"].isin(["separate_list", "removal"])]
    assert [p["customer_id"] for p in side["top_priorities"]] == callable_["customer_id"].head(10).tolist()
    assert all(isinstance(p["reasons"], str) and p["reasons"] for p in side["top_priorities"])
    assert side["best_model"] in ("logit", "hgb")
    assert side["auc_model"] == max(side["auc_logit"], side["auc_hgb"])


def test_notebook_on_cdnow_orders_only(tmp_path):
    side, scores, nb = _run(tmp_path, {"data_dir": str(EXAMPLES_DIR / "cdnow"), "as_of": "1997-12-31",
                                       "horizon_days": 180, "capacity": 500, "lang": "en", "random_state": 0})
    _common_checks(side, scores, "1997-12-31", 180, 500)
    assert side["value_basis"] == "revenue_12m"
    assert side["split_holdout"] is True  # a 180-day gap cannot fit in 1997
    assert side["test_snapshots"] == ["1997-07-01"]
    # figure to reach: at least as good as the BG/NBD baseline and the recency rule
    assert side["auc_model"] >= side["auc_bgnbd"] and side["auc_model"] >= side["auc_recency"]
    # every customer is scored (all 23,570 first bought in Q1 1997), with a status
    assert side["n_scored"] == side["n_known"] == 23_570 == len(scores)
    assert side["n_by_status"]["lapsed"] > 0 and side["horizon_days"] == 180
    # forward check (time-honest: scores from 1997 only, truth from 1998-01-01 to 1998-06-29).
    # The baselines on the 90-day active customers agree with the figures of issue 11
    # (BG/NBD 0.717, recency 0.581, computed independently before this change)
    assert side["forward_auc_bgnbd_active90"] == pytest.approx(0.717, abs=0.005)
    assert side["forward_auc_recency_active90"] == pytest.approx(0.581, abs=0.01)
    # on all scored customers the model ranks better than both baselines
    assert side["forward_auc_model_all"] > max(side["forward_auc_bgnbd_all"], side["forward_auc_recency_all"])
    text = _outputs_text(nb)
    assert "Not available: the export has no email events" in text
