"""A line-level retail export (invoice lines, C-prefixed cancellations, float ids, guest lines):
orders from lines, degenerate BG/NBD fits, and a score run that holds (issue 11)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter
from retail_lines import retail_lines, write_retail
from typer.testing import CliRunner

import analysis
from analysis.cli import app
from analysis.data.config import DatasetConfig, TableConfig, parse_config
from analysis.errors import ConfigError
from analysis.models.baselines import BGNBDBaseline, DegenerateFitError, bgnbd_scores, rfm_summary
from analysis.models.classifier import SCORE_COLUMNS, score
from analysis.models.features import customer_status, feature_columns, features

AS_OF = "2011-09-09"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_retail(tmp_path_factory.mktemp("retail"))


@pytest.fixture(scope="module")
def ds(folder):
    return analysis.load(folder)


@pytest.fixture(scope="module")
def result(ds):
    return score(ds, AS_OF, 90)


# ----------------------------------------------------------------------------- orders from lines
def test_order_lines_become_one_purchase_by_hand():
    lines = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "B", "B", "A"],
        "order_id": ["100", "100", "C100", "101", "102", "102", None],
        "order_date": ["2024-01-05 10:00", "2024-01-05 09:30", "2024-01-08", "2024-02-01", "2024-01-10",
                       "2024-01-10", "2024-03-01"],
        "amount": [10.0, 5.5, -5.5, 20.0, 7.0, -9.0, 3.0],
    })
    cfg = DatasetConfig(business_model="non_contractual",
                        tables={"orders": TableConfig(cancellation_pattern="^C")})
    ds = analysis.from_frames(orders=lines, config=cfg)
    o = ds.orders.set_index(["customer_id", "order_id"], drop=False)
    # order 100: two lines, earliest 09:30, 15.50; its cancellation C100 nets -5.50 and is not a
    # purchase; 102 nets to -2.00 (negative: a refund); the line without id stays one purchase
    assert len(ds.orders) == 5
    assert o.loc[("A", "100"), "order_date"] == pd.Timestamp("2024-01-05 09:30")
    assert o.loc[("A", "100"), "amount"] == pytest.approx(15.5)
    assert bool(o.loc[("A", "C100"), "is_refund"]) and o.loc[("A", "C100"), "amount"] == pytest.approx(-5.5)
    assert bool(o.loc[("B", "102"), "is_refund"])
    assert not bool(o.loc[("A", "101"), "is_refund"])
    assert ds.orders.loc[ds.orders["order_id"].isna(), "amount"].tolist() == [3.0]
    purchases = ds.interactions(("purchase",))
    assert purchases.groupby("customer_id").size().to_dict() == {"A": 3}
    rep = ds.report.tables["orders"]
    assert (rep.rows_read, rep.rows_kept, rep.orders, rep.cancellations, rep.customers) == (7, 7, 4, 2, 2)
    assert "7 line(s) kept form 4 order(s) of 2 customer(s)" in ds.report.to_text()


def test_cancellation_pattern_is_checked():
    with pytest.raises(ConfigError, match="not a regular expression"):
        parse_config({"tables": {"orders": {"cancellation_pattern": "(["}}})
    with pytest.raises(ConfigError, match="only read under tables.orders"):
        parse_config({"tables": {"nps": {"cancellation_pattern": "^C"}}})
    with pytest.raises(ConfigError, match="capacity"):
        parse_config({"capacity": 0})
    assert parse_config({"capacity": 40}).capacity == 40


def test_fixture_validation_counts_lines_orders_customers(ds):
    raw = retail_lines()
    known = raw.loc[raw["CustomerID"].notna()]
    dup = known.duplicated().sum()
    kept = known.drop_duplicates()
    rep = ds.report.tables["orders"]
    assert rep.rows_read == len(raw) and rep.rows_kept == len(kept)
    assert rep.quarantined == {"missing_value:customer_id": int(raw["CustomerID"].isna().sum()),
                               "duplicate_row": int(dup)}
    assert rep.orders == kept["InvoiceNo"].nunique() == len(ds.orders)
    assert rep.cancellations == kept["InvoiceNo"].str.startswith("C").groupby(kept["InvoiceNo"]).first().sum()
    assert rep.customers == kept["CustomerID"].nunique() == 160
    assert set(ds.customers["customer_id"]) == {str(int(c)) for c in kept["CustomerID"].unique()}
    # an order's amount is the sum of its lines
    by_invoice = kept.groupby("InvoiceNo")["LineTotal"].sum()
    got = ds.orders.set_index("order_id")["amount"]
    assert np.allclose(got.loc[by_invoice.index], by_invoice)


# ----------------------------------------------------------------------------- degenerate BG/NBD
def test_degenerate_bgnbd_fit_is_detected_and_dropped(ds):
    d = pd.Timestamp("2011-04-01")
    summ = rfm_summary(ds.orders, d, signup=ds.customers.set_index("customer_id")["signup_date"])
    buyers = summ.loc[summ["T"] > 0]
    # the crash of the issue: the plain fit collapses (a and b about 1e-7, no convergence) and
    # the penalised one "succeeds" with infinite or NaN expected purchases
    raw = BetaGeoFitter(penalizer_coef=0.01).fit(buyers["frequency"], buyers["recency"], buyers["T"])
    e = raw.conditional_expected_number_of_purchases_up_to_time(90 / 7, summ["frequency"], summ["recency"], summ["T"])
    assert not np.isfinite(np.asarray(e, dtype=float)).all()
    with pytest.raises(DegenerateFitError) as err:
        BGNBDBaseline().fit(buyers, check=summ, t=90 / 7)
    assert err.value.reason == "non_finite_scores"
    bg = bgnbd_scores(ds, ["2011-03-01", "2011-04-01"], 90, errors="skip")
    fits = {f["as_of"]: f for f in bg.attrs["fits"]}
    assert fits["2011-04-01"]["status"] == "dropped" and fits["2011-04-01"]["reason"] == "non_finite_scores"
    assert fits["2011-03-01"]["status"] in ("ok", "penalized")
    assert set(bg["as_of"]) == {pd.Timestamp("2011-03-01")}
    assert np.isfinite(bg["expected_purchases"]).all()
    f = features(ds, ["2011-04-01"], horizon_days=90)
    num = f[feature_columns(f)].to_numpy(dtype=float)
    assert not np.isinf(num).any() and f["bgnbd_expected_purchases"].isna().all()


def test_too_few_buyers_is_a_degenerate_fit():
    with pytest.raises(DegenerateFitError) as err:
        BGNBDBaseline().fit(pd.DataFrame({"frequency": [0.0] * 12, "recency": 0.0, "T": 5.0}))
    assert err.value.reason == "too_few_buyers"


# ----------------------------------------------------------------------------- scoring
def test_status_by_hand():
    from analysis.data.config import Thresholds

    d = pd.Series([0, 29, 30, 89, 90, 179, 180, np.nan])
    assert customer_status(d, Thresholds(), 180).tolist() == [
        "active", "active", "watch", "watch", "inactive", "inactive", "lapsed", pd.NA]
    # a 60-day horizon: lapsed from 60 days, no room for "inactive"
    assert customer_status(pd.Series([59, 60, 95]), Thresholds(), 60).tolist() == ["watch", "lapsed", "lapsed"]


def test_fixture_scores_every_buyer(ds, result):
    s = result.scores
    assert list(s.columns) == SCORE_COLUMNS and s["customer_id"].is_unique
    buyers = ds.orders.loc[(ds.orders["order_date"] < AS_OF) & ~ds.orders["is_refund"], "customer_id"].unique()
    assert s["customer_id"].isin(buyers).sum() / len(buyers) >= 0.99
    assert np.isfinite(s["churn_probability"]).all() and s["churn_probability"].between(0, 1).all()
    assert set(s["status"]) <= {"active", "watch", "inactive", "lapsed"}
    lapsed = s.loc[s["status"].eq("lapsed")]
    assert len(lapsed) > 0 and (lapsed["days_since_last"] >= 90).all()
    assert lapsed["recommended_action"].isin(["win_back", "separate_list", "removal"]).all()
    summ = result.key_figures()
    assert summ["horizon_days"] == 90 and summ["bgnbd_dropped"]  # recorded for the sidecar
    assert sum(summ["n_by_status"].values()) == len(s)


def test_no_look_ahead_on_the_fixture(folder, result, tmp_path):
    raw = pd.read_csv(folder / "online_retail.csv", dtype=str)
    before = pd.to_datetime(raw["InvoiceDate"], format="%m/%d/%Y %H:%M") < pd.Timestamp(AS_OF)
    cut = tmp_path / "cut"
    cut.mkdir()
    raw.loc[before].to_csv(cut / "online_retail.csv", index=False)
    (cut / "dataset.yml").write_text((folder / "dataset.yml").read_text())
    again = score(analysis.load(cut), AS_OF, 90)
    pd.testing.assert_frame_equal(result.scores, again.scores)


def test_cli_scores_the_fixture_without_traceback(folder, tmp_path):
    out = tmp_path / "scores.csv"
    res = CliRunner().invoke(app, ["score", str(folder), "--as-of", AS_OF, "--horizon", "90", "--out", str(out),
                                   "--evaluate"])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    assert "BG/NBD       2011-04-01: dropped (non_finite_scores)" in res.output
    assert "forward AUC  all: model" in res.output
    got = pd.read_csv(out, dtype={"customer_id": str})
    assert list(got.columns) == [*SCORE_COLUMNS, "reasons"] and got["reasons"].notna().all()
    # an as-of date with no room for a snapshot: one line, exit code 1
    bad = CliRunner().invoke(app, ["score", str(folder), "--as-of", "2011-01-15", "--out", str(out)])
    assert bad.exit_code == 1 and "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1


def test_lapsed_customers_get_win_back_then_separate_list_then_removal():
    from analysis.metrics.priority import recommended_action

    frame = pd.DataFrame({"days_since_last": [100, 100, 200, 320, 20],
                          "status": ["inactive", "lapsed", "lapsed", "lapsed", "active"], "lost": False})
    # thresholds 30/60/90/180, two failed 60-day cycles: removal from 300 days
    assert recommended_action(frame).tolist() == ["personal_call", "win_back", "separate_list", "removal", "none"]


def test_one_horizon_per_run(ds):
    from analysis.models.classifier import resolve_run_parameters

    # the fixture's dataset.yml says 90 days; a run with 60 uses 60 for the status too
    f = features(ds, ["2011-06-01"], horizon_days=60)
    d = f["days_since_last"]
    assert f.loc[d >= 60, "status"].eq("lapsed").all() and f.loc[d < 60, "status"].ne("lapsed").all()
    assert ((d >= 60) & (d < 90)).any()
    assert resolve_run_parameters(ds) == (90, 150)  # dataset.yml horizon, documented default capacity
    assert resolve_run_parameters(ds, 60, 25) == (60, 25)
    with pytest.raises(ConfigError):
        resolve_run_parameters(ds, -5)


def test_a_failing_fit_is_one_clear_error():
    from analysis.errors import NotEnoughDataError
    from analysis.models.classifier import ChurnClassifier

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    # 2 calibration rows cannot be split into the 5 folds scikit-learn asks for: its ValueError
    # becomes the project's error, whose message fits on one line
    with pytest.raises(NotEnoughDataError, match="could not be fitted on 4 snapshot row") as err:
        ChurnClassifier("logit").fit(X, [0, 1, 0, 1], X.iloc[:2], [0, 1])
    assert "\n" not in str(err.value)
