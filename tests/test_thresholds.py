"""One source per threshold: dataset.yml ``thresholds:`` feeds every calculation."""

from __future__ import annotations

from dataclasses import fields

import pandas as pd
import pytest

import analysis
from analysis.data.config import (
    THRESHOLD_CLASSES,
    KpiThresholds,
    SignalParams,
    Thresholds,
    parse_config,
)
from analysis.errors import ConfigError
from analysis.metrics import kpis, signals


def test_threshold_names_are_unique_across_the_settings():
    names = [f.name for cls in THRESHOLD_CLASSES for f in fields(cls)]
    assert len(names) == len(set(names))
    assert kpis.KpiThresholds is KpiThresholds and signals.SignalParams is SignalParams  # one class each


def test_dataset_yml_sets_every_kind_of_threshold():
    cfg = parse_config({"thresholds": {"churn_horizon_days": 180, "open_rate_min": 0.12, "freq_drop": "0.5",
                                       "freq_windows": [20, 40, 60], "nps_drop": 3}})
    assert cfg.thresholds == Thresholds(churn_horizon_days=180)
    assert cfg.kpi_thresholds == KpiThresholds(open_rate_min=0.12)
    assert cfg.signal_params == SignalParams(freq_drop=0.5, freq_windows=(20, 40, 60), nps_drop=3)
    assert parse_config({}).kpi_thresholds == KpiThresholds()  # the documented defaults
    with pytest.raises(ConfigError, match="unknown threshold.*open_rate_mni"):
        parse_config({"thresholds": {"open_rate_mni": 0.1}})
    with pytest.raises(ConfigError, match="thresholds.freq_drop is 'high'"):
        parse_config({"thresholds": {"freq_drop": "high"}})


def _email_ds(config) -> analysis.Dataset:
    # one campaign in March to 10 contacts, all delivered, 1 opener: open rate 10 %
    ids = [f"k{i}" for i in range(10)]
    rows = [(i, "M", "2026-03-02 09:00:00", "sent") for i in ids]
    rows += [(i, "M", "2026-03-02 09:00:01", "delivered") for i in ids]
    rows += [("k0", "M", "2026-03-02 12:00:00", "open")]
    return analysis.from_frames(
        customers=pd.DataFrame({"customer_id": ids, "signup_date": "2026-01-01"}),
        email_events=pd.DataFrame(rows, columns=["customer_id", "campaign_id", "event_time", "event"]),
        config=config)


def test_kpi_alerts_read_the_dataset_thresholds():
    default = kpis.monthly_review(_email_ds(parse_config({})), "2026-04-01")
    assert ("threshold", "open_rate") not in {(a["kind"], a["code"]) for a in default.alerts}  # 10 % is not < 10 %
    strict = kpis.monthly_review(_email_ds(parse_config({"thresholds": {"open_rate_min": 0.12}})), "2026-04-01")
    alert = [a for a in strict.alerts if a["code"] == "open_rate"]
    assert alert and alert[0]["threshold"] == 0.12 and alert[0]["value"] == pytest.approx(0.1)
