"""The executive summary of the monthly report and the ``index.html`` that opens it.

:func:`executive_summary` turns the merged sidecars (``summary.json``) into formatted,
translated text: headline KPIs of the month versus the previous month, the alerts, the
retro-audit verdict, the decay trend, the top priorities and at most three decisions
(SPEC section 5, monthly KPI review). Every figure is read with ``.get``: a notebook that
did not run, or a table the export lacks, simply removes its part.

:func:`render_index` writes ``index.html`` from ``templates/index.html.j2``.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from analysis.reporting.i18n import check_lang, fmt_date, fmt_money, fmt_num, fmt_pct, labels, t

__all__ = ["MAX_DECISIONS", "MAX_PRIORITIES", "KPI_ORDER", "kpi_label", "kpi_sort_key", "fmt_kpi",
           "executive_summary", "render_index"]

#: SPEC section 5: "at most three decisions" per monthly review.
MAX_DECISIONS = 3
#: Rows of the top-priorities table in the index.
MAX_PRIORITIES = 10

#: Dashboard order of the KPI table (the same order every month, SPEC section 5): customer
#: KPIs, inactivity level shares, email KPIs, inactivity rates; any other KPI after them.
KPI_ORDER: tuple[str, ...] = (
    "customers", "active_customers", "new_customers", "lost_customers", "churn_rate", "revenue",
    "level_*", "deliverability", "hard_bounce_rate", "soft_bounce_rate", "open_rate", "click_rate",
    "ctor", "response_rate", "unsubscribe_rate", "complaint_rate", "inactivity_rate_*",
)

_PCT_WORDS = ("rate", "share", "ratio", "ctor", "deliverability", "pct", "retention")
_MONEY_WORDS = ("revenue", "amount", "value", "mrr", "arr", "basket", "money")


def kpi_label(key: str, lang: str) -> str:
    """The label of a KPI key: ``kpi_<key>`` or ``report_kpi_<key>`` from the locale files,
    else the key itself with spaces for underscores."""
    for candidate in (f"kpi_{key}", f"report_kpi_{key}", key):
        entry = labels().get(candidate)
        if isinstance(entry, dict) and lang in entry:
            return entry[lang]
    return key.replace("_", " ")


def fmt_kpi(key: str, value: Any, lang: str, currency: str = "EUR") -> str:
    """A KPI value formatted from its name: shares (``*_rate``, ``*_share``, ``ctor`` ...) as
    percentages (two decimals below 1 %), amounts (``revenue``, ``value`` ...) as money,
    whole numbers as counts, other numbers with one decimal."""
    if isinstance(value, dict):  # {"value": x, "unit": "pct" | "money" | "count" | "number"}
        unit = value.get("unit")
        v = value.get("value")
        if unit == "pct":
            return fmt_pct(v, lang)
        if unit == "money":
            return fmt_money(v, lang, currency)
        if unit == "count":
            return fmt_num(v, lang)
        return fmt_num(v, lang, 1)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else str(value)
    k = key.lower()
    if any(w in k for w in _PCT_WORDS):
        # small rates (complaints, hard bounces: thresholds of 0.1 % and 2 %) need two decimals
        return fmt_pct(value, lang, 2 if 0 < abs(value) < 0.01 else 1)
    if any(w in k for w in _MONEY_WORDS):
        return fmt_money(value, lang, currency)
    if isinstance(value, int) or float(value).is_integer():
        return fmt_num(value, lang)
    return fmt_num(value, lang, 1)


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
    if any(w in k for w in _PCT_WORDS) or (isinstance(now, dict) and now.get("unit") == "pct"):
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


def _text(value: Any, lang: str) -> str:
    """A text recorded by a notebook: a string, or ``{"fr": ..., "en": ...}``."""
    if isinstance(value, dict):
        return str(value.get(lang) or next(iter(value.values()), ""))
    return "" if value is None else str(value)


def _label_or(key: str, lang: str, fallback: str) -> str:
    entry = labels().get(key)
    return entry[lang] if isinstance(entry, dict) and lang in entry else fallback


def _action(value: Any, lang: str) -> str:
    """A recommended action: its code (``personal_call``...) as the ``sig_action_<code>`` label."""
    return _label_or(f"sig_action_{value}", lang, _text(value, lang)) if isinstance(value, str) else _text(value, lang)


def executive_summary(summary: dict[str, Any], lang: str = "fr", currency: str = "EUR") -> dict[str, Any]:
    """The executive summary, formatted for ``lang``, from the merged notebook sidecars.

    Parameters
    ----------
    summary : ``{notebook_stem: sidecar}`` as in ``summary.json``. Keys read (all optional):
        ``01_base_health``: customers, active_customers, month, kpis_month, kpis_prev_month,
        alerts (kpi, value, threshold, message), decisions, quarantined_rows;
        ``02_retro_audit``: n_lost, share_signal_min_lead, share_signal_min_lead_ci,
        min_lead_weeks, false_alarm_any, verdict, silent_churners, preventable_revenue,
        signals_discriminate and watch_first (the audit decision is skipped when the
        signals do not discriminate);
        ``03_cohort_decay``: retention_3m, retention_6m, retention_12m, trend, trend_delta,
        fastest_segment, median_lifetime_months (``trend_delta`` in percentage points,
        as :func:`analysis.metrics.cohorts.retention_trend` gives it);
        ``04_churn_risk``: auc_model, auc_recency, auc_bgnbd, best_model, n_priority_1,
        top_priorities (customer_id, churn_probability, value, expected_value_at_risk,
        recommended_action (a code of :data:`analysis.metrics.priority.ACTIONS`, shown with its
        ``sig_action_<code>`` label), reasons).
    lang : ``fr`` or ``en``.
    currency : ISO code of the amounts.

    Returns
    -------
    dict with ``headline`` (list of sentences), ``kpis`` (rows: label, month, previous,
    change), ``month``, ``previous_month``, ``alerts`` (texts), ``audit`` (sentences),
    ``decay`` (sentences), ``risk`` (sentences), ``priorities`` (rows of formatted cells),
    ``priority_columns`` (headers), ``decisions`` (at most :data:`MAX_DECISIONS` texts),
    ``reactivation`` (sentences from ``05_reactivation``: campaign, OKRs, reaction delay) and
    ``has_base`` (True if the base-health figures are there, so "no alert" means no alert).
    Empty lists where the figures are absent.
    """
    check_lang(lang)
    base = summary.get("01_base_health") or {}
    audit = summary.get("02_retro_audit") or {}
    decay = summary.get("03_cohort_decay") or {}
    risk = summary.get("04_churn_risk") or {}
    out: dict[str, Any] = {"headline": [], "kpis": [], "month": None, "previous_month": None,
                           "alerts": [], "audit": [], "decay": [], "risk": [], "priorities": [],
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
    for a in base.get("alerts") or []:
        if isinstance(a, dict):
            msg = _text(a.get("message"), lang)
            if not msg:
                k = str(a.get("kpi", ""))
                msg = t("report_alert_default", lang, kpi=kpi_label(k, lang),
                        value=fmt_kpi(k, a.get("value"), lang, currency),
                        threshold=fmt_kpi(k, a.get("threshold"), lang, currency))
            out["alerts"].append(msg)
        elif a:
            out["alerts"].append(_text(a, lang))
    if base.get("quarantined_rows"):
        out["alerts"].append(t("report_alert_quarantine", lang, rows=fmt_num(base["quarantined_rows"], lang)))

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
        text = _label_or(f"report_verdict_{v}", lang, _text(v, lang)) if isinstance(v, str) else _text(v, lang)
        out["audit"].append(t("report_audit_verdict", lang, verdict=text))
    if audit.get("silent_churners") is not None:
        out["audit"].append(t("report_audit_silent", lang, n=fmt_num(audit["silent_churners"], lang)))
    if audit.get("preventable_revenue") is not None:
        out["audit"].append(t("report_audit_preventable", lang,
                              amount=fmt_money(audit["preventable_revenue"], lang, currency)))

    # -- decay trend
    ret = [(m, decay.get(f"retention_{m}m")) for m in (3, 6, 12)]
    ret = [(m, v) for m, v in ret if v is not None]
    if ret:
        parts = ", ".join(t("report_retention_at", lang, months=m, share=fmt_pct(v, lang)) for m, v in ret)
        out["decay"].append(t("report_decay_retention", lang, parts=parts))
    if decay.get("trend"):
        tr = decay["trend"]
        tr_text = _label_or(f"report_trend_{tr}", lang, _text(tr, lang)) if isinstance(tr, str) else _text(tr, lang)
        delta = decay.get("trend_delta")
        delta_text = (t("report_trend_delta", lang, delta=("+" if delta >= 0 else "-")
                        + fmt_num(abs(delta), lang, 1), points=t("report_points", lang))
                      if isinstance(delta, (int, float)) else "")
        out["decay"].append(t("report_decay_trend", lang, trend=tr_text, delta=delta_text))
    if decay.get("fastest_segment"):
        out["decay"].append(t("report_decay_fastest", lang, segment=_text(decay["fastest_segment"], lang)))
    if decay.get("median_lifetime_months") is not None:
        out["decay"].append(t("report_decay_lifetime", lang,
                              months=fmt_num(decay["median_lifetime_months"], lang, 1)))

    # -- churn risk and priorities
    if risk.get("auc_model") is not None:
        out["risk"].append(t("report_risk_auc", lang, model=_text(risk.get("best_model") or "", lang) or "–",
                             auc=fmt_num(risk["auc_model"], lang, 2),
                             recency=fmt_num(risk.get("auc_recency"), lang, 2),
                             bgnbd=fmt_num(risk.get("auc_bgnbd"), lang, 2)))
    if risk.get("n_priority_1") is not None:
        out["risk"].append(t("report_risk_priority", lang, n=fmt_num(risk["n_priority_1"], lang)))
    top = [p for p in (risk.get("top_priorities") or []) if isinstance(p, dict)][:MAX_PRIORITIES]
    if top:
        out["priority_columns"] = [t(k, lang) for k in ("report_col_customer", "report_col_probability",
                                                         "report_col_value", "report_col_at_risk",
                                                         "report_col_action", "report_col_reasons")]
        for p in top:
            reasons = p.get("reasons")
            reasons = "; ".join(_text(r, lang) for r in reasons) if isinstance(reasons, list) else _text(reasons, lang)
            out["priorities"].append([
                _text(p.get("customer_id"), lang), fmt_pct(p.get("churn_probability"), lang, 0),
                fmt_money(p.get("value"), lang, currency), fmt_money(p.get("expected_value_at_risk"), lang, currency),
                _action(p.get("recommended_action"), lang), reasons,
            ])

    # -- at most three decisions: the base-health ones first, then risk, then audit
    decisions = [_text(d, lang) for d in (base.get("decisions") or []) if _text(d, lang)]
    if len(decisions) < MAX_DECISIONS and risk.get("n_priority_1"):
        at_risk = sum(p.get("expected_value_at_risk") or 0 for p in top)
        decisions.append(t("report_decision_priorities", lang, n=fmt_num(risk["n_priority_1"], lang),
                           amount=fmt_money(at_risk, lang, currency), top=len(top)) if top else
                         t("report_decision_priorities_short", lang, n=fmt_num(risk["n_priority_1"], lang)))
    if (len(decisions) < MAX_DECISIONS and audit.get("share_signal_min_lead") is not None
            and audit.get("signals_discriminate") is not False):
        watch = [_label_or(f"aud_ind_{i}", lang, str(i)) for i in (audit.get("watch_first") or [])]
        share = fmt_pct(audit["share_signal_min_lead"], lang, 0)
        weeks = fmt_num(audit.get("min_lead_weeks"), lang)
        decisions.append(t("report_decision_watch", lang, indicators=", ".join(watch), share=share, weeks=weeks)
                         if watch else t("report_decision_signals", lang, share=share, weeks=weeks))
    out["decisions"] = decisions[:MAX_DECISIONS]
    out["reactivation"] = reactivation_lines(summary, lang)
    return out


def reactivation_lines(summary: dict[str, Any], lang: str) -> list[str]:
    """Campaign result, OKR status and reaction delay from ``05_reactivation`` (issue #12; empty if absent)."""
    from analysis.reporting.reactivation import summary_sentences

    return summary_sentences(summary.get("05_reactivation"), lang)


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


def render_index(run_dir: str | Path, manifest: dict[str, Any], summary: dict[str, Any], *,
                 lang: str = "fr", currency: str = "EUR", business_model: str = "contractual",
                 follow: dict[str, Any] | None = None) -> Path:
    """Write ``<run_dir>/index.html``: executive summary, then one entry per notebook (HTML,
    executed notebook, PNG figures, CSV tables, status), then the run's files. Returns its path."""
    from jinja2 import Environment, select_autoescape

    run_dir = Path(run_dir)
    template_text = (resources.files("analysis.reporting") / "templates" / "index.html.j2").read_text(encoding="utf-8")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                      keep_trailing_newline=True)
    template = env.from_string(template_text)
    figures = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    tables = sorted(p.name for p in (run_dir / "tables").glob("*.csv"))
    sections = []
    for nb in manifest.get("notebooks", []):
        sections.append({
            "name": nb["name"], "title": nb.get("title") or nb["name"], "status": nb["status"],
            "ok": nb["status"] == "ok", "error": nb.get("error"),
            "duration": fmt_num(nb.get("duration_s"), lang, 0),
            "html": nb.get("files", {}).get("html"), "ipynb": nb.get("files", {}).get("ipynb"),
            "figures": [f for f in figures if f.startswith(nb["name"] + "_")],
            "tables": [f for f in tables if f.startswith(nb["name"] + "_")],
        })
    quarantine = sorted(p.name for p in (run_dir / "quarantine").glob("*.csv"))
    ds = manifest.get("dataset", {})
    page = template.render(
        lang=lang, L=lambda key, **kw: t(key, lang, **kw), es=executive_summary(summary, lang, currency),
        as_of=fmt_date(manifest.get("as_of"), lang), dataset_name=ds.get("name", ""),
        business_model=t(f"report_model_{business_model}", lang),
        customers=fmt_num(ds.get("customers"), lang),
        quarantined=fmt_num(ds.get("rows_quarantined"), lang),
        sections=sections, failed=[s for s in sections if not s["ok"]], quarantine=quarantine,
        content_hash=(ds.get("content_sha256") or "")[:12],
        follow=follow,  # last month's decisions and what changed (reporting.decisions.follow_up_view)
    )
    path = run_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
