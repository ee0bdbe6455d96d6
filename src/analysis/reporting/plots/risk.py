"""Figures of the churn-risk classifier: reliability, cumulative gains, drivers, priority matrix.

Every function draws a table the package already returns (see :mod:`analysis.models.classifier`),
takes ``ax=None`` and returns the Axes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from analysis.reporting.i18n import t, texts
from analysis.reporting.plots.style import NEUTRAL, PALETTE, RISK_COLORS, axes_or_new, styled

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
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel(t("risk_share_contacted", lang))
    ax.set_ylabel(t("risk_share_captured", lang))
    ax.set_title(t("risk_gains_title", lang))
    ax.legend(loc="lower right")
    return ax


def feature_label(name: str, lang: str = "en") -> str:
    """A feature's plain-language name: its ``feat_<name>`` label, ``plan = Pro`` for a
    segment dummy, ``email segment = …`` for a category flag, else the column name."""
    if f"feat_{name}" in texts():
        return t(f"feat_{name}", lang)
    if name.startswith("seg_"):
        column, _, value = name[4:].partition("_")
        return f"{column} = {value}"
    for prefix in ("is_email_segment_", "is_nps_category_"):
        if name.startswith(prefix):
            return f"{prefix[3:-1].replace('_', ' ')} = {name[len(prefix):].replace('_', ' ')}"
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
    ax.set_xlabel(t("risk_importance_axis", lang))
    ax.set_title(t("risk_importance_title", lang))
    ax.grid(axis="y", visible=False)
    return ax


@styled
def priority_plot(matrix: pd.DataFrame, lang: str = "en", ax: Axes | None = None) -> Axes:
    """Each active customer as a point: value (log scale) against churn probability, by priority.

    Parameters
    ----------
    matrix : columns ``value``, ``churn_probability``, ``priority`` (P1 / P2 / P3)
        (:attr:`analysis.models.classifier.ScoreResult.matrix`).
    """
    ax = axes_or_new(ax)
    colors = {"P1": RISK_COLORS["critical"], "P2": RISK_COLORS["high"], "P3": RISK_COLORS["low"]}
    positive = matrix["value"].gt(0)
    floor = float(matrix.loc[positive, "value"].min()) / 2 if positive.any() else 0.5
    for p in ("P3", "P2", "P1"):
        g = matrix.loc[matrix["priority"].astype("string").eq(p)]
        ax.scatter(np.maximum(g["value"].to_numpy(dtype="float64"), floor), g["churn_probability"], s=10,
                   alpha=0.6, color=colors[p], label=t("risk_priority_label", lang, n=p[1:]), linewidths=0)
    if positive.any() and matrix["value"].max() / floor > 20:
        ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel(t("risk_value_axis", lang))
    ax.set_ylabel(t("risk_probability_axis", lang))
    ax.set_title(t("risk_matrix_title", lang))
    ax.legend(loc="upper left")
    return ax
