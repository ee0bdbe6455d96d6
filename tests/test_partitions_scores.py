"""The partitioned local engine scores like the in-memory path (issue 16): the same scores
with 3 and 7 buckets, no look-ahead, the capped stratified training sample, and the CLI.
A separate file from test_partitions.py so that pytest-xdist runs the two on two workers."""

from __future__ import annotations

import pandas as pd
import pytest
from test_partitions import AS_OF, _close
from test_partitions import sample as sample  # noqa: F401 - the module fixture, shared
from typer.testing import CliRunner

from analysis.cli import app
from analysis.data.partitions import iter_partitions
from analysis.models.classifier import score
from analysis.models.features import KEYS
from analysis.models.partitioned import (
    fit_bgnbd,
    plan_run,
    rfm_part,
    score_partitioned,
    snapshot_rows,
    training_sample,
)
from analysis.paths import SAMPLE_DIR


@pytest.fixture(scope="module")
def in_memory(sample):
    return score(sample, AS_OF, 90, 150)


@pytest.fixture(scope="module")
def three(sample):
    return score_partitioned(sample, AS_OF, 90, 150, n_buckets=3, progress=lambda _: None)


def test_partitioned_scores_are_the_in_memory_scores(sample, in_memory, three):
    seven = score_partitioned(sample, AS_OF, 90, 150, n_buckets=7, progress=lambda _: None)
    for got in (three, seven):
        assert got.training_rows == got.labelled_rows  # the cap is not binding: every row, as in memory
        pd.testing.assert_frame_equal(got.backtest.metrics, in_memory.backtest.metrics, rtol=1e-9)
        _close(in_memory.scores, got.scores)
        assert got.bgnbd_fits == in_memory.bgnbd_fits and got.n_known == in_memory.n_known


def test_partitioned_scores_read_nothing_on_or_after_as_of(sample, three):
    past = sample.before(pd.Timestamp(AS_OF))
    assert len(past.orders) < len(sample.orders)
    cut_only = score_partitioned(past, AS_OF, 90, 150, n_buckets=3, progress=lambda _: None)
    _close(three.scores, cut_only.scores)


def test_capped_sample_is_stratified_and_independent_of_the_buckets(sample):
    cap = 600
    plan = plan_run(sample, AS_OF, 90, training_cap=cap)
    assert 0 < plan.prefilter < 1
    chosen = []
    for n in (2, 5):
        parts = list(iter_partitions(sample, n_buckets=n))
        fits = fit_bgnbd([rfm_part(p, plan) for p in parts], plan)
        rows = [snapshot_rows(p, plan, fits) for p in parts]
        counts = pd.concat([r.counts for r in rows]).groupby(["as_of", "label"], as_index=False)["n"].sum()
        picked = training_sample(pd.concat([r.training for r in rows], ignore_index=True), counts, cap)
        chosen.append(picked[KEYS])
        total = counts["n"].sum()
        assert total == plan.expected_rows > cap
        per = picked.groupby(["as_of", "label"]).size()
        quota = (counts.set_index(["as_of", "label"])["n"] * cap / total).round().astype(int)
        per = per.reindex(quota.index, fill_value=0)
        assert (per <= quota).all() and (per[quota >= 20] == quota[quota >= 20]).all()
        assert abs(len(picked) - cap) <= 0.02 * cap  # the quotas round; tiny strata may fall short
    pd.testing.assert_frame_equal(chosen[0], chosen[1])


def test_cli_score_with_buckets_writes_the_in_memory_scores(sample, in_memory, tmp_path, monkeypatch):
    monkeypatch.setenv("CHURN_RADAR_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "slice"
    folder.mkdir()
    for table, frame in sample.tables.items():
        frame.to_parquet(folder / f"{table}.parquet", index=False)
    (folder / "dataset.yml").write_text((SAMPLE_DIR / "dataset.yml").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "scores.csv"
    res = CliRunner().invoke(app, ["score", str(folder), "--as-of", AS_OF, "--horizon", "90", "--capacity", "150",
                                   "--out", str(out), "--buckets", "3", "--quiet", "--evaluate"])
    assert res.exit_code == 0, res.output
    assert "local, 3 buckets; models trained and tested on" in res.output
    assert "forward      not measured: the export ends before 2026-10-01 + 90 days" in res.output
    got = pd.read_parquet(out.with_suffix(".parquet"))
    assert len(pd.read_csv(out)) == len(got)
    _close(in_memory.scores.reset_index(drop=True), got[in_memory.scores.columns])


def test_notebook_04_engine_switch_gives_the_in_memory_call_list(sample, in_memory, tmp_path, monkeypatch):
    """Notebook 04 reads the base with ``open_source`` and scores it with ``score_source``:
    a base that needs several buckets (here ``engine.buckets: 3``) goes through the partitioned
    engine and gives the in-memory scores and call list; one bucket stays in memory."""
    import json

    from analysis.data.dataset import Dataset
    from analysis.data.partitions import PartitionedDataset
    from analysis.models.partitioned import (
        engine_buckets,
        forward_evaluation_source,
        open_source,
        score_source,
        source_has,
    )
    from analysis.paths import NOTEBOOKS_DIR

    code = "".join("".join(c["source"]) for c in json.loads(
        (NOTEBOOKS_DIR / "04_churn_risk.ipynb").read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code")
    for call in ("open_source(", "score_source(ds,", "forward_evaluation_source(ds,", "source_has(ds,"):
        assert call in code, call  # the notebook's path is the one tested here
    monkeypatch.setenv("CHURN_RADAR_CACHE_DIR", str(tmp_path / "cache"))
    folders = {}
    for name, extra in (("one", ""), ("three", "engine:\n  buckets: 3\n"), ("rpb", "engine:\n  rows_per_bucket: 5000\n")):
        folder = folders[name] = tmp_path / name
        folder.mkdir()
        for table, frame in sample.tables.items():
            frame.to_parquet(folder / f"{table}.parquet", index=False)
        yml = (SAMPLE_DIR / "dataset.yml").read_text(encoding="utf-8").rstrip("\n") + "\n" + extra
        (folder / "dataset.yml").write_text(yml, encoding="utf-8")
    assert engine_buckets(folders["one"]) == 1 and isinstance(open_source(folders["one"]), Dataset)
    assert engine_buckets(folders["three"]) == 3
    rows = sum(len(f) for f in sample.tables.values())  # Parquet: exact row counts of every table
    assert engine_buckets(folders["rpb"]) == -(-rows // 5000) > 1  # one bucket per 5,000 rows, rounded up
    source = open_source(folders["three"])
    assert isinstance(source, PartitionedDataset) and source.n_buckets == 3
    assert source_has(source, "orders") and source_has(source, "usage") == sample.has("usage")
    got = score_source(source, AS_OF, 90, 150)
    assert got.training_rows == got.labelled_rows  # below the cap: the in-memory model
    _close(in_memory.scores, got.scores)
    _close(in_memory.call_list.reset_index(drop=True), got.call_list.reset_index(drop=True))
    assert len(got.call_list) == len(in_memory.call_list) == 150
    pd.testing.assert_frame_equal(got.backtest.metrics, in_memory.backtest.metrics, rtol=1e-9)
    # the export ends before AS_OF + 90 days: no forward check on either path
    assert forward_evaluation_source(source, got) is None is forward_evaluation_source(sample, in_memory)


def test_scores_written_in_chunks_are_the_scores_written_at_once(in_memory, tmp_path):
    from analysis.reporting.workbook import write_scores

    once = write_scores(in_memory, "fr", tmp_path / "once" / "scores.csv")
    chunked = write_scores(in_memory, "fr", tmp_path / "chunked" / "scores.csv", chunk=70)
    assert len(in_memory.scores) > 2 * 70  # three chunks or more
    assert chunked.read_text(encoding="utf-8") == once.read_text(encoding="utf-8")
    a = pd.read_parquet(once.with_suffix(".parquet"))
    b = pd.read_parquet(chunked.with_suffix(".parquet"))
    assert len(b) == len(in_memory.scores) and b["reasons"].notna().all()
    pd.testing.assert_frame_equal(a.astype({c: "string" for c in a.columns if a[c].dtype == object}), b)
