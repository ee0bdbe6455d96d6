"""Time-honest ROC AUC of the classifier and its two baselines on real and generated logs.

For each log: score at ``as_of`` from the data before it, then measure against what happened
in the horizon after it (:func:`analysis.models.classifier.forward_evaluation`), on all
scored customers and on those active in the last 90 days. Prints one line per log:

    python benchmarks/forward_auc.py            # CDNOW (if ../shared holds it), regular, bursty

Figures of issue 11: on CDNOW at 1997-12-31 with 180 days, the aim is the model at least
0.01 above the better baseline on both populations.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from transaction_logs import write_log  # noqa: E402

import analysis  # noqa: E402
from analysis.models.classifier import forward_evaluation, score  # noqa: E402
from analysis.paths import EXAMPLES_DIR, PROJECT_ROOT  # noqa: E402


def line(name: str, folder: Path, as_of: str, horizon: int) -> None:
    started = time.perf_counter()
    ds = analysis.load(folder)
    result = score(ds, as_of, horizon)
    fwd = forward_evaluation(ds, result)
    cells = []
    for pop in ("all", "active90"):
        m = fwd.loc[pop, "auc"]
        cells.append(f"{pop}: model {m['model']:.3f} bgnbd {m.get('bgnbd', float('nan')):.3f} "
                     f"recency {m['recency']:.3f}")
    print(f"{name:<8} {as_of} +{horizon}d  " + " | ".join(cells) + f"  ({time.perf_counter() - started:.0f} s)")


def main() -> None:
    if (PROJECT_ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_master.txt").exists() \
            or (EXAMPLES_DIR / "cdnow" / "CDNOW_master.txt").exists():
        line("cdnow", EXAMPLES_DIR / "cdnow", "1997-12-31", 180)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("regular", "bursty"):
            line(kind, write_log(Path(tmp) / kind, kind, 3000, seed=1), "2020-12-31", 180)


if __name__ == "__main__":
    main()
