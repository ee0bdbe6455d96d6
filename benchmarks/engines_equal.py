"""Both engines give the same numbers on the whole of CDNOW (prints the largest differences).

    .venv/bin/python benchmarks/engines_equal.py [--as-of 1998-01-01] [--buckets 4] [--no-spark]

Scores the 23,570 customers of ``examples/cdnow`` (69,659 real orders) at ``--as-of`` three
ways: in memory (:func:`analysis.models.classifier.score`), with the local partitioned engine
on ``--buckets`` buckets (:func:`analysis.models.partitioned.score_partitioned`) and with
Spark in local mode (:func:`analysis.models.spark_engine.score_spark`, skipped with
``--no-spark`` or without PySpark). For each engine it prints the largest absolute difference
of the churn probability from the in-memory result, the largest relative difference over every
numeric score column (value and expected value at risk are in dollars), the number of rows
whose text columns (status, tiers, priority, action, reasons) differ, how many places of the
call order hold another customer (and whether those customers tie to 1e-9), the largest
difference of the backtest AUCs and of the forward check's AUCs, and the time of each run. The tests compare the engines on a subset of CDNOW
(``tests/test_engines_cdnow.py``, ``tests/test_spark.py``) because the whole base takes about
25 s in memory; this script is the full-size check. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import analysis
from analysis.data.partitions import load_partitioned
from analysis.models.classifier import SCORE_COLUMNS, forward_evaluation, score
from analysis.models.partitioned import forward_evaluation_partitioned, score_partitioned
from analysis.paths import EXAMPLES_DIR

CDNOW = EXAMPLES_DIR / "cdnow"


def differences(want: pd.DataFrame, got: pd.DataFrame) -> dict[str, float | int | bool]:
    """Compare two score tables (each in call order), customer by customer.

    Returns the largest absolute difference of ``churn_probability``, the largest relative
    difference over every numeric column (money columns run to thousands of dollars, so their
    absolute differences are larger), the rows whose text columns differ, the positions of the
    call order holding another customer, and whether every such position holds customers whose
    ordering keys (priority, expected value at risk, probability) tie to 1e-9 relative.
    """
    a, b = want[SCORE_COLUMNS].reset_index(drop=True), got[SCORE_COLUMNS].reset_index(drop=True)
    ids_a, ids_b = a["customer_id"].astype("string"), b["customer_id"].astype("string")
    moved = (ids_a.to_numpy() != ids_b.to_numpy())
    keys = ["expected_value_at_risk", "churn_probability"]
    ka, kb = a.loc[moved, keys].to_numpy(dtype="float64"), b.loc[moved, keys].to_numpy(dtype="float64")
    ties = bool((a.loc[moved, "priority"].astype("string").to_numpy() == b.loc[moved, "priority"].astype("string")
                 .to_numpy()).all() and np.allclose(ka, kb, rtol=1e-9, atol=0))
    b = b.set_index(ids_b).loc[ids_a].reset_index(drop=True)
    prob = float(np.max(np.abs(a["churn_probability"].to_numpy(dtype="float64")
                               - b["churn_probability"].to_numpy(dtype="float64"))))
    rel, texts = 0.0, np.zeros(len(a), dtype=bool)
    for col in SCORE_COLUMNS:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            xv = x.to_numpy(dtype="float64", na_value=np.nan)
            yv = y.to_numpy(dtype="float64", na_value=np.nan)
            if not np.array_equal(np.isnan(xv), np.isnan(yv)):
                rel = float("inf")
            ok = ~np.isnan(xv) & ~np.isnan(yv) & (xv != 0)
            if ok.any():
                rel = max(rel, float(np.max(np.abs(xv[ok] - yv[ok]) / np.abs(xv[ok]))))
        else:
            texts |= (x.astype("string").fillna("<NA>").to_numpy() != y.astype("string").fillna("<NA>").to_numpy())
    return {"prob": prob, "rel": rel, "texts": int(texts.sum()), "moved": int(moved.sum()), "ties": ties}


def line(name: str, want, got, fwd_want, fwd_got, seconds: float) -> None:
    d = differences(want.scores, got.scores)
    bt = (got.backtest.metrics["auc"] - want.backtest.metrics["auc"]).abs().max()
    fwd = (float("nan") if fwd_want is None or fwd_got is None
           else float((fwd_got["auc"] - fwd_want["auc"]).abs().max()))
    order = ("same call order" if d["moved"] == 0 else
             f"call order: {d['moved']} positions swap customers" + (" tied to 1e-9" if d["ties"] else " NOT tied"))
    print(f"{name:<18} {len(got.scores):,} scores; max |diff| probability {d['prob']:.3g}, max relative diff "
          f"of numeric columns {d['rel']:.3g}; text cells differing {d['texts']}; {order}; backtest AUC max "
          f"|diff| {bt:.3g}; forward AUC max |diff| {fwd:.3g} ({seconds:.1f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--as-of", default="1998-01-01")
    p.add_argument("--buckets", type=int, default=4)
    p.add_argument("--no-spark", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("CHURN_RADAR_CACHE_DIR", tempfile.mkdtemp(prefix="engines-equal-"))
    ds = analysis.load(CDNOW, cache=False)
    print(f"CDNOW              {len(ds.customers):,} customers, {len(ds.orders):,} orders; as of {args.as_of}, "
          f"{args.buckets} buckets", flush=True)
    t = time.perf_counter()
    want = score(ds, args.as_of)
    fwd_want = forward_evaluation(ds, want)
    t_mem = time.perf_counter() - t
    bt = want.backtest
    print(f"in memory          {len(want.scores):,} scores, best model {bt.best_model}, backtest AUC "
          f"{bt.metrics.loc[bt.best_model, 'auc']:.4f}, forward AUC "
          + (f"{fwd_want.loc[('all', 'model'), 'auc']:.4f}" if fwd_want is not None else "not measured")
          + f" ({t_mem:.1f} s)", flush=True)
    pds = load_partitioned(CDNOW, n_buckets=args.buckets)
    t = time.perf_counter()
    local = score_partitioned(pds, args.as_of, progress=lambda _: None)
    fwd_local = forward_evaluation_partitioned(pds, local)
    line(f"local, {args.buckets} buckets", want, local, fwd_want, fwd_local, time.perf_counter() - t)
    if args.no_spark:
        return 0
    try:
        from analysis.data.spark import SparkSettings, spark_session
        from analysis.models.spark_engine import score_spark, spark_source

        t = time.perf_counter()
        settings = SparkSettings(conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"})
        with spark_session(settings) as spark:
            src = spark_source(spark, pds)
            run = score_spark(spark, src, args.as_of, collect=True, evaluate=True)
            src.release()
        line("spark local[2]", want, run.result, fwd_want, run.forward, time.perf_counter() - t)
    except analysis.ChurnRadarError as exc:
        print(f"spark              not run: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
