"""Figures of the base-health notebook and the monthly KPI dashboard (:mod:`analysis.metrics.kpis`).

Each function draws a DataFrame returned by :mod:`analysis.metrics.kpis` (so the plotted values can
be exported as they are), takes ``ax=None`` (``axes=None`` for the small multiples), returns
the ``Axes`` and labels everything through :func:`analysis.reporting.i18n.t`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from analysis.reporting.i18n import fmt_num, fmt_pct, t
from analysis.reporting.plots.style import (
    NEUTRAL,
    PALETTE,
    RC,
    RISK_COLORS,
    SEQUENTIAL_CMAP,
    axes_or_new,
    styled,
)

__all__ = [
    "plot_new_customers",
    "plot_customers",
    "plot_kpi_trends",
    "plot_inactivity_levels",
    "plot_segment_shares",
    "plot_transitions",
]

ALERT_COLOR = RISK_COLORS["critical"]
LEVEL_COLORS = ("#009E73", "#F0E442", "#E69F00", "#D55E00", "#7F2704")
SEGMENT_COLORS = {"engaged_active": "#009E73", "passive_active": "#56B4E9",
                  "recent_inactive": "#E69F00", "chronic_inactive": "#D55E00", "no_email": NEUTRAL}


def _month_labels(months: pd.Series | pd.DatetimeIndex) -> list[str]:
    return [pd.Timestamp(m).strftime("%Y-%m") for m in months]


def _thin_ticks(ax: Axes, labels: list[str], every: int | None = None) -> None:
    n = len(labels)
    step = every or max(1, int(np.ceil(n / 12)))
    ax.set_xticks(range(0, n, step))
    ax.set_xticklabels(labels[::step], rotation=45, ha="right")


def _pct_axis(ax: Axes, lang: str, digits: int = 0) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_pct(v, lang, digits)))


@styled
def plot_new_customers(monthly: pd.DataFrame, ax: Axes | None = None, lang: str = "en") -> Axes:
    """New customers per month, as bars.

    Parameters
    ----------
    monthly : :func:`analysis.metrics.kpis.customer_kpis` (``month``, ``new_customers``).
    """
    ax = axes_or_new(ax)
    labels = _month_labels(monthly["month"])
    ax.bar(range(len(labels)), monthly["new_customers"].to_numpy(), color=PALETTE[0])
    _thin_ticks(ax, labels)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_num(v, lang)))
    ax.set_title(t("kpi_new_customers_title", lang))
    ax.set_ylabel(t("kpi_new_customers", lang))
    ax.grid(axis="x", visible=False)
    return ax


@styled
def plot_customers(monthly: pd.DataFrame, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Active customers at each month's end (line), new and lost customers of the month (bars).

    Parameters
    ----------
    monthly : :func:`analysis.metrics.kpis.customer_kpis` (``month``, ``active_customers``,
        ``new_customers``, ``lost_customers``).
    """
    ax = axes_or_new(ax)
    labels = _month_labels(monthly["month"])
    x = np.arange(len(labels))
    ax.bar(x - 0.2, monthly["new_customers"].to_numpy(), width=0.4, color=PALETTE[2],
           label=t("kpi_new_customers", lang))
    ax.bar(x + 0.2, monthly["lost_customers"].to_numpy(), width=0.4, color=PALETTE[3],
           label=t("kpi_lost_customers", lang))
    ax2 = ax.twinx()
    ax2.plot(x, monthly["active_customers"].to_numpy(), color=PALETTE[0], marker="o", markersize=3,
             label=t("kpi_active_customers", lang))
    ax2.set_ylim(bottom=0)
    ax2.grid(False)
    ax2.spines["right"].set_visible(True)
    ax2.set_ylabel(t("kpi_active_customers", lang))
    ax.set_ylabel(f"{t('kpi_new_customers', lang)} / {t('kpi_lost_customers', lang)}")
    for a in (ax, ax2):
        a.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_num(v, lang)))
    _thin_ticks(ax, labels)
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="upper left", ncols=3, fontsize=9)
    ax.set_title(t("kpi_customers_title", lang))
    return ax


@styled
def plot_kpi_trends(dashboard: pd.DataFrame,
                    kpis: Sequence[str] = ("deliverability", "hard_bounce_rate", "open_rate", "click_rate",
                                           "unsubscribe_rate", "complaint_rate"),
                    axes: Sequence[Axes] | None = None, lang: str = "en") -> np.ndarray:
    """Small multiples: one panel per KPI, month over month, threshold dashed, alerts in red.

    Parameters
    ----------
    dashboard : :func:`analysis.metrics.kpis.monthly_dashboard` (``month``, ``kpi``, ``value``,
        ``threshold``, ``alert``).
    kpis : the KPIs to draw, one panel each.
    axes : as many axes as ``kpis`` (a new figure with a grid of panels if None).

    Returns
    -------
    The array of Axes, one per KPI.
    """
    kpis = [k for k in kpis if (dashboard["kpi"] == k).any()]
    if axes is None:
        ncols = 3 if len(kpis) > 4 else max(1, len(kpis))
        nrows = int(np.ceil(len(kpis) / ncols)) if kpis else 1
        fig, grid = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 2.8 * nrows), squeeze=False)
        axes = grid.ravel()
        for extra in axes[len(kpis):]:
            extra.set_visible(False)
        fig.suptitle(t("kpi_trend_title", lang), x=0.01, ha="left", fontweight="bold",
                     fontsize=RC["axes.titlesize"])
    axes = np.asarray(axes, dtype=object).ravel()
    for ax, kpi in zip(axes, kpis, strict=False):
        d = dashboard.loc[dashboard["kpi"] == kpi].sort_values("month")
        labels = _month_labels(d["month"])
        x = np.arange(len(labels))
        v = d["value"].to_numpy(dtype="float64")
        ax.plot(x, v, color=PALETTE[0], marker="o", markersize=3)
        alert = d["alert"].to_numpy(dtype=bool)
        ax.scatter(x[alert], v[alert], color=ALERT_COLOR, zorder=3, s=28)
        thr = d["threshold"].dropna()
        if not thr.empty:
            ax.axhline(float(thr.iloc[0]), color=ALERT_COLOR, linestyle="--", linewidth=1)
        small = np.nanmax(np.append(v, thr.to_numpy(dtype="float64"))) < 0.05 if len(v) else False
        _pct_axis(ax, lang, 2 if small else 0)
        ax.set_title(t(f"kpi_{kpi}", lang), fontsize=10.5)
        _thin_ticks(ax, labels, every=max(1, int(np.ceil(len(labels) / 6))))
        ax.tick_params(axis="x", labelsize=8)
    if len(axes):
        axes[0].figure.tight_layout()
    return axes[: len(kpis)]


@styled
def plot_inactivity_levels(monthly: pd.DataFrame, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Stacked bars: active customers at each month's end by inactivity level.

    Parameters
    ----------
    monthly : :func:`analysis.metrics.kpis.customer_kpis` (``month`` and the ``level_<L>_share`` columns).
    """
    ax = axes_or_new(ax)
    cols = [c for c in monthly.columns if c.startswith("level_") and c.endswith("_share")]
    labels = _month_labels(monthly["month"])
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for i, col in enumerate(cols):
        v = monthly[col].fillna(0).to_numpy(dtype="float64")
        ax.bar(x, v, bottom=bottom, color=LEVEL_COLORS[i % len(LEVEL_COLORS)], label=t(f"kpi_{col}", lang),
               width=0.8)
        bottom += v
    _pct_axis(ax, lang)
    ax.set_ylim(0, 1)
    _thin_ticks(ax, labels)
    ax.set_ylabel(t("kpi_share_of_active", lang))
    ax.set_title(t("kpi_levels_title", lang))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    ax.grid(axis="x", visible=False)
    return ax


@styled
def plot_segment_shares(shares: pd.DataFrame, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Stacked bars: emailed contacts by engagement segment at each month boundary.

    Parameters
    ----------
    shares : :func:`analysis.metrics.kpis.email_segment_shares` (``as_of``, ``email_segment``, ``share``).
    """
    ax = axes_or_new(ax)
    wide = shares.pivot_table(index="as_of", columns="email_segment", values="share",
                              aggfunc="sum", observed=True, sort=True)
    order = [s for s in SEGMENT_COLORS if s in wide.columns]
    labels = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in wide.index]
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for seg in order:
        v = wide[seg].fillna(0).to_numpy(dtype="float64")
        ax.bar(x, v, bottom=bottom, color=SEGMENT_COLORS[seg], label=t(f"kpi_seg_{seg}", lang), width=0.8)
        bottom += v
    _pct_axis(ax, lang)
    ax.set_ylim(0, 1)
    _thin_ticks(ax, labels)
    ax.set_title(t("kpi_segments_title", lang))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    ax.grid(axis="x", visible=False)
    return ax


@styled
def plot_transitions(matrix: pd.DataFrame, ax: Axes | None = None, lang: str = "en",
                     month: str = "") -> Axes:
    """Heatmap of customers moving from one engagement segment (rows) to another (columns).

    Parameters
    ----------
    matrix : :func:`analysis.metrics.signals.transition_matrix` (counts), indexed by from-segment.
    month : the month shown in the title (``YYYY-MM``).
    """
    ax = axes_or_new(ax, figsize=(7.0, 4.8))
    counts = matrix.astype("float64")
    sns.heatmap(counts, cmap=SEQUENTIAL_CMAP, cbar=False, ax=ax, fmt="", annot_kws={"fontsize": 9},
                annot=counts.apply(lambda col: col.map(lambda v: fmt_num(v, lang))).to_numpy(),
                xticklabels=[t(f"kpi_seg_{c}", lang) for c in matrix.columns],
                yticklabels=[t(f"kpi_seg_{r}", lang) for r in matrix.index])
    ax.tick_params(axis="x", rotation=30)
    ax.tick_params(axis="y", rotation=0)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_xlabel(t("kpi_segment_to", lang))
    ax.set_ylabel(t("kpi_segment_from", lang))
    ax.set_title(t("kpi_transitions_title", lang, month=month))
    ax.grid(False)
    return ax
