"""The validated copy (analysis.data.cache): one validation per export, reused until the
export, its dataset.yml or the validation code change, and identical to a fresh validation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import analysis
from analysis.data import cache, dataset
from analysis.paths import EXAMPLES_DIR, SAMPLE_DIR

CUSTOMERS = "customer_id,signup_date,churn_date,sector,email\nC1,2026-01-05,,retail,a@x.fr\nC2,2026-02-10,,industry,b@x.fr\n"
# line 4 has no date and line 5 repeats line 2: validation quarantines both
ORDERS = ("customer_id,order_date,amount\nC1,2026-01-10,100.0\nC2,2026-02-15,200.5\n"
          "C2,,10.0\nC1,2026-01-10,100.0\nC3,2026-03-01,7.25\n")


def _tiny(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    return folder


@pytest.fixture
def validations(monkeypatch):
    """Every validation of a folder, recorded (a spy around the slow step)."""
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)  # the default place, beside the data
    seen: list[Path] = []
    real = dataset._validate_folder

    def spy(folder, config):
        seen.append(Path(folder))
        return real(folder, config)

    monkeypatch.setattr(dataset, "_validate_folder", spy)
    return seen


def _entries(folder: Path) -> list[str]:
    root = folder / cache.CACHE_DIRNAME
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def _same(a: analysis.Dataset, b: analysis.Dataset) -> None:
    assert sorted(a.tables) == sorted(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    assert a.report.as_dict() == b.report.as_dict()
    assert a.report.to_text() == b.report.to_text()
    assert sorted(a.report.quarantine) == sorted(b.report.quarantine)
    for name, frame in a.report.quarantine.items():
        assert frame.to_csv(index=False) == b.report.quarantine[name].to_csv(index=False), name
    assert (a.observed_from, a.observed_until) == (b.observed_from, b.observed_until)
    assert a.config == b.config and a.path == b.path


def test_second_load_reads_the_validated_copy(tmp_path, validations):
    data = _tiny(tmp_path / "data")
    first = analysis.load(data, quarantine_dir=tmp_path / "q1")
    assert len(validations) == 1
    assert _entries(data) == [cache.dataset_hash(data)]
    entry = data / cache.CACHE_DIRNAME / cache.dataset_hash(data)
    assert {p.name for p in (entry / "tables").iterdir()} == {"customers.parquet", "orders.parquet"}
    second = analysis.load(data, quarantine_dir=tmp_path / "q2")
    assert len(validations) == 1  # read back, not validated again
    _same(first, second)
    # by hand: 5 order lines read, 3 kept, 1 without a date and 1 duplicate quarantined;
    # C3 is added to customers at its first order
    rep = second.report.tables["orders"]
    assert (rep.rows_read, rep.rows_kept, rep.quarantined) == (
        5, 3, {"missing_value:order_date": 1, "duplicate_row": 1})
    for r in second.report.tables.values():
        assert r.rows_read == r.rows_kept + r.rows_quarantined
    assert second.orders["amount"].tolist() == [100.0, 200.5, 7.25]
    assert second.customers["customer_id"].tolist() == ["C1", "C2", "C3"]
    q1 = (tmp_path / "q1" / "quarantine" / "orders.csv").read_text(encoding="utf-8")
    assert q1 == (tmp_path / "q2" / "quarantine" / "orders.csv").read_text(encoding="utf-8")
    assert q1.count("\n") == 3 and "missing_value:order_date" in q1 and ",5\n" in q1  # header + 2 rows; line 5


def test_changed_file_or_dataset_yml_is_validated_again(tmp_path, validations):
    data = _tiny(tmp_path / "data")
    before = analysis.load(data)
    assert before.orders["amount"].sum() == pytest.approx(307.75)
    (data / "orders.csv").write_text(ORDERS.replace("200.5", "300.5"), encoding="utf-8")
    after = analysis.load(data)
    assert len(validations) == 2
    assert after.orders["amount"].sum() == pytest.approx(407.75)
    assert _entries(data) == [cache.dataset_hash(data)]  # the entry of the old content is removed
    (data / "dataset.yml").write_text("observed_until: 2026-02-28\n", encoding="utf-8")
    bounded = analysis.load(data)
    assert len(validations) == 3
    assert bounded.report.tables["orders"].quarantined["after_dataset_end"] == 1  # C3 on 2026-03-01
    analysis.load(data)
    assert len(validations) == 3
    (data / "nps.csv").write_text("customer_id,response_date,score\nC1,2026-02-01,9\n", encoding="utf-8")
    assert analysis.load(data).has("nps") and len(validations) == 4  # a new table counts too


def test_the_cache_does_not_change_the_dataset_hash(tmp_path, validations):
    data = _tiny(tmp_path / "data")
    h = cache.dataset_hash(data)
    analysis.load(data)
    assert (data / cache.CACHE_DIRNAME).is_dir()
    assert cache.dataset_hash(data) == h
    assert all(not key.startswith(".") for key, _ in cache.dataset_files(data))


def test_explicit_config_or_cache_off_always_validates(tmp_path, validations):
    data = _tiny(tmp_path / "data")
    analysis.load(data, cache=False)
    analysis.load(data, config=analysis.DatasetConfig(currency="USD"))
    assert len(validations) == 2 and _entries(data) == []
    assert analysis.load(data).config.currency == "EUR"  # the dataset.yml default, not the override
    assert len(validations) == 3


def test_other_validation_code_rebuilds_the_entry(tmp_path, validations, monkeypatch):
    data = _tiny(tmp_path / "data")
    analysis.load(data)
    monkeypatch.setattr(cache, "validator_fingerprint", lambda: "other rules")
    analysis.load(data)
    assert len(validations) == 2
    meta = json.loads((data / cache.CACHE_DIRNAME / cache.dataset_hash(data) / "entry.json").read_text())
    assert meta["validator"] == "other rules" and meta["format"] == cache.FORMAT and meta["layout"] == "single"


def test_same_content_elsewhere_reads_the_copy_with_its_own_paths(tmp_path, validations, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "shared-cache"))
    a = _tiny(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    first = analysis.load(a)
    copy = analysis.load(b)
    assert len(validations) == 1 and not (a / cache.CACHE_DIRNAME).exists()
    assert copy.report.tables["orders"].file == str(b / "orders.csv")
    assert first.report.tables["orders"].file == str(a / "orders.csv")
    assert copy.path == b
    assert [p.name for p in (tmp_path / "shared-cache").iterdir()] == [cache.dataset_hash(a)]


def test_unwritable_data_folder_uses_the_user_cache(tmp_path, validations, monkeypatch):
    data = _tiny(tmp_path / "data")
    monkeypatch.setattr(cache, "_writable", lambda folder: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    assert cache.cache_root(data) == tmp_path / "home-cache" / "churn-radar"
    analysis.load(data)
    analysis.load(data)
    assert len(validations) == 1 and not (data / cache.CACHE_DIRNAME).exists()


def test_a_concurrent_writer_keeps_the_first_entry(tmp_path, validations):
    data = _tiny(tmp_path / "data")
    ds = analysis.load(data)
    h = cache.dataset_hash(data)
    entry = data / cache.CACHE_DIRNAME / h
    stamp = (entry / "entry.json").stat().st_mtime_ns
    again = cache.CachedValidation(ds.tables, ds.report, ds.observed_from, ds.observed_until)
    assert cache.write_entry(data, h, again) == entry
    assert (entry / "entry.json").stat().st_mtime_ns == stamp
    assert [p.name for p in (data / cache.CACHE_DIRNAME).iterdir()] == [h]  # no temporary folder left


def test_validated_copy_equals_validation_on_sample_and_cdnow(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    for folder in (SAMPLE_DIR, EXAMPLES_DIR / "cdnow"):
        fresh = analysis.load(folder, cache=False)
        written = analysis.load(folder)
        read = analysis.load(folder)
        assert read.report.tables is not written.report.tables
        _same(fresh, written)
        _same(fresh, read)
    assert len(list((tmp_path / "cache").iterdir())) == 2
