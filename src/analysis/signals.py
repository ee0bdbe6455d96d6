"""The six early-warning indicators of SPEC section 4, per customer, at one or many as-of dates.

CONTRACT (other modules rely on these names; implementation in progress in this session):

``indicators(ds, dates, params=None) -> DataFrame`` — one row per (as_of, customer_id)
for customers signed up before as_of; computed from data strictly before as_of, in one
set-based pass over all dates. Columns:

keys        as_of, customer_id, lost (bool), tenure_days
frequency   freq_30, freq_60, freq_90, freq_baseline, freq_change_m1, freq_change_m2, alert_frequency
recency     days_since_last, recency_level (0/30/60/90/180), alert_recency
email       email_sends_10, open_rate_10, ctor_10, open_rate_prev_10, email_segment, alert_email
value       revenue_12m, basket_3m, basket_prev_6m, basket_change, interval_recent_days,
            interval_prev_days, interval_drift, revenue_share_q, revenue_share_prev_q, alert_value
nps         nps_last, nps_prev, nps_change, nps_category, days_since_nps, alert_nps
usage       usage_dui, usage_score, usage_score_prev, usage_change, alert_usage
summary     n_alerts, any_alert

Alert columns are pandas nullable ``boolean``: NA means "not enough history" or "table
absent", never a false alert.
"""

INDICATORS: dict[str, str] = {
    "frequency": "alert_frequency",
    "recency": "alert_recency",
    "email": "alert_email",
    "value": "alert_value",
    "nps": "alert_nps",
    "usage": "alert_usage",
}
