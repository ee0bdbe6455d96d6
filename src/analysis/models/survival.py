"""Discrete-time survival for churn: every snapshot up to ``as_of`` contributes, censored.

The classifier of :mod:`analysis.models.classifier` learns only from snapshots whose whole
label window ends before ``as_of``; with a long horizon these are early snapshots, when the
customers were younger than at scoring time. A discrete-time hazard model also uses the
recent snapshots: the horizon is cut into ``n_bins`` equal bins, and each (snapshot,
customer) row becomes one *person-period* row per bin that is fully observed before
``as_of`` and during which the customer was still without a new significant interaction
(the bin's ``event`` is 1 when the next interaction falls inside it). A classifier on
those rows estimates the hazard ``h_k(x)``; the probability of no interaction within the
horizon is ``S(x) = prod_k (1 - h_k(x))``, the churn label's probability.

>>> from analysis.models.survival import DiscreteTimeHazard, time_to_next_event
>>> t = time_to_next_event(rows, events, as_of)                       # doctest: +SKIP
>>> model = DiscreteTimeHazard(horizon_days=180).fit(X, t, observed)   # doctest: +SKIP
>>> model.predict_proba(X_now)[:, 1]                                   # doctest: +SKIP

Per customer: features of one customer at one date and a fitted global model, so it fits a
partitioned scoring engine. Numbers only, no words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from analysis.errors import NotEnoughDataError

__all__ = ["time_to_next_event", "person_period", "DiscreteTimeHazard", "hazard_scores"]


def time_to_next_event(rows: pd.DataFrame, events: pd.DataFrame, as_of) -> pd.Series:
    """Days from each row's ``as_of`` (a snapshot) to the customer's next event before the
    scoring date ``as_of``; NaN when there is none before it (censored).

    Parameters
    ----------
    rows : ``as_of`` (snapshot dates) and ``customer_id``.
    events : ``customer_id`` and ``time`` of the significant interactions.
    as_of : the scoring date: events on or after it are never read.

    Returns
    -------
    Series of days (float), aligned with ``rows``.
    """
    cut = pd.Timestamp(as_of)
    ev = events.loc[events["time"] < cut, ["customer_id", "time"]]
    ev = ev.assign(customer_id=ev["customer_id"].astype("string")).sort_values("time", kind="stable")
    left = rows[["as_of", "customer_id"]].assign(customer_id=rows["customer_id"].astype("string"),
                                                 _row=np.arange(len(rows)))
    m = pd.merge_asof(left.sort_values("as_of", kind="stable"), ev, left_on="as_of", right_on="time",
                      by="customer_id", direction="forward", allow_exact_matches=True)
    days = (m["time"] - m["as_of"]).dt.total_seconds() / 86400.0
    out = pd.Series(np.nan, index=rows.index, dtype="float64")
    out.iloc[m["_row"].to_numpy()] = days.to_numpy(dtype="float64")
    return out


def person_period(time_to_event, observed_days, horizon_days: float,
                  n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand rows into person-period rows of a discrete-time hazard.

    Bin ``k`` covers ``[k w, (k+1) w)`` days after the snapshot, ``w = horizon / n_bins``.
    A row enters bin ``k`` when the bin is fully observed (``observed_days >= (k+1) w``) and
    its next event did not happen before the bin (``time_to_event >= k w`` or NaN); the
    bin's event is ``time_to_event < (k+1) w``. Rows observed for less than ``w`` days
    contribute nothing (censored before the first bin ends).

    Returns
    -------
    (row, bin, event): the index of the source row, the bin number and the event (0/1).
    """
    t = np.asarray(time_to_event, dtype="float64")
    obs = np.asarray(observed_days, dtype="float64")
    w = float(horizon_days) / int(n_bins)
    k = np.arange(int(n_bins), dtype="float64")
    lo, hi = k * w, (k + 1) * w
    at_risk = (obs[:, None] >= hi[None, :]) & ~(t[:, None] < lo[None, :])
    row, b = np.nonzero(at_risk)
    event = (t[row] < hi[b]).astype("int64")
    return row, b.astype("int64"), event


def _signed_log1p(x):
    return np.sign(x) * np.log1p(np.abs(x))


def _default_estimator(random_state: int) -> Pipeline:
    return Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("log", FunctionTransformer(_signed_log1p, feature_names_out="one-to-one")),
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(C=0.5, max_iter=3000, random_state=random_state)),
    ])


class DiscreteTimeHazard(ClassifierMixin, BaseEstimator):
    """P(no event within the horizon) from a per-bin hazard classifier (see the module docstring).

    Parameters
    ----------
    horizon_days : the horizon.
    n_bins : equal bins the horizon is cut into.
    estimator : a scikit-learn classifier with ``predict_proba`` fitted on the features plus
        one-hot bin columns (default: median imputation, standardisation, L2 logistic
        regression).
    random_state : seed of the default estimator.

    Attributes
    ----------
    estimator_ : the fitted hazard classifier.
    feature_names_ : the feature columns, in order.
    n_person_periods_ : number of person-period rows it was fitted on.
    classes_ : ``[0, 1]`` (kept, lost).
    """

    def __init__(self, horizon_days: int = 90, n_bins: int = 6, estimator=None, random_state: int = 0):
        self.horizon_days = horizon_days
        self.n_bins = n_bins
        self.estimator = estimator
        self.random_state = random_state

    def _with_bin(self, X: pd.DataFrame, b: np.ndarray) -> pd.DataFrame:
        out = X.reset_index(drop=True).astype("float64")
        out = out.mask(~np.isfinite(out.to_numpy()))
        dummies = {f"_bin_{j}": (b == j).astype("float64") for j in range(1, int(self.n_bins))}
        return pd.concat([out, pd.DataFrame(dummies, index=out.index)], axis=1)

    def fit(self, X: pd.DataFrame, time_to_event, observed_days) -> DiscreteTimeHazard:
        """Fit on snapshot rows ``X``, the days to the next event (NaN: none observed) and the
        days observed after each snapshot (``as_of - snapshot``)."""
        X = pd.DataFrame(X)
        row, b, event = person_period(time_to_event, observed_days, self.horizon_days, self.n_bins)
        if len(np.unique(event)) < 2:
            raise NotEnoughDataError(
                f"The {len(event):,} person-period row(s) hold only one outcome: no hazard model can "
                "be fitted. Use a longer history or another horizon.")
        self.feature_names_ = list(X.columns)
        est = self.estimator if self.estimator is not None else _default_estimator(self.random_state)
        self.estimator_ = clone(est).fit(self._with_bin(X.iloc[row], b), event)
        self.n_person_periods_ = int(len(row))
        self.classes_ = np.array([0, 1])
        return self

    def hazards(self, X: pd.DataFrame) -> np.ndarray:
        """Hazard of each row in each bin, shape (n, n_bins)."""
        X = pd.DataFrame(X)[self.feature_names_]
        n, nb = len(X), int(self.n_bins)
        b = np.tile(np.arange(nb), n)
        rep = X.iloc[np.repeat(np.arange(n), nb)]
        return self.estimator_.predict_proba(self._with_bin(rep, b))[:, 1].reshape(n, nb)

    def predict_survival(self, X: pd.DataFrame) -> np.ndarray:
        """P(no event by the end of each bin), shape (n, n_bins), non-increasing along bins."""
        return np.cumprod(1.0 - self.hazards(X), axis=1)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Shape (n, 2): kept (an event within the horizon), lost (none)."""
        s = self.predict_survival(X)[:, -1]
        return np.column_stack([1.0 - s, s])


def hazard_scores(feats: pd.DataFrame, events: pd.DataFrame, as_of, horizon_days: int, columns: list[str],
                  n_bins: int = 6, estimator=None, random_state: int = 0) -> tuple[pd.Series, DiscreteTimeHazard]:
    """Fit a :class:`DiscreteTimeHazard` on every snapshot row of ``feats`` before ``as_of``
    (censored at ``as_of``) and return the churn probability of the rows at ``as_of``.

    Parameters
    ----------
    feats : :func:`analysis.models.features.features` rows (``as_of``, ``customer_id``,
        ``columns``) at the snapshots and at ``as_of``.
    events : ``customer_id`` and ``time`` of the significant interactions (only those before
        ``as_of`` are read).
    as_of, horizon_days : the scoring date and the horizon.
    columns : the feature columns.

    Returns
    -------
    (Series of P(no event within the horizon) indexed like the ``as_of`` rows of ``feats``,
    the fitted model).
    """
    cut = pd.Timestamp(as_of)
    train = feats.loc[feats["as_of"] < cut]
    t = time_to_next_event(train, events, cut)
    observed = (cut - train["as_of"]).dt.days.to_numpy(dtype="float64")
    model = DiscreteTimeHazard(horizon_days, n_bins, estimator, random_state)
    model.fit(train[columns], t.to_numpy(), observed)
    now = feats.loc[feats["as_of"] == cut]
    return pd.Series(model.predict_proba(now[columns])[:, 1], index=now.index, name="churn_probability"), model
