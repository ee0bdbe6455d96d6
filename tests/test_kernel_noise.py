"""A report run prints its progress lines and nothing else: no "Kernel is running over TCP
without encryption" (the kernel talks over IPC) and no "KeyboardInterrupt caught in kernel"
(an idle kernel is not sent SIGINT before its shutdown)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.reporting.runner import run_report

NOTEBOOKS = Path(__file__).parent / "fixtures" / "notebooks"


def test_report_run_has_no_kernel_noise(tmp_path, capfd):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset.yml").write_text("business_model: non_contractual\n", encoding="utf-8")
    pd.DataFrame({"customer_id": ["C1", "C2"], "signup_date": ["2026-01-05", "2026-02-10"]}).to_csv(
        data / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ["C1", "C2"], "order_date": ["2026-01-10", "2026-02-15"],
                  "amount": [100.0, 200.0]}).to_csv(data / "orders.csv", index=False)
    lines: list[str] = []
    result = run_report(data, "2026-06-01", tmp_path / "reports", notebooks_dir=NOTEBOOKS, only="01",
                        parameters={"top_n": 3}, echo=lines.append)
    assert result.ok
    captured = capfd.readouterr()          # what the kernel process wrote on the terminal
    noise = captured.err + captured.out
    assert "without encryption" not in noise
    assert "KeyboardInterrupt" not in noise
    assert any("01_fixture_ok: done in" in line for line in lines)
