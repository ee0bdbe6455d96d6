"""Notebook 05 (re-activation) on the sample: its key figures equal the package's results, every
figure is saved and shown once, no personal value is shown. The notebook is executed once, by
the shared sample report (``test_report_sample.py`` calls :func:`_check_against_package`)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from notebook_runs import assert_no_personal_values, image_count, output_text

from analysis.metrics.campaigns import analyse_campaigns
from analysis.metrics.okr import okr_progress
from analysis.reporting.outputs import to_jsonable

NAME = "05_reactivation"
FIGURES = ("lift_purchase", "qini", "reaction_delay", "okr")


def _check_against_package(side: dict, nb: nbformat.NotebookNode, run_dir: Path, ds, as_of: str,
                           lang: str) -> None:
    result = analyse_campaigns(ds, as_of)
    expected = result.key_figures()
    assert side["campaigns"] == json.loads(json.dumps(to_jsonable(expected)))
    okr = okr_progress(ds, as_of)
    assert [k["value"] for k in side["okr"]] == pytest.approx(okr["value"].tolist(), rel=1e-5)
    assert side["plan"]["n_treatment"] + side["plan"]["n_control"] > 0
    assert 0 <= side["reaction"]["share_over_7"] <= 1 and side["reaction"]["acted"] <= side["reaction"]["alerts"]
    for fig in FIGURES if side["uplift"]["status"] == "ok" else (f for f in FIGURES if f != "qini"):
        assert (run_dir / "figures" / f"{NAME}_{fig}.png").exists(), fig
    assert image_count(nb) == len(FIGURES) - (side["uplift"]["status"] != "ok")
    text = output_text(nb)
    # the campaigns are counted by verdict (more than five variants) in the package's own words
    from analysis.reporting.reactivation import campaign_markdown

    overview = campaign_markdown(result.effects, lang, ds.config.currency, as_of).split("\n\n")[0]
    n_variants = int(result.effects["outcome"].eq("purchase").sum())
    assert overview.startswith(f"{n_variants} ") and n_variants > 5 and overview in text
    assert_no_personal_values(ds, text)
