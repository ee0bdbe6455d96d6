"""Words and tables of the threshold tuning (:mod:`analysis.models.tuning`): the thresholds
in plain language, the recommendation sentences and table, and the ``thresholds:`` YAML
block with its comments, in French or English (labels in ``locales/tuning.yml``)."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import yaml

from analysis.models.tuning import BASE, INTERVAL_OFF, ThresholdTuner
from analysis.reporting.client_tables import sentence_case
from analysis.reporting.i18n import fmt_date, fmt_interval, fmt_num, fmt_pct, plural, t

__all__ = ["criterion_text", "intro_text", "recommendation_sentences", "recommendation_table", "segments_text",
           "threshold_text", "thresholds_yaml", "watch_text", "yaml_markdown"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+!|~-])")


def _md_safe(text: str) -> str:
    """A value from the data (a segment name) safe inside markdown: HTML escaped, markdown
    characters backslash-escaped."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", str(text)), quote=True)


def _label(indicator: str, lang: str) -> str:
    return t(f"aud_ind_{indicator}", lang)


def _points(x, lang: str, unit: bool = True) -> str:
    """A difference of two shares (a gain in precision, recall or false alarms avoided) in
    signed points with one decimal (``+4,7 points``; ``+4,7`` without ``unit``, for the bounds
    of its interval); ``–`` when missing."""
    if x is None or pd.isna(x):
        return "–"
    s = fmt_num(100 * float(x), lang, 1)
    s = s if s.startswith("-") else "+" + s
    return f"{s} {t('tun_points', lang)}" if unit else s


def _lift(x, lang: str) -> str:
    """A lift or a bound of its interval: ``∞``, two decimals below 10, one above (``4,75``,
    ``9,10``, ``16,7``), the same rule for the value and both bounds."""
    if x is None or pd.isna(x):
        return "–"
    return "∞" if np.isinf(x) else fmt_num(x, lang, 2 if abs(float(x)) < 10 else 1)


def threshold_text(indicator: str, params: dict, lang: str = "en") -> str:
    """A candidate's thresholds in plain words (e.g. "basket down more than 30 % or
    purchase interval ×2.0 or revenue share down 50 %"); switched-off parts are left out."""
    if indicator == "frequency":
        return t("tun_thr_freq", lang, drop=fmt_pct(params["freq_drop"], lang, 0),
                 months=plural("tun_months", int(params["freq_months"]), lang))
    if indicator == "recency":
        return t("tun_thr_recency", lang, days=int(params["recency_alert_days"]))
    if indicator == "nps":
        return t("tun_thr_nps", lang, points=int(params["nps_drop"]))
    if indicator == "usage":
        return t("tun_thr_usage", lang, drop=fmt_pct(params["usage_drop"], lang, 0))
    parts = []
    if params.get("basket_drop", 1.0) < 1.0:
        parts.append(t("tun_thr_basket", lang, drop=fmt_pct(params["basket_drop"], lang, 0)))
    if params.get("interval_drift", INTERVAL_OFF) < INTERVAL_OFF:
        parts.append(t("tun_thr_interval", lang, ratio=fmt_num(1 + params["interval_drift"], lang, 2)))
    if "share_drop" in params:
        parts.append(t("tun_thr_share", lang, drop=fmt_pct(params["share_drop"], lang, 0)))
    return t("tun_thr_or", lang).join(parts)


def criterion_text(tuner: ThresholdTuner, lang: str = "en") -> str:
    """The selection criterion in words."""
    if tuner.objective == "precision":
        return t("tun_criterion_precision", lang, lead=fmt_num(tuner.min_median_lead_weeks, lang),
                 floor=fmt_pct(tuner.recall_floor, lang, 0))
    return t("tun_criterion_recall", lang, lead=fmt_num(tuner.min_median_lead_weeks, lang),
             budget=fmt_pct(tuner.far_budget, lang, 0))


def intro_text(tuner: ThresholdTuner, lang: str = "en") -> str:
    """How the thresholds were chosen and checked (numbers of candidates and departures)."""
    r = tuner.recommendations_.loc[tuner.recommendations_["scope"].eq(BASE)].iloc[0]
    if not tuner.split_ok_:
        return t("tun_intro_no_split", lang, n_lost=tuner.n_lost_)
    return t("tun_intro", lang, n_candidates=len(tuner.candidates_), n_tune=int(r["n_lost_tune"]),
             n_eval=int(r["n_lost_eval"]), split=fmt_date(tuner.split_date_, lang), criterion=criterion_text(tuner, lang),
             level=fmt_pct(tuner.confidence, lang, 0))


def _arrow(a, b, fmt) -> str:
    return f"{fmt(a)} → {fmt(b)}"


def recommendation_table(tuner: ThresholdTuner, lang: str = "en", scope: str = BASE) -> pd.DataFrame:
    """One row per available tuned indicator: default and tuned thresholds, precision,
    recall and median lead (default → tuned) on the later departures, the tuned lift with its
    interval, the gain with its interval, and the decision."""
    rows = []
    r = tuner.recommendations_
    for rec in r.loc[r["scope"].eq(scope) & r["status"].ne("not_available")].itertuples(index=False):
        d = rec._asdict()
        tuned = d["tuned"] if pd.notna(d["tuned"]) else d["default"]
        which = "tuned" if pd.notna(d["tuned"]) else "default"
        lift = d[f"eval_lift_{which}"]
        decision = t(f"tun_status_{rec.status}", lang)
        if rec.informative is False:
            decision += t("tun_uninformative_suffix", lang)
        rows.append({
            "indicator": sentence_case(_label(rec.indicator, lang)),
            "default": sentence_case(threshold_text(rec.indicator, tuner.params_of(int(d["default"])), lang)),
            "tuned": sentence_case(threshold_text(rec.indicator, tuner.params_of(int(tuned)), lang)),
            "precision": _arrow(d["eval_precision_default"], d["eval_precision_tuned"], lambda v: fmt_pct(v, lang, 0))
            + " " + fmt_interval(fmt_pct(d["eval_precision_low_tuned"], lang, 0),
                                 fmt_pct(d["eval_precision_high_tuned"], lang, 0), lang),
            "recall": _arrow(d["eval_recall_default"], d["eval_recall_tuned"], lambda v: fmt_pct(v, lang, 0)),
            "lead": _arrow(d["eval_median_lead_weeks_default"], d["eval_median_lead_weeks_tuned"],
                           lambda v: fmt_num(v, lang, 1)),
            "lift": _lift(lift, lang) + " " + fmt_interval(_lift(d[f"eval_lift_low_{which}"], lang),
                                                           _lift(d[f"eval_lift_high_{which}"], lang), lang),
            "gain": "–" if pd.isna(d["gain_low"]) else
            f"{_points(d['gain'], lang)} "
            + fmt_interval(_points(d["gain_low"], lang, False), _points(d["gain_high"], lang, False), lang),
            "decision": sentence_case(decision),
        })
    out = pd.DataFrame(rows, columns=["indicator", "default", "tuned", "precision", "recall", "lead", "lift", "gain",
                                      "decision"])
    return out.rename(columns={c: t(f"tun_col_{c}", lang) for c in out.columns})


def recommendation_sentences(tuner: ThresholdTuner, lang: str = "en", scope: str = BASE) -> list[str]:
    """One sentence per available tuned indicator (markdown), every figure from the later
    departures; an uninformative indicator gets the switch-off sentence as well."""
    out = []
    r = tuner.recommendations_
    for rec in r.loc[r["scope"].eq(scope) & r["status"].ne("not_available")].itertuples(index=False):
        d = rec._asdict()
        pct = lambda v: fmt_pct(v, lang, 0)  # noqa: E731
        num = lambda v, k=2: fmt_num(v, lang, k)  # noqa: E731
        kw = {
            "indicator": _label(rec.indicator, lang),
            "default": threshold_text(rec.indicator, tuner.params_of(int(d["default"])), lang),
            "tuned": threshold_text(rec.indicator, tuner.params_of(int(d["tuned"])), lang)
            if pd.notna(d["tuned"]) else "",
            "p_default": pct(d["eval_precision_default"]), "p_tuned": pct(d["eval_precision_tuned"]),
            "r_default": pct(d["eval_recall_default"]), "r_tuned": pct(d["eval_recall_tuned"]),
            "lead": num(d["eval_median_lead_weeks_tuned"], 1), "lead_default": num(d["eval_median_lead_weeks_default"], 1),
            "lift": _lift(d["eval_lift_tuned"], lang),
            "lift_low": _lift(d["eval_lift_low_tuned"], lang), "lift_high": _lift(d["eval_lift_high_tuned"], lang),
            "measure": t(f"tun_measure_{d['gain_measure']}", lang),
            "gain": _points(d.get("gain"), lang), "gain_low": _points(d.get("gain_low"), lang, False),
            "gain_high": _points(d.get("gain_high"), lang, False),
        }
        out.append(t(f"tun_sentence_{rec.status}", lang, **kw))
        if rec.informative is False:
            out.append(t("tun_sentence_uninformative", lang, indicator=kw["indicator"], code=rec.indicator))
    return out


def watch_text(tuner: ThresholdTuner, lang: str = "en") -> str:
    """The indicators worth watching on this base, or that none is."""
    watch = tuner.watch()
    if not watch:
        return t("tun_watch_none", lang)
    return t("tun_watch", lang, indicators=", ".join(_label(i, lang) for i in watch))


def segments_text(tuner: ThresholdTuner, lang: str = "en") -> str:
    """Which segments were tuned on their own (names from the data, escaped), or that none was."""
    segs = sorted(set(tuner.recommendations_["scope"]) - {BASE})
    if not segs:
        return t("tun_segments_none", lang, min_lost=tuner.min_segment_lost)
    return t("tun_segments_some", lang, min_lost=tuner.min_segment_lost, segments=", ".join(_md_safe(s) for s in segs))


def yaml_markdown(tuner: ThresholdTuner, lang: str = "en", switch_off: bool = False) -> str:
    """:func:`thresholds_yaml` as an indented markdown code block: every line is indented,
    so nothing in it (a segment name) is read as markup; it is shown verbatim."""
    text = thresholds_yaml(tuner, lang=lang, switch_off=switch_off)
    return "\n".join("    " + line for line in text.splitlines())


def thresholds_yaml(tuner: ThresholdTuner, current: dict | None = None, lang: str = "en",
                    switch_off: bool = False) -> str:
    """The suggested ``thresholds:`` block as YAML text, with comment lines saying where it
    comes from and, unless ``switch_off``, the uninformative indicators as a commented
    ``disabled:`` line. ``basket_drop: 1.0`` / ``interval_drift: 1000`` switch a value component off."""
    block = tuner.thresholds_block(current, switch_off=switch_off)
    body = yaml.safe_dump({"thresholds": block}, sort_keys=False, allow_unicode=True, default_flow_style=False)
    lines = [
        "# " + t("tun_yaml_intro", lang, as_of=fmt_date(tuner.as_of_, lang), n_lost=tuner.n_lost_,
                 n_retained=tuner.n_retained_),
        "# " + t("tun_yaml_criterion", lang, criterion=criterion_text(tuner, lang)),
        "# " + t("tun_yaml_paste", lang),
    ]
    for sentence in recommendation_sentences(tuner, lang):
        lines.append("#   - " + sentence.replace("**", ""))
    text = "\n".join(lines) + "\n" + body
    off = tuner.uninformative()
    if off and not switch_off:
        text += "  # " + t("tun_yaml_off", lang) + "\n  # disabled: [" + ", ".join(off) + "]\n"
    return text
