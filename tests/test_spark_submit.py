"""The README's ``spark-submit`` command line, run as written (issue 16).

Run in a subprocess with master ``local[1]`` on an eighth of the sample's customers and
compared with the local engine; and which settings win under spark-submit. A file of its own
so that the test workers (``--dist loadfile``) share it out with ``tests/test_spark.py``.
As there, a missing PySpark or Java runtime FAILS in CI (``CI=true``) and skips elsewhere.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from test_spark import AS_OF, _spark_or_skip


@pytest.fixture(scope="module")
def sample():
    """The whole sample in memory."""
    import analysis
    from analysis.paths import SAMPLE_DIR

    return analysis.load(SAMPLE_DIR)


def _readme_spark_submit() -> str:
    """The ``spark-submit ... score ...`` command line of the README (exactly one)."""
    import re

    from analysis.paths import PROJECT_ROOT

    found = re.findall(r"`(spark-submit [^`]* score [^`]*)`", (PROJECT_ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(found) == 1, found
    return found[0]


def _spark_submit_script():
    """The ``spark-submit`` the PySpark wheel installed: next to this interpreter (a venv's
    ``bin/``), else in the ``bin/`` of the ``pyspark`` package."""
    import sys
    from pathlib import Path

    import pyspark

    for script in (Path(sys.executable).parent / "spark-submit", Path(pyspark.__file__).parent / "bin" / "spark-submit"):
        if script.is_file() and os.access(script, os.X_OK):
            return script
    pytest.fail(f"no spark-submit next to {sys.executable} nor in {Path(pyspark.__file__).parent / 'bin'}")


def test_spark_submit_settings_win_over_the_engines_defaults_but_not_over_dataset_yml():
    """Under spark-submit, the parallelism and UI it was given stay (not the engine's defaults);
    what the numbers need (UTC, Arrow, nanosecond timestamps) stays; dataset.yml and
    --spark-conf win over both."""
    from analysis.data.spark import SPARK_DEFAULTS, SparkSettings, _session_conf

    assert _session_conf(SparkSettings(), {}) == SPARK_DEFAULTS  # not submitted: every default
    given = {"spark.sql.shuffle.partitions": "64", "spark.ui.enabled": "true",
             "spark.sql.session.timeZone": "Europe/Paris", "spark.executor.memory": "8g"}
    conf = _session_conf(SparkSettings(), given)
    assert "spark.sql.shuffle.partitions" not in conf and "spark.ui.enabled" not in conf
    assert "spark.executor.memory" not in conf  # never touched: spark-submit's own
    assert conf["spark.sql.session.timeZone"] == "UTC" and conf["spark.sql.legacy.parquet.nanosAsLong"] == "true"
    assert conf["spark.ui.showConsoleProgress"] == "false"  # spark-submit did not set it: the default
    mine = _session_conf(SparkSettings(conf={"spark.sql.shuffle.partitions": "16"}), given)
    assert mine["spark.sql.shuffle.partitions"] == "16"


def test_readme_spark_submit_command_gives_the_local_engines_scores(sample, tmp_path):
    """The README's ``spark-submit`` command line, run as written (``$(python -c ...)`` finds the
    CLI file) with ``--master local[1]`` on one eighth of the sample's customers (every table's rows
    of them, as in ``test_partitions.py``: the whole sample would take a minute): the session is the
    one spark-submit set up (its master, not the engine's default ``local[2]``, and the shuffle
    partitions of its ``spark-defaults.conf``, not the engine's default 8), the call list CSV
    is the local engine's (one bucket: the in-memory path), line for line, reasons included, and
    every score written by Spark is the local engine's score (1e-9)."""
    import re
    import shlex
    import subprocess
    import sys
    from dataclasses import replace

    import analysis
    from analysis.data.partitions import bucket_of
    from analysis.models.classifier import SCORE_COLUMNS, score
    from analysis.paths import SAMPLE_DIR
    from analysis.reporting.risk_text import scores_table
    from analysis.reporting.safety import write_people_csv

    _spark_or_skip()
    folder = tmp_path / "export"
    folder.mkdir()
    for table, frame in sample.tables.items():
        frame.loc[bucket_of(frame["customer_id"], 8) == 0].to_parquet(folder / f"{table}.parquet", index=False)
    (folder / "dataset.yml").write_text((SAMPLE_DIR / "dataset.yml").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "calls.csv"

    documented = _readme_spark_submit()
    command = documented
    for old, new in (("spark-submit ", f"{shlex.quote(str(_spark_submit_script()))} "),
                     ("--master yarn ", "--master 'local[1]' "), (" /data/export ", f" {shlex.quote(str(folder))} "),
                     ("--as-of 2026-11-01 ", f"--as-of {AS_OF} "), ("--out calls.csv", f"--out {shlex.quote(str(out))}")):
        assert command.count(old) == 1, (old, documented)
        command = command.replace(old, new)
    assert "$(python -c " in command  # the README's way of finding the CLI file, run by the shell
    bin_dir = tmp_path / "bin"  # `python` in the command is this interpreter, as in an activated venv
    bin_dir.mkdir()  # (a script, not a symlink: a venv's python finds its packages from its own path)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n', encoding="utf-8")
    (bin_dir / "python").chmod(0o755)
    # a cluster's own setting, in spark-submit's spark-defaults.conf: it wins over the engine's default (8)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "spark-defaults.conf").write_text("spark.sql.shuffle.partitions 3\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYSPARK_PYTHON=sys.executable,
               SPARK_CONF_DIR=str(tmp_path / "conf"), CHURN_RADAR_CACHE_DIR=str(tmp_path / "cache"),
               SPARK_LOCAL_IP="127.0.0.1")  # one machine: the loopback, whatever the host name resolves to
    proc = subprocess.Popen(["bash", "-c", command], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # the reference meanwhile (spark-submit works on one core): the local engine's scores
        ds = analysis.load(folder, cache=False)
        want = score(ds, AS_OF)
        lang = ds.config.language
        write_people_csv(scores_table(replace(want, scores=want.call_list), lang), tmp_path / "want.csv")
        printed, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, printed[-3000:]
    # spark-submit runs the CLI's Python with its stderr on spark-submit's stdout: the progress lines are there
    assert re.search(r"^spark        local\[1\], Spark [\d.]+, 3 shuffle partitions$", printed, re.M), printed[-3000:]
    assert f"written      {out} (call list, {want.capacity} customers)" in printed

    got_csv = pd.read_csv(out, dtype=str, keep_default_na=False)
    want_csv = pd.read_csv(tmp_path / "want.csv", dtype=str, keep_default_na=False)
    assert len(want_csv) == want.capacity == 150 and want_csv["customer_id"].is_unique
    assert list(got_csv.columns) == list(want_csv.columns)
    numeric = ["days_since_last", "churn_probability", "value", "expected_value_at_risk"]
    text = [c for c in want_csv.columns if c not in numeric]
    pd.testing.assert_frame_equal(got_csv[text], want_csv[text])  # same customers, same order, same reasons
    np.testing.assert_allclose(got_csv[numeric].astype(float), want_csv[numeric].astype(float), rtol=0, atol=1e-9)

    every = pd.read_parquet(tmp_path / "calls-all-scores")
    assert len(every) == len(want.scores) == every["customer_id"].nunique() > 250
    every = every.set_index("customer_id").loc[want.scores["customer_id"]].reset_index()[SCORE_COLUMNS]
    _close_scores(every, want.scores.reset_index(drop=True))


def _close_scores(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Numbers equal to 1e-9 (missing where missing), everything else equal."""
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if pd.api.types.is_numeric_dtype(b[col]) and not pd.api.types.is_bool_dtype(b[col]):
            np.testing.assert_allclose(a[col].to_numpy(dtype="float64", na_value=np.nan),
                                       b[col].to_numpy(dtype="float64", na_value=np.nan), rtol=0, atol=1e-9,
                                       err_msg=col)
        else:
            assert a[col].astype("string").fillna("<NA>").tolist() == b[col].astype("string").fillna("<NA>").tolist(), col


def test_session_plan_sets_no_master_on_a_platform_and_never_stops_a_databricks_session(monkeypatch):
    """The master and the stop of a session the engine builds: run directly, its default master
    and stopped at the end; under spark-submit, spark-submit's master (none set here) and
    stopped as before; in a Databricks job, the cluster's master and never stopped (the
    cluster owns it); a master named in the settings always wins."""
    from analysis.data.spark import DEFAULT_MASTER, SparkSettings, _session_plan

    for var in ("PYSPARK_GATEWAY_PORT", "SPARK_SUBMIT", "PYSPARK_SUBMIT_ARGS", "DATABRICKS_RUNTIME_VERSION"):
        monkeypatch.delenv(var, raising=False)
    assert _session_plan(SparkSettings()) == (DEFAULT_MASTER, True)
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40123")
    assert _session_plan(SparkSettings()) == (None, True)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT")
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    assert _session_plan(SparkSettings()) == (None, False)
    assert _session_plan(SparkSettings(master="local[1]")) == ("local[1]", False)
