"""Notebook 05 (re-activation) executed headless once on the sample: its key figures equal the
package's results, every figure is saved and shown, no personal value is shown."""

from __future__ import annotations

import json

import pytest
from notebook_runs import assert_no_personal_values, execute, image_count, output_text

import analysis
from analysis.metrics.campaigns import analyse_campaigns
from analysis.metrics.okr import okr_progress
from analysis.paths import SAMPLE_DIR
from analysis.reporting.outputs import to_jsonable

pytestmark = pytest.mark.notebook


@pytest.mark.skipif(not (SAMPLE_DIR / "interventions.csv").exists(), reason="data/sample has no interventions")
def test_notebook_05_on_sample(tmp_path):
    side, nb, out_dir = execute("05_reactivation", tmp_path, {"data_dir": str(SAMPLE_DIR), "as_of": "2026-11-01",
                                                              "lang": "en", "seed": 0})
    ds = analysis.load(SAMPLE_DIR)
    expected = analyse_campaigns(ds, "2026-11-01").key_figures()
    assert side["campaigns"] == json.loads(json.dumps(to_jsonable(expected)))
    assert side["campaigns"]["n_campaigns"] == 7 and side["campaigns"]["n_attributable"] == 6
    okr = okr_progress(ds, "2026-11-01")
    assert [k["value"] for k in side["okr"]] == pytest.approx(okr["value"].tolist(), rel=1e-5)
    assert side["plan"]["n_treatment"] + side["plan"]["n_control"] > 0 and side["plan"]["mde_purchase"] > 0
    assert 0 <= side["reaction"]["share_over_7"] <= 1 and side["reaction"]["acted"] <= side["reaction"]["alerts"]
    assert side["uplift"]["status"] == "ok"
    for fig in ("lift_purchase", "qini", "reaction_delay", "okr"):
        assert (out_dir / "figures" / f"05_reactivation_{fig}.png").exists(), fig
    assert image_count(nb) == 4
    text = output_text(nb)
    assert "no control group, so the effect cannot be attributed to the campaign" in text     # RA-202511
    assert "not distinguishable from chance: not a finding" in text
    assert_no_personal_values(ds, text)
