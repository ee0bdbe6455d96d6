"""One visual style for every figure: palette, fonts, grid, and how figures are created.

Plot functions wrap their drawing in :func:`styled` (an ``rc_context``, so global pyplot
state is never changed) and get their axes from :func:`axes_or_new`.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import Formatter, MaxNLocator, NullFormatter

# No matplotlib.use() here: Jupyter keeps its inline backend, and a process with no
# display falls back to Agg by itself.

__all__ = ["house_style", "PALETTE", "RISK_COLORS", "PRIORITY_COLORS", "PRIORITY_MARKERS", "RC", "styled",
           "axes_or_new", "color_cycle", "SEQUENTIAL_CMAP", "LocaleFormatter", "locale_axis"]

#: The palette, in order of use (colour-blind safe, after Okabe-Ito).
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7",
                            "#56B4E9", "#F0E442", "#000000")
#: Risk levels: low, medium, high, critical.
RISK_COLORS: dict[str, str] = {"low": "#009E73", "medium": "#F0E442", "high": "#E69F00", "critical": "#D55E00"}
NEUTRAL = "#8C8C8C"
#: Call priorities: P1 vermillion and P2 blue (far apart in hue and lightness, told apart with
#: any colour-vision deficiency, Okabe-Ito), P3 light grey (the background of the matrix).
PRIORITY_COLORS: dict[str, str] = {"P1": "#D55E00", "P2": "#0072B2", "P3": "#BBBBBB"}
#: Markers double the colour code (triangle, square, dot), so priorities survive a grey print.
PRIORITY_MARKERS: dict[str, str] = {"P1": "^", "P2": "s", "P3": "o"}
SEQUENTIAL_CMAP = "Blues"

RC: dict = {
    "figure.figsize": (9.0, 4.8),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10.5,
    "axes.titlesize": 12.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
}


@contextlib.contextmanager
def house_style():
    """The house ``rc_context``, except for interactive mode.

    The first figure of a session loads the backend, and Jupyter's inline backend turns
    interactive mode on as it loads; a plain ``rc_context`` would turn it off again on exit
    and every later figure would silently not be shown. That one switch is kept.
    """
    with plt.rc_context(RC):
        try:
            yield
        finally:
            interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


def styled(func: Callable) -> Callable:
    """Decorator: run a plot function inside :func:`house_style`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with house_style():
            return func(*args, **kwargs)

    return wrapper


def axes_or_new(ax: Axes | None = None, figsize: tuple[float, float] | None = None) -> Axes:
    """``ax`` if given, else the axes of a new figure (inside the house style)."""
    if ax is not None:
        return ax
    with house_style():
        fig, new = plt.subplots(figsize=figsize or RC["figure.figsize"])
    return new


def color_cycle(n: int) -> list[str]:
    """``n`` colours from the palette, repeating if needed."""
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


class LocaleFormatter(Formatter):
    """Tick labels in the report's language, with the decimals the tick step needs.

    ``kind``: ``number`` (``12 345`` / ``12,345``), ``pct`` (a share: ``2,5 %`` / ``2.5%``)
    or ``money`` (``12 345 €`` / ``€12,345``). Every label of an axis has the same number
    of decimals, the fewest that tell the ticks apart (ticks 0, 0.0002, 0.0004 as a share:
    ``0,00 %``, ``0,02 %``, ``0,04 %``).
    """

    def __init__(self, lang: str = "en", kind: str = "number", currency: str = "EUR", max_decimals: int = 3):
        self.lang = lang
        self.kind = kind
        self.currency = currency
        self.max_decimals = max_decimals
        self._ticks: list[float] = []

    def set_locs(self, locs) -> None:
        """Remember the tick positions (the axis calls this before formatting them)."""
        self._ticks = list(locs)

    def _decimals(self) -> int:
        locs = np.asarray(self._ticks, dtype="float64")
        locs = np.unique(locs[np.isfinite(locs)])
        if len(locs) < 2:
            return 0
        step = float(np.min(np.diff(locs))) * (100 if self.kind == "pct" else 1)
        if step <= 0:
            return 0
        # the fewest decimals at which every tick is written exactly (step 0.25 -> 2, 0.5 -> 1)
        for d in range(self.max_decimals + 1):
            scaled = locs * (100 if self.kind == "pct" else 1) * 10 ** d
            if np.allclose(scaled, np.round(scaled), atol=1e-6 * max(1.0, step * 10 ** d)):
                return d
        return max(0, min(self.max_decimals, math.ceil(-math.log10(step))))

    def __call__(self, x, pos=None) -> str:
        from analysis.reporting.i18n import fmt_money, fmt_num, fmt_pct

        d = self._decimals()
        if abs(x) < 1e-12:
            x = 0.0
        if self.kind == "pct":
            return fmt_pct(x, self.lang, d)
        if self.kind == "money":
            return fmt_money(x, self.lang, self.currency, d)
        return fmt_num(x, self.lang, d)


def locale_axis(ax: Axes, lang: str = "en", kind: str = "number", axis: str = "y", currency: str = "EUR",
                even: bool = True, integer: bool = False) -> Axes:
    """Give ``ax``'s ``axis`` (``x`` or ``y``) local tick labels (:class:`LocaleFormatter`) and,
    unless the axis is logarithmic, evenly spaced round ticks (steps of 1, 2 or 5 times a power
    of ten: no 0.025 step)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    if even and target.get_scale() == "linear":
        target.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10], integer=integer))
    target.set_major_formatter(LocaleFormatter(lang, kind, currency))
    if target.get_scale() == "log":
        target.set_minor_formatter(NullFormatter())
    return ax
