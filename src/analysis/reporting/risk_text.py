"""The churn-risk classifier in words: reasons, backtest text, metric and call-list tables.

:mod:`analysis.models.classifier` returns numbers and codes (reason codes with their
values, statuses, actions); this module turns them into French or English with the
labels of ``locales/risk.yml`` and ``locales/signals.yml``.

>>> from analysis.reporting.risk_text import reason_text, scores_table
>>> scores_table(result, "fr").to_csv("scores.csv", index=False)   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.models.classifier import ScoreResult
from analysis.reporting.i18n import fmt_date, fmt_money, fmt_num, fmt_pct, t
from analysis.reporting.i18n import texts as all_labels

__all__ = ["reason_text", "scores_table", "backtest_markdown", "metrics_table", "populations_table",
           "call_list_table", "bgnbd_note", "sidecar_summary", "REASON_FORMATS"]

#: How each value of a reason code is written: ``int`` (whole number), ``pct`` (share as a
#: whole percentage, absolute), ``pct1`` (share with one decimal).
REASON_FORMATS: dict[str, dict[str, str]] = {
    "recency": {"days": "int"}, "interval": {"recent": "int", "prev": "int"},
    "frequency": {"pct": "pct"}, "basket": {"pct": "pct"}, "usage": {"pct": "pct"},
    "share": {"prev": "pct1", "last": "pct1"}, "nps": {"prev": "int", "last": "int"},
    "detractor": {"last": "int"}, "email": {}, "email_inactive": {},
}


def _format(values: pd.Series, kind: str, lang: str) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    if kind == "int":
        return v.round().astype("Int64").astype("string")
    if kind == "pct":
        return (100.0 * v.abs()).round().astype("Int64").astype("string") + (" %" if lang == "fr" else "%")
    w = (1000.0 * v).round().astype("Int64")
    s = (w // 10).astype("string") + ("," if lang == "fr" else ".") + (w % 10).astype("string")
    return s + (" %" if lang == "fr" else "%")


def _one_reason(codes: pd.Series, values: pd.Series, lang: str) -> pd.Series:
    """The text of one reason slot (NA where no code)."""
    out = pd.Series(pd.NA, index=codes.index, dtype="string")
    pairs = values.fillna("").astype("string").str.split(";")
    for code in codes.dropna().unique():  # a handful of codes, each vectorised over customers
        rows = codes.eq(code).fillna(False).to_numpy()
        template = t(f"risk_reason_{code}", lang)
        fills: dict[str, pd.Series] = {}
        for key, kind in REASON_FORMATS.get(str(code), {}).items():
            raw = pairs[rows].map(lambda items, k=key: next((i.split("=", 1)[1] for i in items
                                                             if i.startswith(k + "=")), None))
            fills[key] = _format(raw, kind, lang)
        text = pd.Series(template, index=codes.index[rows], dtype="string")
        rest = template
        if fills:
            text = pd.Series("", index=codes.index[rows], dtype="string")
            while "{" in rest:
                head, _, tail = rest.partition("{")
                name, _, rest = tail.partition("}")
                text = text + head + fills[name].fillna("?")
            text = text + rest
        out[rows] = text.to_numpy()
    return out


def reason_text(frame: pd.DataFrame, lang: str = "en") -> pd.Series:
    """Reasons in plain words from the ``reason_<i>`` / ``reason_<i>_values`` columns of
    :func:`analysis.models.classifier.reason_codes`, joined by ``"; "`` (French ``" ; "``, with a
    narrow no-break space); a customer with no
    reason gets the ``risk_reason_none`` sentence."""
    slots = sorted(int(c.split("_")[1]) for c in frame.columns
                   if c.startswith("reason_") and c.split("_")[1].isdigit() and not c.endswith("_values"))
    out = pd.Series("", index=frame.index, dtype="string")
    joint = "\u202f; " if lang == "fr" else "; "  # French: a narrow no-break space before ";"
    for i in slots:
        part = _one_reason(frame[f"reason_{i}"].astype("string"), frame[f"reason_{i}_values"], lang)
        sep = pd.Series(np.where(out.ne(""), joint, ""), index=frame.index, dtype="string")
        out = out.where(part.isna(), out + sep + part.fillna(""))
    return out.where(out.ne(""), t("risk_reason_none", lang)).rename("reasons")


def scores_table(result: ScoreResult, lang: str = "en") -> pd.DataFrame:
    """``scores.csv``: the scores (codes and values) plus the ``reasons`` column in words."""
    s = result.scores.copy()
    s["reasons"] = reason_text(s, lang).to_numpy()
    return s


def bgnbd_note(fits: list[dict], lang: str = "en") -> str:
    """One sentence naming the dates whose BG/NBD fit was dropped or penalised ('' if none)."""
    dropped = [f["as_of"] for f in fits if f["status"] == "dropped"]
    penalized = [f["as_of"] for f in fits if f["status"] == "penalized"]
    parts = []
    if dropped:
        parts.append(t("risk_bgnbd_dropped", lang, dates=", ".join(fmt_date(d, lang) for d in dropped)))
    if penalized:
        parts.append(t("risk_bgnbd_penalized", lang, dates=", ".join(fmt_date(d, lang) for d in penalized)))
    return " ".join(parts)


def backtest_markdown(result: ScoreResult, lang: str = "en") -> str:
    """The backtest in plain words (fr/en), for the notebook and the monthly report."""
    s = result.backtest.summary()

    def dates(ds):
        return ", ".join(fmt_date(d, lang) for d in ds)

    bg = (t("risk_backtest_bgnbd", lang, auc=fmt_num(s["auc_bgnbd"], lang, 2))
          if s["auc_bgnbd"] is not None else "")
    text = t("risk_backtest_text", lang, train=dates(s["train_snapshots"]), test=dates(s["test_snapshots"]),
             model=t(f"risk_method_{s['best_model']}", lang), auc_model=fmt_num(s["auc_model"], lang, 2),
             auc_recency=fmt_num(s["auc_recency"], lang, 2), bgnbd=bg,
             lift=fmt_num(s["lift_top_decile_model"], lang, 1), capacity=fmt_num(result.capacity, lang),
             recall=fmt_pct(s["recall_at_capacity"], lang, 0))
    if s["split_holdout"]:
        text += "\n\n" + t("risk_holdout_note", lang, horizon=result.horizon_days)
    note = bgnbd_note(result.bgnbd_fits, lang)
    if note:
        text += "\n\n" + note
    return text


def _named(m: pd.DataFrame, lang: str) -> pd.DataFrame:
    m = m.copy()
    m.index = [t(f"risk_method_{k}", lang) for k in m.index]
    m.index.name = t("risk_method", lang)
    m.columns = [t(f"risk_metric_{c}", lang) if f"risk_metric_{c}" in all_labels() else c for c in m.columns]
    return m.round(3)


def metrics_table(result: ScoreResult, lang: str = "en") -> pd.DataFrame:
    """The backtest metrics with readable method names, rounded (what the notebook shows)."""
    return _named(result.backtest.metrics, lang)


def populations_table(metrics: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """ROC AUC per method (rows) and population (columns: all scored, active in 90 days)."""
    auc = metrics["auc"].unstack("population")
    auc = auc[[c for c in ("all", "active90") if c in auc.columns]]
    auc.index = [t(f"risk_method_{k}", lang) if f"risk_method_{k}" in all_labels() else k for k in auc.index]
    auc.index.name = t("risk_method", lang)
    auc.columns = [t(f"risk_population_{c}", lang) for c in auc.columns]
    return auc.round(3)


def call_list_table(result: ScoreResult, lang: str = "en", currency: str = "EUR", n: int = 20) -> pd.DataFrame:
    """The top ``n`` of the call list as a client reads it: translated headers, tiers and
    actions, percentages and amounts formatted for the language (no personal column)."""
    top = result.call_list.head(n)
    value_fmt = (lambda v: fmt_money(v, lang, currency)) if result.value_basis == "revenue_12m" \
        else (lambda v: f"{v:g}")
    return pd.DataFrame({
        t("risk_col_customer", lang): top["customer_id"].to_numpy(),
        t("risk_col_status", lang): [t(f"risk_status_{s}", lang) for s in top["status"]],
        t("risk_col_probability", lang): [fmt_pct(p, lang, 0) for p in top["churn_probability"]],
        t("risk_col_risk_tier", lang): [t(f"sig_risk_{r}", lang) for r in top["risk_tier"]],
        t("risk_col_value", lang): [value_fmt(v) for v in top["value"]],
        t("risk_col_value_at_risk", lang): [value_fmt(v) for v in top["expected_value_at_risk"]],
        t("risk_col_priority", lang): [t(f"sig_priority_{p}", lang) for p in top["priority"]],
        t("risk_col_action", lang): [t(f"sig_action_{a}", lang) for a in top["recommended_action"]],
        t("risk_col_reasons", lang): reason_text(top, lang).to_numpy(),
    }, index=pd.RangeIndex(1, len(top) + 1))



def sidecar_summary(result: ScoreResult, lang: str = "en", n_top: int = 10) -> dict:
    """:meth:`ScoreResult.summary` with each top priority's ``reasons`` in words (what the
    monthly report's executive summary shows)."""
    out = result.key_figures(n_top)
    top = result.call_list.head(n_top)
    words = reason_text(top, lang).tolist()
    for row, text in zip(out["top_priorities"], words, strict=True):
        row["reasons"] = text
    return out
