"""The monthly report on data/sample, run once for all these tests (the ``sample_report``
fixture of conftest.py: as of 2026-11-01, in French, the notebooks' own defaults).

The report's executed notebooks and sidecars are checked against the package's own
computation on the same data (the checks of each notebook live in its test_notebook_NN
module); the report itself must be complete, free of code and personal data, validate the
export once, and give the same summary when run again. One module, so that pytest-xdist
(``--dist loadfile``) runs the shared report in one worker.
"""

from __future__ import annotations

import json
import re

import pytest
import test_notebook_01 as nb01
import test_notebook_02 as nb02
import test_notebook_03 as nb03
import test_notebook_04 as nb04
import test_notebook_05 as nb05
import test_report
from notebook_runs import assert_no_personal_values, from_report

import analysis
from analysis import load
from analysis.models.audit import RetroAudit
from analysis.models.tuning import ThresholdTuner
from analysis.paths import SAMPLE_DIR
from analysis.reporting.i18n import t
from analysis.reporting.outputs import to_jsonable
from analysis.reporting.runner import find_personal_values, personal_values, run_report

pytestmark = pytest.mark.notebook


def test_nb05_on_sample(sample_report):
    side, nb, run_dir = from_report(sample_report, nb05.NAME)  # as of 2026-11-01, fr
    ds = analysis.load(SAMPLE_DIR)
    nb05._check_against_package(side, nb, run_dir, ds, "2026-11-01", "fr")
    # monthly campaigns on the 10th, 2025-02 to 2026-09 (the last 14-day window closing before October):
    # 20; every fourth (RA-202505, -09, RA-202601, -05, -09) without a control group: 15 attributable
    assert side["campaigns"]["n_campaigns"] == 20 and side["campaigns"]["n_attributable"] == 15
    assert side["uplift"]["status"] == "ok" and side["plan"]["mde_purchase"] > 0
    assert side["uplift"]["beats_random"] and side["uplift"]["qini_model_ci"][0] > 0
    # RA-202505, -09, RA-202601 (A, B), -05 (A, B), -09 (A, B) were sent to everyone: counted plainly, in French
    assert "8 sans groupe témoin (descriptif seulement)" in nb05.output_text(nb)
    # 22 attributable purchase-rate comparisons: 12 had a 95 % interval excluding 0 (tested one by
    # one, before issue 12b); after Holm's correction over the 22, only RA-202603 · B (raw p 0.0006,
    # Holm 0.013) is a real effect, the 21 others are not distinguishable from chance
    text = re.sub(r"\s", " ", nb05.output_text(nb))
    assert re.search(r"30 variantes de campagne : 1 avec un effet réel sur le taux d'achat .*, 21 sans effet "
                     r"distinguable du hasard, 8 sans groupe témoin", text)
    assert "après la correction de Holm sur les 22 comparaisons de cette page (taux d'achat)" in text
    assert side["campaigns"]["headline"]["n_comparisons"] == 22


def test_nb01_on_sample(sample_report):
    side, nb, _ = from_report(sample_report, "01_base_health")  # as of 2026-11-01, fr
    ds = analysis.load(SAMPLE_DIR)
    nb01._check_against_package(side, ds, "2026-11-01", "fr")
    assert side["month"] == "2026-10"
    assert_no_personal_values(ds, nb01._text_outputs(nb))


def test_nb02_on_sample(sample_report):
    sidecar, nb, _ = from_report(sample_report, "02_retro_audit")  # the notebook's own defaults: 2026-11-01, fr
    ds = analysis.load(SAMPLE_DIR)
    expected = RetroAudit().fit(ds, "2026-11-01")
    assert nb02._audit_part(sidecar) == json.loads(json.dumps(to_jsonable(expected.key_figures())))
    tuner = ThresholdTuner(random_state=0).fit(expected, ds)  # the threshold-tuning section (#15)
    assert nb02._tuning_part(sidecar) == json.loads(json.dumps(to_jsonable(tuner.key_figures())))
    assert sidecar["n_lost"] == 100 and sidecar["lookback_weeks"] == 26
    lo, hi = sidecar["share_signal_min_lead_ci"]
    assert lo <= sidecar["share_signal_min_lead"] <= hi
    assert set(sidecar["per_indicator"]) == {"frequency", "recency", "email", "value", "nps", "usage", "any"}
    text = nb02._text(nb)
    assert t(f"aud_verdict_{sidecar['verdict']}", "fr").split("**")[1] in text
    for col in ds.config.personal_columns:  # no personal value shown
        values = ds.customers[col].dropna().astype(str).head(50) if col in ds.customers else []
        assert not any(v in text for v in values)


def test_nb03_on_sample(sample_report):
    side, nb, _ = from_report(sample_report, nb03.NAME)  # as of 2026-11-01, fr, monthly cohorts
    ds = analysis.load(SAMPLE_DIR)
    nb03._check_against_package(side, ds, "2026-11-01", "M")
    assert side["n_cohorts"] >= 12 and side["trend"] in ("improving", "worsening", "stable")
    assert 0 < side["retention_12m"] < side["retention_6m"] < side["retention_3m"] <= 1
    assert side["fastest_segment"] in set(ds.customers[side["segment_by"]].dropna().astype(str))
    assert_no_personal_values(ds, nb03._text_outputs(nb))


def test_nb04_on_sample(sample_report):
    # the report passes data_dir, as_of 2026-11-01 and fr; horizon 90 days, capacity 150 and
    # random_state 0 are the notebook's defaults
    side, scores, nb = nb04._outputs(*from_report(sample_report, "04_churn_risk"))
    nb04._common_checks(side, scores, "2026-11-01", 90, 150)
    # figures to reach: the model beats both baselines on ROC AUC and top-decile lift
    assert side["auc_model"] > side["auc_recency"] and side["auc_model"] > side["auc_bgnbd"]
    assert side["lift_top_decile_model"] > side["lift_top_decile_recency"]
    assert side["lift_top_decile_model"] > side["lift_top_decile_bgnbd"]
    assert side["split_holdout"] is False
    # every active customer is scored, no personal data anywhere in the outputs
    ds = analysis.load(SAMPLE_DIR)
    c = ds.customers
    active = c.loc[(c["signup_date"] < "2026-11-01") & ~(c["churn_date"] < "2026-11-01"), "customer_id"]
    assert sorted(scores["customer_id"]) == sorted(active.astype(str))
    text = nb04._outputs_text(nb) + scores.to_csv() + json.dumps(side, ensure_ascii=False)
    for col in ds.config.personal_columns:
        if col in c.columns:
            assert not any(str(v) in text for v in c[col].dropna().head(200)), col
    assert "Pas de scores précédents" in nb04._outputs_text(nb)


def test_report_on_sample(sample_report):
    first = sample_report.result
    assert first.ok, [(n.name, n.error) for n in first.failed]
    run = first.run_dir
    values = personal_values(load(SAMPLE_DIR))
    assert sum(len(v) for v in values.values()) > 0
    for page in run.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert find_personal_values(text, values) == {}, page.name
        test_report._code_free(text)
    assert len(test_report._real_notebooks()) >= 4
    for nb in test_report._real_notebooks():
        assert (run / nb.name).exists() and (run / f"{nb.stem}.html").exists()


def test_report_validates_the_export_once(sample_report):
    # the runner validated data/sample once (cold cache); no notebook kernel validated it again
    assert sample_report.validations() == [f"runner {SAMPLE_DIR.resolve()}"]
    manifest = json.loads((sample_report.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["notebooks"]) == len(test_report._real_notebooks())
    assert all(n["status"] == "ok" for n in manifest["notebooks"])


def _visible(page: str) -> str:
    """A client page without its styles, scripts and embedded image data (base64 holds any letters)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return re.sub(r'src="data:[^"]*"', 'src=""', page)


def test_client_pages_are_finished_on_sample(sample_report):
    # issue #14, French sample report: every page shows client tables only (no raw DataFrame
    # with its index; in 05 no code or column name), every table header of every page in sentence
    # case, no '.' decimal in a French alt text, no breakable space inside a number or before
    # % / € in a table cell (the 01 dashboard's reading, the 02 tuning intervals...)
    pages = {p.name: _visible(p.read_text(encoding="utf-8")) for p in sample_report.run_dir.glob("0*.html")}
    assert len(pages) == 5
    p05 = pages["05_reactivation.html"]
    assert 'class="dataframe"' not in p05 and "row_heading" not in p05
    for code in ("email_sequence", "lapsed_buyers", "separate_list", "removal_candidate", "campaign_id",
                 "median_days", "share_over_7", "value_tier", "mean_treatment", "failed_in_a_row"):
        assert code not in p05, code
    assert len(re.findall(r'<th class="col_heading', p05)) >= 30          # effects, balance, sizes, delays, list
    for name, page in pages.items():
        assert 'class="dataframe"' not in page, name                          # no raw DataFrame, no index
        headers = re.findall(r'<th class="col_heading[^"]*"[^>]*>([^<]*)</th>', page)
        assert headers and not [h for h in headers if h[:1].islower()], name
        alts = re.findall(r'alt="([^"]*)"', page)
        assert alts and not [a for a in alts if re.search(r"\d\.\d", a)], name
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
        assert not [c for c in cells if re.search(r"\d (?:%|€)|\d \d{3}\b", c)], name
    index_cells = re.findall(r"<td[^>]*>([^<]*)</td>", (sample_report.run_dir / "index.html").read_text(encoding="utf-8"))
    assert index_cells and not [c for c in index_cells if re.search(r"\d (?:%|€)|\d \d{3}\b", c)]


def test_report_pages_and_summary_agree(sample_report):
    """Issue 14b: one source per figure, no contradiction between the summary and the pages."""
    import html as html_lib

    from analysis.reporting.i18n import dataset_title, fmt_kpi
    from analysis.reporting.summary import executive_summary

    run = sample_report.run_dir
    pages = {p.stem: html_lib.unescape(p.read_text(encoding="utf-8")).replace("\u202f", " ").replace("\xa0", " ")
             for p in run.glob("*.html")}  # client tables keep French numbers together with no-break spaces
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    base = summary["01_base_health"]
    # the month's revenue: the same euro in the index and on page 01 (4 260 387 €, not 4 260 390 €)
    revenue = fmt_kpi("revenue", base["kpis_month"]["revenue"], "fr")
    assert revenue.endswith("387 €") and revenue in pages["index"] and revenue in pages["01_base_health"]
    # 03 says why it follows fewer customers than the export holds
    decay = summary["03_cohort_decay"]
    assert decay["n_signed_up"] == base["customers"] == 3000
    assert decay["n_customers"] == 3000 - decay["n_lost_before_export"] and decay["n_lost_before_export"] > 0
    assert (f"L'export compte 3 000 clients ; {decay['n_lost_before_export']} d'entre eux sont partis au plus "
            f"tard le premier jour de l'export") in pages["03_cohort_decay"]
    # the quarantined rows are an alert: no decision says there is none, on the index or on 01
    assert base["quarantined_rows"] > 0
    for page in (pages["index"], pages["01_base_health"]):
        assert t("kpi_decision_keep_course", "fr") not in page and t("bh_alerts_none", "fr") not in page
        assert f"{base['quarantined_rows']} lignes de l'export ont été mises de côté" in page
    # every reason shows a visible change
    for name in ("index", "04_churn_risk"):
        assert "0,0 % à 0,0 %" not in pages[name], name
    # the model's lead over each baseline carries its interval (index and 04)
    lead = summary["04_churn_risk"]["auc_vs_baselines"]
    assert set(lead) == {"recency", "bgnbd"} and all(c["low"] <= c["diff"] <= c["high"] for c in lead.values())
    assert "Avance du modèle, en fois sur 100 : " in pages["index"] and "(intervalle à 95 % : " in pages["index"]
    assert "bootstrap sur" in pages["04_churn_risk"]
    # the same figures in English: English words and spacing, the dataset's English title (the
    # priorities' reasons are words of the run's own language in its sidecar: French here)
    es = executive_summary(summary, "en")
    words = " ".join([*es["headline"], *es["alerts"], *es["audit"], *es["decay"], *es["risk"], *es["decisions"],
                      *es["appendix"], *(c for row in es["priorities"] for c in row[:-1])])
    for french in (" %", " : ", " ; ", "é", "è", "à ", "fois sur", "clients perdus", "0.0% to 0.0%"):
        assert french not in words, french
    assert dataset_title(load(SAMPLE_DIR).config, "en") == "Churn Radar sample: B2B software publisher (synthetic)"


def test_report_on_sample_twice(sample_report):
    # last of this module: --force moves the shared run aside (to <as_of>.previous-1)
    first, out = sample_report.result, sample_report.out
    summary = (first.run_dir / "summary.json").read_bytes()
    second = run_report(SAMPLE_DIR, sample_report.as_of, out, lang="fr", force=True, echo=None)
    assert second.ok, [(n.name, n.error) for n in second.failed]
    assert (second.run_dir / "summary.json").read_bytes() == summary
    assert (out / f"{sample_report.as_of}.previous-1" / "summary.json").read_bytes() == summary
    assert second.manifest["dataset"]["content_sha256"] == first.manifest["dataset"]["content_sha256"]



def test_call_list_page_says_how_many_rows_it_shows_and_always_an_action(sample_report):
    """Issue 14: "the call list says 'les 150 clients' and shows 20 rows including a P2 with
    'Aucune action'". The page now says it shows the first 20 of the 150 (the sample has more
    than 20 scored customers, so exactly 20 rows), and no P1/P2 row says "Aucune action"."""
    import html as html_lib

    page = html_lib.unescape((sample_report.run_dir / "04_churn_risk.html").read_text(encoding="utf-8"))
    page = page.replace("\u202f", " ").replace("\xa0", " ")
    assert "les 150 clients à contacter en premier ce mois-ci. Ci-dessous, les 20 premiers" in page
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S) if re.search(r">P[12] :", r)]
    assert len(rows) == 20
    assert not [r for r in rows if "Aucune action" in r]
