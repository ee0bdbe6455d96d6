"""Client figures: local tick labels on even steps, no threshold line at 0, priority matrix
(unit, distinct P1/P2 colours, value-0 customers not drawn), flat-figure detection, alt text
in the report's language written into the exported HTML with <html lang>."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis.reporting.outputs import FIGURE_FACTS_MIME, RunOutputs  # noqa: E402
from analysis.reporting.plots import kpis as pk  # noqa: E402
from analysis.reporting.plots.describe import describe_figure, figure_facts  # noqa: E402
from analysis.reporting.plots.risk import priority_plot  # noqa: E402
from analysis.reporting.plots.style import PRIORITY_COLORS, LocaleFormatter, locale_axis  # noqa: E402


def _labels(fmt: LocaleFormatter, locs: list[float]) -> list[str]:
    return fmt.format_ticks(locs)


def test_tick_labels_are_local_with_the_decimals_the_step_needs() -> None:
    assert _labels(LocaleFormatter("fr", "pct"), [0, 0.0005, 0.001]) == ["0,00 %", "0,05 %", "0,10 %"]
    assert _labels(LocaleFormatter("en", "pct"), [0, 0.0005, 0.001]) == ["0.00%", "0.05%", "0.10%"]
    assert _labels(LocaleFormatter("fr", "pct"), [0.95, 0.96, 0.97]) == ["95 %", "96 %", "97 %"]
    assert _labels(LocaleFormatter("fr", "number"), [0, 1000, 2000]) == ["0", "1 000", "2 000"]
    assert _labels(LocaleFormatter("en", "number"), [0, 0.5, 1.0]) == ["0.0", "0.5", "1.0"]
    assert _labels(LocaleFormatter("fr", "money", "EUR"), [0, 5000]) == ["0 €", "5 000 €"]


def test_even_ticks_no_quarter_steps() -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0, 0.0013, 0.0007])
    locale_axis(ax, "fr", "pct")
    locs = [x for x in ax.get_yticks() if 0 <= x <= 0.0013]
    steps = np.round(np.diff(locs) / 1e-4, 6)
    assert len(set(steps)) == 1 and steps[0] in (1, 2, 5)     # 0.01 %, 0.02 % or 0.05 %: never 0.025 %
    plt.close(fig)


def _dashboard() -> pd.DataFrame:
    months = pd.date_range("2026-01-01", periods=3, freq="MS")
    rows = [{"month": m, "kpi": k, "value": v, "threshold": thr, "alert": False}
            for k, thr, vals in (("click_rate", 0.0, (0.03, 0.04, 0.035)),
                                 ("complaint_rate", 0.001, (0.0, 0.0012, 0.0004)))
            for m, v in zip(months, vals, strict=True)]
    return pd.DataFrame(rows)


def test_threshold_line_not_drawn_at_zero() -> None:
    axes = pk.plot_kpi_trends(_dashboard(), kpis=("click_rate", "complaint_rate"), lang="fr")
    # a horizontal threshold line has two equal y values; the data line has three points
    hlines = [[ln.get_ydata()[0] for ln in ax.get_lines() if len(set(ln.get_ydata())) == 1] for ax in axes]
    assert hlines[0] == []                        # click rate: threshold 0 = "no click at all", no line
    assert hlines[1] == [pytest.approx(0.001)]    # complaints: 0.1 % drawn
    plt.close(axes[0].figure)


def test_priority_matrix_unit_colours_and_value_zero() -> None:
    m = pd.DataFrame({"value": [0.0, 0.0, 120.0, 5000.0, 80000.0, 300.0],
                      "churn_probability": [0.9, 0.1, 0.5, 0.6, 0.7, 0.05],
                      "priority": ["P2", "P3", "P2", "P2", "P1", "P3"]})
    ax = priority_plot(m, "fr", currency="EUR")
    assert ax.get_xlabel() == "valeur client (€)"
    offsets = np.vstack([c.get_offsets() for c in ax.collections])
    assert len(offsets) == 4 and offsets[:, 0].min() == 120.0     # the two value-0 customers: not drawn
    assert any("2 clients de valeur 0" in txt.get_text() for txt in ax.texts)
    colours = {c.get_label(): matplotlib.colors.to_hex(c.get_facecolor()[0]) for c in ax.collections}
    assert colours["priorité 1"] == PRIORITY_COLORS["P1"].lower()
    assert colours["priorité 2"] == PRIORITY_COLORS["P2"].lower()
    assert colours["priorité 1"] != colours["priorité 2"]
    plt.close(ax.figure)


def test_flat_inactivity_levels_become_one_sentence() -> None:
    flat = pd.DataFrame({"month": pd.date_range("2026-01-01", periods=3, freq="MS"),
                         "level_0_share": [0.995, 0.9987, 1.0], "level_30_share": [0.005, 0.0013, 0.0]})
    moving = flat.assign(level_0_share=[0.995, 0.90, 1.0], level_30_share=[0.005, 0.10, 0.0])
    assert pk.levels_flat(flat) and not pk.levels_flat(moving)
    # min 0.995 -> "at least 99,5 %", the rest "at most 0,5 %", over 3 months
    assert pk.levels_flat_sentence(flat, "fr").startswith(
        "Sur les 3 mois, au moins 99,5 % des clients actifs ont eu une interaction significative")
    assert "(at most 0.5% beyond)" in pk.levels_flat_sentence(flat, "en")


def _simple_figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0.1, 0.2, 0.3], label="churn")
    ax.set_xticks([0, 1, 2])
    ax.set_xticklabels(["01/2026", "02/2026", "03/2026"])
    ax.set_ylim(0, 0.4)
    locale_axis(ax, "fr", "pct")
    ax.set_title("Taux de perte")
    ax.set_ylabel("part des clients")
    return fig


def test_alt_text_describes_the_figure_in_the_language() -> None:
    fig = _simple_figure()
    facts = figure_facts(fig)
    assert describe_figure(facts, "fr") == (
        "Graphique « Taux de perte ». Axe horizontal : de 01/2026 à 03/2026. "
        "Axe vertical : part des clients, de 0 % à 40 %. Représenté : churn (courbe, 3 points).")
    assert describe_figure(facts, "en").startswith("Chart “Taux de perte”. Horizontal axis: from 01/2026 to 03/2026.")
    plt.close(fig)


def test_export_html_writes_alt_text_and_lang(tmp_path) -> None:
    from analysis.reporting.runner import export_html, image_alt_texts

    fig = _simple_figure()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = base64.b64encode(buf.getvalue()).decode()
    facts = figure_facts(fig)
    plt.close(fig)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Titre"), nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("display_data", data={FIGURE_FACTS_MIME: facts, "text/plain": ""}),
        nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
    ]), nbformat.v4.new_code_cell("y", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})])]
    assert image_alt_texts(nbformat.from_dict(nb), "fr")[1] == "Figure du rapport ; le texte qui la précède dit ce qu'elle montre."
    nb_path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, str(nb_path))
    export_html(nb_path, tmp_path / "01_x.html", lang="fr")
    page = (tmp_path / "01_x.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in page
    assert "No description has been provided" not in page
    assert 'alt="Graphique « Taux de perte ». Axe horizontal' in page
    assert FIGURE_FACTS_MIME not in page


def test_runoutputs_by_hand_writes_to_scratch_and_records_facts(tmp_path, monkeypatch) -> None:
    import analysis.reporting.outputs as outputs

    monkeypatch.setattr(outputs, "SCRATCH_DIR", tmp_path / "scratch")
    out = RunOutputs("01_base_health", as_of="2026-11-01")
    assert out.dir == tmp_path / "scratch" / "01_base_health" / "2026-11-01"
    fig = _simple_figure()
    out.figure(fig, "loss")
    plt.close(fig)
    saved = out.dir / "figures" / "01_base_health_loss.json"
    assert saved.exists() and '"Taux de perte"' in saved.read_text(encoding="utf-8")


def test_month_labels_follow_the_language_date_style() -> None:
    from analysis.reporting.plots.cohorts import plot_retention_at

    km = pd.DataFrame({"group": ["2024-11", "2024-12"], "retention_3m": [0.9, 0.95],
                       "lower_3m": [0.8, 0.9], "upper_3m": [0.95, 0.99]})
    ax = plot_retention_at(km, lang="fr", times=(3,))
    assert [x.get_text() for x in ax.get_xticklabels()] == ["11/2024", "12/2024"]   # as 30/11/2024
    plt.close(ax.figure)
    monthly = pd.DataFrame({"month": pd.date_range("2026-01-01", periods=2, freq="MS"), "new_customers": [3, 1]})
    ax = pk.plot_new_customers(monthly, lang="en")
    assert [x.get_text() for x in ax.get_xticklabels()] == ["2026-01", "2026-02"]   # as 2026-01-31
    plt.close(ax.figure)


def test_priority_matrix_legend_and_note_hide_no_customer() -> None:
    m = pd.DataFrame({"value": [0.0, 700.0, 30000.0, 300.0], "churn_probability": [0.9, 0.88, 0.95, 0.05],
                      "priority": ["P2", "P2", "P1", "P3"]})
    ax = priority_plot(m, "fr", currency="EUR")
    note = [txt for txt in ax.texts if "valeur 0" in txt.get_text()]
    assert [txt.get_text() for txt in note] == ["1 client de valeur 0 n'est pas dessiné (pas de place sur un axe "
                                                 "logarithmique)."]                                  # a real singular
    assert note[0].get_position()[1] < 0                                   # under the axes, not over the points
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1   # legend beside the axes
