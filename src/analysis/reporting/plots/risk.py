"""Figures of the churn-risk classifier: reliability, cumulative gains, drivers, priority matrix.

Every function draws a table the package already returns (see :mod:`analysis.models.classifier`),
takes ``ax=None`` and returns the Axes.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from analysis.reporting.i18n import CURRENCY_SYMBOLS, plural, t, texts
from analysis.reporting.plots.style import (
    NEUTRAL,
    PALETTE,
    PRIORITY_COLORS,
    PRIORITY_MARKERS,
    RISK_COLORS,
    axes_or_new,
    locale_axis,
    styled,
)

__all__ = ["reliability_plot", "gains_plot", "importance_plot", "priority_plot"]

_METHOD_COLORS = {"logit": PALETTE[0], "hgb": PALETTE[2], "recency": PALETTE[1], "bgnbd": PALETTE[4]}


def _method_label(method: str, lang: str) -> str:
    return t(f"risk_method_{method}", lang)


@styled
def reliability_plot(reliability: pd.DataFrame, lang: str = "en", ax: Axes | None = None) -> Axes:
    """Observed share lost against predicted probability, per model.

    Parameters
    ----------
    reliability : columns ``method``, ``mean_predicted``, ``observed_rate``
        (:attr:`analysis.models.classifier.Backtest.reliability`).
    """
    ax = axes_or_new(ax, figsize=(6.0, 5.0))
    top = float(max(reliability["mean_predicted"].max(), reliability["observed_rate"].max(), 0.05)) * 1.05
    ax.plot([0, top], [0, top], color=NEUTRAL, linestyle="--", linewidth=1)
    for method, g in reliability.groupby("method", sort=False):
        ax.plot(g["mean_predicted"], g["observed_rate"], marker="o", color=_METHOD_COLORS.get(method),
                label=_method_label(str(method), lang))
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    locale_axis(ax, lang, "pct", axis="x")
    locale_axis(ax, lang, "pct", axis="y")
    ax.set_xlabel(t("risk_predicted", lang))
    ax.set_ylabel(t("risk_observed", lang))
    ax.set_title(t("risk_reliability_title", lang))
    ax.legend(loc="upper left")
    return ax


@styled
def gains_plot(gains: pd.DataFrame, lang: str = "en", capacity_share: float | None = None,
               capacity: int | None = None, ax: Axes | None = None) -> Axes:
    """Cumulative gains of every method, with the random order and the team's capacity.

    Parameters
    ----------
    gains : columns ``method``, ``share_contacted``, ``share_captured``
        (:attr:`analysis.models.classifier.Backtest.gains`).
    capacity_share : share of the test customers the team can call in a month (vertical line).
    """
    ax = axes_or_new(ax)
    ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", linewidth=1, label=t("risk_random", lang))
    for method, g in gains.groupby("method", sort=False):
        ax.plot(g["share_contacted"], g["share_captured"], color=_METHOD_COLORS.get(method),
                label=_method_label(str(method), lang))
    if capacity_share is not None and 0 < capacity_share < 1:
        ax.axvline(capacity_share, color=RISK_COLORS["critical"], linewidth=1)
        ax.annotate(t("risk_capacity_line", lang, n=capacity), (capacity_share, 0.03),
                    xytext=(4, 0), textcoords="offset points", color=RISK_COLORS["critical"], fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    locale_axis(ax, lang, "pct", axis="x")
    locale_axis(ax, lang, "pct", axis="y")
    ax.set_xlabel(t("risk_share_contacted", lang))
    ax.set_ylabel(t("risk_share_captured", lang))
    ax.set_title(t("risk_gains_title", lang))
    ax.legend(loc="lower right")
    return ax


def feature_label(name: str, lang: str = "en") -> str:
    """A feature's plain-language name: its ``feat_<name>`` label, ``plan: Pro`` (``offre : Pro``)
    for a segment dummy (the attribute translated by its ``attr_<column>`` label),
    ``email segment: passive active`` for a category flag (value translated too), else the
    column name."""
    if f"feat_{name}" in texts():
        return t(f"feat_{name}", lang)
    if name.startswith("seg_"):
        column, _, value = name[4:].partition("_")
        key = f"attr_{column}"
        shown = t(key, lang) if key in texts() else column
        return f"{shown} : {value}" if lang == "fr" else f"{shown}: {value}"
    for prefix, attr, values in (("is_email_segment_", "attr_email_segment", "kpi_seg_"),
                                 ("is_nps_category_", "attr_nps_category", "sig_nps_")):
        if name.startswith(prefix):
            value = name[len(prefix):]
            shown = t(f"{values}{value}", lang) if f"{values}{value}" in texts() else value.replace("_", " ")
            return f"{t(attr, lang)} : {shown}" if lang == "fr" else f"{t(attr, lang)}: {shown}"
    return name


@styled
def importance_plot(importance: pd.DataFrame, lang: str = "en", top: int = 12, ax: Axes | None = None) -> Axes:
    """Permutation importance of the best model, largest first.

    Parameters
    ----------
    importance : columns ``feature``, ``importance_mean``, ``importance_std``
        (:attr:`analysis.models.classifier.Backtest.importance`).
    """
    d = importance.sort_values("importance_mean", ascending=False, kind="stable").head(top).iloc[::-1]
    ax = axes_or_new(ax, figsize=(8.0, 0.35 * len(d) + 1.5))
    ax.barh([feature_label(f, lang) for f in d["feature"]], d["importance_mean"], xerr=d["importance_std"], color=PALETTE[0],
            error_kw={"ecolor": NEUTRAL, "linewidth": 1})
    locale_axis(ax, lang, "number", axis="x")
    ax.set_xlabel(t("risk_importance_axis", lang))
    ax.set_title(t("risk_importance_title", lang))
    ax.grid(axis="y", visible=False)
    return ax


@styled
def priority_plot(matrix: pd.DataFrame, lang: str = "en", ax: Axes | None = None, currency: str = "EUR") -> Axes:
    """Each active customer as a point: value (log scale, in ``currency``) against churn
    probability, by priority (P1 vermillion triangles, P2 blue squares, P3 grey dots).

    Customers of value 0 have no place on a log scale: they are not drawn (no fake floor),
    and their number is written under the axis.

    Parameters
    ----------
    matrix : columns ``value``, ``churn_probability``, ``priority`` (P1 / P2 / P3)
        (:attr:`analysis.models.classifier.ScoreResult.matrix`).
    currency : ISO code of the values (the axis unit).
    """
    ax = axes_or_new(ax)
    value = matrix["value"].to_numpy(dtype="float64")
    positive = value > 0
    for p in ("P3", "P2", "P1"):
        keep = matrix["priority"].astype("string").eq(p).to_numpy() & positive
        ax.scatter(value[keep], matrix["churn_probability"].to_numpy(dtype="float64")[keep],
                   s=9 if p == "P3" else 22, alpha=0.5 if p == "P3" else 0.9, color=PRIORITY_COLORS[p],
                   marker=PRIORITY_MARKERS[p], label=t("risk_priority_label", lang, n=p[1:]), linewidths=0,
                   zorder={"P3": 1, "P2": 2, "P1": 3}[p])
    if positive.any() and value[positive].max() / value[positive].min() > 20:
        ax.set_xscale("log")
    ax.set_ylim(0, 1)
    locale_axis(ax, lang, "pct", axis="y")
    locale_axis(ax, lang, "number", axis="x")  # the unit is in the axis label
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    ax.set_xlabel(f"{t('risk_value_axis', lang)} ({symbol})")
    ax.set_ylabel(t("risk_probability_axis", lang))
    ax.set_title(t("risk_matrix_title", lang))
    n_zero = int((~positive).sum())
    if n_zero:  # under the axis, where no point can hide it
        ax.text(1.0, -0.17, plural("risk_matrix_zero_value", n_zero, lang), transform=ax.transAxes,
                ha="right", va="top", fontsize=8.5, color="#555555")
    handles, names = ax.get_legend_handles_labels()
    # priority 1 first, beside the axes: inside, it would hide the customers drawn under it
    ax.legend(handles[::-1], names[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
