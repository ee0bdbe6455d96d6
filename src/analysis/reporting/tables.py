"""Reader-facing tables: the numeric frames of metrics/ and models/, labelled and formatted.

The calculation layers return numbers and codes; the functions here pick the rows a reader
needs, translate headers and codes (``locales/*.yml``) and format the values
(:func:`analysis.reporting.i18n.fmt_kpi` for KPIs). Nothing here computes a figure: each
function documents the frame it reads, so a user can export the numbers instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.data.dataset import Dataset
from analysis.metrics.kpis import UNSEGMENTED
from analysis.models.audit import INDICATOR_TABLES, RetroAudit
from analysis.reporting.client_tables import sentence_case
from analysis.reporting.i18n import (
    check_lang,
    fmt_date,
    fmt_kpi,
    fmt_money,
    fmt_num,
    fmt_pct,
    reason_label,
    t,
    texts,
)

__all__ = [
    "kpi_reading",
    "with_readings",
    "dashboard_table",
    "segment_table",
    "base_tables",
    "quarantine_table",
    "audit_indicator_table",
    "audit_silent_table",
]


# ----------------------------------------------------------------------------- base health
def kpi_reading(kpi: str, status: str, threshold: Any, lang: str = "en") -> str:
    """The reading of one KPI value from its status code (:data:`analysis.metrics.kpis.STATUSES`).

    ``alert`` / ``ok`` give the KPI's ``kpi_alert_<kpi>`` / ``kpi_ok_<kpi>`` text with the
    formatted threshold, ``no_value`` the "no value" text, ``no_threshold`` nothing.
    """
    if status == "no_value":
        return t("kpi_no_value", lang)
    if status in ("alert", "ok"):
        return t(f"kpi_{status}_{kpi}", lang, threshold=fmt_kpi(kpi, threshold, lang))
    return ""


def with_readings(long: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """``long`` with a ``reading`` column (text in ``lang``) built from its status codes.

    Parameters
    ----------
    long : :func:`analysis.metrics.kpis.with_thresholds` or
        :func:`analysis.metrics.kpis.monthly_dashboard` (``kpi``, ``status``, ``threshold``).
    """
    check_lang(lang)
    keys = long[["kpi", "status", "threshold"]].drop_duplicates()
    texts = {(r.kpi, r.status, r.threshold if pd.notna(r.threshold) else None):
             kpi_reading(r.kpi, r.status, r.threshold, lang) for r in keys.itertuples()}
    reading = [texts[(k, s, th if pd.notna(th) else None)]
               for k, s, th in zip(long["kpi"], long["status"], long["threshold"], strict=True)]
    return long.assign(reading=pd.array(reading, dtype="string"))


def dashboard_table(dashboard: pd.DataFrame, month: str | pd.Timestamp | None, lang: str = "en",
                    currency: str = "EUR") -> pd.DataFrame | None:
    """The report month of :func:`analysis.metrics.kpis.monthly_dashboard`, formatted for a reader.

    Returns
    -------
    DataFrame with translated headers: KPI label, value, previous month, threshold, alert
    (a red mark), reading. Values are formatted text (percentages, counts, money; "–" for
    none). None when ``month`` is None (no complete month).
    """
    check_lang(lang)
    if month is None:
        return None
    d = with_readings(dashboard.loc[dashboard["month"] == pd.Timestamp(
        month if len(str(month)) > 7 else f"{month}-01")], lang)
    return pd.DataFrame({
        t("kpi_kpi", lang): [t(f"kpi_{k}", lang) for k in d["kpi"]],
        t("kpi_value", lang): [fmt_kpi(k, v, lang, currency) for k, v in zip(d["kpi"], d["value"], strict=True)],
        t("kpi_previous", lang): [fmt_kpi(k, v, lang, currency)
                                  for k, v in zip(d["kpi"], d["prev_value"], strict=True)],
        t("kpi_threshold", lang): [fmt_kpi(k, v, lang, currency) if pd.notna(v) else ""
                                   for k, v in zip(d["kpi"], d["threshold"], strict=True)],
        t("kpi_alert", lang): ["●" if a else "" for a in d["alert"]],
        t("kpi_reading", lang): d["reading"].fillna("").tolist(),
    })


def segment_table(table: pd.DataFrame | None, segment: str | None, lang: str = "en") -> pd.DataFrame | None:
    """:func:`analysis.metrics.kpis.segment_kpis` formatted: the segment (engagement segments
    translated), ``sent`` and the rates as text, translated headers. None when ``table`` is None."""
    check_lang(lang)
    if table is None:
        return None
    if segment == "email_segment":
        known = texts()
        names = [sentence_case(t(f"kpi_seg_{s}", lang)) if f"kpi_seg_{s}" in known else s for s in table["segment"]]
        header = t("kpi_segment", lang)
    else:
        names = [sentence_case(t("kpi_seg_none", lang)) if s == UNSEGMENTED else s for s in table["segment"]]
        header = (t(f"attr_{segment}", lang) if segment and f"attr_{segment}" in texts()
                  else segment or t("kpi_segment", lang))
    out = pd.DataFrame({header: names, t("kpi_sent", lang): [fmt_num(v, lang) for v in table["sent"]]})
    for k in table.columns.drop(["segment", "sent"]):
        out[t(f"kpi_{k}", lang)] = [fmt_kpi(k, v, lang) for v in table[k]]
    return out


def base_tables(ds: Dataset, lang: str = "en") -> pd.DataFrame:
    """One row per table loaded: rows read, kept and set aside, customers, first and last date
    (from :meth:`ValidationReport.summary`). Headers and table names are translated; file
    paths are left out (they can name a client)."""
    check_lang(lang)
    s = ds.report.summary()
    if s.empty:
        return s
    return pd.DataFrame({
        t("table", lang): [sentence_case(t(x, lang)) for x in s["table"]],
        t("rows_read", lang): [fmt_num(v, lang) for v in s["rows_read"]],
        t("rows_kept", lang): [fmt_num(v, lang) for v in s["rows_kept"]],
        t("rows_quarantined", lang): [fmt_num(v, lang) for v in s["rows_quarantined"]],
        t("customers", lang): [fmt_num(v, lang) for v in s["customers"]],
        t("date_from", lang): [fmt_date(v, lang) if v else "–" for v in s["date_min"]],
        t("date_to", lang): [fmt_date(v, lang) if v else "–" for v in s["date_max"]],
    })


def quarantine_table(ds: Dataset, lang: str = "en") -> pd.DataFrame:
    """Rows set aside by validation per (table, reason), headers translated; empty if none."""
    check_lang(lang)
    q = ds.report.quarantine_counts()
    return pd.DataFrame({
        t("table", lang): [sentence_case(t(x, lang)) for x in q["table"]],
        t("reason", lang): [sentence_case(reason_label(r, lang)) for r in q["reason"]],
        t("rows", lang): [fmt_num(v, lang) for v in q["rows"]],
    })


# ----------------------------------------------------------------------------- cohorts
# ----------------------------------------------------------------------------- retro-audit
def audit_indicator_table(per_indicator: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """:attr:`analysis.models.audit.RetroAudit.per_indicator_` for a client: labelled indicators
    and columns, rates in %.

    Columns: indicator, recall, false-alarm rate, precision (audit sample), lift, median lead
    (weeks), clients measurable, in ``lang``; indicators not available dropped.
    """
    check_lang(lang)
    p = per_indicator.loc[per_indicator["available"]]
    out = pd.DataFrame({
        "indicator": [sentence_case(t(f"aud_ind_{i}", lang)) for i in p["indicator"]],
        "recall": [fmt_pct(v, lang) for v in p["recall"]],
        "false_alarm_rate": [fmt_pct(v, lang) for v in p["false_alarm_rate"]],
        "precision": [fmt_pct(v, lang) for v in p["precision"]],
        "lift": ["∞" if np.isinf(v) else fmt_num(v, lang, 2) for v in p["lift"]],
        "median_lead_weeks": [fmt_num(v, lang, 1) for v in p["median_lead_weeks"]],
        "coverage": [fmt_pct(v, lang, 0) for v in p["coverage"]],
    })
    return out.rename(columns={c: t(f"aud_col_{c}", lang) for c in out.columns})


def audit_silent_table(audit: RetroAudit, lang: str = "en", currency: str = "EUR") -> pd.DataFrame:
    """:attr:`RetroAudit.silent_` of a fitted audit for a client (no personal column): id,
    departure date, seniority, last interaction, 12-month revenue, indicators measurable,
    segment attributes (the columns of ``silent_`` not in :attr:`RetroAudit.clients_`)."""
    check_lang(lang)
    s = audit.silent_
    base = ["customer_id", "churn_date", "tenure_days", "last_interaction", "revenue_12m", "indicators_evaluable"]
    segs = [c for c in s.columns if c not in audit.clients_.columns]
    out = s[base + segs].copy()
    names = {i: t(f"aud_ind_{i}", lang) for i in INDICATOR_TABLES}
    out["churn_date"] = s["churn_date"].map(lambda v: fmt_date(v, lang))
    out["last_interaction"] = s["last_interaction"].map(lambda v: fmt_date(v, lang))
    out["revenue_12m"] = s["revenue_12m"].map(lambda v: fmt_money(v, lang, currency))
    out["tenure_days"] = s["tenure_days"].map(lambda v: fmt_num(v, lang))  # 1 879, not 1879
    out["indicators_evaluable"] = s["indicators_evaluable"].fillna("").str.split(", ").map(
        lambda items: ", ".join(names.get(i, i) for i in items if i))
    known = texts()
    names_of = {c: t(f"aud_col_{c}", lang) for c in base}
    names_of.update({c: t(f"attr_{c}", lang) for c in segs if f"attr_{c}" in known})
    return out.rename(columns=names_of)
