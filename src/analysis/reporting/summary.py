"""The executive summary of the monthly report and the ``index.html`` that opens it.

:func:`executive_summary` turns the merged sidecars (``summary.json``) into formatted,
translated text: headline KPIs of the month versus the previous month, the alerts, the
retro-audit verdict, the decay trend, the top priorities and at most three decisions
(SPEC section 5, monthly KPI review).

The figures it reads are declared, per notebook, by one schema (:data:`SCHEMAS`, a
``TypedDict`` per notebook): each notebook records its typed result's ``key_figures()``
(:class:`analysis.metrics.kpis.BaseHealth`, :class:`analysis.models.audit.RetroAudit`,
:class:`analysis.metrics.cohorts.CohortDecay`, the churn-risk result), a test checks that
every producer writes every key of its schema, and the summary can read no other key. The
data holds numbers and codes only (alert, decision, verdict, trend, action codes); the
words come from ``locales/*.yml`` here. A notebook that did not run, or a figure that is
null (a table the export lacks), simply removes its part.

:func:`render_index` writes ``index.html`` from ``templates/index.html.j2``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict

from analysis.reporting.error_text import error_text
from analysis.reporting.i18n import (
    check_lang,
    fmt_date,
    fmt_kpi,
    fmt_money,
    fmt_num,
    fmt_pct,
    is_share_kpi,
    plural,
    t,
    texts,
)
from analysis.reporting.narrative import month_alert_texts, month_decision_texts

__all__ = ["MAX_DECISIONS", "MAX_PRIORITIES", "ALPHA", "fmt_p", "KPI_ORDER", "kpi_label", "kpi_sort_key", "fmt_kpi",
           "BaseHealthFigures", "RetroAuditFigures", "CohortDecayFigures", "ChurnRiskFigures", "SCHEMAS",
           "missing_keys", "executive_summary", "render_index"]


# ----------------------------------------------------------------------------- the schema
class BaseHealthFigures(TypedDict):
    """``01_base_health``: :meth:`analysis.metrics.kpis.BaseHealth.key_figures`."""

    customers: int
    active_customers: int
    month: str | None  # report month YYYY-MM
    kpis_month: dict[str, float | None]
    kpis_prev_month: dict[str, float | None]
    alerts: list[dict[str, Any]]  # kind, code, kpi, value, threshold (kpis.month_alerts)
    decisions: list[str]  # decision codes (kpis.DECISIONS)
    quarantined_rows: int


class _RetroAuditTuningFigures(TypedDict, total=False):
    """Optional ``02_retro_audit`` figures of the threshold tuning (issue #15,
    :meth:`analysis.models.tuning.ThresholdTuner.key_figures`): indicator codes."""

    tuning_watch: list[str]
    tuning_uninformative: list[str]


class RetroAuditFigures(_RetroAuditTuningFigures):
    """``02_retro_audit``: :meth:`analysis.models.audit.RetroAudit.key_figures` (and, optionally,
    the threshold tuning's)."""

    n_lost: int
    share_signal_min_lead: float
    share_signal_min_lead_ci: list[float]
    min_lead_weeks: int
    false_alarm_any: float
    verdict: str  # audit.VERDICTS
    silent_churners: int
    preventable_revenue: float
    signals_discriminate: bool
    watch_first: list[str]  # indicator codes


class CohortDecayFigures(TypedDict):
    """``03_cohort_decay``: :meth:`analysis.metrics.cohorts.CohortDecay.key_figures`."""

    retention_3m: float | None
    retention_6m: float | None
    retention_12m: float | None
    trend: str | None  # improving / worsening / stable
    trend_delta: float | None  # percentage points
    trend_p: float | None  # test of the difference: improving / worsening is a finding only if < ALPHA
    fastest_segment: str | None
    median_lifetime_months: float | None
    fastest_segment_retention_12m: float | None
    logrank_p: float | None  # log-rank test across segments: "fastest" is a finding only if < ALPHA


class _ChurnRiskComparisonFigures(TypedDict, total=False):
    """Optional ``04_churn_risk`` figure (:func:`analysis.reporting.risk_text.sidecar_summary`): the
    model's AUC lead over each baseline with its 95 % bootstrap interval, ``{baseline: {diff, low,
    high, p, significant, ...}}`` (:func:`analysis.models.auc_compare.compare_to_baselines`)."""

    auc_vs_baselines: dict[str, dict[str, Any]]


class ChurnRiskFigures(_ChurnRiskComparisonFigures):
    """``04_churn_risk``: the churn-risk result's key figures (``ScoreResult.key_figures()``)."""

    auc_model: float | None
    auc_recency: float | None
    auc_bgnbd: float | None
    best_model: str | None
    n_priority_1: int
    # customer_id, churn_probability, value, expected_value_at_risk, recommended_action (code), reasons
    top_priorities: list[dict[str, Any]]


#: notebook stem -> the schema of the key figures the executive summary reads from it.
SCHEMAS: dict[str, type] = {
    "01_base_health": BaseHealthFigures,
    "02_retro_audit": RetroAuditFigures,
    "03_cohort_decay": CohortDecayFigures,
    "04_churn_risk": ChurnRiskFigures,
}


def missing_keys(notebook: str, figures: Mapping[str, Any]) -> list[str]:
    """The required keys of ``notebook``'s schema (:data:`SCHEMAS`) that ``figures`` lacks."""
    schema = SCHEMAS[notebook]
    return [k for k in schema.__annotations__ if k in schema.__required_keys__ and k not in figures]


class _Figures(dict):
    """One notebook's sidecar restricted to its schema: reading an undeclared key is an error
    (so the summary cannot depend on a figure no schema promises); an absent figure is None."""

    def __init__(self, notebook: str, sidecar: Mapping[str, Any] | None):
        self._keys = tuple(SCHEMAS[notebook].__annotations__)
        super().__init__({k: (sidecar or {}).get(k) for k in self._keys})
        self._present = bool(sidecar)

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(f"'{key}' is not in the declared key figures {self._keys}")
        return super().__getitem__(key)

    def get(self, key, default=None):
        value = self[key]
        return default if value is None else value

    def __bool__(self) -> bool:
        return self._present


#: SPEC section 5: "at most three decisions" per monthly review.
MAX_DECISIONS = 3
#: Rows of the top-priorities table in the index.
MAX_PRIORITIES = 10
#: Significance level: a difference is a finding only when its test gives p < ALPHA, otherwise a
#: trend shown with its p-value (STYLE: "a non-significant difference is not a finding").
ALPHA = 0.05


def fmt_p(p: float | None, lang: str) -> str:
    """A p-value with its sign: ``p = 0,14`` (two decimals), ``p = 0,032`` (three under 0.1),
    ``p < 0,001`` below that, ``p = –`` when there is none."""
    if p is None:
        return "p = –"
    if p < 0.001:
        return "p < " + fmt_num(0.001, lang, 3)
    return "p = " + fmt_num(p, lang, 3 if p < 0.1 else 2)

#: Dashboard order of the KPI table (the same order every month, SPEC section 5): customer
#: KPIs, inactivity level shares, email KPIs, inactivity rates; any other KPI after them.
KPI_ORDER: tuple[str, ...] = (
    "customers", "active_customers", "new_customers", "lost_customers", "churn_rate", "revenue",
    "level_*", "deliverability", "hard_bounce_rate", "soft_bounce_rate", "open_rate", "click_rate",
    "ctor", "response_rate", "unsubscribe_rate", "complaint_rate", "inactivity_rate_*",
)



def kpi_label(key: str, lang: str) -> str:
    """The label of a KPI key: ``kpi_<key>`` or ``report_kpi_<key>`` from the locale files,
    else the key itself with spaces for underscores."""
    for candidate in (f"kpi_{key}", f"report_kpi_{key}", key):
        entry = texts().get(candidate)
        if isinstance(entry, dict) and lang in entry:
            return entry[lang]
    return key.replace("_", " ")


def kpi_sort_key(key: str) -> tuple[int, int, str]:
    """Position of a KPI in :data:`KPI_ORDER` (``level_30_share`` and ``inactivity_rate_90``
    sort by their number of days); unknown KPIs come last, alphabetically."""
    for i, name in enumerate(KPI_ORDER):
        if name == key:
            return (i, 0, key)
        if name.endswith("*") and key.startswith(name[:-1]):
            m = re.search(r"\d+", key[len(name) - 1:])
            return (i, int(m.group()) if m else 0, key)
    return (len(KPI_ORDER), 0, key)


def _num(v: Any) -> float | None:
    if isinstance(v, dict):
        v = v.get("value")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _change(key: str, now: Any, prev: Any, lang: str) -> str:
    """The month-on-month change: points for shares, a relative change otherwise."""
    a, b = _num(now), _num(prev)
    if a is None or b is None:
        return "–"
    k = key.lower()
    if is_share_kpi(k) or (isinstance(now, dict) and now.get("unit") == "pct"):
        d = 100 * (a - b)
        s = fmt_num(abs(d), lang, 2 if 0 < abs(d) < 0.1 else 1)
        return f"{_sign(d, s)}{s} {t('report_points', lang)}"
    if b == 0:
        return "–"
    r = (a - b) / abs(b)
    s = fmt_pct(abs(r), lang)
    return _sign(r, s) + s


def _sign(x: float, shown: str) -> str:
    """``+`` or ``-`` for a change, nothing when it rounds to zero (no ``-0,0``)."""
    if not re.search(r"[1-9]", shown):
        return ""
    return "+" if x > 0 else "-"


def _label_or(key: str, lang: str, fallback: str) -> str:
    entry = texts().get(key)
    return entry[lang] if isinstance(entry, dict) and lang in entry else fallback


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _action(code: Any, lang: str) -> str:
    """A recommended action: its code (``personal_call``...) as the ``sig_action_<code>`` label."""
    return _label_or(f"sig_action_{code}", lang, _str(code))


def executive_summary(summary: dict[str, Any], lang: str = "fr", currency: str = "EUR") -> dict[str, Any]:
    """The executive summary, formatted for ``lang``, from the merged notebook sidecars.

    Parameters
    ----------
    summary : ``{notebook_stem: sidecar}`` as in ``summary.json``. The keys read are those
        of :data:`SCHEMAS` (:class:`BaseHealthFigures`, :class:`RetroAuditFigures`,
        :class:`CohortDecayFigures`, :class:`ChurnRiskFigures`); a missing notebook or a null
        figure removes its part. The audit decision is skipped when the signals do not
        discriminate; ``trend_delta`` is in percentage points
        (:func:`analysis.metrics.cohorts.retention_trend`); a priority's
        ``recommended_action`` is a code of :data:`analysis.metrics.priority.ACTIONS`, shown
        with its ``sig_action_<code>`` label.
    lang : ``fr`` or ``en``.
    currency : ISO code of the amounts.

    Returns
    -------
    dict with ``headline`` (list of sentences), ``kpis`` (rows: label, month, previous,
    change), ``month``, ``previous_month``, ``alerts`` (texts), ``audit`` (sentences),
    ``decay`` (sentences), ``risk`` (sentences), ``priorities`` (rows of formatted cells),
    ``priority_columns`` (headers), ``decisions`` (at most :data:`MAX_DECISIONS` texts),
    ``reactivation`` (sentences from ``05_reactivation``: campaign, OKRs, reaction delay),
    ``appendix`` (the model's name and technical measures, the significance rule) and
    ``has_base`` (True if the base-health figures are there, so "no alert" means no alert).
    Empty lists where the figures are absent.
    """
    check_lang(lang)
    base, audit, decay, risk = (_Figures(name, summary.get(name)) for name in SCHEMAS)
    out: dict[str, Any] = {"headline": [], "kpis": [], "month": None, "previous_month": None,
                           "appendix": [], "alerts": [], "audit": [], "decay": [], "risk": [], "priorities": [],
                           "priority_columns": [], "decisions": [], "has_base": bool(base)}

    # -- headline and KPIs of the month vs the previous month
    if base.get("customers") is not None:
        active = base.get("active_customers")
        share = (active / base["customers"]) if active is not None and base["customers"] else None
        out["headline"].append(t("report_headline_customers", lang, customers=fmt_num(base["customers"], lang),
                                 active=fmt_num(active, lang), share=fmt_pct(share, lang)))
    month = base.get("month")
    if month:
        out["month"] = _fmt_month(month, lang)
    now = base.get("kpis_month") or {}
    prev = base.get("kpis_prev_month") or {}
    if isinstance(now, dict) and now:
        out["previous_month"] = _fmt_month(_previous_month(month), lang) if month else None
        out["kpis"] = [
            {"label": kpi_label(k, lang), "month": fmt_kpi(k, v, lang, currency),
             "previous": fmt_kpi(k, prev.get(k), lang, currency) if isinstance(prev, dict) else "–",
             "change": _change(k, v, prev.get(k) if isinstance(prev, dict) else None, lang)}
            for k, v in sorted(now.items(), key=lambda kv: kpi_sort_key(kv[0]))
        ]
    out["alerts"] += month_alert_texts(base, lang, currency)  # the same alerts as page 01's

    # -- retro-audit verdict
    if audit.get("share_signal_min_lead") is not None:
        ci = audit.get("share_signal_min_lead_ci") or [None, None]
        ci_text = (t("report_ci", lang, low=fmt_pct(ci[0], lang, 0), high=fmt_pct(ci[1], lang, 0))
                   if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci else "")
        out["audit"].append(t("report_audit_share", lang, share=fmt_pct(audit["share_signal_min_lead"], lang, 0),
                              n=fmt_num(audit.get("n_lost"), lang), weeks=fmt_num(audit.get("min_lead_weeks"), lang),
                              ci=ci_text))
    if audit.get("false_alarm_any") is not None:
        out["audit"].append(t("report_audit_false_alarm", lang, share=fmt_pct(audit["false_alarm_any"], lang, 0)))
    if audit.get("signals_discriminate") is False:
        out["audit"].append(t("report_audit_not_discriminating", lang))
    if audit.get("verdict"):
        v = audit["verdict"]
        text = _label_or(f"report_verdict_{v}", lang, _str(v))
        out["audit"].append(t("report_audit_verdict", lang, verdict=text))
    if audit.get("silent_churners") is not None:
        out["audit"].append(plural("report_audit_silent", audit["silent_churners"], lang))
    if audit.get("preventable_revenue") is not None:
        out["audit"].append(t("report_audit_preventable", lang,
                              amount=fmt_money(audit["preventable_revenue"], lang, currency)))
    out["audit"] += _tuning_sentences(audit, lang)

    # -- decay trend
    ret = [(m, decay.get(f"retention_{m}m")) for m in (3, 6, 12)]
    ret = [(m, v) for m, v in ret if v is not None]
    if ret:
        parts = ", ".join(t("report_retention_at", lang, months=m, share=fmt_pct(v, lang)) for m, v in ret)
        out["decay"].append(t("report_decay_retention", lang, parts=parts))
    if decay.get("trend"):
        tr = decay["trend"]
        tr_text = _label_or(f"report_trend_{tr}", lang, _str(tr))
        delta = decay.get("trend_delta")
        delta_text = (t("report_trend_delta", lang, delta=("+" if delta >= 0 else "-")
                        + fmt_num(abs(delta), lang, 1), points=t("report_points", lang))
                      if isinstance(delta, (int, float)) else "")
        p = decay.get("trend_p")
        if tr == "stable" or p is None and delta is None:
            out["decay"].append(t("report_decay_trend", lang, trend=tr_text, delta=delta_text))
        elif p is not None and p < ALPHA:
            out["decay"].append(t("report_decay_trend_tested", lang, trend=tr_text, delta=delta_text,
                                  p=fmt_p(p, lang)))
        else:  # not significant, or not tested: a tendency, with its p-value
            out["decay"].append(t("report_decay_trend_tendency", lang, trend=tr_text, delta=delta_text,
                                  p=fmt_p(p, lang)))
    if decay.get("fastest_segment") and decay.get("logrank_p") is not None:
        p = decay["logrank_p"]
        key = "report_decay_fastest" if p < ALPHA else "report_decay_fastest_tendency"
        out["decay"].append(t(key, lang, segment=_str(decay["fastest_segment"]), p=fmt_p(p, lang),
                              retention=fmt_pct(decay.get("fastest_segment_retention_12m"), lang, 0)))
    if decay.get("median_lifetime_months") is not None:
        out["decay"].append(t("report_decay_lifetime", lang,
                              months=fmt_num(decay["median_lifetime_months"], lang, 1)))

    # -- churn risk and priorities
    if risk.get("auc_model") is not None:
        def per100(x):
            return fmt_num(None if x is None else round(100 * x), lang, 0)

        if risk.get("auc_recency") is not None and risk.get("auc_bgnbd") is not None:
            out["risk"].append(t("report_risk_ranking", lang, model=per100(risk["auc_model"]),
                                 recency=per100(risk["auc_recency"]), bgnbd=per100(risk["auc_bgnbd"])))
        else:
            out["risk"].append(t("report_risk_ranking_short", lang, model=per100(risk["auc_model"])))
        lead = _lead_sentence(risk.get("auc_vs_baselines"), lang)
        if lead:
            out["risk"].append(lead)
        name = _str(risk.get("best_model")) or "–"
        out["appendix"].append(t("report_appendix_model", lang, model=_label_or(f"report_model_name_{name}", lang, name),
                                 auc=fmt_num(risk["auc_model"], lang, 2),
                                 recency=fmt_num(risk.get("auc_recency"), lang, 2),
                                 bgnbd=fmt_num(risk.get("auc_bgnbd"), lang, 2)))
    if risk.get("n_priority_1") is not None:
        out["risk"].append(plural("report_risk_priority", risk["n_priority_1"], lang))
    top = [p for p in (risk.get("top_priorities") or []) if isinstance(p, dict)][:MAX_PRIORITIES]
    if top:
        out["priority_columns"] = [t(k, lang) for k in ("report_col_customer", "report_col_probability",
                                                         "report_col_value", "report_col_at_risk",
                                                         "report_col_action", "report_col_reasons")]
        for p in top:
            reasons = p.get("reasons")
            reasons = "; ".join(_str(r) for r in reasons) if isinstance(reasons, list) else _str(reasons)
            out["priorities"].append([
                _str(p.get("customer_id")), fmt_pct(p.get("churn_probability"), lang, 0),
                fmt_money(p.get("value"), lang, currency), fmt_money(p.get("expected_value_at_risk"), lang, currency),
                _action(p.get("recommended_action"), lang), reasons,
            ])

    # -- at most three decisions: the base-health ones first, then risk, then audit
    decisions = month_decision_texts(base, lang)  # the same decisions as page 01's
    if len(decisions) < MAX_DECISIONS and risk.get("n_priority_1"):
        decisions.append(_priority_decision(risk["n_priority_1"], top, lang, currency))
    if (len(decisions) < MAX_DECISIONS and audit.get("share_signal_min_lead") is not None
            and audit.get("signals_discriminate") is not False):
        watch = [_label_or(f"aud_ind_{i}", lang, str(i)) for i in (audit.get("watch_first") or [])]
        share = fmt_pct(audit["share_signal_min_lead"], lang, 0)
        weeks = fmt_num(audit.get("min_lead_weeks"), lang)
        decisions.append(t("report_decision_watch", lang, indicators=", ".join(watch), share=share, weeks=weeks)
                         if watch else t("report_decision_signals", lang, share=share, weeks=weeks))
    out["decisions"] = decisions[:MAX_DECISIONS]
    if out["decay"] or out["risk"]:
        out["appendix"].append(t("report_appendix_test", lang, alpha=fmt_num(ALPHA, lang, 2)))
    out["reactivation"] = reactivation_lines(summary, lang)
    return out


def _per100_signed(x: float, lang: str) -> str:
    """An AUC difference in "times in 100", signed: ``+10``, ``-0,4`` (a decimal under 1)."""
    v = 100 * x
    shown = fmt_num(abs(v), lang, 0 if abs(v) >= 1 else 1)
    return _sign(v, shown) + shown


def _lead_sentence(comparison: Any, lang: str) -> str:
    """The model's lead over each baseline in "times in 100", with its 95 % interval; a lead whose
    interval includes 0 is a tendency (``auc_vs_baselines`` of the 04 sidecar). '' without it."""
    if not isinstance(comparison, dict):
        return ""
    parts = []
    for name in ("recency", "bgnbd"):
        c = comparison.get(name)
        if not isinstance(c, dict) or c.get("diff") is None:
            continue
        key = "report_risk_lead_significant" if c.get("significant") else "report_risk_lead_tendency"
        parts.append(t(key, lang, diff=_per100_signed(c["diff"], lang), low=_per100_signed(c["low"], lang),
                       high=_per100_signed(c["high"], lang), baseline=t(f"report_baseline_{name}", lang)))
    return t("report_risk_lead", lang, parts="; ".join(parts) if lang == "en" else " ; ".join(parts)) \
        if parts else ""


def _priority_decision(n_p1: int, top: list[dict[str, Any]], lang: str, currency: str) -> str:
    """The decision on the priority-1 customers: the action recommended for them (the codes of the
    rows shown; "the action recommended for each" when they differ) and the number the table
    shows ("the first 10 below out of 12" when it shows fewer than there are)."""
    shown = top[:n_p1]
    codes = {p.get("recommended_action") for p in shown}
    action = (_action(codes.pop(), lang) if len(codes) == 1 else t("report_action_each", lang)) if shown else ""
    action = action[:1].lower() + action[1:]
    if not shown:
        return plural("report_decision_priorities_short", n_p1, lang, action=t("report_action_each", lang))
    amount = fmt_money(sum(p.get("expected_value_at_risk") or 0 for p in shown), lang, currency)
    if len(shown) >= n_p1:
        return t("report_decision_priorities_all", lang, n=fmt_num(n_p1, lang), amount=amount, action=action)
    return t("report_decision_priorities_first", lang, n=fmt_num(n_p1, lang), top=fmt_num(len(shown), lang),
             amount=amount, action=action)


def reactivation_lines(summary: dict[str, Any], lang: str) -> list[str]:
    """Campaign result, OKR status and reaction delay from ``05_reactivation`` (issue #12; empty if absent)."""
    from analysis.reporting.reactivation import summary_sentences

    return summary_sentences(summary.get("05_reactivation"), lang)


def _tuning_sentences(audit: dict[str, Any], lang: str) -> list[str]:
    """The indicators worth watching on this base and the uninformative ones, from the
    threshold tuning of notebook 02 (``tuning_watch``, ``tuning_uninformative``; issue #15)."""
    out = []
    names = {k: [_label_or(f"aud_ind_{i}", lang, str(i)) for i in (audit.get(k) or [])]
             for k in ("tuning_watch", "tuning_uninformative")}
    if names["tuning_watch"]:
        out.append(t("report_audit_tuning_watch", lang, indicators=", ".join(names["tuning_watch"])))
    if names["tuning_uninformative"]:
        out.append(t("report_audit_tuning_off", lang, indicators=", ".join(names["tuning_uninformative"])))
    return out


def _previous_month(month: str) -> str:
    y, m = (int(x) for x in str(month)[:7].split("-"))
    return f"{y - 1}-12" if m == 1 else f"{y}-{m - 1:02d}"


_MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
              "octobre", "novembre", "décembre")
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


def _fmt_month(month: Any, lang: str) -> str:
    """``2026-10`` (or any date in it) as ``octobre 2026`` / ``October 2026``."""
    m = re.match(r"^(\d{4})-(\d{2})", str(month))
    if not m:
        return str(month)
    names = _MONTHS_FR if lang == "fr" else _MONTHS_EN
    return f"{names[int(m.group(2)) - 1]} {m.group(1)}"


def _count_rows(csv: Path) -> int | None:
    """Rows of a CSV file (header excepted), formatted later by the template; None if absent."""
    if not csv.exists():
        return None
    import pandas as pd

    return len(pd.read_csv(csv, usecols=[0]))


def render_index(run_dir: str | Path, manifest: dict[str, Any], summary: dict[str, Any], *,
                 lang: str = "fr", currency: str = "EUR", business_model: str = "contractual",
                 index_pdf: str | None = None, notes: list[str] | None = None,
                 follow: dict[str, Any] | None = None) -> Path:
    """Write ``<run_dir>/index.html``: executive summary, then one entry per notebook (HTML,
    PDF, executed notebook, PNG figures with their alt text, CSV tables, status), then the
    run's files (call list as ``scores.csv`` and ``call_list.xlsx``, tables, validation).
    ``index_pdf``: where the PDF of the index itself will be (linked), if printed.
    ``notes``: sentences shown under the title (a month without data, pseudonymised ids).
    Returns its path."""
    import json

    from jinja2 import Environment, select_autoescape

    from analysis.reporting.client_tables import french_spaces
    from analysis.reporting.plots.describe import describe_figure

    run_dir = Path(run_dir)
    template_text = (resources.files("analysis.reporting") / "templates" / "index.html.j2").read_text(encoding="utf-8")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                      keep_trailing_newline=True)
    # table cells keep a number and its unit on one line in French (as the client tables do)
    env.filters["cell"] = (lambda v: french_spaces(v) if isinstance(v, str) else v) if lang == "fr" else (lambda v: v)
    template = env.from_string(template_text)
    figures = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    tables = sorted(p.name for p in (run_dir / "tables").glob("*.csv"))
    sections = []
    for nb in manifest.get("notebooks", []):
        sections.append({
            "name": nb["name"], "title": nb.get("title") or nb["name"], "status": nb["status"],
            "ok": nb["status"] == "ok", "error": error_text(nb["error"], lang) if nb.get("error") else None,
            "duration": fmt_num(nb.get("duration_s"), lang, 0),
            "html": nb.get("files", {}).get("html"), "ipynb": nb.get("files", {}).get("ipynb"),
            "figures": [f for f in figures if f.startswith(nb["name"] + "_")],
            "tables": [f for f in tables if f.startswith(nb["name"] + "_")],
        })
    alts = {}
    for f in figures:
        facts = run_dir / "figures" / f"{Path(f).stem}.json"
        alts[f] = (describe_figure(json.loads(facts.read_text(encoding="utf-8")), lang) if facts.exists()
                   else t("fig_alt_generic", lang))
    for s in sections:
        nb = next(n for n in manifest.get("notebooks", []) if n["name"] == s["name"])
        s["pdf"] = nb.get("files", {}).get("pdf")
    quarantine = sorted(p.name for p in (run_dir / "quarantine").glob("*.csv"))
    ds = manifest.get("dataset", {})
    page = template.render(
        lang=lang, L=lambda key, **kw: t(key, lang, **kw), es=executive_summary(summary, lang, currency),
        P=lambda key, n, **kw: plural(key, n or 0, lang, **kw),
        as_of=fmt_date(manifest.get("as_of"), lang), dataset_name=ds.get("title") or ds.get("name", ""),
        business_model=t(f"report_model_{business_model}", lang),
        customers=fmt_num(ds.get("customers"), lang),
        quarantined=fmt_num(ds.get("rows_quarantined"), lang), n_quarantined=ds.get("rows_quarantined") or 0,
        n_customers=ds.get("customers"),
        sections=sections, failed=[s for s in sections if not s["ok"]], quarantine=quarantine,
        content_hash=(ds.get("content_sha256") or "")[:12], notes=list(notes or []),
        alts=alts, index_pdf=index_pdf,
        scores_csv="scores.csv" if (run_dir / "scores.csv").exists() else None,
        call_list_xlsx="call_list.xlsx" if (run_dir / "call_list.xlsx").exists() else None,
        n_scores=fmt_num(_count_rows(run_dir / "scores.csv"), lang), n_tables=len(tables),
        # call_list.xlsx capped to its first rows (reporting.workbook.XLSX_MAX_ROWS): how many
        n_xlsx=(fmt_num(manifest["files"]["xlsx_rows"], lang)
                if (manifest.get("files") or {}).get("xlsx_rows") is not None else None),
        follow=follow,  # last month's decisions and what changed (reporting.decisions.follow_up_view)
    )
    path = run_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
