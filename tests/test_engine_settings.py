"""DuckDB's memory limit and threads as ``engine:`` settings of dataset.yml (issue 16): parsing
and its one-line errors, the settings DuckDB really runs with on every connection the product
opens on a dataset, and a validated copy reused when only those settings change."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

import analysis
from analysis.data import cache, dataset, duckdb_settings, partitions
from analysis.data.config import (
    EngineConfig,
    available_cpus,
    memory_bytes,
    parse_config,
    read_config,
)
from analysis.data.warehouse import Warehouse
from analysis.errors import ConfigError
from analysis.metrics.campaigns import covariates_at

CUSTOMERS = "customer_id,signup_date\nC1,2026-01-05\nC2,2026-02-10\nC3,2026-01-20\n"
ORDERS = ("customer_id,order_date,amount\nC1,2026-01-10,100.0\nC2,2026-02-15,200.5\nC3,2026-03-01,7.25\n"
          "C1,2026-03-10,20.0\n")
MODEL = "business_model: non_contractual\n"
SMALL = MODEL + "engine:\n  memory_limit: 512MB\n  threads: 1\n"

# DuckDB shows sizes in powers of 1024 with one decimal: 512 MB = 512,000,000 bytes
# = 512e6 / 1,048,576 = 488.28 MiB, shown "488.2 MiB"; 3 GB = 3e9 / 1,073,741,824 = 2.79 GiB, shown "2.7 GiB".
_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _shown_bytes(text: str) -> float:
    """Bytes of a size as DuckDB shows it (``"488.2 MiB"``)."""
    number, unit = re.fullmatch(r"([\d.]+)\s*(\w+)", text).groups()
    return float(number) * _UNITS[unit]


def _settings(con) -> tuple[float, int]:
    mem, threads = con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchall()[0]
    return _shown_bytes(mem), int(threads)


def _same_size(shown: float, expected: int) -> bool:
    """DuckDB's one decimal in MiB/GiB: within 0.1 of the unit shown."""
    return abs(shown - expected) < 0.1 * (2**30 if expected >= 2**30 else 2**20)


@pytest.fixture
def base(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (folder / "dataset.yml").write_text(SMALL, encoding="utf-8")
    return folder


@pytest.fixture
def seen(monkeypatch) -> list[tuple[float, int]]:
    """(memory limit in bytes, threads) of every connection set up by duckdb_settings."""
    out: list[tuple[float, int]] = []
    real = duckdb_settings.apply_settings

    def spy(con, engine=None):
        con = real(con, engine)
        out.append(_settings(con))
        return con

    monkeypatch.setattr(duckdb_settings, "apply_settings", spy)
    return out


# ------------------------------------------------------------------ parsing
def test_defaults_3gb_and_the_cpus_this_process_may_use(monkeypatch):
    eng = parse_config({}).engine
    assert (eng.memory_limit, eng.memory_limit_bytes, eng.threads) == ("3GB", 3_000_000_000, None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert eng.duckdb_threads == 3 == available_cpus()
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # macOS, Windows
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert eng.duckdb_threads == 16


@pytest.mark.parametrize(("text", "written", "n"), [
    ("1GB", "1GB", 1_000_000_000), ("1500MB", "1500MB", 1_500_000_000), ("2.5GB", "2.5GB", 2_500_000_000),
    ("1GiB", "1GiB", 1_073_741_824), ("512 MiB", "512MiB", 536_870_912), ("1.5gb", "1.5GB", 1_500_000_000),
    ("100000KB", "100000KB", 100_000_000), ("1TB", "1TB", 10**12), ("0.5TiB", "0.5TiB", 2**39),
])
def test_memory_limit_sizes(text, written, n):
    eng = parse_config({"engine": {"memory_limit": text, "threads": 4}}).engine
    assert (eng.memory_limit, eng.memory_limit_bytes, eng.threads, eng.duckdb_threads) == (written, n, 4, 4)
    assert memory_bytes(text) == n


MEMORY_EXPECTED = ("expected a size of 100MB or more such as 1GB, 1500MB or 2.5GB "
                   "(units KB, MB, GB, TB or KiB, MiB, GiB, TiB).")


@pytest.mark.parametrize(("value", "shown"), [
    ("lots", "'lots'"), (1024, "1024"), ("1G", "'1G'"), ("0GB", "'0GB'"), ("99MB", "'99MB'"),
    ("-1GB", "'-1GB'"), ("1 GBytes", "'1 GBytes'"), (None, "None"), ("1,5GB", "'1,5GB'"),
])
def test_bad_memory_limit_is_one_line(value, shown):
    with pytest.raises(ConfigError) as err:
        parse_config({"engine": {"memory_limit": value}})
    assert str(err.value) == f"dataset.yml: engine.memory_limit is {shown}; {MEMORY_EXPECTED}"


@pytest.mark.parametrize(("value", "shown"), [(0, "0"), (-2, "-2"), (1.5, "1.5"), ("4", "'4'"), (True, "True"),
                                              (None, "None")])
def test_bad_threads_is_one_line(value, shown):
    with pytest.raises(ConfigError) as err:
        parse_config({"engine": {"threads": value}})
    assert str(err.value) == f"dataset.yml: engine.threads is {shown}; expected a whole number, 1 or more."


def test_bad_setting_in_the_file_names_it(base):
    (base / "dataset.yml").write_text(MODEL + "engine:\n  threads: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^dataset\.yml: engine\.threads is 0; expected a whole number"):
        read_config(base)


# ------------------------------------------------------------------ what DuckDB runs with
def test_warehouse_runs_with_the_settings_of_dataset_yml(base):
    with Warehouse.open(base) as wh:
        mem, threads = _settings(wh.con)
        assert _same_size(mem, 512_000_000) and threads == 1
        assert wh.query("SELECT count(*) AS n FROM orders")["n"].iloc[0] == 4
    (base / "dataset.yml").write_text(MODEL + "engine:\n  memory_limit: 1.5GiB\n  threads: 3\n", encoding="utf-8")
    with Warehouse.open(base) as wh:  # the validated copy of the first open, read with the new settings
        mem, threads = _settings(wh.con)
        assert _same_size(mem, 1_610_612_736) and threads == 3  # 1.5 x 2^30: "1.5 GiB"


def test_warehouse_defaults_without_engine_block(base):
    (base / "dataset.yml").write_text(MODEL, encoding="utf-8")
    with Warehouse.from_dataset(analysis.load(base)) as wh:
        mem, threads = _settings(wh.con)
        assert _same_size(mem, 3_000_000_000) and threads == available_cpus()


def test_warehouse_over_frames_and_over_buckets(base):
    ds = analysis.load(base)
    with Warehouse.from_dataset(ds) as wh:
        mem, threads = _settings(wh.con)
        assert _same_size(mem, 512_000_000) and threads == 1
    pds = partitions.load_partitioned(base, n_buckets=2)
    with Warehouse.from_partitioned(pds) as wh:
        mem, threads = _settings(wh.con)
        assert _same_size(mem, 512_000_000) and threads == 1
        assert wh.query("SELECT sum(amount) AS s FROM orders")["s"].iloc[0] == pytest.approx(327.75)


def test_validation_into_buckets_reads_the_csv_with_the_settings(base, seen):
    pds = partitions.load_partitioned(base, n_buckets=2)
    assert pds.report.tables["orders"].rows_read == 4
    assert len(seen) == 2  # customers.csv and orders.csv, streamed by DuckDB
    assert all(_same_size(mem, 512_000_000) and threads == 1 for mem, threads in seen)


def test_load_in_memory_reads_the_csv_with_the_settings(base, seen):
    ds = dataset.load(base, cache=False)
    assert len(ds.orders) == 4 and len(seen) == 2
    assert all(_same_size(mem, 512_000_000) and threads == 1 for mem, threads in seen)


def test_campaign_joins_use_the_settings(base, seen):
    ds = dataset.load(base, cache=False)
    seen.clear()
    rows = pd.DataFrame({"customer_id": ["C1", "C2"], "action_date": pd.to_datetime(["2026-03-01", "2026-03-01"])})
    cov = covariates_at(ds, rows)
    assert len(seen) == 1 and _same_size(seen[0][0], 512_000_000) and seen[0][1] == 1
    # by hand: C1's last order before 1 March is 10 January (50 days), C2's 15 February (14 days)
    assert cov["recency"].tolist() == [50.0, 14.0]


# ------------------------------------------------------------------ the validated copy
def test_memory_and_threads_do_not_change_the_cache_key(base):
    h = cache.dataset_hash(base)
    for text in ("engine:\n  memory_limit: 1GB\n  threads: 2\n", "engine:\n  threads: 8\n",
                 "# tuned for this laptop\nengine: {memory_limit: 2GB}\n", ""):
        (base / "dataset.yml").write_text(MODEL + text, encoding="utf-8")
        assert cache.dataset_hash(base) == h, text
    for text in ("engine:\n  memory_limit: 1GB\n  buckets: 4\n", "currency: USD\nengine:\n  threads: 1\n",
                 "engine:\n  kind: spark\n  threads: 1\n"):
        (base / "dataset.yml").write_text(MODEL + text, encoding="utf-8")
        assert cache.dataset_hash(base) != h, text
    (base / "dataset.yml").write_text("engine:\n  memory_limit: 1GB\n", encoding="utf-8")  # nothing else
    only_settings = cache.dataset_hash(base)
    (base / "dataset.yml").unlink()
    assert cache.dataset_hash(base) == only_settings != h  # as without dataset.yml: the defaults


def test_changing_memory_limit_reuses_the_validated_copy(base, monkeypatch):
    analysis.load(base)  # validated once, copy written
    (base / "dataset.yml").write_text(MODEL + "engine:\n  memory_limit: 2GB\n  threads: 2\n", encoding="utf-8")

    def refuse(*args, **kwargs):
        raise AssertionError("validated again")

    monkeypatch.setattr(dataset, "_validate_folder", refuse)
    ds = analysis.load(base)
    assert len(ds.orders) == 4 and ds.config.engine == EngineConfig(memory_limit="2GB", threads=2)
