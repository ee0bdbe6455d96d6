"""Notebook 05's words and figures: hostile values escaped, numbers with their intervals, Axes returned."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from analysis.data.config import parse_config
from analysis.data.dataset import from_frames
from analysis.metrics.campaigns import analyse_campaigns
from analysis.metrics.okr import okr_progress
from analysis.reporting.plots.reactivation import lift_plot, okr_plot, qini_plot, reaction_plot
from analysis.reporting.reactivation import campaign_markdown, okr_markdown
from analysis.reporting.reactivation_tables import effects_client_table

EVIL = "<script>alert(1)</script>"


def _ds():
    ids = [f"T{i}" for i in range(12)] + [f"C{i}" for i in range(12)]
    orders = pd.DataFrame({"customer_id": ["T0", "T1", "T2", "T3", "T4", "T5", "C0", "C1", "T6"],
                           "order_date": ["2026-03-05"] * 8 + ["2025-12-01"], "amount": 100.0})
    iv = pd.DataFrame({"customer_id": ids, "action_date": "2026-03-02", "action": "email_sequence",
                       "campaign_id": EVIL, "group": ["treatment"] * 12 + ["control"] * 12, "cost": [1.0] * 12 + [None] * 12})
    cfg = parse_config({"campaigns": {"default": {"margin_rate": 0.5}},
                        "objectives": [{"objective": EVIL, "key_results": [
                            {"metric": "revenue", "population": "all", "target": 1000, "period": "2026-Q1"}]}]})
    return from_frames(customers=pd.DataFrame({"customer_id": ids, "signup_date": "2025-06-01"}), orders=orders,
                       interventions=iv, config=cfg)


def test_words_escape_values_from_the_export_and_the_config():
    ds = _ds()
    e = analyse_campaigns(ds, "2026-05-01").effects
    text = campaign_markdown(e, "en", "EUR")
    assert EVIL not in text and "&lt;script&gt;" in text
    # 6 of 12 treated bought against 2 of 12 controls: +33.3 points with its interval
    assert "50.0% against 16.7%, a difference of +33.3 points [" in text
    assert EVIL not in effects_client_table(e, "fr").to_html()
    okr = okr_markdown(okr_progress(ds, "2026-05-01"), "fr")
    assert EVIL not in okr and "&lt;script&gt;" in okr and "800\u202f€" in okr     # 8 orders of 100 in 2026-Q1


def test_plots_return_axes():
    ds = _ds()
    e = analyse_campaigns(ds, "2026-05-01").effects
    assert isinstance(lift_plot(e, "purchase", "fr"), Axes)
    curves = pd.DataFrame({"share": [0, 0.5, 1] * 3, "n": [0, 5, 10] * 3, "qini": [0, 2, 3, 0, 1, 3, 0, 1.5, 3],
                           "ranking": ["uplift_model"] * 3 + ["churn_risk"] * 3 + ["random"] * 3})
    assert isinstance(qini_plot(curves, "en"), Axes)
    delays = pd.DataFrame({"delay_days": [1.0, 9.0, float("nan")], "status": ["acted", "acted", "no_action"]})
    assert isinstance(reaction_plot(delays, lang="en"), Axes)
    assert isinstance(okr_plot(okr_progress(ds, "2026-05-01"), "en"), Axes)


def test_lift_plot_greens_the_real_effects_after_holm_not_every_interval_excluding_zero():
    from matplotlib.colors import to_hex

    from analysis.reporting.plots.style import PALETTE

    # two variants whose intervals both exclude 0; only the first survives Holm's correction
    e = pd.DataFrame({"outcome": "purchase", "status": "ok", "action_date": pd.Timestamp("2026-03-02"),
                      "campaign_id": ["RA-1", "RA-2"], "variant": "A", "abs_lift": [0.30, 0.15],
                      "abs_lift_low": [0.15, 0.01], "abs_lift_high": [0.45, 0.29], "significant": [True, False]})
    ax = lift_plot(e, "purchase", "en")
    colors = [to_hex(c) for c in ax.collections[0].get_colors()]   # the interval bars, top (RA-1) first drawn
    assert colors[0] == to_hex(PALETTE[2]) and colors[1] != to_hex(PALETTE[2])
