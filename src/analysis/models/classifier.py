"""The churn-risk classifier: time-split backtest, baselines side by side, scores and reasons.

>>> from analysis.models.classifier import score
>>> result = score(ds, as_of="2026-10-31", horizon_days=90, capacity=150)   # doctest: +SKIP
>>> result.backtest.metrics                                                  # doctest: +SKIP
>>> result.scores.head()                                                     # doctest: +SKIP

**Backtest.** Snapshots (:func:`analysis.models.features.snapshot_dates`) all have their label
window inside the observed history. The latest ``n_test`` are the test period; the model
is trained on snapshots whose window ends before the test period starts
(``snapshot + horizon <= first test snapshot``): the earlier ones fit the model, the latest
``n_calib`` of them calibrate its probabilities (a later period than the fit).

When the history is too short for that gap (for example CDNOW at 1997-12-31 with a
180-day horizon: every window must end by 1997-12-31, and a 180-day gap would leave no
training snapshot), the split falls back to a *customer hold-out*: the test customers are
a random share of customers (``test_fraction``, seeded) never seen in training, training
uses every earlier snapshot of the other customers. :class:`Split` says which rule was used.

**Baselines** on the same test rows: the recency rule (days since the last significant
interaction) and, for bases with purchases, the BG/NBD expected purchases over the horizon
(fitted at each test snapshot on the data before it), see :mod:`analysis.models.baselines`.

**Metrics**: ROC AUC, average precision, top-decile lift, Brier score (probabilities only),
recall at the team's monthly capacity; reliability and cumulative gains curves. Ties in a
score (the recency rule counts whole days) are broken at random *in expectation*: the
share of positives in the top ``k`` is interpolated inside a group of tied scores. Every
method is measured on two populations: ``all`` (every customer scored) and ``active90``
(a significant interaction in the 90 days before the date), the one teams act on.

**Who is scored**: every customer known at ``as_of`` (signed up before it) whose contract
has not explicitly ended before it, with ``status`` and ``days_since_last``
(:func:`analysis.models.features.customer_status`); for a ``lapsed`` customer the churn
probability is the probability of no significant interaction in the horizon.

**Forward check** (:func:`forward_evaluation`): when the export goes on for a whole
horizon after ``as_of``, the scores (from data before ``as_of`` only) are measured against
what happened in ``[as_of, as_of + horizon)``: the time-honest evaluation.

This module returns numbers and codes only: reasons are codes with their values
(:func:`reason_codes`), actions and statuses are codes; :mod:`analysis.reporting.risk_text`
turns them into words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from analysis.data.dataset import Dataset
from analysis.errors import ConfigError, NotEnoughDataError
from analysis.metrics.lifecycle import as_dates
from analysis.models.features import (
    KEYS,
    STATUSES,
    feature_columns,
    features,
    labels,
    snapshot_dates,
)

__all__ = [
    "MODEL_KINDS", "Split", "time_split", "make_pipeline", "ChurnClassifier",
    "captured_positives", "top_lift", "recall_at", "gains_curve", "reliability_curve",
    "evaluate_scores", "informative_columns", "Backtest", "backtest", "backtest_on_rows", "ScoreResult", "score", "SCORE_COLUMNS",
    "REASON_RULES", "REASON_COLUMNS", "reason_codes", "customer_value", "list_overlap", "POPULATIONS",
    "ACTIVE_DAYS", "forward_evaluation", "forward_summary", "population_metrics", "resolve_run_parameters",
    "score_rows", "call_order", "fit_final_model", "forward_metrics",
]

MODEL_KINDS = ("logit", "hgb")
#: Reason columns: up to three codes of :data:`REASON_RULES` and their values (``key=value``
#: pairs joined by ``;``), most important first.
REASON_COLUMNS = ["reason_1", "reason_1_values", "reason_2", "reason_2_values", "reason_3", "reason_3_values"]
SCORE_COLUMNS = ["customer_id", "status", "days_since_last", "churn_probability", "risk_tier", "value",
                 "expected_value_at_risk", "priority", "recommended_action", *REASON_COLUMNS]
#: Populations every method is measured on: all scored customers, and those with a
#: significant interaction in the last :data:`ACTIVE_DAYS` days.
POPULATIONS = ("all", "active90")
ACTIVE_DAYS = 90


def resolve_run_parameters(ds: Dataset, horizon_days: int | None = None,
                           capacity: int | None = None) -> tuple[int, int]:
    """The horizon and capacity of a run: the values given, else ``dataset.yml``
    (``thresholds.churn_horizon_days``, ``capacity``), else the documented defaults of
    :class:`analysis.data.config.DatasetConfig` (90 days, 150 customers). Used by
    :func:`score`, ``churn-radar score``, notebook 04 and the report alike (0 or None = not given).
    """
    h = int(horizon_days or ds.config.thresholds.churn_horizon_days)
    c = int(capacity or ds.config.capacity)
    if h < 1:
        raise ConfigError(f"horizon is {h} days; expected a number of days, 1 or more.")
    if c < 1:
        raise ConfigError(f"capacity is {c}; expected the number of customers the team can "
                          "contact per month (1 or more).")
    return h, c


# ----------------------------------------------------------------------------- split
@dataclass(frozen=True)
class Split:
    """Which snapshots fit, calibrate and test the model.

    Attributes
    ----------
    fit, calib, test : snapshot dates of each role.
    holdout : True when the gap rule could not be honoured and test customers are held out.
    gap_days : days between the end of the last training label window and the first test
        snapshot (negative when windows overlap, only with ``holdout``).
    """

    fit: tuple[pd.Timestamp, ...]
    calib: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    holdout: bool
    gap_days: int

    @property
    def train(self) -> tuple[pd.Timestamp, ...]:
        return self.fit + self.calib


def time_split(snapshots, horizon_days: int, n_test: int = 1, n_calib: int = 1) -> Split:
    """Split snapshot dates into fit / calibration / test periods (see the module docstring).

    Raises
    ------
    NotEnoughDataError
        If fewer than ``n_test + n_calib + 1`` snapshots exist.
    """
    snaps = as_dates(snapshots)
    if len(snaps) < n_test + n_calib + 1:
        raise NotEnoughDataError(
            f"{len(snaps)} snapshot(s) whose label window is observed; the backtest needs at least "
            f"{n_test + n_calib + 1} ({n_test} test, {n_calib} calibration, 1 fit). Use a later "
            "as-of date, a shorter horizon or more frequent snapshots."
        )
    test = snaps[-n_test:]
    h = pd.Timedelta(days=int(horizon_days))
    gapped = snaps[snaps + h <= test[0]]
    holdout = len(gapped) < n_calib + 1
    train = snaps[snaps < test[0]] if holdout else gapped
    gap = int((test[0] - (train[-1] + h)).days)
    return Split(fit=tuple(train[:-n_calib]), calib=tuple(train[-n_calib:]), test=tuple(test),
                 holdout=holdout, gap_days=gap)


# ----------------------------------------------------------------------------- models
def _signed_log1p(x):
    """sign(x) * log(1 + |x|): tames the long tails of counts, days and amounts for the logit."""
    return np.sign(x) * np.log1p(np.abs(x))


def make_pipeline(kind: str, random_state: int = 0) -> Pipeline:
    """The scikit-learn pipeline of a model kind.

    ``logit``: median imputation (missing-indicator columns are already features),
    signed ``log1p`` (counts, days and amounts have long tails), standardisation, L2-regularised logistic regression (C=0.5, balanced classes off).
    ``hgb``: histogram gradient boosting (missing values handled natively), shallow trees,
    no early stopping so that the fit is deterministic for a given ``random_state``.
    """
    if kind == "logit":
        return Pipeline([
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("log", FunctionTransformer(_signed_log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(C=0.5, max_iter=2000, random_state=random_state)),
        ])
    if kind == "hgb":
        return Pipeline([
            ("clf", HistGradientBoostingClassifier(
                learning_rate=0.05, max_iter=200, max_leaf_nodes=15, min_samples_leaf=50,
                l2_regularization=1.0, early_stopping=False, random_state=random_state)),
        ])
    raise ConfigError(f"model kind '{kind}' is unknown; expected one of {list(MODEL_KINDS)}.")


def _finite(X: pd.DataFrame) -> pd.DataFrame:
    """``X`` as floats with infinite values turned into NaN (missing): a non-finite feature
    never reaches a model (both pipelines handle NaN)."""
    X = X.astype("float64")
    bad = ~np.isfinite(X.to_numpy())
    return X.mask(bad & ~np.isnan(X.to_numpy())) if bad.any() else X


def _single_thread():
    """One OpenMP thread: on small tables (and shared machines) thread start-up dominates the
    histogram gradient boosting's prediction time; results do not depend on it."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


class ChurnClassifier:
    """A pipeline fitted on one period and calibrated (Platt, ranking-preserving) on a later one.

    Parameters
    ----------
    kind : ``logit`` or ``hgb``.
    random_state : seed of the model.

    Attributes
    ----------
    pipeline_ : the fitted pipeline.
    calibrated_ : the ``CalibratedClassifierCV`` wrapping the frozen pipeline.
    feature_names_ : the columns used, in order.
    """

    def __init__(self, kind: str = "hgb", random_state: int = 0):
        self.kind = kind
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y, X_calib: pd.DataFrame, y_calib) -> ChurnClassifier:
        """Fit on ``X, y`` then calibrate on ``X_calib, y_calib`` (a later period)."""
        y = np.asarray(y)
        y_calib = np.asarray(y_calib)
        for name, v in (("training", y), ("calibration", y_calib)):
            if len(np.unique(v)) < 2:
                raise NotEnoughDataError(
                    f"The {name} snapshots hold only one class ({'lost' if v.size and v[0] else 'kept'} "
                    "customers): no model can be fitted. Use a longer history or another horizon."
                )
        self.feature_names_ = list(X.columns)
        try:
            with _single_thread():
                self.pipeline_ = make_pipeline(self.kind, self.random_state).fit(_finite(X), y)
                self.calibrated_ = CalibratedClassifierCV(FrozenEstimator(self.pipeline_), method="sigmoid")
                self.calibrated_.fit(_finite(X_calib[self.feature_names_]), y_calib)
        except ValueError as exc:  # scikit-learn's own checks: one line for the user, not a traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise NotEnoughDataError(
                f"The {self.kind} model could not be fitted on {len(X):,} snapshot row(s) and "
                f"{X.shape[1]} feature(s): {first}") from exc
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): kept, lost."""
        with _single_thread():
            return self.calibrated_.predict_proba(_finite(X[self.feature_names_]))

    def score(self, X: pd.DataFrame, y) -> float:
        """ROC AUC of the calibrated probabilities (used by permutation importance)."""
        return float(roc_auc_score(np.asarray(y), self.predict_proba(X)[:, 1]))


# ----------------------------------------------------------------------------- metrics
def captured_positives(y, score, k) -> np.ndarray:
    """Expected number of positives among the ``k`` highest scores, ties broken at random.

    ``k`` may be an array. Inside a group of tied scores the count is interpolated
    linearly, which is the expectation under a random order of the tied customers.
    """
    y = np.asarray(y, dtype="float64")
    s = np.asarray(score, dtype="float64")
    if y.size == 0:
        return np.zeros_like(np.asarray(k, dtype="float64"))
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    ends = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])  # last index of each tie group
    cum = np.cumsum(y_sorted)
    xp = np.r_[0.0, ends + 1.0]
    fp = np.r_[0.0, cum[ends]]
    return np.interp(np.asarray(k, dtype="float64"), xp, fp)


def top_lift(y, score, frac: float = 0.1) -> float:
    """Positive rate in the top ``frac`` of scores divided by the overall positive rate."""
    y = np.asarray(y, dtype="float64")
    k = frac * len(y)
    base = y.mean()
    if k <= 0 or base == 0:
        return float("nan")
    return float(captured_positives(y, score, k) / k / base)


def recall_at(y, score, capacity: int) -> float:
    """Share of all positives found among the ``capacity`` highest scores."""
    y = np.asarray(y, dtype="float64")
    if y.sum() == 0:
        return float("nan")
    return float(captured_positives(y, score, min(capacity, len(y))) / y.sum())


def gains_curve(y, score, points: int = 101) -> pd.DataFrame:
    """Cumulative gains: share of positives captured when contacting the top share of customers.

    Returns
    -------
    DataFrame with ``share_contacted`` (0 to 1) and ``share_captured``.
    """
    y = np.asarray(y, dtype="float64")
    share = np.linspace(0.0, 1.0, points)
    if y.size == 0:
        return pd.DataFrame({"share_contacted": share, "share_captured": np.nan})
    cap = captured_positives(y, score, share * len(y)) / max(y.sum(), 1.0)
    return pd.DataFrame({"share_contacted": share, "share_captured": cap})


def reliability_curve(y, prob, n_bins: int = 10) -> pd.DataFrame:
    """Observed rate of loss per bin of predicted probability (equal-count bins).

    Returns
    -------
    DataFrame with ``mean_predicted`` and ``observed_rate``.
    """
    obs, pred = calibration_curve(np.asarray(y), np.asarray(prob), n_bins=n_bins, strategy="quantile")
    return pd.DataFrame({"mean_predicted": pred, "observed_rate": obs})


def evaluate_scores(frame: pd.DataFrame, score_cols: dict[str, str], capacity: int,
                    prob_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    """Metrics of several scores on the same labelled rows.

    Parameters
    ----------
    frame : columns ``as_of``, ``label`` and the score columns.
    score_cols : method name -> score column (higher = riskier). Rows where a score is
        missing are left out of that method's metrics (``n`` says how many were used).
    capacity : customers the team can contact per month; the recall at capacity is
        computed per snapshot (one month) and averaged over the test snapshots.
    prob_cols : score columns that are probabilities (get a Brier score).

    Returns
    -------
    DataFrame indexed by method: ``auc``, ``average_precision``, ``lift_top_decile``,
    ``brier`` (NaN if not a probability), ``recall_at_capacity``, ``n``, ``base_rate``.
    """
    rows = {}
    for name, col in score_cols.items():
        d = frame.loc[frame[col].notna(), ["as_of", "label", col]]
        y, s = d["label"].to_numpy(), d[col].to_numpy(dtype="float64")
        ok = len(np.unique(y)) == 2
        recalls = [recall_at(g["label"], g[col], capacity) for _, g in d.groupby("as_of")]  # few dates
        rows[name] = {
            "auc": roc_auc_score(y, s) if ok else np.nan,
            "average_precision": average_precision_score(y, s) if ok else np.nan,
            "lift_top_decile": top_lift(y, s, 0.1),
            "brier": brier_score_loss(y, s) if col in prob_cols and ok else np.nan,
            "recall_at_capacity": float(np.nanmean(recalls)) if np.isfinite(recalls).any() else np.nan,
            "n": int(len(d)),
            "base_rate": float(y.mean()) if len(y) else np.nan,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "method"
    return out


# ----------------------------------------------------------------------------- backtest
def informative_columns(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    """The columns of ``cols`` that vary in ``frame`` (constant or all-missing ones carry no
    information: for example every ``missing_email`` is 1 when the export has no email)."""
    n = frame[cols].nunique(dropna=False)
    return [c for c in cols if n[c] > 1 and frame[c].notna().any()]


@dataclass
class Backtest:
    """Everything the backtest measured.

    Attributes
    ----------
    split : the :class:`Split` used.
    metrics : :func:`evaluate_scores` of the models and baselines on every test row
        (population ``all``; index: logit, hgb, recency, bgnbd when the base has purchases
        and the BG/NBD fit was usable at the test snapshots).
    population_metrics : the same per population (:data:`POPULATIONS`), index
        ``(population, method)``.
    predictions : test rows: ``as_of``, ``customer_id``, ``label``, ``days_since_last``,
        ``prob_logit``, ``prob_hgb``, ``score_recency``, ``score_bgnbd``.
    best_model : ``logit`` or ``hgb`` (highest test ROC AUC).
    reliability : reliability curve of each model (column ``method``).
    gains : gains curve of every method (column ``method``).
    importance : permutation importance of the best model on the test rows:
        ``feature``, ``importance_mean``, ``importance_std`` (drop in ROC AUC).
    models : the fitted :class:`ChurnClassifier` per kind.
    bgnbd_fits : one record per date of the BG/NBD fits (status ``ok``, ``penalized`` or
        ``dropped`` and the reason code; see :func:`analysis.models.baselines.bgnbd_scores`).
    """

    split: Split
    metrics: pd.DataFrame
    predictions: pd.DataFrame
    best_model: str
    reliability: pd.DataFrame
    gains: pd.DataFrame
    importance: pd.DataFrame
    models: dict[str, ChurnClassifier] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)
    population_metrics: pd.DataFrame | None = None
    bgnbd_fits: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        """Key figures for the JSON sidecar and the CLI."""
        m = self.metrics

        def get(method, col, frame=m):
            return float(frame.loc[method, col]) if frame is not None and method in frame.index else None

        out = {
            "train_snapshots": [d.date().isoformat() for d in self.split.train],
            "test_snapshots": [d.date().isoformat() for d in self.split.test],
            "split_holdout": self.split.holdout,
            "best_model": self.best_model,
            "auc_model": get(self.best_model, "auc"),
            "auc_logit": get("logit", "auc"), "auc_hgb": get("hgb", "auc"),
            "auc_recency": get("recency", "auc"), "auc_bgnbd": get("bgnbd", "auc"),
            "ap_model": get(self.best_model, "average_precision"),
            "lift_top_decile_model": get(self.best_model, "lift_top_decile"),
            "lift_top_decile_recency": get("recency", "lift_top_decile"),
            "lift_top_decile_bgnbd": get("bgnbd", "lift_top_decile"),
            "brier_model": get(self.best_model, "brier"),
            "recall_at_capacity": get(self.best_model, "recall_at_capacity"),
            "recall_at_capacity_recency": get("recency", "recall_at_capacity"),
            "bgnbd_fits": list(self.bgnbd_fits),
            "bgnbd_dropped": [f["as_of"] for f in self.bgnbd_fits if f["status"] == "dropped"],
        }
        pm = self.population_metrics
        if pm is not None and "active90" in pm.index.get_level_values(0):
            a = pm.loc["active90"]
            out.update({"auc_model_active90": get(self.best_model, "auc", a),
                        "auc_recency_active90": get("recency", "auc", a),
                        "auc_bgnbd_active90": get("bgnbd", "auc", a),
                        "n_test_active90": int(a["n"].max()) if len(a) else 0})
        return out


def _labelled(ds: Dataset, feats: pd.DataFrame, snaps, horizon_days: int, as_of) -> pd.DataFrame:
    lab = labels(ds, snaps, horizon_days, as_of)
    return feats.merge(lab, on=KEYS, how="inner")


def _cap(rows: pd.DataFrame, max_rows: int | None, random_state: int) -> pd.DataFrame:
    """At most ``max_rows`` rows, a seeded random sample (kept in their original order)."""
    if not max_rows or len(rows) <= max_rows:
        return rows
    return rows.sample(n=max_rows, random_state=random_state).sort_index()


def _holdout_mask(customer_ids: pd.Series, fraction: float, random_state: int) -> pd.Series:
    """True for the customers held out for the test (a seeded random share of all ids)."""
    ids = pd.Index(customer_ids.unique()).sort_values()
    rng = np.random.default_rng(random_state)
    held = pd.Series(rng.random(len(ids)) < fraction, index=ids)
    return customer_ids.map(held).astype(bool)


def population_metrics(pred: pd.DataFrame, score_cols: dict[str, str], capacity: int,
                       prob_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    """:func:`evaluate_scores` on each of :data:`POPULATIONS`.

    ``pred`` needs ``days_since_last``: the ``active90`` rows are those below
    :data:`ACTIVE_DAYS`. Returns a frame indexed by ``(population, method)``.
    """
    parts = {}
    for pop in POPULATIONS:
        rows = pred if pop == "all" else pred.loc[pred["days_since_last"] < ACTIVE_DAYS]
        parts[pop] = evaluate_scores(rows, score_cols, capacity, prob_cols=prob_cols)
    out = pd.concat(parts, names=["population", "method"])
    return out


def backtest(ds: Dataset, as_of, horizon_days: int | None = None, capacity: int = 100,
             random_state: int = 0, *, freq: str = "MS", min_history_days: int = 30,
             max_snapshots: int | None = 12, n_test: int = 1, n_calib: int = 1,
             test_fraction: float = 0.5, importance_rows: int = 3000,
             max_fit_rows: int | None = 300_000, feats: pd.DataFrame | None = None,
             bgnbd_fits: list | None = None) -> Backtest:
    """Time-split backtest of both models against the baselines.

    Parameters
    ----------
    ds : the dataset.
    as_of : analysis date; every label window ends by it.
    horizon_days : label horizon (default: the config's churn horizon).
    capacity : customers the team can contact per month.
    random_state : seed of the models, the hold-out and the permutation importance.
    freq, min_history_days, max_snapshots : snapshot series (:func:`snapshot_dates`).
    n_test, n_calib : number of test and calibration snapshots.
    test_fraction : share of customers held out when the gap rule cannot be honoured.
    importance_rows : test rows sampled for the permutation importance.
    max_fit_rows : the fit uses a seeded random sample of at most this many snapshot rows
        (None: all); calibration and test always use every row.
    feats : precomputed :func:`analysis.models.features.features` for the snapshots (optional).
    bgnbd_fits : the BG/NBD fit records of ``feats`` (when given with it).
    """
    h = int(horizon_days or ds.config.thresholds.churn_horizon_days)
    snaps = snapshot_dates(ds, as_of, h, freq=freq, min_history_days=min_history_days,
                           max_snapshots=max_snapshots)
    split = time_split(snaps, h, n_test=n_test, n_calib=n_calib)
    used = as_dates(list(split.train) + list(split.test))
    if feats is None:
        bgnbd_fits = []
        feats = features(ds, used, horizon_days=h, random_state=random_state, bgnbd_fits=bgnbd_fits)
    fits = [f for f in (bgnbd_fits or []) if pd.Timestamp(f["as_of"]) in used]
    data = _labelled(ds, feats.loc[feats["as_of"].isin(used)], used, h, as_of)
    return backtest_on_rows(data, split, capacity, random_state, test_fraction=test_fraction,
                            importance_rows=importance_rows, max_fit_rows=max_fit_rows,
                            has_orders=ds.has("orders"), bgnbd_fits=fits)


def backtest_on_rows(data: pd.DataFrame, split: Split, capacity: int = 100, random_state: int = 0, *,
                     test_fraction: float = 0.5, importance_rows: int = 3000,
                     max_fit_rows: int | None = 300_000, has_orders: bool = True,
                     bgnbd_fits: list | None = None) -> Backtest:
    """:func:`backtest` on labelled snapshot rows already built (features merged with
    :func:`analysis.models.features.labels`, sorted by ``as_of`` and ``customer_id``): the
    part of the backtest that needs no dataset (used by the partitioned engines, whose rows
    come from every partition).
    """
    fits = list(bgnbd_fits or [])
    cols = feature_columns(data)
    is_test = data["as_of"].isin(split.test)
    if split.holdout:
        held = _holdout_mask(data["customer_id"], test_fraction, random_state)
        train_rows, test_rows = data.loc[~is_test & ~held], data.loc[is_test & held]
    else:
        train_rows, test_rows = data.loc[~is_test], data.loc[is_test]
    fit_rows = _cap(train_rows.loc[train_rows["as_of"].isin(split.fit)], max_fit_rows, random_state)
    cal_rows = train_rows.loc[train_rows["as_of"].isin(split.calib)]
    cols = informative_columns(fit_rows, cols)
    if test_rows.empty or fit_rows.empty or cal_rows.empty:
        raise NotEnoughDataError("The backtest has an empty fit, calibration or test period: "
                                 "too few customers at the snapshots.")
    pred = test_rows[KEYS + ["label", "days_since_last"]].copy()
    models: dict[str, ChurnClassifier] = {}
    for kind in MODEL_KINDS:
        m = ChurnClassifier(kind, random_state).fit(fit_rows[cols], fit_rows["label"],
                                                     cal_rows[cols], cal_rows["label"])
        models[kind] = m
        pred[f"prob_{kind}"] = m.predict_proba(test_rows[cols])[:, 1]
    pred["score_recency"] = test_rows["days_since_last"].astype("float64").to_numpy()
    score_cols = {k: f"prob_{k}" for k in MODEL_KINDS} | {"recency": "score_recency"}
    if has_orders and "bgnbd_expected_purchases" in test_rows.columns:
        # fitted per test snapshot in features(); absent when that fit was dropped (degenerate)
        pred["score_bgnbd"] = -test_rows["bgnbd_expected_purchases"].to_numpy()
        if pred["score_bgnbd"].notna().any():
            score_cols["bgnbd"] = "score_bgnbd"
    probs = tuple(f"prob_{k}" for k in MODEL_KINDS)
    pop = population_metrics(pred, score_cols, capacity, prob_cols=probs)
    metrics = pop.loc["all"]
    best = str(metrics.loc[list(MODEL_KINDS), "auc"].fillna(-1.0).idxmax())
    reliability = pd.concat([reliability_curve(pred["label"], pred[f"prob_{k}"]).assign(method=k)
                             for k in MODEL_KINDS], ignore_index=True)
    gains = pd.concat([gains_curve(pred.loc[pred[c].notna(), "label"], pred.loc[pred[c].notna(), c]).assign(method=n)
                       for n, c in score_cols.items()], ignore_index=True)
    sample = test_rows.sample(n=min(importance_rows, len(test_rows)), random_state=random_state)
    if sample["label"].nunique() == 2:
        imp = permutation_importance(models[best], sample[cols], sample["label"].to_numpy(),
                                     n_repeats=3, random_state=random_state, n_jobs=1)
        imp_mean, imp_std = imp.importances_mean, imp.importances_std
    else:  # one class in the test rows: no ranking to spoil
        imp_mean, imp_std = np.zeros(len(cols)), np.zeros(len(cols))
    importance = pd.DataFrame({"feature": cols, "importance_mean": imp_mean, "importance_std": imp_std})
    importance = importance.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
    return Backtest(split=split, metrics=metrics, predictions=pred.reset_index(drop=True), best_model=best,
                    reliability=reliability, gains=gains, importance=importance, models=models,
                    feature_names=cols, population_metrics=pop, bgnbd_fits=fits)


# ----------------------------------------------------------------------------- reasons
#: Reason rules: (code, features it rests on). Order = default priority.
REASON_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("nps", ("nps_change", "nps_last", "alert_nps")),
    ("interval", ("interval_drift", "interval_recent_days", "alert_interval")),
    ("frequency", ("freq_change_m1", "freq_change_m2", "alert_frequency")),
    ("recency", ("days_since_last", "days_since_strong", "alert_recency", "recency_level")),
    ("usage", ("usage_change", "usage_score", "usage_score_prev", "usage_sessions_30", "days_since_use", "alert_usage")),
    ("basket", ("basket_change", "basket_3m", "alert_basket")),
    ("share", ("revenue_share_q", "revenue_share_prev_q", "alert_share")),
    ("email", ("open_rate_10", "ctor_10", "alert_email")),
    ("detractor", ("nps_last", "is_nps_category_detractor")),
    ("email_inactive", ("is_email_segment_chronic_inactive",)),
)


def _is_true(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[col].astype("Float64").fillna(0.0).astype("float64").gt(0.5)


def _values(**cols: pd.Series) -> pd.Series:
    """``key=value;key=value`` per row (values rounded: whole numbers, shares to 4 digits)."""
    out = None
    for key, v in cols.items():
        v = v.astype("float64")
        txt = v.round(4).astype("string").str.replace(r"\.0$", "", regex=True)
        part = key + "=" + txt.fillna("")
        out = part if out is None else out + ";" + part
    return out


def reason_codes(frame: pd.DataFrame, importance: pd.DataFrame | None = None,
                 max_reasons: int = 3, watch_days: int = 30) -> pd.DataFrame:
    """Up to ``max_reasons`` warning signals per customer, as codes with their values.

    A reason is given when its indicator's alert fires (see :mod:`analysis.metrics.signals`):
    ``recency`` (silence of ``watch_days`` or more; ``days``), ``interval`` (purchase
    interval drift; ``recent``, ``prev`` days), ``frequency`` (drop; ``pct`` change),
    ``basket`` (erosion; ``pct``), ``share`` (falling revenue share; ``prev``, ``last``
    shares), ``nps`` (drop; ``prev``, ``last``), ``detractor`` (``last``), ``email``
    (sudden stop), ``email_inactive`` (chronic), ``usage`` (drop; ``pct``). Reasons are
    ordered by the permutation importance of the features they rest on (most important
    first; the fixed order of :data:`REASON_RULES` without ``importance``).
    :func:`analysis.reporting.risk_text.reason_text` puts them into words.

    Parameters
    ----------
    frame : rows of :func:`analysis.models.features.features`.
    importance : optional frame with ``feature`` and ``importance_mean``.

    Returns
    -------
    DataFrame aligned with ``frame``, columns ``reason_<i>`` (code, NA when fewer reasons)
    and ``reason_<i>_values`` (``key=value`` pairs joined by ``;``) for i = 1..max_reasons.
    """
    idx = frame.index

    def col(name: str) -> pd.Series:
        return frame[name] if name in frame.columns else pd.Series(np.nan, index=idx)

    email_inactive = (frame["email_segment"].astype("string").eq("chronic_inactive").fillna(False)
                      if "email_segment" in frame.columns else pd.Series(False, index=idx))
    empty = pd.Series("", index=idx, dtype="string")
    rules: dict[str, tuple[pd.Series, pd.Series]] = {
        "recency": (col("days_since_last").ge(watch_days), _values(days=col("days_since_last").round())),
        "interval": (_is_true(frame, "alert_interval") & col("interval_prev_days").notna(),
                     _values(recent=col("interval_recent_days").round(), prev=col("interval_prev_days").round())),
        "frequency": (_is_true(frame, "alert_frequency") & col("freq_change_m1").notna(),
                      _values(pct=col("freq_change_m1"))),
        "basket": (_is_true(frame, "alert_basket") & col("basket_change").notna(), _values(pct=col("basket_change"))),
        "share": (_is_true(frame, "alert_share") & col("revenue_share_q").notna(),
                  _values(prev=col("revenue_share_prev_q"), last=col("revenue_share_q"))),
        "nps": (_is_true(frame, "alert_nps") & col("nps_prev").notna(),
                _values(prev=col("nps_prev"), last=col("nps_last"))),
        "detractor": (col("nps_last").le(6) & ~_is_true(frame, "alert_nps"), _values(last=col("nps_last"))),
        "email": (_is_true(frame, "alert_email"), empty),
        "email_inactive": (email_inactive, empty),
        "usage": (_is_true(frame, "alert_usage") & col("usage_change").notna(), _values(pct=col("usage_change"))),
    }
    order = [name for name, _ in REASON_RULES]
    if importance is not None and not importance.empty:
        imp = importance.set_index("feature")["importance_mean"]
        weight = {name: max([float(imp.get(f, 0.0)) for f in feats] + [0.0]) for name, feats in REASON_RULES}
        order = sorted(order, key=lambda n: (-weight[n], order.index(n)))
    out = pd.DataFrame(index=idx)
    for i in range(1, max_reasons + 1):
        out[f"reason_{i}"] = pd.Series(pd.NA, index=idx, dtype="string")
        out[f"reason_{i}_values"] = pd.Series(pd.NA, index=idx, dtype="string")
    count = np.zeros(len(idx), dtype=int)
    for name in order:  # a handful of rules, each vectorised over customers
        fires, vals = rules[name]
        fires = fires.fillna(False).astype(bool).to_numpy() & (count < max_reasons)
        for i in range(1, max_reasons + 1):
            slot = fires & (count == i - 1)
            out.loc[slot, f"reason_{i}"] = name
            out.loc[slot, f"reason_{i}_values"] = vals[slot]
        count = count + fires.astype(int)
    return out


# ----------------------------------------------------------------------------- scoring
@dataclass
class ScoreResult:
    """Scores at the as-of date and the backtest behind them.

    Attributes
    ----------
    scores : one row per customer known at ``as_of`` whose contract has not ended,
        :data:`SCORE_COLUMNS`, in call order: customers to contact first (priority, then
        expected value at risk, highest first), then those for the ``separate_list``, then
        ``removal`` candidates. :attr:`call_list` is the first ``capacity`` to contact.
    matrix : the same rows with ``value_tier`` and the feature values (for the priority plot
        and the reasons' wording).
    backtest : the :class:`Backtest`.
    model : the :class:`ChurnClassifier` (kind ``backtest.best_model``) refitted on every
        labelled snapshot (calibrated on the latest) that produced the scores.
    value_basis : ``revenue_12m``, ``orders_12m`` or ``constant`` (see :func:`customer_value`).
    capacity, horizon_days, as_of : the parameters used.
    bgnbd_fits : BG/NBD fit records of every date used (snapshots and ``as_of``).
    n_known : customers known at ``as_of`` (signed up before it).
    training_rows, labelled_rows, training_cap : the partitioned engines' capped training
        sample (:mod:`analysis.models.partitioned`); None in memory.
    """

    scores: pd.DataFrame
    matrix: pd.DataFrame
    backtest: Backtest
    model: ChurnClassifier
    value_basis: str
    capacity: int
    horizon_days: int
    as_of: pd.Timestamp
    bgnbd_fits: list[dict] = field(default_factory=list)
    n_known: int = 0
    #: partitioned engines only: rows of the training sample, labelled snapshot rows of the
    #: base, and the cap (None: the in-memory path, where the fit alone is capped)
    training_rows: int | None = None
    labelled_rows: int | None = None
    training_cap: int | None = None

    @property
    def call_list(self) -> pd.DataFrame:
        """The first ``capacity`` customers to contact (not the separate list nor removal)."""
        s = self.scores
        return s.loc[~s["recommended_action"].isin(NOT_CALLED)].head(self.capacity)

    def key_figures(self, n_top: int = 10) -> dict:
        """Key figures for the JSON sidecar: numbers and codes, the keys of
        ``reporting.summary.ChurnRiskFigures`` among them (the executive summary reads those)."""
        top = self.call_list.head(n_top)[["customer_id", "status", "churn_probability", "value",
                                          "expected_value_at_risk", "recommended_action"]]
        status = self.scores["status"].value_counts()
        actions = self.scores["recommended_action"].value_counts()
        return {
            "horizon_days": self.horizon_days, "capacity": self.capacity,
            **self.backtest.summary(),
            "bgnbd_fits": list(self.bgnbd_fits),
            "bgnbd_dropped": [f["as_of"] for f in self.bgnbd_fits if f["status"] == "dropped"],
            "value_basis": self.value_basis,
            "n_scored": int(len(self.scores)),
            "n_known": int(self.n_known),
            "n_by_status": {k: int(status.get(k, 0)) for k in STATUSES},
            "n_by_action": {str(k): int(v) for k, v in actions.items()},
            "n_priority_1": int(self.scores["priority"].eq("P1").sum()),
            "top_priorities": top.to_dict(orient="records"),
            **({"training_rows": self.training_rows, "labelled_rows": self.labelled_rows,
                "training_cap": self.training_cap} if self.training_rows is not None else {}),
        }


#: Actions whose customers are not on the call list (SPEC section 3: moved off the active base).
NOT_CALLED = ("separate_list", "removal")


def customer_value(ds: Dataset, as_of) -> tuple[pd.DataFrame, str]:
    """The value of every customer signed up before ``as_of``, and what it measures.

    * orders with amounts: net revenue of the 365 days before ``as_of``
      (:func:`analysis.metrics.priority.value_tiers`), basis ``revenue_12m``;
    * orders without amounts: number of purchases in those 365 days, basis ``orders_12m``;
    * no orders: 1 for everyone (the list then follows the risk alone), basis ``constant``.

    Returns
    -------
    (DataFrame with ``customer_id`` and ``value``, basis).
    """
    from analysis.metrics.priority import value_tiers

    cut = pd.Timestamp(as_of).normalize()
    ids = ds.customers.loc[ds.customers["signup_date"] < cut, "customer_id"].astype("string")
    if ds.has_amounts:
        v = value_tiers(ds, cut)
        return pd.DataFrame({"customer_id": v["customer_id"].astype("string"), "value": v["value"]}), "revenue_12m"
    if ds.has("orders"):
        o = ds.orders
        recent = o.loc[(o["order_date"] < cut) & (o["order_date"] >= cut - pd.Timedelta(days=365)) & ~o["is_refund"]]
        n = recent.groupby("customer_id", observed=True).size()
        n.index = n.index.astype("string")
        return pd.DataFrame({"customer_id": ids.to_numpy(),
                             "value": ids.map(n).fillna(0).astype("float64").to_numpy()}), "orders_12m"
    return pd.DataFrame({"customer_id": ids.to_numpy(), "value": 1.0}), "constant"


def score(ds: Dataset, as_of, horizon_days: int | None = None, capacity: int | None = None,
          random_state: int = 0, *, freq: str = "MS", min_history_days: int = 30,
          max_snapshots: int | None = 12, n_test: int = 1, test_fraction: float = 0.5,
          importance_rows: int = 3000, max_fit_rows: int | None = 300_000) -> ScoreResult:
    """Backtest, then score every customer known at ``as_of`` and build the call list.

    The model kind that won the backtest (ROC AUC) is refitted on every labelled snapshot
    (the latest one calibrates it), then scores the features at ``as_of``. Features for all
    snapshots and ``as_of`` come from one :func:`analysis.models.features.features` call.

    Parameters
    ----------
    ds : the dataset.
    as_of : the scoring date (nothing on or after it is read).
    horizon_days, capacity : see :func:`resolve_run_parameters` (None: dataset.yml, then
        the documented defaults).
    random_state : seed of everything random.
    freq, min_history_days, max_snapshots, n_test, test_fraction, importance_rows, max_fit_rows :
        see :func:`backtest`.

    Returns
    -------
    :class:`ScoreResult`; ``scores`` has :data:`SCORE_COLUMNS`.
    """
    h, capacity = resolve_run_parameters(ds, horizon_days, capacity)
    cut = pd.Timestamp(as_of).normalize()
    snaps = snapshot_dates(ds, cut, h, freq=freq, min_history_days=min_history_days,
                           max_snapshots=max_snapshots)
    fits: list[dict] = []
    feats = features(ds, as_dates(list(snaps) + [cut]), horizon_days=h, random_state=random_state,
                     bgnbd_fits=fits)
    bt = backtest(ds, cut, h, capacity, random_state, freq=freq, min_history_days=min_history_days,
                  max_snapshots=max_snapshots, n_test=n_test, test_fraction=test_fraction,
                  importance_rows=importance_rows, max_fit_rows=max_fit_rows,
                  feats=feats.loc[feats["as_of"] < cut], bgnbd_fits=fits)
    data = _labelled(ds, feats.loc[feats["as_of"].isin(snaps)], snaps, h, cut)
    model, cols = fit_final_model(data, bt.best_model, random_state, max_fit_rows)
    now = feats.loc[feats["as_of"] == cut].reset_index(drop=True)
    if now.empty:
        raise NotEnoughDataError(f"No customer is known on {cut.date()}: nothing to score.")
    value, basis = customer_value(ds, cut)
    now = now.merge(value, on="customer_id", how="left")
    mat = call_order(score_rows(now, model, cols, bt.importance, ds.config))
    scores = mat[SCORE_COLUMNS].copy()
    n_known = int((ds.customers["signup_date"] < cut).sum())
    return ScoreResult(scores=scores, matrix=mat, backtest=bt, model=model, value_basis=basis,
                       capacity=int(capacity), horizon_days=h, as_of=cut, bgnbd_fits=fits, n_known=n_known)


def fit_final_model(data: pd.DataFrame, kind: str, random_state: int = 0,
                    max_fit_rows: int | None = 300_000) -> tuple[ChurnClassifier, list[str]]:
    """The model that scores: ``kind`` fitted on every labelled snapshot row but the latest
    snapshot's (at most ``max_fit_rows``, a seeded sample), calibrated on the latest.

    Returns
    -------
    (the fitted :class:`ChurnClassifier`, its feature columns).
    """
    last = data["as_of"].max()
    fit_rows = _cap(data.loc[data["as_of"] < last], max_fit_rows, random_state)
    cal_rows = data.loc[data["as_of"] == last]
    cols = informative_columns(fit_rows, feature_columns(data))
    model = ChurnClassifier(kind, random_state).fit(fit_rows[cols], fit_rows["label"],
                                                    cal_rows[cols], cal_rows["label"])
    return model, cols


def score_rows(now: pd.DataFrame, model: ChurnClassifier, cols: list[str], importance: pd.DataFrame | None,
               config, value_tier: pd.Series | None = None) -> pd.DataFrame:
    """Probability, value at risk, reasons, tiers, priority and action of feature rows at one
    date (a per-customer function: the rows of a partition give the rows of the whole base).

    Parameters
    ----------
    now : :func:`analysis.models.features.features` rows at the scoring date, with ``value``.
    model, cols : the fitted :class:`ChurnClassifier` and its feature columns.
    importance : permutation importance ordering the reasons.
    config : the :class:`~analysis.data.config.DatasetConfig` (thresholds, watch days).
    value_tier : the value tier of each row (``high``/``standard``), when decided on the
        whole base (a partition); None: from the values of ``now`` (top 20 % of positive values).

    Returns
    -------
    The rows of :func:`analysis.metrics.priority.priority_matrix`, not yet in call order.
    """
    from analysis.metrics.priority import priority_matrix

    now = now.copy()
    now["churn_probability"] = model.predict_proba(now[cols])[:, 1]
    now["value"] = now["value"].fillna(0.0)
    now["expected_value_at_risk"] = now["churn_probability"] * now["value"]
    now["lost"] = False  # ended contracts are not scored
    now = pd.concat([now, reason_codes(now, importance, watch_days=config.thresholds.watch_days)], axis=1)
    if "any_alert" not in now.columns:
        now["any_alert"] = now.filter(like="alert_").fillna(0).gt(0.5).any(axis=1)
    else:
        now["any_alert"] = now["any_alert"].astype("boolean").fillna(False).astype(bool)
    if value_tier is None:
        mat = priority_matrix(now, risk_col="churn_probability", value_col="value", risk_kind="probability",
                              thresholds=config)
    else:
        now["value_tier"] = value_tier.to_numpy()
        mat = priority_matrix(now, risk_col="churn_probability", value_col="value_tier",
                              risk_kind="probability", thresholds=config)
    mat["priority"] = mat["priority"].astype("string")
    mat["risk_tier"] = mat["risk_tier"].astype("string")
    return mat


def call_order(mat: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`score_rows` in call order: customers to contact first (priority, then
    expected value at risk, probability, id), then the ``separate_list``, then ``removal``."""
    mat = mat.assign(_list=mat["recommended_action"].map({a: i + 1 for i, a in enumerate(NOT_CALLED)}).fillna(0))
    mat = mat.sort_values(["_list", "priority", "expected_value_at_risk", "churn_probability", "customer_id"],
                          ascending=[True, True, False, False, True], kind="stable")
    return mat.drop(columns="_list").reset_index(drop=True)


# ----------------------------------------------------------------------------- forward check
def forward_evaluation(ds: Dataset, result: ScoreResult) -> pd.DataFrame | None:
    """Measure the scores at ``as_of`` against what happened in the horizon after it.

    The scores were computed from data before ``as_of`` only; the truth is the label of
    :func:`analysis.models.features.labels` at ``as_of`` (lost within the horizon), read from
    the rows after it. The baselines are recomputed at ``as_of`` the same way: the recency
    rule (``days_since_last``) and BG/NBD expected purchases fitted on data before ``as_of``.

    Returns
    -------
    :func:`population_metrics` of ``model``, ``recency`` and ``bgnbd`` (index
    ``(population, method)``), or None when the export does not cover ``as_of + horizon``.
    """
    cut = result.as_of
    h = result.horizon_days
    end = cut + pd.Timedelta(days=h)
    if ds.observed_until is None or ds.observed_until + pd.Timedelta(days=1) < end:
        return None
    return forward_metrics(result, labels(ds, [cut], h, end))


def forward_metrics(result: ScoreResult, lab: pd.DataFrame) -> pd.DataFrame:
    """:func:`forward_evaluation` given the labels at ``as_of`` (``as_of``, ``customer_id``,
    ``label``; gathered per partition by the partitioned engines)."""
    cut = result.as_of
    rows = result.matrix[["customer_id", "days_since_last", "churn_probability"]
                         + (["bgnbd_expected_purchases"] if "bgnbd_expected_purchases" in result.matrix else [])]
    rows = rows.assign(as_of=cut).merge(lab, on=KEYS, how="inner")
    rows["score_recency"] = rows["days_since_last"].astype("float64")
    cols = {"model": "churn_probability", "recency": "score_recency"}
    if "bgnbd_expected_purchases" in rows.columns and rows["bgnbd_expected_purchases"].notna().any():
        rows["score_bgnbd"] = -rows["bgnbd_expected_purchases"]
        cols["bgnbd"] = "score_bgnbd"
    return population_metrics(rows, cols, result.capacity, prob_cols=("churn_probability",))


def forward_summary(metrics: pd.DataFrame | None) -> dict:
    """The forward check as flat sidecar keys ``forward_auc_<method>_<population>`` (an
    empty dict when there was no forward check)."""
    if metrics is None:
        return {}
    return {f"forward_auc_{method}_{pop}": (None if pd.isna(v) else float(v))
            for (pop, method), v in metrics["auc"].items()}


# ----------------------------------------------------------------------------- stability
def list_overlap(current: pd.DataFrame, previous: pd.DataFrame, capacity: int) -> float:
    """Share of the current top-``capacity`` customers already in the previous top ``capacity``.

    Both frames are in call order (as written by :func:`score`) with ``customer_id``.
    """
    a = set(current["customer_id"].astype("string").head(capacity))
    b = set(previous["customer_id"].astype("string").head(capacity))
    return float(len(a & b) / len(a)) if a else float("nan")
