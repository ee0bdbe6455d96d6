"""How much better the churn model ranks than a baseline, with its uncertainty.

The backtest gives one ROC AUC per method on the same test rows
(:class:`analysis.models.classifier.Backtest`); a difference of two AUCs measured on a few
thousand customers has sampling noise. :func:`auc_difference` gives the paired difference
with a 95 % bootstrap interval over customers (every row of a drawn customer is kept, so a
customer seen at several test snapshots counts once per draw) and a two-sided bootstrap
p-value; :func:`compare_to_baselines` does it for the best model against each baseline.

The weighted AUC of each draw is the Mann-Whitney statistic with the draw's counts as
weights, computed for every draw at once (no loop over customers or draws):
``roc_auc_score(y, s, sample_weight=w)`` gives the same value for one draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["weighted_auc", "auc_difference", "compare_to_baselines", "BASELINES", "N_BOOT"]

#: Baselines the model is compared with: method name -> score column of ``Backtest.predictions``.
BASELINES: dict[str, str] = {"recency": "score_recency", "bgnbd": "score_bgnbd"}
#: Bootstrap draws of :func:`auc_difference`.
N_BOOT = 1000
#: Most cells (draws x rows) held at once by :func:`auc_difference` (draws go in chunks).
MAX_CELLS = 2_000_000


def weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``score`` for the labels ``y`` under each row of ``weights``.

    Parameters
    ----------
    y : (n,) 0/1 labels.
    score : (n,) scores, higher = more likely 1; ties count one half.
    weights : (n,) or (B, n) non-negative row weights (bootstrap counts).

    Returns
    -------
    (B,) array (a scalar array for 1-D weights): NaN where a class has no weight.
    """
    y = np.asarray(y).astype(bool)
    w = np.atleast_2d(np.asarray(weights, dtype="float64"))
    _, inv = np.unique(np.asarray(score, dtype="float64"), return_inverse=True)
    n_u = int(inv.max()) + 1 if len(inv) else 0
    # rows -> distinct score values: the weight of each class at each value, for every draw
    to_value = sparse.csr_matrix((np.ones(len(inv)), (np.arange(len(inv)), inv)), shape=(len(inv), n_u))
    pos = np.asarray((w * y) @ to_value)
    neg = np.asarray((w * ~y) @ to_value)
    below = np.cumsum(neg, axis=1) - neg  # negatives with a strictly lower score
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.where((n_pos > 0) & (n_neg > 0), wins / (n_pos * n_neg), np.nan)
    return auc if np.ndim(weights) == 2 else auc[0]


def auc_difference(frame: pd.DataFrame, score: str, baseline: str, *, label: str = "label",
                   cluster: str = "customer_id", n_boot: int = N_BOOT, alpha: float = 0.05,
                   random_state: int = 0) -> dict[str, Any]:
    """AUC of ``score`` minus AUC of ``baseline`` on the rows where both are known, with a
    bootstrap interval over ``cluster`` (customers).

    Parameters
    ----------
    frame : one row per (customer, test snapshot): ``label`` (0/1), ``cluster``, the two
        score columns (higher = riskier; rows with either missing are left out).
    n_boot, alpha : draws and 1 - confidence level of the percentile interval.
    random_state : seed of the draws.

    Returns
    -------
    dict: ``auc``, ``auc_baseline``, ``diff`` (points estimates on the common rows), ``low``,
    ``high`` (percentile interval of the difference), ``p`` (two-sided bootstrap p-value:
    twice the smaller share of draws on either side of 0, at least ``1 / n_boot``),
    ``significant`` (the interval excludes 0), ``n`` (rows), ``n_customers``, ``n_boot``.
    All numbers None when the common rows hold a single class.
    """
    d = frame.loc[frame[score].notna() & frame[baseline].notna(), [label, cluster, score, baseline]]
    y = d[label].to_numpy().astype(bool)
    out: dict[str, Any] = {"auc": None, "auc_baseline": None, "diff": None, "low": None, "high": None,
                           "p": None, "significant": False, "n": int(len(d)),
                           "n_customers": int(d[cluster].nunique()), "n_boot": int(n_boot)}
    if len(d) == 0 or y.all() or not y.any():
        return out
    ones = np.ones(len(d))
    a = float(weighted_auc(y, d[score].to_numpy(), ones))
    b = float(weighted_auc(y, d[baseline].to_numpy(), ones))
    codes, _ = pd.factorize(d[cluster])
    rng = np.random.default_rng(random_state)
    n_c = int(codes.max()) + 1
    sa, sb = d[score].to_numpy(), d[baseline].to_numpy()
    per_chunk = max(1, min(n_boot, MAX_CELLS // max(len(d), n_c)))  # bounded memory on large bases
    parts = []
    for start in range(0, n_boot, per_chunk):  # a few chunks of draws, each vectorised
        size = min(per_chunk, n_boot - start)
        counts = rng.multinomial(n_c, np.full(n_c, 1.0 / n_c), size=size)  # customers drawn, per draw
        w = counts[:, codes]  # each row weighs as often as its customer was drawn
        parts.append(weighted_auc(y, sa, w) - weighted_auc(y, sb, w))
    diffs = np.concatenate(parts)
    diffs = diffs[np.isfinite(diffs)]
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    p = min(1.0, max(2 * min((diffs <= 0).mean(), (diffs >= 0).mean()), 1.0 / len(diffs)))
    out.update(auc=a, auc_baseline=b, diff=a - b, low=float(low), high=float(high), p=float(p),
               significant=bool(low > 0 or high < 0))
    return out


def compare_to_baselines(backtest, *, n_boot: int = N_BOOT, alpha: float = 0.05,
                         random_state: int = 0) -> dict[str, dict[str, Any]]:
    """:func:`auc_difference` of the backtest's best model against each baseline it scored.

    Parameters
    ----------
    backtest : :class:`analysis.models.classifier.Backtest` (``predictions`` with
        ``prob_<best_model>`` and the :data:`BASELINES` columns it has, ``best_model``).

    Returns
    -------
    ``{baseline: auc_difference(...)}`` for ``recency`` and, when scored, ``bgnbd``.
    """
    pred = backtest.predictions
    model = f"prob_{backtest.best_model}"
    return {name: auc_difference(pred, model, col, n_boot=n_boot, alpha=alpha, random_state=random_state)
            for name, col in BASELINES.items() if col in pred.columns and pred[col].notna().any()}
