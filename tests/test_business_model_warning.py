"""An orders-only folder with no business_model is read as contractual: with no churn_date
nobody can be lost, and loading says so (a warning naming dataset.yml and the fix)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import analysis


def _orders_only(folder):
    folder.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"], "order_date": ["2026-01-01", "2026-02-01"],
                  "amount": [1.0, 2.0]}).to_csv(folder / "orders.csv", index=False)
    return folder


def test_missing_business_model_warns(tmp_path):
    folder = _orders_only(tmp_path / "shop")
    with pytest.warns(UserWarning, match="no business_model is set.*business_model: non_contractual"):
        analysis.load(folder)


def test_declared_business_model_or_churn_dates_do_not_warn(tmp_path):
    folder = _orders_only(tmp_path / "shop")
    (folder / "dataset.yml").write_text("business_model: contractual\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis.load(folder)            # declared: the user chose contractual
    other = _orders_only(tmp_path / "saas")
    pd.DataFrame({"customer_id": ["a", "b"], "signup_date": ["2025-12-01", "2025-12-01"],
                  "churn_date": ["2026-03-01", ""]}).to_csv(other / "customers.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis.load(other)             # churn dates present: contractual is meaningful
