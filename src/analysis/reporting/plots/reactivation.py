"""Figures of notebook 05 (re-activation): lifts with intervals, Qini curves, reaction delays, OKRs.

Every function draws a table the package already returns (:mod:`analysis.metrics.campaigns`,
:mod:`analysis.models.uplift`, :mod:`analysis.metrics.reaction`, :mod:`analysis.metrics.okr`),
takes ``ax=None`` and returns the Axes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from analysis.reporting.i18n import fmt_num, t
from analysis.reporting.plots.style import NEUTRAL, PALETTE, axes_or_new, locale_axis, styled

__all__ = ["lift_plot", "okr_plot", "qini_plot", "reaction_plot"]


@styled
def lift_plot(effects: pd.DataFrame, outcome: str = "purchase", lang: str = "en", ax: Axes | None = None) -> Axes:
    """Absolute lift (treatment - control) of ``outcome`` with its 95 % interval, per campaign and variant.

    Parameters
    ----------
    effects : :attr:`analysis.metrics.campaigns.CampaignResult.effects`; rows whose status
        is not ``ok`` / ``too_small`` (no control, window open) are left out.
    """
    e = effects.loc[effects["outcome"].eq(outcome) & effects["status"].isin(["ok", "too_small"])]
    e = e.sort_values(["action_date", "campaign_id", "variant"]).reset_index(drop=True)
    ax = axes_or_new(ax, figsize=(8.0, 0.45 * max(len(e), 3) + 1.2))
    scale = 100.0 if outcome != "revenue" else 1.0
    y = np.arange(len(e))[::-1]
    colors = [PALETTE[2] if s else NEUTRAL for s in e["significant"].astype(bool)]
    ax.hlines(y, e["abs_lift_low"] * scale, e["abs_lift_high"] * scale, colors=colors, linewidth=2.5)
    ax.scatter(e["abs_lift"] * scale, y, color=colors, zorder=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [f"{c} · {v}" for c, v in zip(e["campaign_id"], e["variant"], strict=True)])
    ax.set_xlabel(t(f"rea_lift_axis_{'revenue' if outcome == 'revenue' else 'rate'}", lang))
    ax.set_title(t("rea_lift_title", lang, outcome=t(f"rea_outcome_{outcome}", lang)))
    locale_axis(ax, lang, "money" if outcome == "revenue" else "number", axis="x")
    return ax


@styled
def qini_plot(curves: pd.DataFrame, lang: str = "en", ax: Axes | None = None) -> Axes:
    """Qini curves of the uplift model, of targeting by churn risk and of random targeting.

    Parameters
    ----------
    curves : :attr:`analysis.models.uplift.UpliftEvaluation.curves` (``share``, ``qini``, ``ranking``).
    """
    ax = axes_or_new(ax, figsize=(6.5, 4.8))
    styles = {"uplift_model": (PALETTE[0], "-"), "churn_risk": (PALETTE[1], "-"), "random": (NEUTRAL, "--")}
    for name, g in curves.groupby("ranking", sort=False):
        color, ls = styles.get(str(name), (PALETTE[4], "-"))
        ax.plot(g["share"] * 100, g["qini"], color=color, linestyle=ls, label=t(f"rea_ranking_{name}", lang))
    ax.set_xlabel(t("rea_qini_x", lang))
    ax.set_ylabel(t("rea_qini_y", lang))
    ax.set_title(t("rea_qini_title", lang))
    locale_axis(ax, lang, "number", axis="x")
    locale_axis(ax, lang, "number", axis="y")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)  # beside the curves, never over them
    return ax


@styled
def reaction_plot(delays: pd.DataFrame, late_days: int = 7, lang: str = "en", ax: Axes | None = None) -> Axes:
    """Distribution of the days from an alert to the first action (acted alerts), with the 7-day line.

    Parameters
    ----------
    delays : :func:`analysis.metrics.reaction.reaction_delays` (``delay_days``, ``status``).
    """
    ax = axes_or_new(ax, figsize=(8.0, 4.2))
    d = delays.loc[delays["status"].eq("acted"), "delay_days"].to_numpy(dtype=float)
    top = max(float(np.nanmax(d)) if len(d) else 0.0, late_days * 2.0)
    bins = np.arange(0, top + 8, 7)
    ax.hist(d, bins=bins, color=PALETTE[0], edgecolor="white")
    ax.axvline(late_days, color=PALETTE[3], linestyle="--", linewidth=1.2)
    ax.set_xlabel(t("rea_delay_x", lang))
    ax.set_ylabel(t("rea_delay_y", lang))
    ax.set_title(t("rea_delay_title_n", lang, n=fmt_num(len(d), lang)))  # the alerts drawn: acted ones only
    locale_axis(ax, lang, "number", axis="x", integer=True)
    locale_axis(ax, lang, "number", axis="y", integer=True)
    return ax


@styled
def okr_plot(progress: pd.DataFrame, lang: str = "en", ax: Axes | None = None) -> Axes:
    """Progress of each key result (value / target), the target at 100 % and the expected level.

    Parameters
    ----------
    progress : :func:`analysis.metrics.okr.okr_progress`.
    """
    p = progress.reset_index(drop=True)
    ax = axes_or_new(ax, figsize=(8.0, 0.6 * max(len(p), 2) + 1.2))
    y = np.arange(len(p))[::-1]
    share = (p["progress"].astype(float) * 100).fillna(0.0)
    colors = [PALETTE[2] if ok else PALETTE[3] for ok in p["on_track"].astype(bool)]
    ax.barh(y, share, color=colors)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = (p["expected"] / p["target"] * 100).to_numpy(dtype=float)
    ax.scatter(expected, y, marker="|", s=400, color="black", zorder=3)
    ax.axvline(100, color=NEUTRAL, linestyle="--")
    ax.set_yticks(y, [f"KR{k} · {t(f'rea_metric_{m}', lang)}" for k, m in zip(p["kr"], p["metric"], strict=True)])
    ax.set_xlabel(t("rea_okr_x", lang))
    ax.set_title(t("rea_okr_title", lang))
    locale_axis(ax, lang, "number", axis="x")
    return ax
