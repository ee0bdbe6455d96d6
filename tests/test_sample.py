"""The synthetic sample generator: contract, reproducibility, documented rates, defects."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import analysis
from analysis.cli import app
from analysis.data.sample import DEFECTS, DOCUMENTED_RATES, generate, measured_rates, write_sample
from analysis.data.schema import EMAIL_EVENTS, NPS_TRIGGERS, TABLES
from analysis.errors import ConfigError

END = pd.Timestamp("2026-10-31")


@pytest.fixture(scope="module")
def mid():
    """A mid-size clean contractual base (2,000 customers, 24 months), as in the issue."""
    return generate(2000, seed=7, business="contractual", months=24, end=END, messy=False)


@pytest.fixture(scope="module")
def small_dirs(tmp_path_factory):
    """Small bases written to disk: same seed twice, another seed, a clean one."""
    root = tmp_path_factory.mktemp("samples")
    kw = dict(months=6, end="2026-10-31", business="contractual")
    dirs = {
        "a": root / "a", "b": root / "b", "other": root / "other", "clean": root / "clean",
    }
    write_sample(dirs["a"], 300, seed=11, messy=True, **kw)
    write_sample(dirs["b"], 300, seed=11, messy=True, **kw)
    write_sample(dirs["other"], 300, seed=12, messy=True, **kw)
    write_sample(dirs["clean"], 300, seed=11, messy=False, **kw)
    return dirs


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# ----------------------------------------------------------------------- reproducibility
def test_same_seed_gives_byte_identical_files(small_dirs):
    a, b = _digest(small_dirs["a"]), _digest(small_dirs["b"])
    assert set(a) == {"customers.csv", "orders.csv.gz", "email_events.csv.gz", "nps.csv.gz",
                      "usage.csv.gz", "interventions.csv", "dataset.yml"}
    # the dataset.yml header names the output folder; every table must be identical
    assert {k: v for k, v in a.items() if k != "dataset.yml"} == {k: v for k, v in b.items() if k != "dataset.yml"}


def test_other_seed_gives_other_tables(small_dirs):
    a, o = _digest(small_dirs["a"]), _digest(small_dirs["other"])
    for name in ("customers.csv", "orders.csv.gz", "email_events.csv.gz", "nps.csv.gz", "usage.csv.gz",
                 "interventions.csv"):
        assert a[name] != o[name], name


def test_in_memory_generation_is_reproducible():
    one = generate(150, seed=3, months=4, messy=False)
    two = generate(150, seed=3, months=4, messy=False)
    for t in one.tables:
        pd.testing.assert_frame_equal(one.tables[t], two.tables[t])
    pd.testing.assert_frame_equal(one.truth, two.truth)


# ----------------------------------------------------------------------- documented rates
def test_generated_rates_within_documented_ranges(mid):
    rates = measured_rates(mid)
    assert set(rates) == set(DOCUMENTED_RATES)
    for key, (lo, hi) in DOCUMENTED_RATES.items():
        assert lo <= rates[key] <= hi, f"{key}={rates[key]:.4f} outside [{lo}, {hi}]"


def test_email_rates_counted_independently(mid):
    """Email KPIs recomputed from the event log alone (unique per customer and campaign)."""
    e = mid.tables["email_events"]
    per = e.assign(one=1).pivot_table(index=["customer_id", "campaign_id"], columns="event",
                                      values="one", aggfunc="sum", fill_value=0)
    sent = (per["sent"] > 0).sum()
    delivered = (per["delivered"] > 0).sum()
    assert (per["sent"] == 1).all()  # one send per customer and campaign
    assert 0.96 <= delivered / sent <= 0.985
    assert 0.20 <= (per["open"] > 0).sum() / delivered <= 0.35
    assert 0.02 <= (per["click"] > 0).sum() / delivered <= 0.05
    assert 0.002 <= (per["unsubscribe"] > 0).sum() / sent <= 0.005
    assert (per["spam_complaint"] > 0).sum() / delivered < 0.001
    assert 0.005 <= (per["bounce_hard"] > 0).sum() / sent <= 0.015
    # several opens of one email exist, so unique counting matters
    assert (per["open"] > 1).sum() > 0.2 * (per["open"] > 0).sum()
    # nobody clicks without opening; delivered and bounced are exclusive
    assert ((per["click"] > 0) <= (per["open"] > 0)).all()
    assert not ((per["delivered"] > 0) & ((per["bounce_hard"] + per["bounce_soft"]) > 0)).any()
    # after an unsubscribe, no further send to that customer
    unsub = e.loc[e["event"] == "unsubscribe"].groupby("customer_id")["event_time"].min()
    sends = e.loc[e["event"] == "sent", ["customer_id", "event_time"]]
    later = sends["event_time"] > sends["customer_id"].map(unsub)
    assert not later.fillna(False).any()


def test_yearly_churn_from_customers_table(mid):
    c = mid.tables["customers"]
    start = END + pd.Timedelta(days=1) - pd.DateOffset(months=12)
    active = (c["signup_date"] < start) & ~(c["churn_date"] < start)
    lost = active & (c["churn_date"] >= start) & (c["churn_date"] <= END)
    assert 0.15 <= lost.sum() / active.sum() <= 0.25


def test_campaigns_twice_a_month(mid):
    e = mid.tables["email_events"]
    camp = pd.to_datetime(e["campaign_id"].str.slice(4), format="%Y%m%d").drop_duplicates()
    assert len(camp) == 48
    assert set(camp.dt.day) == {6, 20}
    assert camp.dt.to_period("M").value_counts().eq(2).all()


def test_nps_quarterly_and_after_support(mid):
    n = mid.tables["nps"]
    assert set(n["trigger"]) == {"periodic", "support"}
    assert set(n["trigger"]) <= set(NPS_TRIGGERS)
    per = n.loc[n["trigger"] == "periodic", "response_date"]
    assert per.dt.to_period("Q").nunique() == 8  # one survey a quarter over 24 months
    survey = per.dt.to_period("Q").dt.start_time + pd.Timedelta(days=14)
    assert ((per - survey).dt.days.between(0, 13)).all()
    assert n["score"].between(0, 10).all()


def test_signals_precede_churn_in_observed_usage(mid):
    """Churners' usage falls well before they leave: sessions 4-12 weeks before the churn
    date versus their own level 24-48 weeks before, compared with retained customers."""
    c = mid.tables["customers"]
    u = mid.tables["usage"]
    churners = c.loc[c["churn_date"].notna() & (c["churn_date"] - c["signup_date"] > pd.Timedelta(weeks=52))
                     & (c["churn_date"] > END - pd.Timedelta(weeks=52))]
    ref = churners.set_index("customer_id")["churn_date"]
    x = u.loc[u["customer_id"].isin(ref.index)]
    weeks_before = (x["customer_id"].map(ref) - x["event_date"]).dt.days / 7
    recent = x.loc[weeks_before.between(4, 12)].groupby("customer_id")["sessions"].sum() / 8
    early = x.loc[weeks_before.between(24, 48)].groupby("customer_id")["sessions"].sum() / 24
    ratio = (recent.reindex(ref.index, fill_value=0) + 0.5) / (early.reindex(ref.index, fill_value=0) + 0.5)
    assert len(ratio) >= 50
    assert ratio.median() < 0.7


def _snapshot(base, as_of: pd.Timestamp) -> pd.DataFrame:
    """Label (lost within 90 days), usage drop and recency of customers alive at ``as_of``,
    computed from data before ``as_of`` only."""
    c = base.tables["customers"]
    alive = c.loc[(c["signup_date"] < as_of - pd.Timedelta(days=240))
                  & ~(c["churn_date"] < as_of)].set_index("customer_id")
    y = (alive["churn_date"] < as_of + pd.Timedelta(days=90)).astype(int)
    u = base.tables["usage"]
    u = u.loc[u["event_date"] < as_of]
    age = (as_of - u["event_date"]).dt.days
    recent = u.loc[age < 56].groupby("customer_id")["sessions"].sum().reindex(alive.index, fill_value=0) / 8
    before = u.loc[(age >= 56) & (age < 224)].groupby("customer_id")["sessions"].sum().reindex(alive.index, fill_value=0) / 24
    o = base.tables["orders"].rename(columns={"order_date": "t"})[["customer_id", "t"]]
    last = pd.concat([u[["customer_id", "event_date"]].rename(columns={"event_date": "t"}), o])
    last = last.loc[last["t"] < as_of].groupby("customer_id")["t"].max().reindex(alive.index)
    return pd.DataFrame({"y": y, "usage_drop": 1 - (recent + 0.5) / (before + 0.5),
                         "recency": (as_of - last).dt.days.fillna(9999)})


def test_churn_is_learnable_beyond_recency(mid):
    """On snapshots at four as-of dates, a drop in usage ranks the customers lost within the
    next 90 days better than recency does (contractual churners stay active until they cancel)."""
    snaps = pd.concat([_snapshot(mid, pd.Timestamp(d))
                       for d in ("2025-12-01", "2026-02-01", "2026-04-01", "2026-06-01")])
    assert snaps["y"].sum() >= 100
    auc_recency = roc_auc_score(snaps["y"], snaps["recency"])
    auc_drop = roc_auc_score(snaps["y"], snaps["usage_drop"])
    assert auc_drop > 0.74
    assert auc_drop > auc_recency + 0.04


def test_truth_kinds_consistent(mid):
    t = mid.truth
    churners = t.loc[t["churned"]]
    assert set(churners["churn_kind"]) <= {"gradual", "sudden", "other"}
    assert (t.loc[~t["churned"], "churn_kind"] == "").all()
    assert (churners.loc[churners["churn_kind"] == "gradual", "signal_lead_weeks"] >= 4).all()
    assert not t.loc[t["churned"], "false_alarm"].any()
    c = mid.tables["customers"].set_index("customer_id")
    pd.testing.assert_series_equal(t.set_index("customer_id")["churn_date"], c["churn_date"],
                                   check_names=False)


# ------------------------------------------------------------------------- data contract
def test_tables_follow_the_contract(mid):
    tabs = mid.tables
    for name, spec in TABLES.items():
        assert set(spec.required) <= set(tabs[name].columns), name
    c = tabs["customers"]
    assert c["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert c["customer_id"].is_unique
    assert {"plan", "sector", "size", "region", "channel", "name", "email", "phone"} <= set(c.columns)
    assert set(c["plan"]) == {"Starter", "Pro", "Enterprise"}
    assert set(c["size"]) == {"TPE", "PME", "ETI", "GE"}
    assert "Île-de-France" in set(c["region"]) and "Santé" in set(c["sector"])
    assert c["name"].str.endswith("(fictif)").all()
    assert c["email"].str.endswith("@exemple-fictif.fr").all()
    assert c["phone"].str.startswith("+33 6 39 98 ").all()
    assert (c["churn_date"].dropna() > c.loc[c["churn_date"].notna(), "signup_date"]).all()
    assert set(tabs["email_events"]["event"]) <= set(EMAIL_EVENTS)
    assert tabs["orders"]["order_id"].is_unique
    assert (tabs["orders"]["amount"] > 0).all()  # clean base: no refund
    assert tabs["usage"]["feature"].nunique() == 10
    assert (tabs["usage"]["sessions"] >= 1).all() and (tabs["usage"]["minutes"] > 0).all()
    # cohorts: customers sign up in every month of the window, and some before it
    window = c.loc[c["signup_date"] >= END - pd.DateOffset(months=24) + pd.Timedelta(days=1), "signup_date"]
    assert window.dt.to_period("M").nunique() == 24
    assert (c["signup_date"] < pd.Timestamp("2024-11-01")).mean() == pytest.approx(0.4, abs=0.05)


def test_activity_between_signup_and_churn(mid):
    c = mid.tables["customers"].set_index("customer_id")
    for name, spec in TABLES.items():
        if spec.time_column is None:
            continue
        t = mid.tables[name]
        when = t[spec.time_column]
        assert (when.dt.normalize() >= t["customer_id"].map(c["signup_date"])).all(), name
        assert (when.dt.normalize() < t["customer_id"].map(c["churn_date"]).fillna(END + pd.Timedelta(days=1))).all(), name
        assert when.min() >= pd.Timestamp("2024-11-01") and when.max() < END + pd.Timedelta(days=1), name


def test_load_clean_sample_quarantines_nothing(small_dirs):
    ds = analysis.load(small_dirs["clean"])
    assert ds.report.rows_quarantined == 0
    assert ds.config.business_model == "contractual" and ds.config.currency == "EUR"
    assert ds.config.language == "fr" and str(ds.config.observed_until) == "2026-10-31"
    assert set(ds.config.personal_columns) == {"name", "email", "phone"}
    assert not set(ds.segment_columns()) & {"name", "email", "phone"}
    assert all(ds.has(t) for t in ("orders", "email_events", "nps", "usage"))
    assert ds.report.tables["orders"].refunds == 0


def test_messy_sample_quarantines_exactly_the_documented_defects(small_dirs):
    ds = analysis.load(small_dirs["a"])
    counts = {(r.table, r.reason): r.rows for r in ds.report.quarantine_counts().itertuples()}
    expected = {k: v for k, v in DEFECTS.items() if k[1] != "refund"}
    assert counts == expected
    assert ds.report.tables["orders"].refunds == DEFECTS[("orders", "refund")]
    refunds = ds.orders.loc[ds.orders["is_refund"]]
    assert refunds["order_id"].str.startswith("R").all()
    # each refund mirrors a kept order of the same customer, at or after its date
    orig = ds.orders.set_index("order_id")
    src = orig.loc["O" + refunds["order_id"].str.slice(1)]
    assert (src["customer_id"].to_numpy() == refunds["customer_id"].to_numpy()).all()
    assert np.allclose(src["amount"].to_numpy(), -refunds["amount"].to_numpy())
    assert (refunds["order_date"].to_numpy() >= src["order_date"].to_numpy()).all()
    # the clean and messy bases share the same underlying events
    clean = analysis.load(small_dirs["clean"])
    assert len(ds.email_events) == len(clean.email_events)
    assert len(ds.usage) == len(clean.usage)
    assert len(ds.orders) == len(clean.orders) + DEFECTS[("orders", "refund")]


# ----------------------------------------------------------------------- non-contractual
def test_non_contractual_base_has_no_churn_date_and_lost_stop(tmp_path):
    base = generate(400, seed=5, business="non_contractual", months=12, messy=False)
    c = base.tables["customers"]
    assert "churn_date" not in c.columns and "tier" in c.columns
    assert set(base.tables["nps"]["trigger"]) == {"periodic", "delivery"}
    lost = base.truth.set_index("customer_id")["churn_date"].dropna()
    assert len(lost) > 20
    for name, col in (("orders", "order_date"), ("email_events", "event_time"),
                      ("nps", "response_date"), ("usage", "event_date")):
        t = base.tables[name]
        after = t[col].dt.normalize() >= t["customer_id"].map(lost)
        assert not after.fillna(False).any(), name
    write_sample(tmp_path, 400, seed=5, business="non_contractual", months=12, messy=False)
    ds = analysis.load(tmp_path)
    assert ds.config.business_model == "non_contractual"
    assert ds.customers["churn_date"].isna().all()
    assert ds.report.rows_quarantined == 0


# ------------------------------------------------------------------------ parameters, CLI
@pytest.mark.parametrize("kwargs", [
    {"business": "saas"}, {"customers": 0}, {"months": 0}, {"end": "31 octobre"}, {"seed": -1},
])
def test_bad_parameters_raise_config_error(kwargs):
    args = {"customers": 10, "seed": 1, "business": "contractual", "months": 3, "end": "2026-10-31"}
    args.update(kwargs)
    n = args.pop("customers")
    with pytest.raises(ConfigError):
        generate(n, **args)


def test_cli_sample_writes_a_loadable_base(tmp_path):
    out = tmp_path / "s"
    res = CliRunner().invoke(app, ["sample", "--customers", "200", "--seed", "3", "--months", "6",
                                   "--end", "2026-06-30", "--clean", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "200 contractual customers" in res.output
    cfg = yaml.safe_load((out / "dataset.yml").read_text(encoding="utf-8"))
    assert cfg["observed_until"] == "2026-06-30" and cfg["business_model"] == "contractual"
    ds = analysis.load(out)
    assert len(ds.customers) == 200 and ds.report.rows_quarantined == 0
    assert ds.observed_until == pd.Timestamp("2026-06-30")
    bad = CliRunner().invoke(app, ["sample", "--business", "saas", "--out", str(out)])
    assert bad.exit_code == 1 and "contractual or non_contractual" in bad.output


def test_parquet_format_loads_the_same(tmp_path):
    write_sample(tmp_path / "p", 150, seed=2, months=4, messy=False, fmt="parquet")
    write_sample(tmp_path / "c", 150, seed=2, months=4, messy=False, fmt="csv")
    p, c = analysis.load(tmp_path / "p"), analysis.load(tmp_path / "c")
    assert p.report.rows_quarantined == 0
    for t in ("orders", "email_events", "nps", "usage"):
        assert len(getattr(p, t)) == len(getattr(c, t)), t
    pd.testing.assert_series_equal(p.customers["customer_id"], c.customers["customer_id"])
