"""One visual style for every figure: palette, fonts, grid, and how figures are created.

Plot functions wrap their drawing in :func:`styled` (an ``rc_context``, so global pyplot
state is never changed) and get their axes from :func:`axes_or_new`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

# No matplotlib.use() here: Jupyter keeps its inline backend, and a process with no
# display falls back to Agg by itself.

__all__ = ["house_style", "PALETTE", "RISK_COLORS", "RC", "styled", "axes_or_new", "color_cycle", "SEQUENTIAL_CMAP"]

#: The palette, in order of use (colour-blind safe, after Okabe-Ito).
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7",
                            "#56B4E9", "#F0E442", "#000000")
#: Risk levels: low, medium, high, critical.
RISK_COLORS: dict[str, str] = {"low": "#009E73", "medium": "#F0E442", "high": "#E69F00", "critical": "#D55E00"}
NEUTRAL = "#8C8C8C"
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
