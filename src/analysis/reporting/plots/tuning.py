"""Figure of the threshold tuning (:mod:`analysis.models.tuning`): lead time versus precision
of every candidate threshold, per indicator, with the default and the tuned threshold marked.
Takes ``ax=None``, returns the ``Axes``, labels through :func:`analysis.reporting.i18n.t`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from analysis.reporting.i18n import t
from analysis.reporting.plots.audit import indicator_colors, indicator_label
from analysis.reporting.plots.style import NEUTRAL, axes_or_new, locale_axis, styled

__all__ = ["plot_tradeoff"]


@styled
def plot_tradeoff(points: pd.DataFrame, ax: Axes | None = None, lang: str = "en",
                  min_median_lead_weeks: float | None = None) -> Axes:
    """Median lead (x) versus precision (y) of every candidate, one colour per indicator.

    Parameters
    ----------
    points : output of :meth:`analysis.models.tuning.ThresholdTuner.tradeoff` (``indicator``,
        ``median_lead_weeks``, ``precision``, ``is_default``, ``is_tuned``); candidates with no
        precision or lead (never fired) are not drawn.
    ax : axes to draw on.
    lang : ``fr`` or ``en``.
    min_median_lead_weeks : draws the criterion's minimum median lead as a dashed line.
    """
    ax = axes_or_new(ax)
    colors = indicator_colors()
    pts = points.loc[points["precision"].notna() & points["median_lead_weeks"].notna()]
    for name in dict.fromkeys(points["indicator"].astype(str)):
        p = pts.loc[pts["indicator"].eq(name)]
        c = colors.get(name, NEUTRAL)
        ax.scatter(p["median_lead_weeks"], p["precision"], s=18, color=c, alpha=0.45, linewidths=0,
                   label=indicator_label(name, lang), zorder=2)
        d = p.loc[p["is_default"]]
        ax.scatter(d["median_lead_weeks"], d["precision"], s=110, facecolors="none", edgecolors=c, linewidths=1.8,
                   zorder=4)
        tu = p.loc[p["is_tuned"] & ~p["is_default"]]
        ax.scatter(tu["median_lead_weeks"], tu["precision"], s=170, marker="*", color=c, edgecolors="#000000",
                   linewidths=0.6, zorder=5)
    if min_median_lead_weeks:
        ax.axvline(min_median_lead_weeks, color=NEUTRAL, linestyle="--", linewidth=1)
    ax.set_ylim(-0.02, 1.02)
    if len(pts):
        ax.set_xlim(0, max(float(np.nanmax(pts["median_lead_weeks"])) + 1, (min_median_lead_weeks or 0) + 1))
    ax.set_xlabel(t("tun_tradeoff_x", lang))
    ax.set_ylabel(t("tun_tradeoff_y", lang))
    ax.set_title(t("tun_tradeoff_title", lang))
    locale_axis(ax, lang, "number", axis="x")
    locale_axis(ax, lang, "pct", axis="y", even=False)  # precision, a share: 0 % to 100 % within the fixed limits
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="#000000",
                       markersize=9),
                Line2D([], [], marker="*", linestyle="", color="#000000", markersize=11)]
    labels += [t("tun_marker_default", lang), t("tun_marker_tuned", lang)]
    if min_median_lead_weeks:
        handles.append(Line2D([], [], color=NEUTRAL, linestyle="--"))
        labels.append(t("tun_min_lead_line", lang, weeks=f"{min_median_lead_weeks:g}"))
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return ax
