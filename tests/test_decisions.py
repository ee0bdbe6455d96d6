"""The decision log: appended, never rewritten; next month sees each KPI then and now."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.data.dataset import from_frames
from analysis.reporting.decisions import append_decisions, follow_up, read_decisions
from analysis.reporting.runner import _has_tables


def test_log_is_appended_never_rewritten(tmp_path):
    log = tmp_path / "decisions.csv"
    assert append_decisions(log, "2026-10-01", ["Call the 42 P1 clients.", "Pause sends."],
                            {"active_customers": 1000, "open_rate": 0.25}, "en") == 2
    first = log.read_bytes()
    # a forced re-run of the same month adds nothing; the next month appends after the old bytes
    assert append_decisions(log, "2026-10-01", ["Call the 42 P1 clients."], {"active_customers": 1000}, "en") == 0
    assert append_decisions(log, "2026-11-01", ["Call the 30 P1 clients."], {"active_customers": 950,
                                                                            "open_rate": 0.27}, "en") == 1
    assert log.read_bytes().startswith(first)
    d = read_decisions(log)
    assert d["as_of"].tolist() == ["2026-10-01", "2026-10-01", "2026-11-01"] and d["rank"].tolist() == [1, 2, 1]
    f = follow_up(log, "2026-11-01", {"active_customers": 950, "open_rate": 0.27}).set_index(["rank", "kpi"])
    assert f.loc[(1, "active_customers"), ["then", "now", "change"]].tolist() == [1000, 950, -50]
    assert f.loc[(2, "open_rate"), "change"] == 0.27 - 0.25
    assert set(f["decided_on"]) == {"2026-10-01"}
    assert follow_up(tmp_path / "none.csv", "2026-11-01", {}).empty


def test_reactivation_notebook_needs_interventions():
    orders = pd.DataFrame({"customer_id": ["A"], "order_date": ["2026-01-05"]})
    without = from_frames(orders=orders)
    with_iv = from_frames(orders=orders, interventions=pd.DataFrame({
        "customer_id": ["A"], "action_date": ["2026-01-10"], "action": ["call"], "group": ["treatment"]}))
    nb = Path("notebooks/05_reactivation.ipynb")
    assert not _has_tables(nb, without) and _has_tables(nb, with_iv)
    assert _has_tables(Path("notebooks/01_base_health.ipynb"), without)


def test_executive_summary_gains_campaign_okr_and_reaction():
    from analysis.reporting.summary import executive_summary

    side = {"campaigns": {"n_campaigns": 2, "headline": {
                "campaign_id": "<b>K2</b>", "variant": "B", "n_treatment": 70, "n_control": 94,
                "purchase_lift": 0.184, "purchase_lift_ci": [0.035, 0.328], "significant": True}},
            "okr": [{"status_code": "achieved"}, {"status_code": "behind"}, {"status_code": "on_track"}],
            "reaction": {"median_days": 22.0, "share_over_7": 0.97}}
    lines = executive_summary({"05_reactivation": side}, "en")["reactivation"]
    assert lines == [
        "Latest measured campaign <b>K2</b> · B: purchase rate +18.4 points against its control group [+3.5; +32.8], a real effect.",
        "Key results: 2 achieved or on track out of 3.",
        "Reaction to alerts: median 22 days; 97.0% waited more than 7 days.",
    ]
    assert executive_summary({}, "fr")["reactivation"] == []


def test_follow_up_view_for_the_index(tmp_path):
    from analysis.reporting.decisions import follow_up_view

    log = tmp_path / "decisions.csv"
    append_decisions(log, "2026-10-01", ["Pause sends."], {"open_rate": 0.25, "active_customers": 1000}, "en")
    view = follow_up_view(log, "2026-11-01", {"open_rate": {"value": 0.27, "unit": "pct"}, "active_customers": 950},
                          "en")
    assert view["decided_on"] == "2026-10-01" and view["decisions"] == ["Pause sends."]
    from analysis.reporting.summary import kpi_label

    rows = {r[0]: r[1:] for r in view["rows"]}
    assert rows[kpi_label("open_rate", "en")] == ["25.0%", "27.0%", "+2.0 pts"]        # points for a rate
    assert rows[kpi_label("active_customers", "en")] == ["1,000", "950", "-5.0%"]      # relative for a count
    assert follow_up_view(log, "2026-10-01", {}, "en") is None           # nothing logged before
