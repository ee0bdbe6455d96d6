"""Alt text of the report's figures: what each figure shows, in the report's language.

:func:`figure_facts` reads a drawn matplotlib figure (titles, axis labels, the first and last
tick labels of each axis, the named series and how many points or bars each has) into a
plain, language-neutral dict; its labels are already in the report's language because the
plot functions drew them so. :func:`describe_figure` writes those facts as one or two
sentences in French or English. :class:`analysis.reporting.outputs.RunOutputs` records the
facts of every saved figure, and :func:`analysis.reporting.runner.export_html` writes the
description as the ``<img alt>`` of the client page (screen readers, broken images, PDF
accessibility) instead of nbconvert's "No description has been provided for this image".
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from analysis.reporting.i18n import check_lang, fmt_num, plural, t

__all__ = ["figure_facts", "describe_figure"]


def _tick_range(axis) -> list[str]:
    lo, hi = sorted(axis.get_view_interval())
    locs = [x for x in axis.get_majorticklocs() if lo - 1e-9 * abs(hi - lo) <= x <= hi + 1e-9 * abs(hi - lo)]
    if not locs:
        return []
    try:
        texts = axis.get_major_formatter().format_ticks(locs)
    except Exception:  # noqa: BLE001 - a formatter that needs a drawn figure: no range then
        return []
    texts = [s.replace("$", "").replace("\\mathdefault{", "").replace("}", "").strip() for s in texts]
    texts = [s for s in texts if s]
    return [texts[0], texts[-1]] if texts else []


def _series(ax: Axes) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in ax.get_lines():
        label = str(line.get_label())
        if not label.startswith("_"):
            out.append({"label": label, "kind": "line", "n": int(np.size(line.get_xdata()))})
    for coll in ax.collections:
        label = str(coll.get_label())
        if isinstance(coll, PathCollection) and not label.startswith("_"):
            out.append({"label": label, "kind": "points", "n": int(len(coll.get_offsets()))})
    for cont in ax.containers:
        label = str(cont.get_label())
        if isinstance(cont, BarContainer) and not label.startswith("_"):
            out.append({"label": label, "kind": "bars", "n": len(cont.patches)})
    return out


def figure_facts(fig: Figure | Axes) -> dict[str, Any]:
    """What a drawn figure shows, as plain data (JSON-ready, no language of its own).

    Returns
    -------
    dict with ``title`` (the figure's suptitle, or the first panel's title) and ``panels``:
    one dict per visible panel with ``title``, ``xlabel``, ``ylabel``, ``x`` and ``y`` (the
    first and last tick labels, as shown), ``series`` (``label``, ``kind`` in line / points /
    bars, ``n``) and ``kind`` (``heatmap`` for an image, else ``chart``).
    """
    fig = getattr(fig, "figure", fig)
    panels: list[dict[str, Any]] = []
    boxes: list[tuple[float, ...]] = []
    for ax in fig.get_axes():
        if not ax.get_visible() or not ax.has_data():
            continue
        box = tuple(np.round(ax.get_position().bounds, 4))
        if box in boxes:  # a twin axis (twinx): its series and its right-hand scale join the panel
            p = panels[boxes.index(box)]
            p["series"] = p["series"] + _series(ax)
            p["y2label"], p["y2"] = ax.get_ylabel(), _tick_range(ax.yaxis)
            continue
        boxes.append(box)
        panels.append({
            "title": ax.get_title() or ax.get_title("left") or ax.get_title("right"),
            "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
            "x": _tick_range(ax.xaxis), "y": _tick_range(ax.yaxis),
            "series": _series(ax), "kind": "heatmap" if ax.images else "chart",
        })
    sup = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    title = sup or next((p["title"] for p in panels if p["title"]), "")
    return {"title": title, "panels": panels}


#: A tick label written by matplotlib's default formatter (``−2.5``, ``12.50``, ``1e3`` is not one).
_PLAIN_NUMBER = re.compile(r"^[-\u2212]?\d+(?:\.(\d+))?$")


def _local_tick(text: str, lang: str) -> str:
    """A tick label in the report's language: a plain number of matplotlib's default
    formatter (``−2.5``, ``1000``) written by :func:`analysis.reporting.i18n.fmt_num` with the
    same decimals (French ``−2,5``, ``1 000``, as the other labels of the alt text); labels already
    written for the language (``2,5 %``, ``31/10/2026``, a category) are left as they are."""
    m = _PLAIN_NUMBER.match(text)
    if not m:
        return text
    value = float(text.replace("\u2212", "-"))
    out = fmt_num(abs(value), lang, len(m.group(1) or ""))
    return ("\u2212" + out) if value < 0 else out


def _span(rng: list[str], lang: str) -> str:
    if len(rng) != 2 or rng[0] == rng[-1]:
        return ""
    return t("fig_alt_range", lang, low=_local_tick(rng[0], lang), high=_local_tick(rng[-1], lang))


def _axis_text(label: str, rng: list[str], lang: str, which: str) -> str:
    if not label and not rng:
        return ""
    span = _span(rng, lang)
    if not label:
        if not span:
            return ""
        span = span.removeprefix(", ")
    return t(f"fig_alt_{which}", lang, label=label, range=span)


def _series_text(series: list[dict[str, Any]], lang: str) -> str:
    parts = [plural(f"fig_alt_series_{s['kind']}", s["n"], lang, label=s["label"]) for s in series]  # 1 point, 2 points
    return t("fig_alt_series", lang, series=", ".join(parts)) if parts else ""


def describe_figure(facts: dict[str, Any], lang: str = "en") -> str:
    """The alt text of a figure from its :func:`figure_facts`, in ``lang``.

    One panel: its title, what each axis shows and spans, and its named series. Several
    panels: the figure's title and the panels' titles, with the span of each panel's
    vertical axis.
    """
    check_lang(lang)
    panels = facts.get("panels") or []
    title = facts.get("title") or ""
    if not panels:
        return t("fig_alt_empty", lang, title=title) if title else t("fig_alt_generic", lang)
    if len(panels) == 1:
        p = panels[0]
        head = t("fig_alt_heatmap" if p.get("kind") == "heatmap" else "fig_alt_title", lang,
                 title=p.get("title") or title)
        parts = [_axis_text(p.get("xlabel", ""), p.get("x") or [], lang, "x"),
                 _axis_text(p.get("ylabel", ""), p.get("y") or [], lang, "y"),
                 _axis_text(p.get("y2label", ""), p.get("y2") or [], lang, "y2"),
                 _series_text(p.get("series") or [], lang)]
        return " ".join([head] + [s for s in parts if s])
    items = []
    for p in panels:
        rng = p.get("y") or []
        span = _span(rng, lang)
        items.append((p.get("title") or "–") + (f" ({span.removeprefix(', ')})" if span else ""))
    return t("fig_alt_panels", lang, title=title, n=fmt_num(len(panels), lang), panels=(" ; " if lang == "fr" else "; ").join(items))
