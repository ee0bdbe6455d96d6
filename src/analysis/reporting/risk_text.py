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

from analysis.models.auc_compare import compare_to_baselines
from analysis.models.classifier import ScoreResult
from analysis.reporting.i18n import fmt_date, fmt_money, fmt_num, fmt_pct, t
from analysis.reporting.i18n import texts as all_labels

__all__ = ["reason_text", "scores_table", "backtest_markdown", "metrics_table", "populations_table",
           "call_list_table", "bgnbd_note", "sidecar_summary", "REASON_FORMATS", "auc_comparison_text",
           "signed"]

#: How each value of a reason code is written: ``int`` (whole number), ``pct`` (share as a
#: whole percentage, absolute), ``pct1`` (share with one decimal), ``pct_pair`` (a "from ... to"
#: pair of shares, with the decimals that show their difference: :func:`_format_pair`).
REASON_FORMATS: dict[str, dict[str, str]] = {
    "recency": {"days": "int"}, "interval": {"recent": "int", "prev": "int"},
    "frequency": {"pct": "pct"}, "basket": {"pct": "pct"}, "usage": {"pct": "pct"},
    "share": {"prev": "pct_pair", "last": "pct_pair"}, "nps": {"prev": "int", "last": "int"},
    "detractor": {"last": "int"}, "email": {}, "email_inactive": {},
}


def _fixed_pct(v: pd.Series, digits: int, lang: str) -> pd.Series:
    """Shares as percentages with ``digits`` decimals (``0,6 %``, ``0.04%``), vectorised."""
    scale = 10 ** digits
    w = (100.0 * scale * v).round().astype("Int64")
    s = (w // scale).astype("string")
    if digits:
        s = s + ("," if lang == "fr" else ".") + (w % scale).astype("string").str.zfill(digits)
    return s + (" %" if lang == "fr" else "%")


def _format(values: pd.Series, kind: str, lang: str) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    if kind == "int":
        return v.round().astype("Int64").astype("string")
    if kind == "pct":
        return (100.0 * v.abs()).round().astype("Int64").astype("string") + (" %" if lang == "fr" else "%")
    return _fixed_pct(v, 1, lang)


#: Most decimals :func:`_format_pair` uses; a change still invisible there is dropped.
PAIR_MAX_DIGITS = 3


def _format_pair(a: pd.Series, b: pd.Series, lang: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Two shares of a "from ``a`` to ``b``" reason, each row with the fewest decimals (one to
    :data:`PAIR_MAX_DIGITS`) at which they differ: ``0,6 % à 0,1 %``, ``0,04 % à 0,01 %``,
    never ``0,0 % à 0,0 %``. Returns the two texts and a mask of the rows whose change is
    visible (False: equal even at :data:`PAIR_MAX_DIGITS` decimals, the reason is not shown)."""
    x = pd.to_numeric(a, errors="coerce").astype("float64")
    y = pd.to_numeric(b, errors="coerce").astype("float64")
    digits = pd.Series(PAIR_MAX_DIGITS, index=x.index)
    for d in range(PAIR_MAX_DIGITS, 0, -1):  # a few precisions, each vectorised over customers
        differ = (100 * 10 ** d * x).round() != (100 * 10 ** d * y).round()
        digits = digits.where(~differ, d)
    top = 10 ** PAIR_MAX_DIGITS
    visible = (((100 * top * x).round() != (100 * top * y).round()) | x.isna() | y.isna()).to_numpy()
    out_a = pd.Series(pd.NA, index=x.index, dtype="string")
    out_b = out_a.copy()
    for d in range(1, PAIR_MAX_DIGITS + 1):
        rows = (digits == d).to_numpy()
        out_a[rows] = _fixed_pct(x[rows], d, lang).to_numpy()
        out_b[rows] = _fixed_pct(y[rows], d, lang).to_numpy()
    return out_a, out_b, visible


def _one_reason(codes: pd.Series, values: pd.Series, lang: str) -> pd.Series:
    """The text of one reason slot (NA where no code)."""
    out = pd.Series(pd.NA, index=codes.index, dtype="string")
    pairs = values.fillna("").astype("string").str.split(";")
    for code in codes.dropna().unique():  # a handful of codes, each vectorised over customers
        rows = codes.eq(code).fillna(False).to_numpy()
        template = t(f"risk_reason_{code}", lang)
        fills: dict[str, pd.Series] = {}
        raws: dict[str, pd.Series] = {}
        for key, kind in REASON_FORMATS.get(str(code), {}).items():
            raws[key] = pairs[rows].map(lambda items, k=key: next((i.split("=", 1)[1] for i in items
                                                                   if i.startswith(k + "=")), None))
            if kind != "pct_pair":
                fills[key] = _format(raws[key], kind, lang)
        pair = [k for k, kind in REASON_FORMATS.get(str(code), {}).items() if kind == "pct_pair"]
        if len(pair) == 2:  # "from prev to last": the decimals that show the change, or no reason
            fills[pair[0]], fills[pair[1]], visible = _format_pair(raws[pair[0]], raws[pair[1]], lang)
            keep = rows.copy()
            keep[rows] = visible
            rows = keep
            fills = {k: v[visible] for k, v in fills.items()}
            if not rows.any():
                continue
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
    :func:`analysis.models.classifier.reason_codes`, joined by ``"; "`` (French ``" ; "``) and
    starting with a capital (a cell of its own in every table); a customer with no reason gets
    the ``risk_reason_none`` sentence."""
    slots = sorted(int(c.split("_")[1]) for c in frame.columns
                   if c.startswith("reason_") and c.split("_")[1].isdigit() and not c.endswith("_values"))
    out = pd.Series("", index=frame.index, dtype="string")
    for i in slots:
        part = _one_reason(frame[f"reason_{i}"].astype("string"), frame[f"reason_{i}_values"], lang)
        sep = pd.Series(np.where(out.ne(""), " ; " if lang == "fr" else "; ", ""), index=frame.index,
                        dtype="string")  # French typography: a space before the semicolon
        out = out.where(part.isna(), out + sep + part.fillna(""))
    out = out.where(out.ne(""), t("risk_reason_none", lang))
    return (out.str.slice(0, 1).str.upper() + out.str.slice(1)).rename("reasons")


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


def signed(x: float | None, lang: str, digits: int = 2) -> str:
    """``+0,10`` / ``-0.03`` (no sign when it rounds to zero); ``–`` when missing."""
    if x is None:
        return "–"
    shown = fmt_num(abs(x), lang, digits)
    return ("" if not any(c in "123456789" for c in shown) else "+" if x > 0 else "-") + shown


def _p_text(p: float | None, lang: str, n_boot: int | None = None) -> str:
    """A p-value; a bootstrap p at its floor (no draw on the other side of 0) as ``p ≤ 1/n_boot``."""
    if p is None:
        return "p = –"
    if n_boot and p <= 1.0 / n_boot:
        return "p ≤ " + fmt_num(1.0 / n_boot, lang, max(3, len(str(int(n_boot))) - 1))
    return "p < " + fmt_num(0.001, lang, 3) if p < 0.001 else "p = " + fmt_num(p, lang, 3 if p < 0.1 else 2)


def auc_comparison_text(comparison: dict, lang: str = "en") -> list[str]:
    """One sentence per baseline of :func:`analysis.models.auc_compare.compare_to_baselines`: the
    AUC difference with its 95 % bootstrap interval over customers, worded as a finding only
    when the interval excludes zero, else as a tendency."""
    out = []
    for name, c in comparison.items():
        if c.get("diff") is None:
            continue
        key = "risk_auc_diff_significant" if c["significant"] else "risk_auc_diff_tendency"
        out.append(t(key, lang, baseline=t(f"report_baseline_{name}", lang), diff=signed(c["diff"], lang),
                     low=signed(c["low"], lang), high=signed(c["high"], lang),
                     p=_p_text(c["p"], lang, c.get("n_boot")),
                     n=fmt_num(c["n_customers"], lang), draws=fmt_num(c["n_boot"], lang)))
    return out


def backtest_markdown(result: ScoreResult, lang: str = "en", comparison: dict | None = None,
                      random_state: int = 0) -> str:
    """The backtest in plain words (fr/en), for the notebook and the monthly report, with the
    model's AUC lead over each baseline and its interval (``comparison``: :func:`compare_to_baselines`
    of ``result.backtest``, computed with ``random_state`` when not given)."""
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
    if comparison is None:
        comparison = compare_to_baselines(result.backtest, random_state=random_state)
    lines = auc_comparison_text(comparison, lang)
    if lines:
        text += "\n\n" + "\n".join(f"- {line}" for line in lines)
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



def sidecar_summary(result: ScoreResult, lang: str = "en", n_top: int = 10, comparison: dict | None = None,
                    random_state: int = 0) -> dict:
    """:meth:`ScoreResult.summary` with each top priority's ``reasons`` in words (what the
    monthly report's executive summary shows) and ``auc_vs_baselines``: the model's AUC lead
    over each baseline with its bootstrap interval (``comparison``, else
    :func:`compare_to_baselines` with ``random_state``)."""
    out = result.key_figures(n_top)
    if comparison is None:
        comparison = compare_to_baselines(result.backtest, random_state=random_state)
    out["auc_vs_baselines"] = comparison
    top = result.call_list.head(n_top)
    words = reason_text(top, lang).tolist()
    for row, text in zip(out["top_priorities"], words, strict=True):
        row["reasons"] = text
    return out
