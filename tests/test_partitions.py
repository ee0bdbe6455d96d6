"""The customer-partitioned local engine (issue 16): buckets, the bucketed validated copy, and
scoring partition by partition with the numbers of the in-memory path."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.data import partitions
from analysis.data.config import parse_config
from analysis.data.dataset import Dataset, load
from analysis.data.partitions import bucket_of, iter_partitions, load_partitioned
from analysis.errors import ConfigError
from analysis.metrics.signals import indicators
from analysis.models.features import KEYS, features
from analysis.models.partitioned import (
    _tiers,
    fit_bgnbd,
    plan_run,
    rfm_part,
    row_hash,
)
from analysis.paths import SAMPLE_DIR

AS_OF = "2026-10-01"


# ------------------------------------------------------------------------------ hashes
def test_bucket_is_crc32_of_the_utf8_id():
    ids = pd.Series(["C000001", "abc", "", "Société-é", None, "C000001"], dtype="string")
    want = [zlib.crc32(s.encode("utf-8")) % 7 if s is not None else 0 for s in
            ["C000001", "abc", "", "Société-é", None, "C000001"]]
    assert bucket_of(ids, 7).tolist() == want
    assert bucket_of(ids, 1).tolist() == [0] * 6
    with pytest.raises(ConfigError):
        bucket_of(ids, 0)


def test_row_hash_is_splitmix64_of_crc_and_day():
    def ref(cid: str, day: str, seed: int) -> float:
        m = (1 << 64) - 1
        d = (pd.Timestamp(day) - pd.Timestamp("1970-01-01")).days
        x = ((zlib.crc32(cid.encode()) << 32) + d + seed * 0x9E3779B97F4A7C15) & m
        x = (x + 0x9E3779B97F4A7C15) & m
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
        x ^= x >> 31
        return (x >> 11) / float(1 << 53)

    got = row_hash(pd.Series(["C1", "C2", "C1"]), pd.Series(pd.to_datetime(["2026-01-01", "2026-01-01", "2026-02-01"])), 3)
    assert got.tolist() == [ref("C1", "2026-01-01", 3), ref("C2", "2026-01-01", 3), ref("C1", "2026-02-01", 3)]


def test_value_tier_against_the_whole_base_is_the_in_memory_rank():
    # positive values 10, 20, 30, 40, 50 (n=5): top 20 % = rank 1 only; 0 is never high
    positive = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    got = _tiers(pd.Series([50.0, 40.0, 0.0, 10.0]), positive)
    assert got.astype(str).tolist() == ["high", "standard", "standard", "standard"]
    # ties at the top: two values 50 of 5 share rank 1 (min rank), 1/5 <= 0.2: both high
    got = _tiers(pd.Series([50.0, 40.0]), np.array([10.0, 20.0, 40.0, 50.0, 50.0]))
    assert got.astype(str).tolist() == ["high", "standard"]


def test_notes_of_buckets_are_merged_with_counts_and_examples():
    a = ["2 value(s) of x are bad (row 10: 'a', row 30: 'b'); expected y.", "same note"]
    b = ["1 value(s) of x are bad (row 20: 'c'); expected y.", "same note"]
    assert partitions._merge_notes([a, b]) == [
        "3 value(s) of x are bad (row 10: 'a', row 20: 'c', row 30: 'b'); expected y.", "same note"]


def test_engine_block_of_dataset_yml():
    eng = parse_config({"engine": {"buckets": 4, "training_cap": None}}).engine
    assert (eng.kind, eng.buckets, eng.training_cap) == ("local", 4, None)
    assert parse_config({}).engine.training_cap == 300_000
    for bad in ({"buckets": 0}, {"kind": "dask"}, {"bucket": 3}):
        with pytest.raises(ConfigError, match="engine"):
            parse_config({"engine": bad})


# ------------------------------------------------------------------- the bucketed copy
CUSTOMERS = ("customer_id,signup_date,churn_date,sector\nC1,2026-01-05,,retail\nC2,2026-02-10,,industry\n"
             "C3,2026-01-20,2026-06-01,retail\nC4,2026-03-01,,industry\nC5,2026-01-02,,retail\n")
# line 4 no date, line 5 repeats line 2, line 7 before C4's signup, line 8 an unknown customer C9
ORDERS = ("customer_id,order_date,amount\nC1,2026-01-10,100.0\nC2,2026-02-15,200.5\nC2,,10.0\n"
          "C1,2026-01-10,100.0\nC3,2026-03-01,7.25\nC4,2026-02-01,5.0\nC9,2026-04-01,3.0\nC5,2026-05-05,1.0\n"
          "C5,2026-05-06,2.5\n")
EMAILS = ("customer_id,campaign_id,event_time,event\nC1,K1,2026-02-01 10:00,delivered\nC2,K1,2026-02-01 10:00,forward\n"
          "C3,K1,2026-02-01 10:00,open\nC5,K1,2026-02-01 11:00,forward\nC4,K1,2026-02-01 10:00,delivered\n")


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CHURN_RADAR_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (folder / "email_events.csv").write_text(EMAILS, encoding="utf-8")
    return folder


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("n", [1, 3, 7])
def test_bucketed_copy_holds_the_validated_rows_of_load(tiny, n):
    ds = load(tiny, cache=False)
    pds = load_partitioned(tiny, n_buckets=n)
    assert pds.n_buckets == n and len(pds.table_files("orders")) == n
    parts = list(iter_partitions(pds))
    for table, frame in ds.tables.items():
        whole = pd.concat([getattr(p, table) for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(_sorted(whole[frame.columns]), _sorted(frame))
        for b, p in enumerate(parts):  # every row of a partition belongs to its bucket
            assert (bucket_of(getattr(p, table)["customer_id"], n) == b).all()
    for table, rep in ds.report.tables.items():
        mine = pds.report.tables[table]
        assert mine.rows_read == rep.rows_read and mine.rows_kept == rep.rows_kept
        assert mine.quarantined == rep.quarantined
        assert mine.rows_read == mine.rows_kept + mine.rows_quarantined
        assert sorted(mine.notes) == sorted(rep.notes)
        q, mq = ds.report.quarantine[table], pds.report.quarantine[table]
        assert sorted(q["source_row"].dropna().astype(int)) == sorted(mq["source_row"].dropna().astype(int))
    # by hand: orders read 9, quarantined: no date (line 4), duplicate (line 5), before signup (C4)
    assert pds.report.tables["orders"].rows_read == 9
    assert pds.report.tables["orders"].quarantined == {"missing_value:order_date": 1, "duplicate_row": 1,
                                                       "before_signup": 1}
    assert sorted(pds.report.quarantine["orders"]["source_row"].dropna().astype(int)) == [4, 5]
    assert (pds.observed_from, pds.observed_until) == (ds.observed_from, ds.observed_until)
    assert pds.base.segment_columns == tuple(ds.segment_columns())


def test_bucketed_copy_is_reused_until_the_export_changes(tiny, monkeypatch):
    first = load_partitioned(tiny, n_buckets=3)
    calls = []
    real = partitions._write
    monkeypatch.setattr(partitions, "_write", lambda *a: calls.append(1) or real(*a))
    again = load_partitioned(tiny, n_buckets=3)
    assert calls == [] and again.entry == first.entry
    (tiny / "orders.csv").write_text(ORDERS + "C1,2026-06-01,9.0\n", encoding="utf-8")
    changed = load_partitioned(tiny, n_buckets=3)
    assert calls == [1] and changed.entry != first.entry and not first.entry.exists()
    assert changed.report.tables["orders"].rows_read == 10


# ------------------------------------------------------------------- same numbers
@pytest.fixture(scope="module")
def sample():
    """The customers of data/sample in one eighth of the buckets (about 380 of 3,000, every
    table's rows of them): a whole base of its own, small enough to score in seconds."""
    ds = load(SAMPLE_DIR)
    keep = {t: f.loc[bucket_of(f["customer_id"], 8) == 0].reset_index(drop=True) for t, f in ds.tables.items()}
    return Dataset(**keep, config=ds.config, report=ds.report, path=ds.path,
                   observed_from=ds.observed_from, observed_until=ds.observed_until)


def _close(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            xv, yv = x.to_numpy(dtype="float64", na_value=np.nan), y.to_numpy(dtype="float64", na_value=np.nan)
            assert np.array_equal(np.isnan(xv), np.isnan(yv)), col
            ok = ~np.isnan(xv)
            assert np.allclose(xv[ok], yv[ok], rtol=1e-9, atol=1e-9), col
        else:
            assert x.astype("string").fillna("<NA>").tolist() == y.astype("string").fillna("<NA>").tolist(), col


@pytest.mark.parametrize("n", [1, 3, 7])
def test_indicators_and_features_of_partitions_are_those_of_the_whole_base(sample, n):
    dates = pd.to_datetime(["2026-05-01", AS_OF])
    plan = plan_run(sample, AS_OF, 90)
    parts = list(iter_partitions(sample, n_buckets=n))
    assert sum(len(p.customers) for p in parts) == len(sample.customers)
    ind = indicators(sample, dates).sort_values(KEYS, kind="stable").reset_index(drop=True)
    got = pd.concat([indicators(p, dates) for p in parts], ignore_index=True)
    _close(ind, got.sort_values(KEYS, kind="stable").reset_index(drop=True))
    fits = fit_bgnbd([rfm_part(p, plan) for p in parts], plan)
    whole_fits: list = []
    want = features(sample, dates, horizon_days=90, bgnbd_fits=whole_fits)
    assert [r for r in fits.records if r["as_of"] in {d.date().isoformat() for d in dates}] == whole_fits
    got = pd.concat([features(p, dates, horizon_days=90, bgnbd={d: fits.models[d] for d in dates}) for p in parts],
                    ignore_index=True)
    got = got.reindex(columns=want.columns)
    dummies = [c for c in want.columns if c.startswith(("is_", "seg_"))]
    got[dummies] = got[dummies].fillna(0.0)  # a partition lacks the one-hot columns of absent levels
    _close(want, got.sort_values(KEYS, kind="stable").reset_index(drop=True))


def test_buckets_follow_the_size_of_the_export(tmp_path):
    folder = tmp_path / "base"
    folder.mkdir()
    pd.DataFrame({"customer_id": [f"C{i}" for i in range(25)], "order_date": pd.Timestamp("2026-01-01"),
                  "amount": 1.0}).to_parquet(folder / "orders.parquet", index=False)
    assert partitions.estimate_rows(folder) == 25  # Parquet: exact, from the file's metadata
    assert [partitions.choose_buckets(25, r) for r in (100, 25, 24, 10)] == [1, 1, 2, 3]
    assert partitions.choose_buckets(0) == 1
