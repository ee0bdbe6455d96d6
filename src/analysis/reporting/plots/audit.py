"""Figures of the retro-audit of lost clients (:mod:`analysis.models.audit`).

Each function draws a DataFrame returned by :class:`analysis.models.audit.RetroAudit` (so the
plotted values can be exported as they are), takes ``ax=None``, returns the ``Axes`` and
labels everything through :func:`analysis.reporting.i18n.t`.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from analysis.metrics.signals import INDICATORS
from analysis.models.audit import ANY, LOST, RETAINED
from analysis.reporting.i18n import fmt_pct, t
from analysis.reporting.plots.style import NEUTRAL, PALETTE, axes_or_new, styled

__all__ = ["indicator_colors", "indicator_label", "plot_swimlane", "plot_lead_times",
           "plot_recall_false_alarm", "plot_signal_shares"]

_MARKERS = ("o", "s", "D", "^", "v", "P")
_MPL = tuple(int(x) for x in matplotlib.__version__.split(".")[:2])


def indicator_colors() -> dict[str, str]:
    """One palette colour per indicator (fixed, so every figure agrees), black for ``any``."""
    colors = {name: PALETTE[i % (len(PALETTE) - 1)] for i, name in enumerate(INDICATORS)}
    colors[ANY] = PALETTE[-1]
    return colors


def indicator_label(name: str, lang: str = "en") -> str:
    """The label of an indicator (``aud_ind_<name>`` in ``locales/audit.yml``)."""
    return t(f"aud_ind_{name}", lang)


@styled
def plot_swimlane(lanes: pd.DataFrame, ax: Axes | None = None, lang: str = "en",
                  lookback_weeks: int | None = None, min_lead_weeks: int | None = None,
                  anchor: str = "churn") -> Axes:
    """One row per lost client, weeks before churn on the x axis, a mark where an indicator fired.

    Parameters
    ----------
    lanes : output of :meth:`analysis.models.audit.RetroAudit.swimlane` (``lane``, ``indicator``,
        ``weeks_before``; rows with NA indicator are silent churners' empty lanes).
    ax : axes to draw on (a new, tall figure if None).
    lang : ``fr`` or ``en``.
    lookback_weeks : x range (default: the largest lead in the data).
    min_lead_weeks : draws the "usable signal" limit as a dashed line.
    anchor : what the lanes end on (``churn`` or ``last_interaction``), for the x label.
    """
    n = int(lanes["lane"].max()) + 1 if len(lanes) else 0
    ax = axes_or_new(ax, figsize=(9.0, max(3.5, min(16.0, 0.12 * n + 1.8))))
    colors = indicator_colors()
    names = [i for i in INDICATORS if i in set(lanes["indicator"].dropna())]
    offsets = np.linspace(-0.3, 0.3, len(INDICATORS))
    for i, name in enumerate(INDICATORS):
        if name not in names:
            continue
        pts = lanes.loc[lanes["indicator"].eq(name)]
        ax.scatter(-pts["weeks_before"].to_numpy(), pts["lane"].to_numpy() + offsets[i], s=14,
                   marker=_MARKERS[i % len(_MARKERS)], color=colors[name], label=indicator_label(name, lang),
                   linewidths=0, zorder=3)
    silent = lanes.loc[lanes["indicator"].isna(), "lane"].unique()
    for lane in silent:
        ax.axhspan(lane - 0.5, lane + 0.5, color=NEUTRAL, alpha=0.12, linewidth=0, zorder=0)
    top = lookback_weeks or (int(np.nanmax(lanes["weeks_before"])) if lanes["weeks_before"].notna().any() else 1)
    ax.set_xlim(-top - 0.5, 0)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks([])
    if min_lead_weeks:
        ax.axvline(-min_lead_weeks, color=NEUTRAL, linestyle="--", linewidth=1)
    ax.set_xlabel(t("aud_swimlane_x" if anchor == "churn" else "aud_swimlane_x_last", lang))
    ax.set_ylabel(t("aud_swimlane_y", lang, n=n))
    ax.set_title(t("aud_swimlane_title", lang))
    handles, labels = ax.get_legend_handles_labels()
    if len(silent):
        handles.append(Line2D([], [], color=NEUTRAL, alpha=0.4, linewidth=6))
        labels.append(t("aud_silent_lane", lang))
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return ax


@styled
def plot_lead_times(leads: pd.DataFrame, ax: Axes | None = None, lang: str = "en",
                    min_lead_weeks: int | None = None, anchor: str = "churn") -> Axes:
    """Distribution of each indicator's lead time (weeks between its first firing and churn).

    Parameters
    ----------
    leads : output of :meth:`analysis.models.audit.RetroAudit.lead_times` (``indicator``, ``lead_weeks``).
    ax : axes to draw on.
    lang : ``fr`` or ``en``.
    min_lead_weeks : draws the "usable signal" limit.
    anchor : what the lead is measured to (``churn`` or ``last_interaction``), for the x label.
    """
    ax = axes_or_new(ax)
    colors = indicator_colors()
    names = [i for i in INDICATORS if i in set(leads["indicator"])]
    data = [leads.loc[leads["indicator"].eq(n), "lead_weeks"].to_numpy() for n in names]
    if names:
        horizontal = {"orientation": "horizontal"} if _MPL >= (3, 10) else {"vert": False}
        box = ax.boxplot(data, widths=0.5, patch_artist=True, showfliers=False, **horizontal)
        for patch, name in zip(box["boxes"], names, strict=True):
            patch.set_facecolor(colors[name])
            patch.set_alpha(0.35)
        for med in box["medians"]:
            med.set_color("#000000")
        rng = np.random.default_rng(0)  # fixed jitter: the figure is the same at every run
        for i, (name, vals) in enumerate(zip(names, data, strict=True)):
            ax.scatter(vals, np.full(len(vals), i + 1.0) + rng.uniform(-0.15, 0.15, len(vals)), s=10,
                       color=colors[name], zorder=3, linewidths=0)
        ax.set_yticks(range(1, len(names) + 1), [f"{indicator_label(n, lang)} (n={len(v)})"
                                                 for n, v in zip(names, data, strict=True)])
        ax.invert_yaxis()  # first indicator on top, as in the tables
    if min_lead_weeks:
        ax.axvline(min_lead_weeks, color=NEUTRAL, linestyle="--", linewidth=1)
    ax.set_xlabel(t("aud_lead_x" if anchor == "churn" else "aud_lead_x_last", lang))
    ax.set_title(t("aud_lead_title", lang))
    return ax


@styled
def plot_recall_false_alarm(per_indicator: pd.DataFrame, ax: Axes | None = None, lang: str = "en") -> Axes:
    """Recall (lost clients warned) against false-alarm rate (retained clients warned).

    Points above the diagonal discriminate: they fire more often before a churn than in a
    comparable retained client's window.

    Parameters
    ----------
    per_indicator : :attr:`analysis.models.audit.RetroAudit.per_indicator_` (``indicator``,
        ``recall``, ``false_alarm_rate``); rows with NaN rates (not available) are skipped.
    """
    ax = axes_or_new(ax, figsize=(6.5, 5.5))
    colors = indicator_colors()
    ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", linewidth=1, label=t("aud_diagonal", lang))
    p = per_indicator.dropna(subset=["recall", "false_alarm_rate"]).sort_values("recall", ascending=False)
    placed: list[tuple[float, float]] = []   # points whose label sits above them
    for r in p.itertuples(index=False):
        name = str(r.indicator)
        ax.scatter([r.false_alarm_rate], [r.recall], s=70 if name == ANY else 50, color=colors.get(name, NEUTRAL),
                   marker="*" if name == ANY else "o", zorder=3, label=indicator_label(name, lang))
        # a label that would overlap the one of a point just above goes under its own point
        crowded = any(abs(r.recall - y) < 0.05 and abs(r.false_alarm_rate - x) < 0.3 for x, y in placed)
        ax.annotate(indicator_label(name, lang), (r.false_alarm_rate, r.recall), xytext=(5, -13 if crowded else 4),
                    textcoords="offset points", fontsize=9)
        if not crowded:
            placed.append((r.false_alarm_rate, r.recall))
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.xaxis.set_major_formatter(lambda v, _: fmt_pct(v, lang, 0))
    ax.yaxis.set_major_formatter(lambda v, _: fmt_pct(v, lang, 0))
    ax.set_xlabel(t("aud_far_x", lang))
    ax.set_ylabel(t("aud_recall_y", lang))
    ax.set_title(t("aud_recall_title", lang))
    return ax


@styled
def plot_signal_shares(shares: pd.DataFrame, ax: Axes | None = None, lang: str = "en",
                       claim: float = 0.80) -> Axes:
    """Share of lost and of retained clients with a signal h weeks ahead, with intervals.

    Parameters
    ----------
    shares : :attr:`analysis.models.audit.RetroAudit.shares_` (``group``, ``lead_weeks``, ``share``,
        ``ci_low``, ``ci_high``).
    claim : the claimed share, drawn as a horizontal line.
    """
    ax = axes_or_new(ax, figsize=(7.5, 4.5))
    leads = sorted(shares["lead_weeks"].unique())
    x = np.arange(len(leads))
    width = 0.38
    for j, (group, color) in enumerate(((LOST, PALETTE[3]), (RETAINED, PALETTE[0]))):
        g = shares.loc[shares["group"].eq(group)].set_index("lead_weeks").reindex(leads)
        pos = x + (j - 0.5) * width
        vals = g["share"].to_numpy(dtype="float64")
        err = np.vstack([vals - g["ci_low"].to_numpy(dtype="float64"), g["ci_high"].to_numpy(dtype="float64") - vals])
        ax.bar(pos, vals, width, color=color, alpha=0.85, label=t(f"aud_group_{group}", lang))
        ax.errorbar(pos, vals, yerr=np.nan_to_num(err), fmt="none", ecolor="#333333", capsize=3, linewidth=1)
        for p_, v in zip(pos, vals, strict=True):
            if np.isfinite(v):
                ax.annotate(fmt_pct(v, lang, 0), (p_, 0), xytext=(0, 4), textcoords="offset points",
                            ha="center", va="bottom", fontsize=8.5, color="#FFFFFF", fontweight="bold")
    ax.axhline(claim, color="#000000", linestyle=":", linewidth=1.2, label=t("aud_claim_line", lang,
                                                                          claim=fmt_pct(claim, lang, 0)))
    ax.set_xticks(x, [t("aud_weeks_ahead", lang, w=int(w)) for w in leads])
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(lambda v, _: fmt_pct(v, lang, 0))
    ax.set_ylabel(t("aud_share_y", lang))
    ax.set_title(t("aud_share_title", lang))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return ax
