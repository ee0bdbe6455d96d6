"""Time-honest ROC AUC of the discrete-time hazard (:mod:`analysis.models.survival`) next to
the classifier and the two baselines, on CDNOW (two dates) and the generated logs.

    python benchmarks/survival_auc.py

One line per log and population: hazard, classifier (``score``), BG/NBD expected
purchases, recency. Scores from data before ``as_of`` only; truth from the horizon after it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from transaction_logs import write_log  # noqa: E402

import analysis  # noqa: E402
from analysis.metrics.lifecycle import as_dates  # noqa: E402
from analysis.models.classifier import informative_columns, population_metrics, score  # noqa: E402
from analysis.models.features import KEYS, feature_columns, features, labels  # noqa: E402
from analysis.models.survival import hazard_scores  # noqa: E402
from analysis.paths import EXAMPLES_DIR  # noqa: E402


def line(name: str, folder: Path, as_of: str, horizon: int, with_classifier: bool = True) -> None:
    started = time.perf_counter()
    ds = analysis.load(folder)
    cut = pd.Timestamp(as_of)
    snaps = pd.date_range(ds.observed_from.normalize() + pd.Timedelta(days=30), cut - pd.Timedelta(days=14),
                          freq="MS")[-18:]
    feats = features(ds, as_dates(list(snaps) + [cut]), horizon_days=horizon)
    cols = informative_columns(feats.loc[feats["as_of"] < cut], feature_columns(feats))
    p, _ = hazard_scores(feats, ds.interactions(), cut, horizon, cols)
    now = feats.loc[feats["as_of"] == cut].assign(hazard=p)
    now = now.merge(labels(ds, [cut], horizon, cut + pd.Timedelta(days=horizon)), on=KEYS)
    now["recency"] = now["days_since_last"].astype("float64")
    now["bgnbd"] = -now["bgnbd_expected_purchases"]
    methods = {"hazard": "hazard", "bgnbd": "bgnbd", "recency": "recency"}
    if with_classifier:
        res = score(ds, cut, horizon)
        now = now.merge(res.matrix[["customer_id", "churn_probability"]], on="customer_id", how="left")
        methods["model"] = "churn_probability"
    auc = population_metrics(now, methods, 100)["auc"]
    for pop in ("all", "active90"):
        print(f"{name:<7} {as_of} +{horizon}d {pop:<8} " + "  ".join(
            f"{m} {auc[(pop, m)]:.3f}" for m in methods) + f"  ({time.perf_counter() - started:.0f} s)", flush=True)


def main() -> None:
    line("cdnow", EXAMPLES_DIR / "cdnow", "1997-12-31", 180)
    line("cdnow", EXAMPLES_DIR / "cdnow", "1998-03-31", 90)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("regular", "bursty"):
            line(kind, write_log(Path(tmp) / kind, kind, 3000, seed=1), "2020-12-31", 180)


if __name__ == "__main__":
    main()
