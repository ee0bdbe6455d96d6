"""Notebook 02 (retro-audit of lost clients) executed headless; its sidecar is checked against
the package's own :class:`analysis.models.audit.RetroAudit` on the same data and parameters.

Runs here on a tiny orders-only base (the email, NPS and usage indicators must be reported
as not available); the run on ``data/sample`` is the shared report's, checked in
test_report_sample.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from notebook_runs import execute, output_text

import analysis
from analysis.models.audit import VERDICTS, RetroAudit
from analysis.models.tuning import ThresholdTuner
from analysis.paths import NOTEBOOKS_DIR
from analysis.reporting.i18n import t
from analysis.reporting.outputs import to_jsonable

pytestmark = pytest.mark.notebook

NOTEBOOK = NOTEBOOKS_DIR / "02_retro_audit.ipynb"
KEYS = {"n_lost", "lookback_weeks", "min_lead_weeks", "share_signal_4w", "share_signal_8w", "share_signal_12w",
        "share_signal_min_lead", "share_signal_min_lead_ci", "false_alarm_any", "verdict", "silent_churners",
        "preventable_revenue", "per_indicator", "reaction_delay_days"}


def _tiny(folder: Path) -> Path:
    """Orders only: 12 customers buying weekly; four of them cancel in May-June 2026, two of
    which see their basket fall first."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"k{i:02d}" for i in range(12)]
    churn = {"k00": "2026-06-01", "k01": "2026-06-01", "k02": "2026-05-11", "k03": "2026-05-25"}
    pd.DataFrame({
        "customer_id": ids,
        "signup_date": "2025-01-06",
        "churn_date": [churn.get(c, "") for c in ids],
        "region": ["Nord", "Sud"] * 6,
        "email": [f"{c}@exemple-fictif.fr" for c in ids],  # personal: never shown
    }).to_csv(folder / "customers.csv", index=False)
    end = pd.Timestamp("2026-06-29")
    j = np.arange(0, 75)
    rows = []
    for c in ids:
        stop = pd.Timestamp(churn[c]) if c in churn else end
        dates = stop - pd.to_timedelta(7 * j + 3, unit="D")
        amount = np.where((j <= 12) & (c in ("k00", "k02", "k05")), 20.0, 100.0)
        rows.append(pd.DataFrame({"customer_id": c, "order_date": dates.strftime("%Y-%m-%d"), "amount": amount}))
    orders = pd.concat(rows, ignore_index=True)
    orders = orders.loc[pd.to_datetime(orders["order_date"]) >= pd.Timestamp("2025-01-06")]
    orders.to_csv(folder / "orders.csv", index=False)
    return folder


def _run(tmp_path: Path, data_dir: Path | str, params: dict) -> tuple[dict, nbformat.NotebookNode]:
    side, nb, _ = execute("02_retro_audit", tmp_path, {"data_dir": str(data_dir), **params})
    return side, nb


_text = output_text


def _audit_part(sidecar: dict) -> dict:
    return {k: v for k, v in sidecar.items() if not k.startswith("tuning_")}


def _tuning_part(sidecar: dict) -> dict:
    """The threshold-tuning figures (issue #15) recorded by the notebook's tuning section."""
    return {k: v for k, v in sidecar.items() if k.startswith("tuning_")}


def test_notebook_is_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("data_dir", "as_of", "n_lost", "lookback_weeks", "min_lead_weeks", "lang", "output_dir"):
        assert re.search(rf"^{name}: \w+ = .+  # ", tagged[0].source, re.M), name
    for c in code:
        assert not c.get("outputs") and c.get("execution_count") is None
        assert not re.search(r"^\s*(def|class) ", c.source, re.M)
        assert "datetime.now" not in c.source and "date.today" not in c.source


def test_tiny_orders_only(tmp_path):
    folder = _tiny(tmp_path / "tiny")
    params = {"as_of": "2026-06-29", "n_lost": 4, "lookback_weeks": 12, "min_lead_weeks": 4, "lang": "en"}
    sidecar, nb = _run(tmp_path, folder, params)
    assert KEYS <= set(sidecar)
    ds = analysis.load(folder)
    expected = RetroAudit(n_lost=4, lookback_weeks=12, min_lead_weeks=4, random_state=0).fit(ds, "2026-06-29")
    assert _audit_part(sidecar) == json.loads(json.dumps(to_jsonable(expected.key_figures())))
    tuner = ThresholdTuner(min_median_lead_weeks=4, random_state=0).fit(expected, ds)
    assert _tuning_part(sidecar) == json.loads(json.dumps(to_jsonable(tuner.key_figures())))
    assert sidecar["n_lost"] == 4 and sidecar["reaction_delay_days"] is None
    assert sidecar["verdict"] in VERDICTS
    # k00 and k02 lose basket: a value alert 8 weeks ahead (worked out in tests/test_audit.py)
    clients = expected.clients_.set_index("customer_id")
    assert clients.loc["k00", "lead_weeks_any"] == 8.0 and clients.loc["k02", "lead_weeks_any"] == 8.0
    assert sidecar["share_signal_8w"] == 0.5
    text = _text(nb)
    assert t("not_available", "en", table=", ".join(t(x, "en") for x in ("email_events", "nps", "usage"))) in text
    assert t("aud_reaction_na", "en") in text
    assert "exemple-fictif" not in text
    assert (tmp_path / "out" / "figures" / "02_retro_audit_swimlane.png").exists()
    lanes = pd.read_csv(tmp_path / "out" / "tables" / "02_retro_audit_swimlane.csv")
    assert lanes["lane"].nunique() == 4
    assert (tmp_path / "out" / "figures" / "02_retro_audit_tuning_tradeoff.png").exists()
