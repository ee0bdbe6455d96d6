"""Sentences from codes and numbers: the words of the reports, in French or English.

metrics/ and models/ return codes (an alert ``{"kind": "threshold", "code": "open_rate"}``,
a decision ``"remove_hard_bounces"``, a trend ``"improving"``) with their numbers; the
functions here turn them into the sentences the notebooks and the executive summary show,
from the labels of ``locales/*.yml``. Every sentence is built from figures passed in, so it
can always be traced back to a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis.reporting.client_tables import format_cell
from analysis.reporting.i18n import check_lang, fmt_kpi, fmt_num, fmt_pct, plural, t
from analysis.reporting.safety import escape
from analysis.reporting.tables import kpi_reading

__all__ = ["alert_text", "alert_texts", "alerts_markdown", "decision_text", "decision_texts",
           "decisions_markdown", "cohort_takeaways", "month_alert_texts", "month_decision_texts"]


# ----------------------------------------------------------------------------- base health
def alert_text(alert: Mapping[str, Any], lang: str = "en", currency: str = "EUR") -> str:
    """One alert of :func:`analysis.metrics.kpis.month_alerts` as a sentence.

    A threshold alert reads "<KPI> <value> (<reading>)."; an alarm (``bounces_doubled``,
    ``complaints_exploded``) names the current and the previous value, with the counts of
    events behind them ("30 out of 1,000 emails sent") when the alert carries them.
    """
    check_lang(lang)
    kpi = str(alert["kpi"])
    if alert["kind"] == "alarm":
        value, prev = fmt_kpi(kpi, alert["value"], lang, currency), fmt_kpi(kpi, alert["threshold"], lang, currency)
        counts = {k: alert.get(k) for k in ("count", "base", "prev_count", "prev_base")}
        if None not in counts.values():  # the events behind the rates (kpis.period_alarms)
            return t(f"kpi_alarm_{alert['code']}_counts", lang, value=value, prev=prev,
                     **{k: fmt_num(v, lang) for k, v in counts.items()})
        return t(f"kpi_alarm_{alert['code']}", lang, value=value, prev=prev)
    return t("kpi_alert_line", lang, kpi=t(f"kpi_{kpi}", lang), value=fmt_kpi(kpi, alert["value"], lang, currency),
             reading=kpi_reading(kpi, "alert", alert["threshold"], lang))


def alert_texts(alerts: list[Mapping[str, Any]], lang: str = "en", currency: str = "EUR") -> list[str]:
    """:func:`alert_text` of each alert, in order."""
    return [alert_text(a, lang, currency) for a in alerts]


def decision_text(code: str, lang: str = "en") -> str:
    """A decision code of :data:`analysis.metrics.kpis.DECISIONS` (or ``keep_course``) in words."""
    return t(f"kpi_decision_{code}", lang)


def decision_texts(codes: list[str], lang: str = "en") -> list[str]:
    """:func:`decision_text` of each code, in order."""
    return [decision_text(c, lang) for c in codes]


def _month_label(month: Any, lang: str) -> str:
    """The report month (``2026-10``) as the text of the reports (``octobre 2026`` / ``October 2026``)."""
    return format_cell(month, "month", lang) if month else "–"


def month_alert_texts(figures: Mapping[str, Any], lang: str = "en", currency: str = "EUR") -> list[str]:
    """The month's alerts as sentences, from the base-health key figures (``alerts``,
    ``quarantined_rows``): the KPI alerts, then the data-quality alert when validation set
    rows aside, so that the page and the executive summary list the same alerts."""
    out = alert_texts(figures.get("alerts") or [], lang, currency)
    if figures.get("quarantined_rows"):
        out.append(plural("report_alert_quarantine", figures["quarantined_rows"], lang))
    return out


def month_decision_texts(figures: Mapping[str, Any], lang: str = "en") -> list[str]:
    """The month's decisions from the base-health key figures (``decisions``, ``quarantined_rows``).

    ``keep_course`` ("no alert this month") is a decision only when nothing else alerted:
    with rows set aside by validation it reads "no KPI alert; check the N rows set aside
    first", so no decision contradicts the data-quality alert shown beside it.
    """
    n = figures.get("quarantined_rows") or 0
    return [plural("report_decision_keep_course_quarantine", n, lang) if code == "keep_course" and n
            else decision_text(code, lang) for code in figures.get("decisions") or []]


def alerts_markdown(figures: Mapping[str, Any], lang: str = "en", currency: str = "EUR") -> str:
    """The month's alerts as a Markdown list under its title (or "no alert"), from the
    base-health key figures (``month``, ``alerts``, and ``quarantined_rows``: rows set aside by
    validation are a data-quality alert, as in the executive summary)."""
    lines = [f"- {a}" for a in month_alert_texts(figures, lang, currency)] or [t("bh_alerts_none", lang)]
    return "\n".join([t("bh_alerts_title", lang, month=_month_label(figures["month"], lang)), "", *lines])


def decisions_markdown(figures: Mapping[str, Any], lang: str = "en") -> str:
    """What changed in the report month and the numbered decisions, from the base-health key
    figures (``month``, ``kpis_month``, ``kpis_prev_month``, ``alerts``, ``decisions``,
    ``quarantined_rows``); the alert count includes the data-quality alert."""
    now, before = figures["kpis_month"], figures["kpis_prev_month"]
    lines = [t("bh_decisions_title", lang, month=_month_label(figures["month"], lang)), ""]
    if figures["month"]:
        change = (now.get("active_customers") or 0) - (before.get("active_customers") or 0)
        lines += [t("bh_changes", lang, active=fmt_num(now.get("active_customers"), lang),
                    active_change=("+" if change > 0 else "") + fmt_num(change, lang),
                    churn=fmt_pct(now.get("churn_rate"), lang),
                    alerts=plural("table_n_alerts", len(month_alert_texts(figures, lang)), lang)), ""]
    lines += [f"{i}. {d}" for i, d in enumerate(month_decision_texts(figures, lang), start=1)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- cohorts
def cohort_takeaways(figures: Mapping[str, Any], lang: str = "en") -> str:
    """Plain-language takeaways (Markdown lines) from the cohort-decay key figures
    (:meth:`analysis.metrics.cohorts.CohortDecay.key_figures` or
    :func:`analysis.metrics.cohorts.cohort_summary`)."""
    check_lang(lang)

    def pct(x):
        return fmt_pct(x, lang, 0)

    def per100(x):
        return "–" if x is None else fmt_num(100 * x, lang, 0)

    lines = [t("coh_take_retention", lang, r3=per100(figures["retention_3m"]),
               r6=per100(figures["retention_6m"]), r12=per100(figures["retention_12m"]))]
    med = figures["median_lifetime_months"]
    lines.append(t("coh_take_median_none", lang) if med is None
                 else t("coh_take_median", lang, months=fmt_num(med, lang, 1)))
    trend = figures["trend"]
    if trend is None:
        lines.append(t("coh_take_trend_none", lang))
    else:
        delta = figures["trend_delta"]
        k = figures["trend_n_per_side"]
        lines.append(t(f"coh_take_trend_{trend}", lang, n=k, recent_side=plural("coh_recent_side", k, lang),
                       older_side=plural("coh_older_side", k, lang),
                       recent=pct(figures["trend_recent"]), older=pct(figures["trend_older"]),
                       age=figures["trend_age"], metric=t(f"coh_metric_{figures['trend_metric']}", lang),
                       delta=("+" if delta > 0 else "") + fmt_num(delta, lang, 1)))
    seg = figures.get("segment_by")
    if seg:
        p = figures["logrank_p"]
        p_txt = "–" if p is None else (fmt_num(p, lang, 3) if p >= 0.001 else "< " + fmt_num(0.001, lang, 3))
        if figures["fastest_segment"] is None:
            lines.append(t("coh_take_segment_none", lang, segment=escape(seg), p=p_txt))
        else:
            key = "coh_take_segment" if p is not None and p < 0.05 else "coh_take_segment_tendency"
            lines.append(t(key, lang, segment=escape(seg), fastest=escape(figures["fastest_segment"]),
                           r12=pct(figures["fastest_segment_retention_12m"]), p=p_txt))
    return "\n".join(lines)
