"""The monthly report runner: parameters, folders, hashing, HTML export, summary, full runs.

Fast tests use a tiny dataset written here and the fixture notebooks of
``tests/fixtures/`` (one succeeds and writes a sidecar, one raises, one shows personal
data). The real notebooks on ``data/sample`` and CDNOW: test_report_sample.py and
test_report_cdnow.py (one shared report each).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from analysis import load
from analysis.cli import main
from analysis.errors import ReportError
from analysis.paths import NOTEBOOKS_DIR
from analysis.reporting.i18n import t
from analysis.reporting.runner import (
    _client_notebook,
    dataset_hash,
    discover_notebooks,
    export_html,
    find_personal_values,
    parse_parameters,
    personal_values,
    prepare_run_dir,
    run_report,
)
from analysis.reporting.summary import MAX_DECISIONS, executive_summary, kpi_label

FIXTURES = Path(__file__).parent / "fixtures"
NOTEBOOKS = FIXTURES / "notebooks"
AS_OF = "2026-06-01"

CUSTOMERS = """customer_id,signup_date,churn_date,name,email,phone,sector
C1,2026-01-05,,Amélie Zorrodin,amelie.zorrodin@example.fr,+33 6 11 22 33 44,retail
C2,2026-02-10,2026-09-15,Bastien Quillevec,bastien.quillevec@example.fr,+33 6 55 66 77 88,industry
C3,2026-03-01,,Corentin Wadeleux,corentin.wadeleux@example.fr,+33 7 99 00 11 22,retail
"""
# O6 has no date: validation quarantines it. O5 is after AS_OF: the notebooks must not see it.
ORDERS = """customer_id,order_date,amount,order_id
C1,2026-01-10,100.0,O1
C1,2026-05-10,50.5,O2
C2,2026-02-15,200.0,O3
C3,2026-03-05,30.0,O4
C3,2026-10-20,70.0,O5
C2,,10.0,O6
"""
PERSONAL = ["Amélie Zorrodin", "amelie.zorrodin@example.fr", "+33 6 11 22 33 44",
            "Bastien Quillevec", "bastien.quillevec@example.fr", "+33 6 55 66 77 88",
            "Corentin Wadeleux", "corentin.wadeleux@example.fr", "+33 7 99 00 11 22"]
CODE_SNIPPETS = ["import analysis", "RunOutputs(", "warnings.warn", "raise ValueError", "resolve_data_dir",
                 "out.record", "print("]


def _write_dataset(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    return folder


def _code_free(page: str) -> None:
    """No code cell input, no source text, no traceback in an exported page."""
    assert "jp-InputArea jp-Cell-inputArea\"><div class=\"jp-CodeMirrorEditor" not in page
    for cell_div in re.findall(r'<div class="jp-Cell jp-CodeCell[^"]*"', page):
        assert "jp-mod-noInput" in cell_div
    for snippet in CODE_SNIPPETS:
        assert snippet not in page, snippet
    assert "Traceback" not in page


# ------------------------------------------------------------------------- unit tests
def test_parse_parameters_types_values():
    got = parse_parameters(["top_n=20", "alpha=0.5", "flag=true", "off=False", 'code="12"',
                            "segment=retail", "neg=-3", "exp=1e-3"])
    assert got == {"top_n": 20, "alpha": 0.5, "flag": True, "off": False, "code": "12",
                   "segment": "retail", "neg": -3, "exp": 0.001}
    assert isinstance(got["top_n"], int) and isinstance(got["alpha"], float)
    assert parse_parameters(None) == {}


@pytest.mark.parametrize("items", [["top_n"], ["=3"], ["as_of=2026-01-01"], ["a=1", "a=2"], ["1x=2"]])
def test_parse_parameters_rejects(items):
    with pytest.raises(ReportError):
        parse_parameters(items)


def test_discover_notebooks_order_and_only():
    all_ = discover_notebooks(NOTEBOOKS)
    assert [p.name for p in all_] == ["01_fixture_ok.ipynb", "02_fixture_fail.ipynb"]
    assert [p.stem for p in discover_notebooks(NOTEBOOKS, "02")] == ["02_fixture_fail"]
    assert [p.stem for p in discover_notebooks(NOTEBOOKS, "02_fixture_fail,1")] == ["01_fixture_ok",
                                                                                   "02_fixture_fail"]
    assert [p.stem for p in discover_notebooks(NOTEBOOKS, ["01_fixture_ok"])] == ["01_fixture_ok"]
    with pytest.raises(ReportError, match="05"):
        discover_notebooks(NOTEBOOKS, "05")
    with pytest.raises(ReportError, match="no report notebook"):
        discover_notebooks(FIXTURES / "does_not_exist")


def test_dataset_hash_content_not_location(tmp_path):
    a = _write_dataset(tmp_path / "a")
    b = _write_dataset(tmp_path / "elsewhere" / "b")
    h = dataset_hash(a)
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert dataset_hash(a) == h == dataset_hash(b)
    (b / "orders.csv").write_text(ORDERS.replace("50.5", "50.6"), encoding="utf-8")
    assert dataset_hash(b) != h
    (b / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (b / "extra.csv").write_text("x\n", encoding="utf-8")
    assert dataset_hash(b) != h


def test_dataset_hash_includes_files_named_by_dataset_yml(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "log.txt").write_text("C1 20260101 10\n", encoding="utf-8")
    ds = tmp_path / "mapping"
    ds.mkdir()
    (ds / "dataset.yml").write_text("allow_external_files: true\ntables:\n  orders:\n    file: ../shared/log.txt\n", encoding="utf-8")
    h = dataset_hash(ds)
    (shared / "log.txt").write_text("C1 20260101 11\n", encoding="utf-8")
    assert dataset_hash(ds) != h


def test_prepare_run_dir_refuses_then_keeps_old_aside(tmp_path):
    run, moved = prepare_run_dir(tmp_path, "2026-10-31")
    assert run == tmp_path / "2026-10-31" and run.is_dir() and moved is None
    (run / "old.txt").write_text("first", encoding="utf-8")
    with pytest.raises(ReportError, match="--force"):
        prepare_run_dir(tmp_path, "2026-10-31")
    assert (run / "old.txt").read_text(encoding="utf-8") == "first"
    run2, moved = prepare_run_dir(tmp_path, "2026-10-31", force=True)
    assert moved == tmp_path / "2026-10-31.previous-1"
    assert (moved / "old.txt").read_text(encoding="utf-8") == "first"
    assert run2.is_dir() and not any(run2.iterdir())
    _, moved2 = prepare_run_dir(tmp_path, "2026-10-31", force=True)
    assert moved2 == tmp_path / "2026-10-31.previous-2"
    assert (tmp_path / "2026-10-31.previous-1" / "old.txt").exists()


def test_personal_values_found_even_escaped_and_not_in_images(tmp_path):
    ds = load(_write_dataset(tmp_path / "d"))
    values = personal_values(ds)
    assert values["email"] == {"amelie.zorrodin@example.fr", "bastien.quillevec@example.fr",
                               "corentin.wadeleux@example.fr"}
    assert set(values) == {"name", "email", "phone"}
    clean = '<html><body><p>C1 retail</p><img src="data:image/png;base64,QW3DqWxpZSBa"></body></html>'
    assert find_personal_values(clean, values) == {}
    leak = "<td>Am&#233;lie Zorrodin</td><td>bastien.quillevec@example.fr</td><td>corentin.wadeleux@example.fr</td>"
    assert find_personal_values(leak, values) == {"name": 1, "email": 2}


def _executed_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('lang: str = "fr"')
    params.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell('lang = "en"')
    injected.metadata["tags"] = ["injected-parameters"]
    marker = nbformat.v4.new_markdown_cell('<span style="color:red">An Exception was encountered</span>')
    marker.metadata["tags"] = ["papermill-error-cell-tag"]
    ok = nbformat.v4.new_code_cell("import analysis\nprint('hello')", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="hello\n"),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: import analysis deprecated\n"),
    ])
    silent = nbformat.v4.new_code_cell("x = 1")
    bad = nbformat.v4.new_code_cell("raise ValueError('boom')", outputs=[nbformat.v4.new_output(
        "error", ename="ValueError", evalue="boom",
        traceback=["Traceback (most recent call last)", "raise ValueError('boom')"])])
    hidden_out = nbformat.v4.new_code_cell("out.record(n=1)", outputs=[nbformat.v4.new_output(
        "execute_result", data={"text/plain": "{'sidecar_repr': 1}"}, execution_count=3)])
    hidden_out.metadata["tags"] = ["remove-output"]
    hidden_cell = nbformat.v4.new_markdown_cell("analyst-only note")
    hidden_cell.metadata["tags"] = ["remove_cell"]
    nb.cells = [marker, nbformat.v4.new_markdown_cell("Intro.\n\n## Santé de la base"), params, injected,
                ok, silent, hidden_out, hidden_cell, bad]
    return nb


def test_client_notebook_strips_code_cells_and_tracebacks():
    client = _client_notebook(_executed_notebook(), "fr", failure="ValueError: boom")
    # failure note, intro markdown, the cell with stdout, the error cell; nothing else
    assert [c.cell_type for c in client.cells] == ["markdown", "markdown", "code", "code"]
    assert ("n'a pas pu être produite : une erreur inattendue du programme \\(détail technique, en anglais : "
            "ValueError: boom\\)") in client.cells[0].source  # the error in French words (Markdown-escaped)
    assert [o.output_type for o in client.cells[2].outputs] == ["stream"]
    assert client.cells[2].outputs[0].name == "stdout"
    err = client.cells[3].outputs[0]
    assert err.output_type == "display_data"
    assert ("L&#x27;analyse s&#x27;est arrêtée ici : une erreur inattendue du programme (détail technique, "
            "en anglais : ValueError: boom)") in err.data["text/html"]


def test_export_html_no_code_title_language(tmp_path):
    path = tmp_path / "01_x.ipynb"
    nbformat.write(_executed_notebook(), str(path))
    title = export_html(path, tmp_path / "01_x.html", "en", failure="ValueError: boom")
    page = (tmp_path / "01_x.html").read_text(encoding="utf-8")
    assert title == "Santé de la base"
    assert '<html lang="en"' in page and "<title>Santé de la base</title>" in page
    _code_free(page)
    assert "import analysis deprecated" not in page  # stderr dropped
    assert ("This section could not be completed: an unexpected error of the program (technical detail: "
            "ValueError: boom).") in page
    assert "hello" in page
    assert "sidecar_repr" not in page and "analyst-only note" not in page  # remove-output / remove_cell tags


def _summary() -> dict:
    return {
        "01_base_health": {
            "customers": 3000, "active_customers": 2400, "month": "2026-10",
            "kpis_month": {"open_rate": 0.125, "revenue": 12500.0, "active_customers": 2400},
            "kpis_prev_month": {"open_rate": 0.15, "revenue": 10000.0, "active_customers": 2500},
            "alerts": [{"kind": "threshold", "code": "open_rate", "kpi": "open_rate", "value": 0.09,
                        "threshold": 0.10},
                       {"kind": "alarm", "code": "bounces_doubled", "kpi": "hard_bounce_rate", "value": 0.04,
                        "threshold": 0.02}],
            "decisions": ["suspend_audit"], "quarantined_rows": 12,
        },
        "02_retro_audit": {"n_lost": 100, "share_signal_min_lead": 0.8, "share_signal_min_lead_ci": [0.71, 0.87],
                           "min_lead_weeks": 4, "false_alarm_any": 0.25, "verdict": "confirmed",
                           "silent_churners": 20, "preventable_revenue": 54321.0},
        "03_cohort_decay": {"retention_3m": 0.9, "retention_6m": 0.8, "trend": "worsening",
                            "trend_delta": -3.5, "fastest_segment": "retail", "median_lifetime_months": 18.5,
                            "fastest_segment_retention_12m": 0.62, "logrank_p": 0.141, "trend_p": None},
        "04_churn_risk": {"auc_model": 0.812, "auc_recency": 0.7, "auc_bgnbd": 0.654, "best_model": "gbm",
                          "n_priority_1": 42, "top_priorities": [
                              {"customer_id": "C9", "churn_probability": 0.91, "value": 5000.0,
                               "expected_value_at_risk": 1000.0, "recommended_action": "appel",
                               "reasons": ["recency", "nps"]},
                              {"customer_id": "C4", "churn_probability": 0.5, "value": 500.0,
                               "expected_value_at_risk": 250.0, "recommended_action": "personal_call",
                               "reasons": "usage"}]},
    }


def test_executive_summary_french_figures():
    es = executive_summary(_summary(), "fr", "EUR")
    assert es["headline"] == ["3 000 clients dans la base, dont 2 400 actifs (80,0 %)."]
    assert es["month"] == "octobre 2026" and es["previous_month"] == "septembre 2026"
    assert es["kpis"] == [  # dashboard order, labels of the KPI module
        {"label": kpi_label("active_customers", "fr"), "month": "2 400", "previous": "2 500", "change": "-4,0 %"},
        {"label": kpi_label("revenue", "fr"), "month": "12 500 €", "previous": "10 000 €", "change": "+25,0 %"},
        {"label": kpi_label("open_rate", "fr"), "month": "12,5 %", "previous": "15,0 %", "change": "-2,5 pts"},
    ]
    assert kpi_label("open_rate", "fr") != "open rate"  # a French label exists
    assert es["alerts"] == [f"{kpi_label('open_rate', 'fr')} 9,0 % ({t('kpi_alert_open_rate', 'fr', threshold='10,0 %')}).",
                            "Les rebonds durs ont doublé (2,00 % à 4,00 %) : suspendre les envois et auditer la base.",
                            "12 lignes de l'export ont été mises de côté par la validation "
                            "(voir le rapport de validation)."]
    assert es["audit"][3] == "20 clients perdus sont partis sans aucun signal (départs silencieux)."
    assert es["audit"][0] == ("80 % des 100 clients perdus audités ont émis un signal au moins 4 semaines "
                              "avant leur départ (intervalle de confiance à 95 % : 71 % à 87 %).")
    assert es["audit"][1].endswith("25 % ont déclenché au moins une alerte (fausses alertes).")
    assert "54 321 €" in es["audit"][4]
    assert es["decay"][0] == "Clients toujours actifs après leur arrivée : 90,0 % à 3 mois, 80,0 % à 6 mois."
    # trend_p absent (not tested): a tendency, never a finding
    assert es["decay"][1] == ("Cohortes récentes : en dégradation (-3,5 pts), mais l'écart n'est pas significatif "
                              "(tendance, non significative : p = –) ; ce n'est pas un constat.")
    # log-rank p = 0.141 >= 0.05: a tendency with its p-value, not "the segment losing customers fastest"
    assert es["decay"][2] == ("retail tend à perdre ses clients plus vite que les autres segments (62 % encore actifs "
                              "après 12 mois), mais l'écart n'est pas significatif (tendance, non significative : "
                              "p = 0,14) ; ce n'est pas un constat.")
    assert es["decay"][3] == "Durée de vie médiane d'un client : 18,5 mois."
    # plain wording: AUC 0.812 -> 81 times in 100; no model name, "AUC" nor "BG/NBD" above the appendix
    assert es["risk"][0] == ("Sur un client perdu et un client fidèle pris au hasard, le modèle classe correctement "
                             "le client perdu avant le client fidèle 81 fois sur 100, contre 70 pour la seule "
                             "ancienneté du dernier contact et 65 pour une prévision fondée sur la seule fréquence "
                             "d'achat.")
    assert es["risk"][1] == "42 clients cumulent forte valeur et risque élevé (priorité 1)."
    words = " ".join(es["risk"] + es["decay"] + es["decisions"] + es["audit"] + es["headline"])
    assert not any(j in words for j in ("AUC", "BG/NBD", "gbm", "logit", "(s)"))
    assert es["appendix"][0].startswith("Modèle de risque de départ : gbm. Les « fois sur 100 » sont l'AUC")
    assert "0,81 pour le modèle, 0,70 pour la seule récence, 0,65 pour BG/NBD" in es["appendix"][0]
    assert es["priorities"][0] == ["C9", "91 %", "5 000 €", "1 000 €", "appel", "recency; nps"]
    assert es["priorities"][1][4] == t("sig_action_personal_call", "fr")  # action code shown as its label
    assert len(es["decisions"]) == MAX_DECISIONS
    assert es["decisions"][0] == t("kpi_decision_suspend_audit", "fr")  # a decision code, worded here
    # the two rows shown have different actions ("appel", personal_call); 2 shown out of 42
    assert es["decisions"][1] == ("Clients de priorité 1 : l'action recommandée pour chacun dans le tableau, ce mois-ci, "
                                  "en commençant par les 2 premiers ci-dessous sur 42 (1 250 € de valeur à risque "
                                  "attendue pour ces 2).")
    assert es["decisions"][2].startswith("Passer en revue les alertes précoces chaque semaine : 80 %")
    s = _summary()
    s["02_retro_audit"]["watch_first"] = ["recency", "nps"]
    s["02_retro_audit"]["signals_discriminate"] = True
    es = executive_summary(s, "en")
    names = f"{t('aud_ind_recency', 'en')}, {t('aud_ind_nps', 'en')}"  # labels of the audit module
    assert es["decisions"][2] == (f"Review these indicators every week, they tell leavers from stayers best: "
                                  f"{names} (80% of lost clients signalled at least 4 weeks before leaving).")
    s["02_retro_audit"]["signals_discriminate"] = False
    assert len(executive_summary(s, "en")["decisions"]) == 2  # no advice to watch useless signals


def test_summary_claims_follow_their_tests_and_the_table():
    s = _summary()
    # p = 0.032 < 0.05: a finding, with its test
    s["03_cohort_decay"]["logrank_p"] = 0.032
    assert executive_summary(s, "fr")["decay"][2] == (
        "Segment qui perd ses clients le plus vite : retail (62 % encore actifs après 12 mois ; test du log-rank "
        "entre segments, p = 0,032).")
    assert executive_summary(s, "en")["decay"][2] == (
        "Segment losing customers fastest: retail (62% still active after 12 months; log-rank test across "
        "segments, p = 0.032).")
    s["03_cohort_decay"]["trend_p"] = 0.21
    assert executive_summary(s, "fr")["decay"][1] == (
        "Cohortes récentes : en dégradation (-3,5 pts), mais l'écart n'est pas significatif "
        "(tendance, non significative : p = 0,21) ; ce n'est pas un constat.")
    s["03_cohort_decay"]["trend_p"] = 0.0004
    assert executive_summary(s, "en")["decay"][1] == (
        "Trend of recent cohorts: worsening (-3.5 pts); test of the difference, p < 0.001.")
    s["03_cohort_decay"]["logrank_p"] = None  # no test: no claim
    assert not any("retail" in line for line in executive_summary(s, "fr")["decay"])
    # every shown priority-1 customer has personal_call and the table shows all 2 of them
    s["04_churn_risk"]["n_priority_1"] = 2
    s["04_churn_risk"]["top_priorities"][0]["recommended_action"] = "personal_call"
    es = executive_summary(s, "fr")
    assert es["decisions"][1] == ("Clients de priorité 1 (2 dans le tableau ci-dessous, 1 250 € de valeur à risque "
                                  "attendue) : appel personnel du responsable de compte, ce mois-ci.")
    assert t("sig_action_personal_call", "fr") == "Appel personnel du responsable de compte"
    assert "service client" not in " ".join(es["decisions"])
    # singular forms (French 1 is singular)
    s["01_base_health"]["quarantined_rows"] = 1
    s["02_retro_audit"]["silent_churners"] = 1
    s["04_churn_risk"]["n_priority_1"] = 1
    es = executive_summary(s, "fr")
    assert es["alerts"][-1] == ("1 ligne de l'export a été mise de côté par la validation "
                                "(voir le rapport de validation).")
    assert es["audit"][3] == "1 client perdu est parti sans aucun signal (départ silencieux)."
    assert es["risk"][1] == "1 client cumule forte valeur et risque élevé (priorité 1)."
    # an alarm with its counts (kpis.period_alarms): the events behind the rates are shown
    s["01_base_health"]["alerts"] = [{"kind": "alarm", "code": "complaints_exploded", "kpi": "complaint_rate",
                                      "value": 12 / 4070, "threshold": 2 / 4000, "count": 12, "base": 4070,
                                      "prev_count": 2, "prev_base": 4000}]
    assert executive_summary(s, "fr")["alerts"][0] == (
        "Les plaintes pour spam ont explosé : 12 sur 4 070 e-mails délivrés (0,29 %) contre 2 sur 4 000 (0,05 %) "
        "le mois précédent ; suspendre les envois et auditer la base.")


def test_executive_summary_english_and_caps_decisions():
    s = _summary()
    s["01_base_health"]["decisions"] = ["suspend_audit", "remove_hard_bounces", "complaints", "deliverability"]
    es = executive_summary(s, "en", "EUR")
    assert es["decisions"] == [t(f"kpi_decision_{c}", "en") for c in ("suspend_audit", "remove_hard_bounces",
                                                                        "complaints")]
    assert es["kpis"][2] == {"label": kpi_label("open_rate", "en"), "month": "12.5%", "previous": "15.0%",
                             "change": "-2.5 pts"}
    assert es["kpis"][1]["month"] == "€12,500"
    assert es["month"] == "October 2026"


def test_changes_have_no_signed_zero():
    s = {"01_base_health": {"kpis_month": {"unsubscribe_rate": 0.00220, "customers": 100, "open_rate": 0.3},
                            "kpis_prev_month": {"unsubscribe_rate": 0.00221, "customers": 100, "open_rate": 0.3}}}
    changes = {k["label"]: k["change"] for k in executive_summary(s, "fr")["kpis"]}
    assert changes == {kpi_label("customers", "fr"): "0,0 %", kpi_label("open_rate", "fr"): "0,0 pts",
                       kpi_label("unsubscribe_rate", "fr"): "0,00 pts"}


def test_kpi_table_in_dashboard_order():
    from analysis.reporting.summary import kpi_sort_key

    keys = ["open_rate", "zz_custom", "level_180_share", "churn_rate", "inactivity_rate_90", "level_30_share",
            "customers", "inactivity_rate_30", "deliverability"]
    assert sorted(keys, key=kpi_sort_key) == ["customers", "churn_rate", "level_30_share", "level_180_share",
                                              "deliverability", "open_rate", "inactivity_rate_30",
                                              "inactivity_rate_90", "zz_custom"]
    s = {"01_base_health": {"kpis_month": {"revenue": 1.0, "customers": 2}, "kpis_prev_month": {}}}
    assert [k["label"] for k in executive_summary(s, "en")["kpis"]] == [kpi_label("customers", "en"),
                                                                         kpi_label("revenue", "en")]


def test_audit_caution_when_signals_do_not_discriminate():
    s = {"02_retro_audit": {"share_signal_min_lead": 1.0, "min_lead_weeks": 4, "n_lost": 100,
                            "false_alarm_any": 1.0, "signals_discriminate": False, "verdict": "confirmed"}}
    es = executive_summary(s, "fr")
    assert es["audit"][2] == t("report_audit_not_discriminating", "fr")
    assert es["decisions"] == []


def test_executive_summary_skips_what_is_absent():
    es = executive_summary({"03_cohort_decay": {"retention_12m": 0.5}}, "fr")
    assert es["kpis"] == [] and es["alerts"] == [] and es["audit"] == [] and es["decisions"] == []
    assert es["decay"] == ["Clients toujours actifs après leur arrivée : 50,0 % à 12 mois."]
    assert es["has_base"] is False


# ----------------------------------------------------------- runs on fixture notebooks
@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory):
    """One run of the two fixture notebooks through the CLI (01 succeeds, 02 raises)."""
    root = tmp_path_factory.mktemp("report")
    data = _write_dataset(root / "data")
    out = root / "reports"
    code = main(["report", str(data), "--as-of", AS_OF, "--out", str(out), "--lang", "fr",
                 "--notebooks", str(NOTEBOOKS), "-p", "top_n=3"])
    return {"code": code, "data": data, "out": out, "run": out / AS_OF}


def test_run_writes_every_file(fixture_run):
    run = fixture_run["run"]
    for name in ("01_fixture_ok.ipynb", "02_fixture_fail.ipynb", "01_fixture_ok.html", "02_fixture_fail.html",
                 "01_fixture_ok.json", "index.html", "summary.json", "manifest.json", "validation.json",
                 "validation.txt", "quarantine/orders.csv", "figures/01_fixture_ok_revenue_by_customer.png"):
        assert (run / name).is_file(), name
    quarantine = (run / "quarantine" / "orders.csv").read_text(encoding="utf-8")
    assert "O6" in quarantine and "O1" not in quarantine
    assert json.loads((run / "validation.json").read_text(encoding="utf-8"))["rows_quarantined"] == 1


def test_run_figures_parameters_and_no_look_ahead(fixture_run):
    summary = json.loads((fixture_run["run"] / "summary.json").read_text(encoding="utf-8"))
    # by hand: 3 customers signed up before 2026-06-01; orders O1-O4 before it (O5 after, O6 quarantined)
    assert summary == {"01_fixture_ok": {"customers": 3, "orders": 4, "revenue": 380.5, "top_n": 3, "lang": "fr"}}
    manifest = json.loads((fixture_run["run"] / "manifest.json").read_text(encoding="utf-8"))
    nbs = {n["name"]: n for n in manifest["notebooks"]}
    assert nbs["01_fixture_ok"]["parameters"] == {
        "data_dir": str(fixture_run["data"].resolve()), "as_of": AS_OF, "lang": "fr",
        "output_dir": str(fixture_run["run"].resolve()), "top_n": 3}
    assert "top_n" not in nbs["02_fixture_fail"]["parameters"]  # not declared there
    assert manifest["dataset"]["content_sha256"] == dataset_hash(fixture_run["data"])
    assert manifest["versions"]["pandas"] and manifest["versions"]["papermill"]
    assert manifest["started_at"] <= manifest["finished_at"]


def test_failing_notebook_reported_and_exit_code(fixture_run):
    assert fixture_run["code"] == 1
    run = fixture_run["run"]
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed"
    nbs = {n["name"]: n for n in manifest["notebooks"]}
    assert nbs["01_fixture_ok"]["status"] == "ok" and nbs["01_fixture_ok"]["error"] is None
    assert nbs["02_fixture_fail"]["status"] == "failed"
    assert nbs["02_fixture_fail"]["error"] == "ValueError: fixture failure: column 'segment' is missing"
    assert nbs["02_fixture_fail"]["duration_s"] >= 0
    # the executed notebook keeps its error cell, and stopped there
    executed = nbformat.read(str(run / "02_fixture_fail.ipynb"), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "ValueError"
    assert "never reached" not in json.dumps([c.get("outputs", []) for c in executed.cells if c.cell_type == "code"])
    index = (run / "index.html").read_text(encoding="utf-8")
    assert "1 section de ce rapport n&#39;a pas pu être produite :" in index  # French 1 is singular
    assert "fixture failure: column &#39;segment&#39; is missing" in index
    page = (run / "02_fixture_fail.html").read_text(encoding="utf-8")
    assert "Cette section n&#x27;a pas pu être produite" in page or "Cette section n'a pas pu être produite" in page


def test_exports_have_no_code_no_personal_data_and_french_formats(fixture_run):
    run = fixture_run["run"]
    pages = {p.name: p.read_text(encoding="utf-8") for p in run.glob("*.html")}
    assert set(pages) == {"01_fixture_ok.html", "02_fixture_fail.html", "index.html"}
    values = personal_values(load(fixture_run["data"]))
    for name, page in pages.items():
        assert find_personal_values(page, values) == {}, name
        for v in PERSONAL:
            assert v not in page, (name, v)
        _code_free(page)
        assert "fixture warning on stderr" not in page
    assert "01/06/2026" in pages["index.html"] and 'lang="fr"' in pages["index.html"]
    assert 'href="01_fixture_ok.html"' in pages["index.html"]
    assert 'src="figures/01_fixture_ok_revenue_by_customer.png"' in pages["index.html"]


def test_second_run_refused_then_forced_same_summary(fixture_run):
    run, out = fixture_run["run"], fixture_run["out"]
    before = (run / "summary.json").read_bytes()
    with pytest.raises(ReportError, match="already exists"):
        run_report(fixture_run["data"], AS_OF, out, notebooks_dir=NOTEBOOKS, only="01",
                   parameters={"top_n": 3}, echo=None)
    assert (run / "summary.json").read_bytes() == before  # untouched
    assert main(["report", str(fixture_run["data"]), "--as-of", AS_OF, "--out", str(out),
                 "--notebooks", str(NOTEBOOKS), "-p", "top_n=3"]) == 1  # refused: exit code 1
    lines = []
    result = run_report(fixture_run["data"], AS_OF, out, notebooks_dir=NOTEBOOKS, parameters={"top_n": 3},
                        force=True, echo=lines.append)
    assert not result.ok and [n.name for n in result.failed] == ["02_fixture_fail"]
    assert (run / "summary.json").read_bytes() == before
    kept = out / f"{AS_OF}.previous-1"
    assert (kept / "summary.json").read_bytes() == before
    old = json.loads((kept / "manifest.json").read_text(encoding="utf-8"))
    assert result.manifest["dataset"]["content_sha256"] == old["dataset"]["content_sha256"]
    assert result.manifest["previous_run_moved_to"] == str(kept)
    assert any("01_fixture_ok: done in" in line for line in lines)
    assert any("02_fixture_fail: FAILED" in line for line in lines)


def test_unknown_parameter_refused_before_any_folder(tmp_path):
    data = _write_dataset(tmp_path / "data")
    with pytest.raises(ReportError, match="nope"):
        run_report(data, AS_OF, tmp_path / "reports", notebooks_dir=NOTEBOOKS, parameters={"nope": 1}, echo=None)
    with pytest.raises(ReportError, match="--as-of"):
        run_report(data, "31/10/2026", tmp_path / "reports", notebooks_dir=NOTEBOOKS, echo=None)
    assert not (tmp_path / "reports").exists()


def test_personal_data_in_output_withholds_the_html(tmp_path):
    data = _write_dataset(tmp_path / "data")
    result = run_report(data, AS_OF, tmp_path / "reports", lang="en", notebooks_dir=FIXTURES / "leak", echo=None)
    run = tmp_path / "reports" / AS_OF
    assert not result.ok
    nb = result.notebooks[0]
    assert nb.status == "failed" and "personal data (email)" in nb.error
    assert not (run / "01_fixture_leak.html").exists() and (run / "01_fixture_leak.ipynb").exists()
    index = (run / "index.html").read_text(encoding="utf-8")
    assert "could not be completed" in index and "zorrodin" not in index.lower()


# ------------------------------------------------------- real notebooks (slower)
def _real_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_fmt_kpi_by_name():
    from analysis.reporting.summary import fmt_kpi

    assert fmt_kpi("complaint_rate", 0.0012, "fr") == "0,12 %"
    assert fmt_kpi("open_rate", 0.2, "en") == "20.0%"
    assert fmt_kpi("level_30_share", 0.256, "fr") == "25,6 %"
    assert fmt_kpi("revenue", 1234567.0, "fr", "EUR") == "1 234 567 €"
    assert fmt_kpi("new_customers", 1234.0, "en") == "1,234"
    assert fmt_kpi("nps", 31.25, "fr") == "31,2"
    assert fmt_kpi("open_rate", None, "fr") == "–"
    assert fmt_kpi("x", {"value": 0.5, "unit": "pct"}, "fr") == "50,0 %"


def test_summary_reads_only_declared_key_figures():
    from analysis.reporting.summary import SCHEMAS, _Figures, missing_keys

    assert list(SCHEMAS) == ["01_base_health", "02_retro_audit", "03_cohort_decay", "04_churn_risk"]
    full = _summary()
    assert missing_keys("03_cohort_decay", full["03_cohort_decay"]) == ["retention_12m"]
    fig = _Figures("03_cohort_decay", full["03_cohort_decay"])
    assert fig.get("retention_12m") is None and fig["trend"] == "worsening"
    with pytest.raises(KeyError, match="not in the declared key figures"):
        fig.get("n_customers")  # recorded by the notebook, but no schema promises it to the summary
    assert not _Figures("04_churn_risk", None)  # a notebook that did not run


def test_producers_write_every_key_the_summary_reads():
    """A producer that drops a figure the executive summary reads fails here (01; 02 and 03
    are checked on their own fixtures in test_audit.py and test_cohorts.py)."""
    import pandas as pd

    from analysis import from_frames
    from analysis.metrics import kpis
    from analysis.reporting.summary import missing_keys

    ds = from_frames(
        customers=pd.DataFrame({"customer_id": ["a", "b"], "signup_date": ["2026-01-05", "2026-01-20"],
                                "churn_date": [None, "2026-03-10"]}),
        orders=pd.DataFrame({"customer_id": ["a", "b"], "order_date": ["2026-02-01", "2026-02-03"],
                             "amount": [10.0, 20.0]}))
    kf = kpis.base_health(ds, "2026-04-01").key_figures()
    assert missing_keys("01_base_health", kf) == []
    assert kf["customers"] == 2 and kf["active_customers"] == 1 and kf["month"] == "2026-03"
    kf.pop("alerts")
    assert missing_keys("01_base_health", kf) == ["alerts"]
