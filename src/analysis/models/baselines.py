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

__all__ = ["rfm_summary", "BGNBDBaseline", "bgnbd_scores", "recency_scores"]

#: Time unit of the BG/NBD fit, in days (weeks, as in Fader-Hardie's CDNOW analysis).
BGNBD_UNIT_DAYS = 7.0


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

    def fit(self, summary: pd.DataFrame) -> BGNBDBaseline:
        """Fit on an RFM summary (columns ``frequency``, ``recency``, ``T``)."""
        from lifetimes import BetaGeoFitter

        if len(summary) < 10 or summary["frequency"].sum() <= 0:
            raise NotEnoughDataError(
                f"BG/NBD baseline: {len(summary)} buyer(s) and "
                f"{int(summary['frequency'].sum()) if len(summary) else 0} repeat purchase(s) "
                "before the snapshot; at least 10 buyers with some repeat purchases are needed."
            )
        from lifetimes.utils import ConvergenceError

        model = None
        for pen in (self.penalizer_coef, max(self.penalizer_coef, 0.01)):  # retry once, penalised
            candidate = BetaGeoFitter(penalizer_coef=pen)
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    candidate.fit(summary["frequency"].to_numpy(), summary["recency"].to_numpy(),
                                  summary["T"].to_numpy())
            except ConvergenceError:
                continue
            model = candidate
            break
        if model is None:
            raise NotEnoughDataError(
                f"BG/NBD baseline: the fit did not converge on {len(summary)} buyer(s); the purchase "
                "history before the snapshot is too short or too irregular."
            )
        self.model_ = model
        self.params_ = {k: float(v) for k, v in model.params_.items()}
        return self

    def expected_purchases(self, summary: pd.DataFrame, t: float) -> pd.Series:
        """Expected number of purchases in the next ``t`` time units, per row of ``summary``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = self.model_.conditional_expected_number_of_purchases_up_to_time(
                t, summary["frequency"].to_numpy(), summary["recency"].to_numpy(),
                summary["T"].to_numpy())
        return pd.Series(np.asarray(e, dtype="float64"), index=summary.index, name="expected_purchases")


def bgnbd_scores(ds: Dataset, dates, horizon_days: int, penalizer_coef: float = 0.0,
                 errors: str = "raise", max_fit_buyers: int | None = 25_000,
                 random_state: int = 0) -> pd.DataFrame:
    """BG/NBD churn score of every customer signed up before each date, fitted per date.

    At each date the model is fitted on purchases strictly before it (all customers signed
    up before it), then scores the expected purchases over the next ``horizon_days``.
    With ``errors="skip"``, a date with too little history for a fit is left out instead
    of raising :class:`~analysis.errors.NotEnoughDataError`. On large bases the four
    parameters are estimated on a seeded random sample of ``max_fit_buyers`` buyers (None:
    all), then every customer is scored.

    Returns
    -------
    DataFrame with ``as_of``, ``customer_id``, ``expected_purchases`` and
    ``score_bgnbd`` (= ``-expected_purchases``: higher means riskier). Empty (same columns)
    when the dataset has no orders.
    """
    cols = ["as_of", "customer_id", "expected_purchases", "score_bgnbd"]
    if not ds.has("orders"):
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in zip(
            cols, ["datetime64[ns]", "string", "float64", "float64"], strict=True)})
    signup = ds.customers.set_index("customer_id")["signup_date"]
    parts = []
    for d in as_dates(dates):  # a handful of snapshot dates
        summ = rfm_summary(ds.orders, d, signup=signup)
        buyers = summ.loc[summ["T"] > 0]
        if max_fit_buyers and len(buyers) > max_fit_buyers:
            buyers = buyers.sample(n=max_fit_buyers, random_state=random_state)
        try:
            model = BGNBDBaseline(penalizer_coef).fit(buyers)
        except NotEnoughDataError:
            if errors == "skip":
                continue
            raise
        e = model.expected_purchases(summ, horizon_days / BGNBD_UNIT_DAYS)
        parts.append(pd.DataFrame({"as_of": d, "customer_id": e.index.astype("string"),
                                   "expected_purchases": e.to_numpy()}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in zip(
            cols, ["datetime64[ns]", "string", "float64", "float64"], strict=True)})
    out = pd.concat(parts, ignore_index=True)
    out["score_bgnbd"] = -out["expected_purchases"]
    return out[cols]


def recency_scores(status: pd.DataFrame) -> pd.Series:
    """The recency rule's score: days since the last significant interaction (higher = riskier).

    Parameters
    ----------
    status : frame with ``days_since_last`` (from :func:`analysis.metrics.lifecycle.status_at`).
    """
    return status["days_since_last"].astype("float64").rename("score_recency")
