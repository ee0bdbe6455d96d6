"""`churn-radar validate`: exit 0 with the report when usable, exit 1 with a plain message when not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from analysis.cli import main


def test_validate_prints_the_report_and_writes_quarantine(tmp_path: Path, capsys) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "orders.csv").write_text("customer_id;order_date;amount\na;2026-01-01;1,5\na;2026-01-01;1,5\n")
    code = main(["validate", str(data), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "rows read 2, kept 1, quarantined 1" in out
    assert "duplicate_row" in out and "sep=';'" in out and "usable: yes" in out
    assert (tmp_path / "out" / "quarantine" / "orders.csv").exists()


def test_validate_unusable_table_exits_1_with_a_message(tmp_path: Path, capsys) -> None:
    (tmp_path / "orders.csv").write_text("client,amount\na,1\n")
    code = main(["validate", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "orders.csv" in err and "customer_id, order_date" in err and "Traceback" not in err


def test_module_entry_point_has_help() -> None:
    res = subprocess.run([sys.executable, "-m", "analysis", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "validate" in res.stdout
