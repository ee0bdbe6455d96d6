"""What a team would do without a model: the two baselines every churn score is compared with.

* **Recency rule** ("the 90-day rule"): rank customers by the days since their last
  significant interaction; the longer the silence, the higher the risk.
* **BG/NBD** (Fader, Hardie and Lee 2005), for bases with purchases: the expected number of
  purchases over the horizon given each customer's frequency, recency and age. Fewer
  expected purchases means more risk, so the churn score is ``-expected_purchases``.
  ``P(alive)`` is *not* used: it is 1 for every customer with a single purchase, whatever
  their silence, which makes it a poor churn ranking.

Both are computed at a snapshot date from data strictly before it; the BG/NBD model is
fitted at each snapshot on that data only.

**Degenerate fits.** On short or lumpy logs the BG/NBD likelihood can run off to absurd
parameters (for example ``a`` about 1e-23 and ``b`` about 1e-14 on a line-level retail
export), whose expected purchases are infinite or NaN. A fit counts as degenerate when it
does not converge, when a parameter is not finite or outside :data:`PARAM_BOUNDS`, or when
an expected purchase is not finite. It is retried with the penalties of
:data:`PENALIZERS`; if every try is degenerate the baseline is dropped for that date. Each
date's outcome is recorded (:func:`bgnbd_scores` returns it in ``frame.attrs["fits"]``):
status ``ok``, ``penalized`` or ``dropped``, with a reason code (``not_converged``,
``absurd_params``, ``non_finite_scores``, ``too_few_buyers``).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd

from analysis.data.dataset import Dataset
from analysis.errors import NotEnoughDataError
from analysis.metrics.lifecycle import as_dates

__all__ = ["rfm_summary", "BGNBDBaseline", "DegenerateFitError", "bgnbd_scores", "fit_bgnbd_at",
           "score_bgnbd_at", "PARAM_BOUNDS", "PENALIZERS"]

#: Time unit of the BG/NBD fit, in days (weeks, as in Fader-Hardie's CDNOW analysis).
BGNBD_UNIT_DAYS = 7.0
#: A fitted parameter (r, alpha, a, b) outside these bounds makes the fit degenerate.
#: Published fits are far inside (CDNOW: r 0.24, alpha 4.4, a 0.79, b 2.4).
PARAM_BOUNDS: tuple[float, float] = (1e-4, 1e4)
#: Penalties tried after the first fit, in order, when a fit is degenerate.
PENALIZERS: tuple[float, ...] = (0.01, 0.1)


class DegenerateFitError(NotEnoughDataError):
    """The BG/NBD fit is unusable (no convergence, absurd parameters or non-finite scores).

    Attributes
    ----------
    reason : ``not_converged``, ``absurd_params``, ``non_finite_scores`` or ``too_few_buyers``.
    """

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def rfm_summary(orders: pd.DataFrame, as_of, signup: pd.Series | None = None,
                unit_days: float = BGNBD_UNIT_DAYS) -> pd.DataFrame:
    """Frequency / recency / age of every buyer at ``as_of``, from purchases strictly before it.

    Purchases are counted per distinct day, as in ``lifetimes``: ``frequency`` is the number
    of purchase days after the first, ``recency`` the time from the first to the last purchase
    day, ``T`` the time from the first purchase day to ``as_of``, all in ``unit_days``.

    Parameters
    ----------
    orders : columns ``customer_id``, ``order_date``; ``is_refund`` (refunds are dropped) if present.
    as_of : the snapshot date; only orders before it are read.
    signup : optional Series of ``signup_date`` indexed by ``customer_id``. Customers in it
        with no purchase before ``as_of`` (but signed up before it) get ``frequency = 0``,
        ``recency = 0`` and ``T`` from their signup: the model then treats signup as birth.
    unit_days : length of one time unit in days.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with float columns ``frequency``, ``recency``, ``T``.
    """
    cut = pd.Timestamp(as_of)
    o = orders.loc[orders["order_date"] < cut]
    if "is_refund" in o.columns:
        o = o.loc[~o["is_refund"].astype(bool)]
    days = pd.DataFrame({"customer_id": o["customer_id"].astype("string"),
                         "day": o["order_date"].dt.normalize()}).drop_duplicates()
    g = days.groupby("customer_id", observed=True)["day"]
    first, last, n = g.min(), g.max(), g.size()
    unit = pd.Timedelta(days=unit_days)
    out = pd.DataFrame({
        "frequency": (n - 1).astype("float64"),
        "recency": (last - first) / unit,
        "T": (cut - first) / unit,
    })
    if signup is not None:
        s = signup.loc[signup < cut]
        s.index = s.index.astype("string")
        missing = s.index.difference(out.index)
        if len(missing):
            add = pd.DataFrame({"frequency": 0.0, "recency": 0.0,
                                "T": ((cut - s.loc[missing].dt.normalize()) / unit).to_numpy()},
                               index=missing)
            out = pd.concat([out, add])
    out.index.name = "customer_id"
    return out.astype("float64").sort_index()


class BGNBDBaseline:
    """BG/NBD model (``lifetimes.BetaGeoFitter``) as a churn baseline.

    Parameters
    ----------
    penalizer_coef : L2 penalty on the log-parameters (0 reproduces the published fit). If
        the fit does not converge, it is retried once with a penalty of 0.01.

    Attributes
    ----------
    params_ : dict with the fitted ``r``, ``alpha``, ``a``, ``b``.
    model_ : the fitted ``lifetimes.BetaGeoFitter``.
    """

    def __init__(self, penalizer_coef: float = 0.0):
        self.penalizer_coef = penalizer_coef

    def fit(self, summary: pd.DataFrame, check: pd.DataFrame | None = None,
            t: float | None = None) -> BGNBDBaseline:
        """Fit on an RFM summary (columns ``frequency``, ``recency``, ``T``).

        The fit is tried with ``penalizer_coef``, then with each larger penalty of
        :data:`PENALIZERS`; the first non-degenerate one is kept (see the module docstring).
        With ``check`` and ``t``, the expected purchases of ``check`` over ``t`` units must be
        finite too. ``penalizer_`` and ``tries_`` say what happened.

        Raises
        ------
        DegenerateFitError
            If too few buyers, or every try is degenerate (its ``reason`` says why).
        """
        from lifetimes import BetaGeoFitter
        from lifetimes.utils import ConvergenceError

        if len(summary) < 10 or summary["frequency"].sum() <= 0:
            raise DegenerateFitError(
                f"BG/NBD baseline: {len(summary)} buyer(s) and "
                f"{int(summary['frequency'].sum()) if len(summary) else 0} repeat purchase(s) "
                "before the snapshot; at least 10 buyers with some repeat purchases are needed.",
                "too_few_buyers",
            )
        lo, hi = PARAM_BOUNDS
        self.tries_: list[dict] = []
        reason = "not_converged"
        for pen in (self.penalizer_coef, *(p for p in PENALIZERS if p > self.penalizer_coef)):
            candidate = BetaGeoFitter(penalizer_coef=pen)
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    candidate.fit(summary["frequency"].to_numpy(), summary["recency"].to_numpy(),
                                  summary["T"].to_numpy())
            except (ConvergenceError, ValueError, FloatingPointError, ZeroDivisionError):
                self.tries_.append({"penalizer": pen, "reason": "not_converged"})
                reason = "not_converged"
                continue
            params = np.array([float(v) for v in candidate.params_.values], dtype="float64")
            if not (np.isfinite(params).all() and (params >= lo).all() and (params <= hi).all()):
                self.tries_.append({"penalizer": pen, "reason": "absurd_params",
                                    "params": dict(zip(("r", "alpha", "a", "b"), params.tolist(), strict=True))})
                reason = "absurd_params"
                continue
            self.model_ = candidate
            if check is not None and t is not None:
                e = self.expected_purchases(check, t).to_numpy()
                if not (np.isfinite(e).all() and (e >= 0).all()):
                    self.tries_.append({"penalizer": pen, "reason": "non_finite_scores"})
                    reason = "non_finite_scores"
                    del self.model_
                    continue
            self.penalizer_ = pen
            self.params_ = {k: float(v) for k, v in candidate.params_.items()}
            self.tries_.append({"penalizer": pen, "reason": "ok"})
            return self
        raise DegenerateFitError(
            f"BG/NBD baseline: no usable fit on {len(summary)} buyer(s) ({reason} with penalties "
            f"{[tr['penalizer'] for tr in self.tries_]}); the purchase history before the snapshot is "
            "too short or too irregular.", reason)

    def __getstate__(self) -> dict:
        """Picklable (sent to worker processes, broadcast by Spark): the fitted
        ``lifetimes`` object holds lambdas, so only its four parameters travel."""
        state = dict(self.__dict__)
        state.pop("model_", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "params_" in state:
            from lifetimes import BetaGeoFitter

            model = BetaGeoFitter(penalizer_coef=state.get("penalizer_", 0.0))
            model.params_ = pd.Series(state["params_"])
            self.model_ = model

    def p_no_purchase(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """Probability of no purchase in the next ``t`` units, per row of ``summary``.

        Under BG/NBD a customer drops out only just after a purchase, so no purchase in
        ``(T, T + t]`` means dead already, or alive with no Poisson event:
        ``1 - P(alive) + P(alive) * ((alpha + T) / (alpha + T + t)) ** (r + x)``
        (the purchase rate given the history is Gamma(r + x, alpha + T)). This is the
        model's own probability of the churn label (no purchase within the horizon).
        """
        r, alpha = self.params_["r"], self.params_["alpha"]
        x, T = summary["frequency"].to_numpy(), summary["T"].to_numpy()
        alive = self.p_alive(summary).to_numpy()
        none_if_alive = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        return pd.Series(1.0 - alive + alive * none_if_alive, index=summary.index, name="p_no_purchase")

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """Probability that each customer of ``summary`` is still alive (BG/NBD)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = self.model_.conditional_probability_alive(
                summary["frequency"].to_numpy(), summary["recency"].to_numpy(), summary["T"].to_numpy())
        return pd.Series(np.asarray(p, dtype="float64"), index=summary.index, name="p_alive")

    def expected_purchases(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """Expected number of purchases in the next ``t`` time units, per row of ``summary``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = self.model_.conditional_expected_number_of_purchases_up_to_time(
                t, summary["frequency"].to_numpy(), summary["recency"].to_numpy(),
                summary["T"].to_numpy())
        return pd.Series(np.asarray(e, dtype="float64"), index=summary.index, name="expected_purchases")


def fit_bgnbd_at(summary: pd.DataFrame, as_of, horizon_days: int, penalizer_coef: float = 0.0,
                 max_fit_buyers: int | None = 25_000, random_state: int = 0
                 ) -> tuple[BGNBDBaseline | None, dict, DegenerateFitError | None]:
    """The BG/NBD fit of one date on the :func:`rfm_summary` of the whole base at that date.

    The four parameters are estimated on the buyers (``T > 0``; a seeded random sample of
    ``max_fit_buyers`` of them on large bases, None: all); every row of ``summary`` must
    get finite expected purchases. ``summary`` must be sorted by ``customer_id`` (as
    :func:`rfm_summary` returns it) for the sample to be the same whoever gathered it.

    Returns
    -------
    (model or None when dropped, the fit record of :func:`bgnbd_scores`, the error or None).
    """
    d = pd.Timestamp(as_of)
    t = horizon_days / BGNBD_UNIT_DAYS
    buyers = summary.loc[summary["T"] > 0]
    if max_fit_buyers and len(buyers) > max_fit_buyers:
        buyers = buyers.sample(n=max_fit_buyers, random_state=random_state)
    model = BGNBDBaseline(penalizer_coef)
    try:
        model.fit(buyers, check=summary, t=t)
    except DegenerateFitError as exc:
        return None, {"as_of": d.date().isoformat(), "status": "dropped", "reason": exc.reason,
                      "penalizer": None, "params": None}, exc
    return model, {"as_of": d.date().isoformat(),
                   "status": "ok" if model.penalizer_ == penalizer_coef else "penalized",
                   "reason": "ok" if len(model.tries_) == 1 else model.tries_[0]["reason"],
                   "penalizer": model.penalizer_, "params": model.params_}, None


def score_bgnbd_at(model: BGNBDBaseline, summary: pd.DataFrame, as_of, horizon_days: int) -> pd.DataFrame:
    """Expected purchases, ``P(alive)`` and ``P(no purchase)`` of every row of ``summary``
    (an :func:`rfm_summary` at ``as_of``) with a fitted ``model``: a per-customer function."""
    t = horizon_days / BGNBD_UNIT_DAYS
    e = model.expected_purchases(summary, t)
    return pd.DataFrame({"as_of": pd.Timestamp(as_of), "customer_id": e.index.astype("string"),
                         "expected_purchases": e.to_numpy(),
                         "p_alive": model.p_alive(summary).to_numpy(),
                         "p_no_purchase": model.p_no_purchase(summary, t).to_numpy()})


def bgnbd_scores(ds: Dataset, dates, horizon_days: int, penalizer_coef: float = 0.0,
                 errors: str = "raise", max_fit_buyers: int | None = 25_000,
                 random_state: int = 0, fitted: dict | None = None) -> pd.DataFrame:
    """BG/NBD churn score of every customer signed up before each date, fitted per date.

    At each date the model is fitted on purchases strictly before it (all customers signed
    up before it), then scores the expected purchases over the next ``horizon_days`` and
    the probability of being alive. With ``errors="skip"``, a date whose fit is degenerate
    or has too little history is left out (recorded as ``dropped``) instead of raising
    :class:`DegenerateFitError`. On large bases the four parameters are estimated on a
    seeded random sample of ``max_fit_buyers`` buyers (None: all), then every customer is scored.

    ``fitted`` (a partition of customers, :mod:`analysis.models.partitioned`): the models
    already fitted on the whole base, ``{date: (model or None, record)}``; nothing is fitted
    and a date whose model is None is left out (its record says why).

    Returns
    -------
    DataFrame with ``as_of``, ``customer_id``, ``expected_purchases``, ``p_alive``,
    ``p_no_purchase`` (:meth:`BGNBDBaseline.p_no_purchase`) and ``score_bgnbd`` (= ``-expected_purchases``: higher means riskier). Empty (same columns)
    when the dataset has no orders. ``attrs["fits"]`` lists one record per date:
    ``as_of`` (ISO date), ``status`` (``ok``, ``penalized``, ``dropped``), ``reason``,
    ``penalizer`` and ``params``.
    """
    cols = ["as_of", "customer_id", "expected_purchases", "p_alive", "p_no_purchase", "score_bgnbd"]
    dtypes = ["datetime64[ns]", "string", "float64", "float64", "float64", "float64"]

    def empty() -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in zip(cols, dtypes, strict=True)})

    if not ds.has("orders"):
        return empty()
    signup = ds.customers.set_index("customer_id")["signup_date"]
    parts, fits = [], []
    for d in as_dates(dates):  # a handful of snapshot dates
        summ = rfm_summary(ds.orders, d, signup=signup)
        if fitted is not None:
            model, record = fitted.get(pd.Timestamp(d), (None, None))
            if record is not None:
                fits.append(record)
            if model is None:
                continue
        else:
            model, record, exc = fit_bgnbd_at(summ, d, horizon_days, penalizer_coef, max_fit_buyers, random_state)
            fits.append(record)
            if model is None:
                if errors == "skip":
                    continue
                raise exc
        parts.append(score_bgnbd_at(model, summ, d, horizon_days))
    out = pd.concat(parts, ignore_index=True) if parts else empty()
    out["score_bgnbd"] = -out["expected_purchases"]
    out = out[cols]
    out.attrs["fits"] = fits
    return out
