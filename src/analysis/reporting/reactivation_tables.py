"""Client tables and coded values of notebook 05 (re-activation), in the report's language.

The frames of :mod:`analysis.metrics.campaigns`, :mod:`analysis.metrics.targeting`,
:mod:`analysis.metrics.reaction`, :mod:`analysis.metrics.cycles` and
:mod:`analysis.models.uplift` hold numbers and codes (``email_sequence``, ``lapsed_buyers``,
``separate_list``, ``2026-Q3``); the functions here give each one the column spec of a client
table (:func:`analysis.reporting.client_tables.client_table`: translated headers and codes, no
index, local number format, a dash with a footnote for a missing value) and write the codes in
words. Labels live in ``locales/reactivation_tables.yml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd
from pandas.io.formats.style import Styler

from analysis.reporting.client_tables import (
    ColumnSpec,
    client_table,
    format_cell,
    formatted_table,
    sentence_case,
)
from analysis.reporting.i18n import check_lang, fmt_date, fmt_money, fmt_num, fmt_pct, t, texts

__all__ = ["action_text", "population_text", "period_text", "effects_client_table", "balance_table",
           "group_sizes_table", "reaction_table", "separate_list_table", "incremental_value_table"]

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_YEAR = re.compile(r"^\d{4}$")


def _label_or(key: str, fallback: str, lang: str) -> str:
    return t(key, lang) if key in texts() else fallback


def action_text(code: str, lang: str = "en") -> str:
    """An ``interventions.action`` code in words (``email_sequence`` -> "séquence d'e-mails");
    a code of the client's own is returned as it is (not escaped: the caller escapes)."""
    return _label_or(f"rea_action_{code}", str(code), lang)


def population_text(spec: str, lang: str = "en") -> str:
    """A population of :func:`analysis.metrics.targeting.population` in words: a status
    (``lapsed_buyers`` -> "anciens acheteurs inactifs...") or ``column=value`` written
    "<attribute label> = value" (not escaped: the caller escapes)."""
    spec = str(spec).strip()
    if "=" in spec:
        col, value = (x.strip() for x in spec.split("=", 1))
        return f"{_label_or(f'attr_{col}', col, lang)} = {value}"
    return _label_or(f"rea_pop_{spec}", spec, lang)


def period_text(period: str, lang: str = "en", start=None, end=None) -> str:
    """A key-result period (``2026``, ``2026-Q3``, ``2026-10`` or ``start..end``) in words:
    "T3 2026" / "Q3 2026", "octobre 2026" / "October 2026", "du 01/07/2026 au 30/09/2026"."""
    check_lang(lang)
    p = str(period).strip().upper()
    if m := _QUARTER.match(p):
        return t("rea_period_quarter", lang, q=m.group(2), year=m.group(1))
    if _MONTH.match(p):
        return format_cell(p, "month", lang)
    if _YEAR.match(p):
        return p
    if start is not None and end is not None and not pd.isna(start) and not pd.isna(end):
        last = pd.Timestamp(end) - pd.Timedelta(days=1)
        return t("rea_period_range", lang, start=fmt_date(start, lang), end=fmt_date(last, lang))
    return str(period)


def _pts(x, lang: str) -> str:
    if pd.isna(x):
        return "–"
    s = fmt_num(100 * float(x), lang, 1)
    return s if s.startswith("-") else f"+{s}"


def _lift_text(a, lo, hi, money: bool, lang: str, currency: str) -> str | None:
    """A difference with its 95 % interval: points for a rate, an amount for revenue."""
    if pd.isna(a):
        return None
    sep = " ; " if lang == "fr" else "; "
    if money:
        return (f"{fmt_money(a, lang, currency)} [{fmt_money(lo, lang, currency)}{sep}"
                f"{fmt_money(hi, lang, currency)}]")
    return f"{_pts(a, lang)} {t('rea_pts', lang)} [{_pts(lo, lang)}{sep}{_pts(hi, lang)}]"


def effects_client_table(effects: pd.DataFrame, lang: str = "fr", currency: str = "EUR") -> Styler:
    """:attr:`analysis.metrics.campaigns.CampaignResult.effects` as a client table: one row per
    campaign and variant (windows not closed left out) with the group sizes, the purchase rate
    of the contacted and of the control customers, the difference in points and the difference
    in revenue per customer, each with its 95 % interval, and the status in words. The other
    outcomes (re-activation, unsubscribes, complaints) stay in ``tables/effects.csv``, as the
    footnote says: a client page shows one line per campaign, not one per measure."""
    check_lang(lang)
    key = ["campaign_id", "variant"]
    e = effects.loc[effects["status"].ne("window_open")]
    revenue = e.loc[e["outcome"].eq("revenue"), [*key, "abs_lift", "abs_lift_low", "abs_lift_high"]]
    e = (e.loc[e["outcome"].eq("purchase")]
         .merge(revenue, on=key, how="left", suffixes=("", "_rev"), validate="one_to_one")
         .reset_index(drop=True))

    def rate(v):
        return fmt_pct(v, lang) if pd.notna(v) else None

    frame = pd.DataFrame({
        t("rea_col_campaign", lang): e["campaign_id"].astype(str).to_numpy(),
        t("rea_col_variant", lang): e["variant"].astype(object).where(e["variant"].notna(), None).to_numpy(),
        t("rea_col_n_treatment", lang): [fmt_num(v, lang) for v in e["n_treatment"]],
        t("rea_col_n_control", lang): [fmt_num(v, lang) for v in e["n_control"]],
        t("rea_col_purchase_treatment", lang): [rate(v) for v in e["treatment_value"]],
        t("rea_col_purchase_control", lang): [rate(v) for v in e["control_value"]],
        t("rea_col_purchase_lift", lang): [_lift_text(a, lo, hi, False, lang, currency) for a, lo, hi in
                                           zip(e["abs_lift"], e["abs_lift_low"], e["abs_lift_high"], strict=True)],
        t("rea_col_revenue_lift", lang): [_lift_text(a, lo, hi, True, lang, currency) for a, lo, hi in
                                          zip(e["abs_lift_rev"], e["abs_lift_low_rev"], e["abs_lift_high_rev"],
                                              strict=True)],
        t("rea_col_status", lang): [sentence_case(t(f"rea_status_{s}", lang)) for s in e["status"]],
    })
    return formatted_table(frame, lang, notes=[t("rea_effects_note", lang)])


def balance_table(balance: pd.DataFrame, lang: str = "fr") -> Styler:
    """:attr:`analysis.metrics.campaigns.CampaignResult.balance` as a client table, one row per
    campaign and variant: how many pre-campaign comparisons differ by more than 0.1 standard
    deviation, and the largest standardised difference (2 decimals) with its covariate in
    words. Each comparison, with both means, stays in ``tables/balance.csv``."""
    keys = ["campaign_id", "variant"]
    b = balance.assign(abs_smd=balance["smd"].abs(), flagged=balance["flagged"].astype(bool))
    counts = b.groupby(keys, dropna=False, sort=False).agg(n=("smd", "size"), k=("flagged", "sum")).reset_index()
    top = (b.sort_values("abs_smd", ascending=False, na_position="last", kind="stable")
           .drop_duplicates(keys)[[*keys, "smd", "covariate"]])
    rows = counts.merge(top, on=keys, how="left").sort_values(keys, kind="stable")
    rows["imbalanced"] = [t("rea_k_of_n", lang, k=fmt_num(k, lang), n=fmt_num(n, lang))
                          for k, n in zip(rows["k"], rows["n"], strict=True)]
    spec = [ColumnSpec("campaign_id", "rea_col_campaign"), ColumnSpec("variant", "rea_col_variant"),
            ColumnSpec("imbalanced", "rea_col_imbalanced"),
            ColumnSpec("smd", "rea_col_largest_smd", kind="number", digits=2),
            ColumnSpec("covariate", "rea_col_largest_on", codes="rea_cov_")]
    return client_table(rows, spec, lang, notes=[t("rea_balance_note", lang), t("rea_balance_detail_note", lang)])


def group_sizes_table(sizes: pd.DataFrame, lang: str = "fr") -> Styler:
    """:meth:`analysis.metrics.targeting.CampaignPlan.group_sizes` (value tiers x groups) as a
    client table: value tier in words, customers to contact, control customers, total."""
    s = sizes.reindex(columns=["treatment", "control"], fill_value=0).rename_axis(columns=None)
    rows = s.assign(total=s.sum(axis=1)).rename_axis(index="value_tier").reset_index()
    spec = [ColumnSpec("value_tier", "sig_value_tier", codes="sig_value_"),
            ColumnSpec("treatment", "rea_col_to_contact", kind="count"),
            ColumnSpec("control", "rea_col_n_control", kind="count"),
            ColumnSpec("total", "rea_col_total", kind="count")]
    return client_table(rows, spec, lang)


def reaction_table(summary: pd.DataFrame, by: str, lang: str = "fr") -> Styler:
    """:func:`analysis.metrics.reaction.reaction_summary` by ``owner`` or ``indicator`` as a
    client table: the owner (as in the export) or the alert in words, alerts, acted and not
    acted (by alert), median, 75th and 90th percentile of the delay in days, share of the alerts
    whose delay is known that waited more than 7 days."""
    if by not in ("owner", "indicator"):
        raise ValueError(f"reaction_table: by must be 'owner' or 'indicator', not '{by}'.")
    codes: str | Mapping[str, str] = {"unknown": "rea_owner_unknown"} if by == "owner" else "aud_ind_"
    spec = [ColumnSpec(by, "rea_col_owner" if by == "owner" else "rea_col_alert", codes=codes)]
    if by == "owner":  # every alert of an owner was acted on (an alert without action has no owner)
        spec.append(ColumnSpec("acted", "rea_col_acted", kind="count"))
    else:
        spec += [ColumnSpec("alerts", "rea_col_alerts", kind="count"),
                 ColumnSpec("acted", "rea_col_acted", kind="count"),
                 ColumnSpec("no_action", "rea_col_no_action", kind="count")]
    spec += [ColumnSpec("median_days", "rea_col_median_days", kind="number",
                        missing_note="rea_note_no_delay"),
             ColumnSpec("p75_days", "rea_col_p75_days", kind="number", missing_note="rea_note_no_delay"),
             ColumnSpec("p90_days", "rea_col_p90_days", kind="number", missing_note="rea_note_no_delay"),
             ColumnSpec("share_over_7", "rea_col_share_over_7", kind="pct", missing_note="rea_note_no_delay")]
    return client_table(summary, spec, lang)


def separate_list_table(off_list: pd.DataFrame, lang: str = "fr", n: int = 20) -> Styler:
    """The first ``n`` rows of :func:`analysis.metrics.cycles.off_active_list` as a client
    table: customer, days since the last significant interaction, cycles received, failed in
    a row, date of the last cycle, list and the action inactivity alone would call for, in
    words; a footnote gives
    how many rows there are when more than ``n``."""
    top = off_list.head(n)
    spec = [ColumnSpec("customer_id", "risk_col_customer"),
            ColumnSpec("days_since_last", "rea_col_days_since_last", kind="count"),
            ColumnSpec("cycles", "rea_col_cycles", kind="count"),
            ColumnSpec("failed_in_a_row", "rea_col_failed_in_a_row", kind="count"),
            ColumnSpec("last_cycle", "rea_col_last_cycle", kind="date"),
            ColumnSpec("list_status", "rea_col_list", codes="rea_list_"),
            ColumnSpec("inactivity_action", "rea_col_inactivity_action", codes="sig_action_")]
    notes = [t("rea_first_rows", lang, n=fmt_num(n, lang), total=fmt_num(len(off_list), lang))] if len(off_list) > n else []
    return client_table(top, spec, lang, notes=notes)


def incremental_value_table(eiv: pd.DataFrame, lang: str = "fr", currency: str = "EUR", n: int = 10) -> Styler:
    """The first ``n`` rows of :func:`analysis.models.uplift.expected_incremental_value` as a
    client table: customer, predicted change in purchase probability (points), 12-month value
    and expected incremental value (amounts)."""
    top = eiv.head(n)
    spec = [ColumnSpec("customer_id", "risk_col_customer"),
            ColumnSpec("uplift", "rea_col_uplift", kind="pct", digits=1),
            ColumnSpec("value", "rea_col_value_12m", kind="money"),
            ColumnSpec("expected_incremental_value", "rea_col_expected_incremental", kind="money")]
    notes = [t("rea_first_rows", lang, n=fmt_num(n, lang), total=fmt_num(len(eiv), lang))] if len(eiv) > n else []
    return client_table(top, spec, lang, currency, notes=notes)
