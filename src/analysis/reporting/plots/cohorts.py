"""Figures of the cohort decay analysis (:mod:`analysis.metrics.cohorts`).

Each function draws a DataFrame returned by :mod:`analysis.metrics.cohorts` (so the plotted values
can be exported as they are), takes ``ax=None``, returns the ``Axes`` and labels
everything through :func:`analysis.reporting.i18n.t`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.patches import Patch, Rectangle

from analysis.metrics.cohorts import pooled_curve, to_wide
from analysis.reporting.i18n import fmt_pct, t
from analysis.reporting.plots.style import (
    NEUTRAL,
    PALETTE,
    SEQUENTIAL_CMAP,
    axes_or_new,
    color_cycle,
    styled,
)
from analysis.reporting.safety import escape

__all__ = ["plot_retention_heatmap", "plot_survival", "plot_curves_by_age", "plot_retention_at"]


def _cohort_label(c: pd.Timestamp, period: str, lang: str = "en") -> str:
    """A cohort in the language's date style: ``11/2024`` or ``T3 2024`` (fr), ``2024-11`` or
    ``2024-Q3`` (en)."""
    c = pd.Timestamp(str(c)) if not isinstance(c, pd.Period) else c.to_timestamp()
    if period == "Q":
        return f"T{c.quarter} {c.year}" if lang == "fr" else f"{c.year}-Q{c.quarter}"
    return c.strftime("%m/%Y" if lang == "fr" else "%Y-%m")


def _group_label(g, lang: str) -> str:
    """A group of a retention table: a monthly cohort (``2024-11``) in the language's style, else as is."""
    text = str(g)
    return _cohort_label(text, "M", lang) if re.fullmatch(r"\d{4}-\d{2}", text) else text


@styled
def plot_retention_heatmap(matrix: pd.DataFrame, ax: Axes | None = None, lang: str = "en",
                           period: str = "M", title: str | None = None,
                           annotate: bool | None = None) -> Axes:
    """Cohort x age heatmap; cells not observable yet are grey and hatched, never 0.

    The colour scale starts a round tenth below the lowest value (at most 50 %), so that
    close retention rates stay distinguishable; the printed percentages are exact.

    Parameters
    ----------
    matrix : output of :func:`analysis.metrics.cohorts.retention_matrix` (``cohort``, ``age``,
        ``value``, ``observable``).
    ax : axes to draw on (a new figure if None).
    lang : ``fr`` or ``en``.
    period : ``M`` or ``Q`` (cohort labels).
    title : figure title (default: the customer retention title).
    annotate : write the percentage in each cell (default: when there are at most 625 cells).
    """
    wide = to_wide(matrix)
    n_rows, n_cols = wide.shape
    ax = axes_or_new(ax, figsize=(max(7.0, 0.42 * n_cols + 2.5), max(3.0, 0.32 * n_rows + 1.5)))
    values = wide.to_numpy(dtype="float64")
    finite = values[np.isfinite(values)]
    vmax = max(1.0, float(finite.max())) if finite.size else 1.0
    # colour scale from a round tenth below the lowest value, so that close values differ
    vmin = max(0.0, np.floor(10 * float(finite.min())) / 10 - 0.1) if finite.size else 0.0
    if annotate is None:
        annotate = n_rows * n_cols <= 625
    # background hatch shows through masked (not observable) cells
    ax.add_patch(Rectangle((0, 0), n_cols, n_rows, facecolor="#EEEEEE", edgecolor="#BBBBBB",
                           hatch="///", linewidth=0, zorder=0))
    cells = wide.apply(lambda col: col.map(lambda v: fmt_pct(v, lang, 0).replace(" ", "\u202f")))
    sns.heatmap(wide, mask=~np.isfinite(values), cmap=SEQUENTIAL_CMAP, vmin=min(vmin, 0.5), vmax=vmax,
                annot=cells.to_numpy() if annotate else False, fmt="", cbar=False, ax=ax,
                annot_kws={"fontsize": 7 if n_rows * n_cols <= 200 else 5.5},
                xticklabels=[str(a) for a in wide.columns],
                yticklabels=[_cohort_label(c, period, lang) for c in wide.index])
    ax.tick_params(axis="both", labelsize=8)
    ax.tick_params(axis="y", rotation=0)
    ax.grid(False)
    ax.set_xlabel(t("coh_age", lang))
    ax.set_ylabel(t("coh_cohort", lang))
    ax.set_title(title or t("coh_heatmap_title", lang))
    ax.legend(handles=[Patch(facecolor="#EEEEEE", edgecolor="#BBBBBB", hatch="///",
                             label=t("coh_immature", lang))],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


@styled
def plot_survival(curves: pd.DataFrame, ax: Axes | None = None, lang: str = "en",
                  title: str | None = None, max_months: float | None = None) -> Axes:
    """Kaplan-Meier step curves with their confidence bands, one per group.

    Parameters
    ----------
    curves : output of :func:`analysis.metrics.cohorts.km_curves` (``group``, ``months``,
        ``survival``, ``lower``, ``upper``).
    ax : axes to draw on (a new figure if None).
    lang : ``fr`` or ``en``.
    title : figure title (default: the generic survival title).
    max_months : right end of the x axis (default: the longest curve).
    """
    ax = axes_or_new(ax)
    groups = list(dict.fromkeys(curves["group"]))
    for color, name in zip(color_cycle(len(groups)), groups, strict=True):
        c = curves.loc[curves["group"].eq(name)]
        # a range of monthly cohorts ("2024-11 – 2025-04") in the language's month style; segment values are data
        parts = re.fullmatch(r"(\d{4}-\d{2})(?: – (\d{4}-\d{2}))?", str(name))
        label = (t("coh_all", lang) if name == "all" else
                 " – ".join(_group_label(p, lang) for p in parts.groups() if p) if parts else escape(name, "figure"))
        ax.step(c["months"], c["survival"], where="post", color=color, label=label, linewidth=1.8)
        ax.fill_between(c["months"], c["lower"], c["upper"], step="post", color=color, alpha=0.18,
                        linewidth=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max_months if max_months is not None else float(curves["months"].max()))
    ax.yaxis.set_major_formatter(lambda v, _pos: fmt_pct(v, lang, 0))
    ax.set_xlabel(t("coh_age", lang))
    ax.set_ylabel(t("coh_survival_ylabel", lang))
    ax.set_title(title or t("coh_survival_title", lang))
    if len(groups) > 1:
        ax.legend(loc="upper right", fontsize=8)
    return ax


@styled
def plot_curves_by_age(matrix: pd.DataFrame, ax: Axes | None = None, lang: str = "en",
                       title: str | None = None, ylabel: str | None = None) -> Axes:
    """One thin line per cohort and the pooled curve (thick) of a retention matrix by age.

    Used for revenue retention and activity decay.

    Parameters
    ----------
    matrix : output of :func:`analysis.metrics.cohorts.retention_matrix` (``cohort``, ``age``,
        ``value``, ``observable``, ``numerator``, ``denominator``); the pooled line is
        :func:`analysis.metrics.cohorts.pooled_curve` of it.
    ax : axes to draw on (a new figure if None).
    lang : ``fr`` or ``en``.
    title, ylabel : texts (default: the revenue retention ones).
    """
    ax = axes_or_new(ax)
    wide = to_wide(matrix)
    for cohort in wide.index:  # a handful of cohorts
        row = wide.loc[cohort].dropna()
        ax.plot(row.index, row.to_numpy(), color=NEUTRAL, alpha=0.35, linewidth=0.8)
    pooled = pooled_curve(matrix)
    ax.plot(pooled["age"], pooled["value"], color=PALETTE[0], linewidth=2.4, marker="o",
            markersize=3, label=t("coh_pooled", lang))
    ax.yaxis.set_major_formatter(lambda v, _pos: fmt_pct(v, lang, 0))
    ax.set_ylim(bottom=min(0.0, float(np.nanmin(wide.to_numpy(dtype="float64"), initial=0.0))))
    ax.set_xlabel(t("coh_age", lang))
    ax.set_ylabel(ylabel or t("coh_revenue_ylabel", lang))
    ax.set_title(title or t("coh_revenue_title", lang))
    ax.legend(loc="upper right", fontsize=8)
    return ax


@styled
def plot_retention_at(table: pd.DataFrame, ax: Axes | None = None, lang: str = "en",
                      times: Sequence[float] = (3, 6, 12), title: str | None = None) -> Axes:
    """Kaplan-Meier retention at fixed ages per group (cohort), with interval bars.

    Parameters
    ----------
    table : output of :func:`analysis.metrics.cohorts.km_at` (``group``, ``retention_<t>m``,
        ``lower_<t>m``, ``upper_<t>m`` for each ``t`` in ``times``).
    ax : axes to draw on (a new figure if None).
    lang : ``fr`` or ``en``.
    times : the ages to draw.
    title : figure title.
    """
    ax = axes_or_new(ax)
    x = np.arange(len(table))
    width = 0.8 / max(len(times), 1)
    for i, (color, tt) in enumerate(zip(color_cycle(len(times)), times, strict=True)):
        key = f"{tt:g}m"
        y = table[f"retention_{key}"].to_numpy(dtype="float64")
        lo = y - table[f"lower_{key}"].to_numpy(dtype="float64")
        hi = table[f"upper_{key}"].to_numpy(dtype="float64") - y
        ax.errorbar(x + (i - (len(times) - 1) / 2) * width, y, yerr=np.vstack([lo, hi]), fmt="o",
                    color=color, markersize=4, capsize=2, linewidth=1,
                    label=t("coh_retention_at_label", lang, months=f"{tt:g}"))
    ax.set_xticks(x)
    ax.set_xticklabels([_group_label(g, lang) for g in table["group"]], rotation=60, ha="right",
                       rotation_mode="anchor", fontsize=8)
    lows = table[[f"lower_{tt:g}m" for tt in times]].to_numpy(dtype="float64")
    low = float(np.nanmin(lows)) if np.isfinite(lows).any() else 0.0
    ax.set_ylim(max(0.0, np.floor(10 * low) / 10 - 0.05), 1.02)  # start below the lowest bound
    ax.yaxis.set_major_formatter(lambda v, _pos: fmt_pct(v, lang, 0))
    ax.set_xlabel(t("coh_cohort", lang))
    ax.set_ylabel(t("coh_retention_ylabel", lang))
    ax.set_title(title or t("coh_retention_at_title", lang))
    ax.legend(loc="lower left", fontsize=8, ncols=len(times))
    return ax
