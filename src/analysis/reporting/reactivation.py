"""Words for notebook 05 (re-activation): the numbers of the metrics and models, as sentences.

Every function takes a result of :mod:`analysis.metrics.campaigns`, :mod:`analysis.metrics.targeting`,
:mod:`analysis.models.uplift`, :mod:`analysis.metrics.reaction`, :mod:`analysis.metrics.cycles`
or :mod:`analysis.metrics.okr` and returns Markdown (or a client-ready table) in ``fr`` or
``en``. Values coming from the export or dataset.yml (campaign ids, names, objectives,
segments) are HTML-escaped. Every sentence carries its number and, for an effect, its
interval; a difference whose interval includes zero, or whose interval excludes zero but
which is not significant after Holm's correction over the page's comparisons, is said not
to be a finding.
"""

from __future__ import annotations

import functools
import html
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics.campaigns import n_comparisons
from analysis.reporting.client_tables import french_spaces
from analysis.reporting.i18n import fmt_date, fmt_money, fmt_num, fmt_pct, plural, t
from analysis.reporting.reactivation_tables import action_text, period_text, population_text

__all__ = [
    "DETAILED_VARIANTS",
    "balance_markdown",
    "campaign_markdown",
    "intro_markdown",
    "okr_markdown",
    "okr_records",
    "plan_markdown",
    "reaction_markdown",
    "summary_sentences",
    "sunset_markdown",
    "uplift_markdown",
]


def _typeset(func: Callable[..., str]) -> Callable[..., str]:
    """The Markdown of ``func`` with French typography when its ``lang`` is ``fr``: the spaces
    inside a number, before a unit and before ``;`` made narrow no-break spaces
    (:func:`analysis.reporting.client_tables.french_spaces`), so that ``1 890 €`` or
    ``[+0,1 ; +31,4]`` never breaks across two lines."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs) -> str:
        text = func(*args, **kwargs)
        return french_spaces(text) if signature.bind(*args, **kwargs).arguments.get("lang") == "fr" else text

    return wrapper


def _e(value: Any) -> str:
    return html.escape(str(value))


def _verdict(significant: bool, low: float, high: float, n: int, lang: str) -> str:
    """"A real effect" only when significant after Holm's correction over the ``n`` comparisons;
    an interval excluding 0 that does not survive the correction is said to be chance."""
    if significant:
        return t("rea_verdict_significant", lang)
    if n > 1 and pd.notna(low) and pd.notna(high) and (low > 0 or high < 0):
        return t("rea_verdict_chance_holm", lang, n=fmt_num(n, lang))
    return t("rea_verdict_not_significant", lang)


def _pts(x: float, lang: str) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    s = fmt_num(100 * float(x), lang, 1)
    return s if s.startswith("-") or s == "–" else f"+{s}"


@_typeset
def intro_markdown(interventions: pd.DataFrame, effects: pd.DataFrame, as_of: str, lang: str) -> str:
    """Counts of actions, customers and campaigns (with a control group) before ``as_of``."""
    cut = pd.Timestamp(as_of)
    iv = interventions.loc[interventions["action_date"] < cut]
    with_control = effects.loc[effects["n_control"] > 0, "campaign_id"].nunique()
    return t("rea_intro", lang, date=fmt_date(as_of, lang), n_actions=fmt_num(len(iv), lang),
             n_customers=fmt_num(iv["customer_id"].nunique(), lang),
             campaigns=plural("rea_n_campaigns", iv["campaign_id"].dropna().nunique(), lang),
             n_with_control=fmt_num(with_control, lang))


#: Up to this many campaign variants, the page gives each its own sentence; beyond, only the
#: variants with a real effect (and those whose window is still open) get one, the others are
#: counted in one sentence and shown in the table below it.
DETAILED_VARIANTS = 5


@_typeset
def campaign_markdown(effects: pd.DataFrame, lang: str, currency: str = "EUR", as_of: str | None = None) -> str:
    """Sizes, purchase rates, lift with interval, value and ROI of the campaign variants.

    With more than :data:`DETAILED_VARIANTS` variants, one sentence counts them by verdict
    (real effect, not distinguishable from chance, no control group) and only the real
    effects and the open windows are written out: a difference that is not significant is not
    a finding to tell, and the table below the text gives every variant.

    A real effect is one that stays significant after Holm's correction over the page's
    comparisons (``p_holm`` of :func:`analysis.metrics.campaigns.analyse_campaigns`); when there
    are several, a last line says so once, and a variant whose 95 % interval excludes 0 without
    surviving the correction is said to be not distinguishable from chance once the
    comparisons are taken into account."""
    if effects.empty:
        return t("rea_no_campaigns", lang, date=fmt_date(as_of, lang))
    lines = []
    outcome = "purchase" if effects["outcome"].eq("purchase").any() else "reactivated"
    purchase = effects.loc[effects["outcome"].eq(outcome)].sort_values(["action_date", "campaign_id", "variant"])
    rev = effects.loc[effects["outcome"].eq("revenue")].set_index(["campaign_id", "variant"])
    head = ""
    n_family = n_comparisons(effects, outcome)
    if len(purchase) > DETAILED_VARIANTS:
        measured = purchase["status"].isin(["ok", "too_small"])
        real = measured & purchase["significant"].astype(bool)
        head = t("rea_campaign_overview", lang, n=fmt_num(len(purchase), lang), outcome=t(f"rea_outcome_{outcome}", lang),
                 real=fmt_num(int(real.sum()), lang), chance=fmt_num(int((measured & ~real).sum()), lang),
                 no_control=fmt_num(int(purchase["status"].eq("no_control").sum()), lang),
                 open=fmt_num(int(purchase["status"].eq("window_open").sum()), lang),
                 below=t("rea_campaign_overview_below", lang) if real.any() else "") + "\n\n"
        purchase = purchase.loc[real | purchase["status"].eq("window_open")]
    for r in purchase.itertuples(index=False):  # a loop over the campaigns (a handful a year)
        common = {"campaign": _e(r.campaign_id), "variant": _e(r.variant), "action": _e(action_text(r.action, lang)),
                  "date": fmt_date(r.action_date, lang), "days": r.window_days}
        if r.status in ("window_open", "no_control") and pd.notna(r.variant):
            common["campaign"] += f" · {common['variant']}"   # these sentences name the campaign only
        if r.status == "window_open":
            lines.append(t("rea_campaign_open", lang, **common))
            continue
        if r.status == "no_control":
            lines.append(t("rea_campaign_no_control", lang, outcome=t(f"rea_outcome_{outcome}", lang),
                           n_t=fmt_num(r.n_treatment, lang),
                           before=fmt_pct(r.before_value, lang), after=fmt_pct(r.treatment_value, lang), **common))
            continue
        verdict = _verdict(bool(r.significant), r.abs_lift_low, r.abs_lift_high,
                           n_family if r.status == "ok" else 0, lang)   # too small: not in the family
        text = t("rea_campaign_ok", lang, outcome=t(f"rea_outcome_{outcome}", lang), n_t=fmt_num(r.n_treatment, lang), n_c=fmt_num(r.n_control, lang),
                 rate_t=fmt_pct(r.treatment_value, lang), rate_c=fmt_pct(r.control_value, lang),
                 lift=_pts(r.abs_lift, lang), low=_pts(r.abs_lift_low, lang), high=_pts(r.abs_lift_high, lang),
                 verdict=verdict, **common)
        if r.status == "too_small":
            text += " " + t("rea_campaign_small", lang, n=10)
        if (r.campaign_id, r.variant) in rev.index:
            v = rev.loc[(r.campaign_id, r.variant)]
            if v["roi_status"] == "ok":
                text += " " + t("rea_campaign_value", lang, value=fmt_money(v["incremental"], lang, currency),
                                low=fmt_money(v["incremental_low"], lang, currency),
                                high=fmt_money(v["incremental_high"], lang, currency),
                                roi=fmt_num(v["roi"], lang, 1), roi_low=fmt_num(v["roi_low"], lang, 1),
                                roi_high=fmt_num(v["roi_high"], lang, 1), cost=fmt_money(v["cost"], lang, currency))
        lines.append(text)
    foot = ("\n\n" + t("rea_campaign_holm", lang, n=fmt_num(n_family, lang), outcome=t(f"rea_outcome_{outcome}", lang))
            if n_family > 1 else "")
    return head + "\n\n".join(f"- {line}" for line in lines) + foot


@_typeset
def balance_markdown(balance: pd.DataFrame, lang: str) -> str:
    """How many pre-campaign comparisons are imbalanced beyond 0.1 standardised difference."""
    return t("rea_balance", lang, flagged=fmt_num(int(balance["flagged"].sum()), lang), n=fmt_num(len(balance), lang))


@_typeset
def uplift_markdown(evaluation, lang: str) -> str:
    """The uplift model's held-out Qini (with intervals) against churn-risk targeting and random,
    or why it was not fitted. The model is said to beat a ranking only when the interval (of its
    Qini, or of the paired difference with churn-risk targeting) lies above 0."""
    if evaluation.status != "ok":
        return t("rea_uplift_small", lang, reason=_e(evaluation.reason))
    q, ci = evaluation.qini, evaluation.qini_ci
    if evaluation.beats_churn_risk:
        verdict = t("rea_uplift_better", lang)
    elif evaluation.beats_random and evaluation.qini_vs_churn_risk is not None:
        d, lo, hi = evaluation.qini_vs_churn_risk
        verdict = t("rea_uplift_better_random", lang, diff=fmt_num(d, lang, 2), lo=fmt_num(lo, lang, 2),
                    hi=fmt_num(hi, lang, 2))
    else:
        verdict = t("rea_uplift_not_better", lang)
    return t("rea_uplift_ok", lang, n_train=fmt_num(evaluation.n_train, lang), n_test=fmt_num(evaluation.n_test, lang),
             q_model=fmt_num(q["uplift_model"], lang, 2), q_model_lo=fmt_num(ci["uplift_model"][0], lang, 2),
             q_model_hi=fmt_num(ci["uplift_model"][1], lang, 2), q_risk=fmt_num(q["churn_risk"], lang, 2),
             q_risk_lo=fmt_num(ci["churn_risk"][0], lang, 2), q_risk_hi=fmt_num(ci["churn_risk"][1], lang, 2),
             verdict=verdict)


@_typeset
def plan_markdown(plan, target: str, holdout: float, seed: int, lang: str) -> str:
    """The planned campaign: sizes, control group and the minimum detectable effect next to "up to 20 %"."""
    n = len(plan.assignments)
    if plan.mde_purchase is None:
        why = "n = 0" if min(plan.n_treatment, plan.n_control) == 0 else f"base {fmt_pct(plan.baseline_purchase, lang)}"
        return t("rea_plan_none", lang, target=_e(population_text(target, lang)), n=fmt_num(n, lang), why=why)
    compare = t("rea_plan_compare_ok" if plan.mde_purchase <= 0.20 else "rea_plan_compare_weak", lang)
    return t("rea_plan", lang, target=_e(population_text(target, lang)), n=fmt_num(n, lang), unsub=fmt_num(plan.excluded_unsubscribed, lang),
             n_t=fmt_num(plan.n_treatment, lang), n_c=fmt_num(plan.n_control, lang), holdout=fmt_pct(holdout, lang, 0),
             seed=seed, mde=fmt_num(100 * plan.mde_purchase, lang, 1), base=fmt_pct(plan.baseline_purchase, lang),
             compare=compare)


@_typeset
def reaction_markdown(overall: pd.DataFrame, weeks: int, lang: str) -> str:
    """The reaction delay in one paragraph, from :func:`analysis.metrics.reaction.reaction_summary`."""
    r = overall.iloc[0]
    share = r["share_over_7"]
    verdict = t("rea_reaction_watching" if (pd.notna(share) and share > 0.5) else "rea_reaction_managing", lang)
    return t("rea_reaction", lang, alerts=fmt_num(r["alerts"], lang), weeks=weeks, acted=fmt_num(r["acted"], lang),
             median=fmt_num(r["median_days"], lang), p75=fmt_num(r["p75_days"], lang), late=fmt_pct(share, lang),
             none=fmt_num(r["no_action"], lang), verdict=verdict)


@_typeset
def sunset_markdown(lists: pd.DataFrame, failed_cycles: int, lang: str) -> str:
    """Customers with cycles, on the separate list, and removal candidates."""
    counts = lists["list_status"].value_counts()
    return t("rea_sunset_n", lang, with_cycles=fmt_num(int((lists["cycles"] > 0).sum()), lang),
             separate=plural("rea_sunset_separate", int(counts.get("separate_list", 0)), lang),
             removal=plural("rea_sunset_removal", int(counts.get("removal_candidate", 0)), lang),
             failed=fmt_num(failed_cycles, lang))


def _okr_status(r) -> str:
    if r.status == "not_started":
        return "not_started"
    if r.status == "closed":
        return "achieved" if r.achieved else "missed"
    return "on_track" if r.on_track else "behind"


def objective_title(objective: str, config, lang: str) -> str:
    """An objective of dataset.yml in the report's language (:meth:`DatasetConfig.objective_in`),
    else the neutral "Objective N" (N its rank in dataset.yml); the text itself without ``config``."""
    if config is None:
        return objective
    title = config.objective_in(objective, lang)
    if title:
        return title
    rank = next((i for i, o in enumerate(config.objectives, start=1) if o.objective == objective), 1)
    return t("rea_objective_untitled", lang, n=rank)


@_typeset
def okr_markdown(progress: pd.DataFrame, lang: str, currency: str = "EUR", config=None) -> str:
    """One line per key result: value against target and status; with the dataset's ``config``,
    each objective in the report's language (:func:`objective_title`)."""
    if progress.empty:
        return t("rea_okr_none", lang)
    lines = []
    for r in progress.itertuples(index=False):  # a loop over the few key results
        money = r.metric == "revenue"
        rate = r.metric in ("reactivation_rate", "repurchase_rate", "retention")

        def fmt(v, money=money, rate=rate):
            return fmt_money(v, lang, currency) if money else (fmt_pct(v, lang) if rate else fmt_num(v, lang, 1))

        lines.append(t("rea_okr_line", lang, objective=_e(objective_title(r.objective, config, lang)), kr=r.kr,
                       metric=t(f"rea_metric_{r.metric}", lang), population=_e(population_text(r.population, lang)),
                       period=_e(period_text(r.period, lang, getattr(r, "start", None), getattr(r, "end", None))), value=fmt(r.value), target=fmt(r.target),
                       status=t(f"rea_okr_status_{_okr_status(r)}", lang)))
    return "\n\n".join(f"- {line}" for line in lines)


def summary_sentences(sidecar: dict[str, Any] | None, lang: str) -> list[str]:
    """Sentences for the executive summary from notebook 05's key figures (empty if absent).

    Not HTML-escaped: the index template escapes every value it renders.
    """
    if not sidecar:
        return []
    out = []
    head = (sidecar.get("campaigns") or {}).get("headline")
    if head:
        lo, hi = head["purchase_lift_ci"]
        verdict = _verdict(bool(head["significant"]), lo, hi, int(head.get("n_comparisons") or 0), lang)
        out.append(t("rea_summary_campaign", lang, outcome=t(f"rea_outcome_{head.get('outcome', 'purchase')}", lang),
                     campaign=head["campaign_id"], variant=head["variant"],
                     lift=_pts(head["purchase_lift"], lang), low=_pts(lo, lang), high=_pts(hi, lang), verdict=verdict))
    okr = sidecar.get("okr") or []
    if okr:
        good = sum(1 for k in okr if k.get("status_code") in ("achieved", "on_track"))
        out.append(plural("rea_summary_okr_n", good, lang, total=len(okr)))
    reaction = sidecar.get("reaction") or {}
    if reaction.get("median_days") is not None:
        out.append(t("rea_summary_reaction", lang, median=fmt_num(reaction["median_days"], lang),
                     late=fmt_pct(reaction.get("share_over_7"), lang)))
    return out


def okr_records(progress: pd.DataFrame) -> list[dict[str, Any]]:
    """Key results as plain records with a ``status_code`` (for the sidecar)."""
    return [{"objective": r.objective, "kr": int(r.kr), "metric": r.metric, "target": float(r.target),
             "value": None if pd.isna(r.value) else float(r.value), "status_code": _okr_status(r)}
            for r in progress.itertuples(index=False)]
