"""Hostile inputs (issue 13), report runs on a fixture notebook that waits for a signal
file: concurrent runs of a month are refused, interrupted runs (SIGTERM, SIGKILL) leave the
old month untouched and no partial folder under the month's name, ``--force`` keeps the old
month in place until the new one is complete, and an as-of date past the data is refused
unless ``--allow-empty-month`` (the index then says so). Three kernel starts in all.
"""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.cli import main
from analysis.reporting.i18n import t
from analysis.reporting.runner import month_lock

FIXTURES = Path(__file__).parent / "fixtures"
WAITING = FIXTURES / "slow"
AS_OF = "2030-01-01"  # far past the data: every run here also needs --allow-empty-month

CUSTOMERS = "customer_id,signup_date,sector\nC1,2026-01-05,retail\nC2,2026-02-10,industry\n"
ORDERS = "customer_id,order_date,amount\nC1,2026-01-10,100.0\nC2,2026-02-15,200.0\n"


def _data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    return folder


def _argv(data: Path, out: Path, release: Path, marker: str) -> list[str]:
    return ["report", str(data), "--as-of", AS_OF, "--out", str(out), "--notebooks", str(WAITING), "--force",
            "--allow-empty-month", "-p", f"release_file={release}", "-p", f"marker={marker}"]


def _start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "analysis", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _wait_started(out: Path, proc: subprocess.Popen, timeout: float = 120) -> Path:
    """The partial folder of a running report, once its notebook has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = list(out.glob(f".{AS_OF}.partial-*/started.txt"))
        if hits:
            return hits[0].parent
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the run did not start in time")


def _old_month(out: Path) -> Path:
    old = out / AS_OF
    old.mkdir(parents=True)
    (old / "index.html").write_text("the previous run", encoding="utf-8")
    return old


@pytest.fixture
def setup(tmp_path):
    return _data(tmp_path / "data"), tmp_path / "reports", tmp_path / "release"


def test_as_of_past_the_data_refused_in_one_line(setup, capsys):
    data, out, _ = setup
    code = main(["report", str(data), "--as-of", AS_OF, "--out", str(out), "--notebooks", str(WAITING)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "data ends on 2026-02-15" in err and "--allow-empty-month" in err and "up to 2026-03-31" in err
    assert not (out / AS_OF).exists()


def test_lock_held_refuses_a_second_run(setup, capsys):
    data, out, release = setup
    out.mkdir()
    with month_lock(out, AS_OF):
        code = main(_argv(data, out, release, "B"))
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"another report run is writing {AS_OF}" in err and f"pid {os.getpid()}" in err
    assert not (out / AS_OF).exists() and not list(out.glob(".*partial*"))


def test_concurrent_run_refused_then_sigterm_leaves_old_month(setup, capsys):
    data, out, release = setup
    old = _old_month(out)
    first = _start(_argv(data, out, release, "A"))
    try:
        partial = _wait_started(out, first)
        assert partial.name.startswith(f".{AS_OF}.partial-")  # hidden, not under the month's name
        assert (old / "index.html").read_text(encoding="utf-8") == "the previous run"  # --force: still in place
        # a second run of the same month while the first writes: refused, one line
        code = main(_argv(data, out, release, "B"))
        err = capsys.readouterr().err.strip()
        assert code == 1 and len(err.splitlines()) == 1 and "another report run is writing" in err
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode != 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [AS_OF]
    assert sorted(p.name for p in old.iterdir()) == ["index.html"]
    assert (old / "index.html").read_text(encoding="utf-8") == "the previous run"
    assert not list(out.glob(".*partial*"))  # cleaned on SIGTERM


def test_sigkill_leaves_old_month_then_next_run_completes(setup):
    data, out, release = setup
    old = _old_month(out)
    killed = _start(_argv(data, out, release, "A"))
    try:
        partial = _wait_started(out, killed)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
    finally:
        if killed.poll() is None:
            killed.kill()
    assert (old / "index.html").read_text(encoding="utf-8") == "the previous run"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [AS_OF]
    assert partial.exists()  # only a hidden partial folder is left, never under the month's name

    release.write_text("go", encoding="utf-8")
    assert main(_argv(data, out, release, "C")) == 0
    run = out / AS_OF
    assert not partial.exists() and not list(out.glob(".*partial*"))  # the stale one is removed
    assert json.loads((run / "01_fixture_wait.json").read_text(encoding="utf-8"))["marker"] == "C"
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    previous = out / f"{AS_OF}.previous-1"
    assert manifest["previous_run_moved_to"] == str(previous.resolve())
    assert (previous / "index.html").read_text(encoding="utf-8") == "the previous run"
    assert manifest["parameters"]["output_dir"] == str(run.resolve())  # the final folder, not the partial
    assert manifest["month_has_data"] is False
    executed = (run / "01_fixture_wait.ipynb").read_text(encoding="utf-8")
    assert str(run.resolve()) in executed and ".partial-" not in executed
    index = html.unescape((run / "index.html").read_text(encoding="utf-8"))
    assert t("report_month_without_data", "fr", end="15/02/2026") in index  # French date style
