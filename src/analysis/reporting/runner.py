"""The monthly report: run the numbered notebooks headless and export them for the client.

``churn-radar report DATA_DIR --as-of DATE --out reports`` calls :func:`run_report`, which
writes into ``<out>/<as-of>/``:

==========================  ===============================================================
``NN_name.ipynb``           the executed notebooks (with their code), for analysts
``NN_name.html``            the same without code, error tracebacks or stderr, for the client
``NN_name.json``            each notebook's key figures (its sidecar, see :mod:`analysis.reporting.outputs`)
``figures/*.png``           every figure as PNG, for slides
``summary.json``            every sidecar merged: ``{notebook: figures}``; no timestamp, so two
                            runs on the same data and parameters give the same file
``index.html``              links to every section, opening with the executive summary
``manifest.json``           parameters, dataset content hash, versions, times, per-notebook status
``validation.json/.txt``    the validation report of the dataset
``quarantine/<table>.csv``  the rows set aside by validation
==========================  ===============================================================

Beside the dated folders, ``<out>/decisions.csv`` logs every month's decisions with the
KPIs then (:mod:`analysis.reporting.decisions`; appended, never rewritten). A notebook of
:data:`NOTEBOOK_NEEDS` (``05_reactivation``) runs only when the export has its table
(``interventions``); otherwise it is listed under ``skipped`` in the manifest.

An existing ``<out>/<as-of>/`` is an error unless ``force=True``; it is then renamed to
``<out>/<as-of>.previous-<n>/`` (``n`` = 1, 2, ...: the highest is the most recent), never
deleted. A failing notebook does not stop the others: it is kept with its error cell, marked
``failed`` in the manifest and the index, and the run's status is ``failed``.

Runs are atomic and exclusive. A run writes into a hidden folder beside the target,
``<out>/.<as-of>.partial-<pid>/``, and moves it to ``<out>/<as-of>/`` only once complete
(with ``force``, the old month stays in place until that moment). An interrupted run
(SIGTERM, Ctrl-C, an error) removes its partial folder; one killed outright (SIGKILL) leaves
only the hidden partial folder, removed by the next run of that month. A lock per month
(``<out>/.<as-of>.lock``, ``flock``, released by the system when a process dies) refuses a
second concurrent run of the same month with a clear message.

An ``as_of`` whose report month (the last complete month before it) starts after the last
day of the data is refused: the tolerance is the rest of the month after the data ends
(data ending 2026-10-31 accepts any ``as_of`` up to 2026-11-30). ``allow_empty_month=True``
(``--allow-empty-month``) runs it anyway, and the index says the month has no data.
Identifiers that look like personal data (e-mail addresses, phone numbers) are replaced by
stable pseudonyms in every client page, the sidecars and ``summary.json``
(:class:`analysis.reporting.safety.Pseudonymiser`, key outside the month folder).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from analysis.data.cache import dataset_hash
from analysis.data.dataset import Dataset
from analysis.data.warehouse import Warehouse
from analysis.errors import ReportError
from analysis.metrics.lifecycle import check_as_of
from analysis.paths import NOTEBOOKS_DIR
from analysis.reporting.error_text import error_text
from analysis.reporting.i18n import check_lang, dataset_title, fmt_date, plural, t
from analysis.reporting.outputs import FIGURE_FACTS_MIME, to_jsonable
from analysis.reporting.safety import Pseudonymiser, escape, pseudonym_key, write_quarantine_copies

__all__ = [
    "NOTEBOOK_PATTERN", "STANDARD_PARAMETERS", "REMOVE_CELL_TAGS", "REMOVE_OUTPUT_TAGS", "NotebookRun", "ReportRun",
    "discover_notebooks", "parse_parameters", "dataset_hash", "prepare_run_dir",
    "notebook_parameters", "default_kernel", "export_html", "image_alt_texts", "personal_values",
    "find_personal_values", "merge_sidecars", "run_report", "month_lock", "check_output_dir",
    "check_data_covers", "check_report_pages",
]

#: Report notebooks: two digits, an underscore, a name (``01_base_health.ipynb``).
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
#: Parameters every report notebook receives (when its parameters cell declares them).
STANDARD_PARAMETERS = ("data_dir", "as_of", "lang", "output_dir")
#: Libraries whose versions go into the manifest.
_VERSIONED = ("churn-radar", "pandas", "numpy", "scipy", "scikit-learn", "lifelines", "lifetimes",
              "duckdb", "pyarrow", "matplotlib", "papermill", "nbconvert", "nbformat", "ipykernel")
_PARAMETER_TAGS = {"parameters", "injected-parameters"}
_PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
#: Cell tags (Jupyter Book / nbconvert conventions) a notebook can use to keep a cell, or its
#: outputs, out of the client HTML; the executed notebook keeps everything.
REMOVE_CELL_TAGS = {"remove-cell", "remove_cell"}
REMOVE_OUTPUT_TAGS = {"remove-output", "remove_output"}
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ----------------------------------------------------------------------------- notebooks
def discover_notebooks(notebooks_dir: str | Path = NOTEBOOKS_DIR,
                       only: str | Iterable[str] | None = None) -> list[Path]:
    """The report notebooks of ``notebooks_dir``, in reading order.

    Parameters
    ----------
    notebooks_dir : folder holding ``NN_name.ipynb`` notebooks.
    only : comma-separated (or iterable) notebook stems or numbers, e.g. ``"01,04"`` or
        ``"01_base_health"``; ``None`` or empty keeps them all.

    Raises
    ------
    ReportError
        If the folder holds no report notebook, or a name in ``only`` matches none.
    """
    folder = Path(notebooks_dir)
    found = sorted(folder.glob(NOTEBOOK_PATTERN)) if folder.is_dir() else []
    if not found:
        raise ReportError(f"{folder}: no report notebook found (expected files named {NOTEBOOK_PATTERN}).")
    if only is None or only == "":
        return found
    wanted = [w.strip() for w in (only.split(",") if isinstance(only, str) else only) if w.strip()]
    keep: list[Path] = []
    for w in wanted:
        stem = w.removesuffix(".ipynb")
        hits = [p for p in found if p.stem == stem or p.stem[:2] == stem.zfill(2)]
        if not hits:
            raise ReportError(
                f"--only: no notebook matches '{w}'; available: {', '.join(p.stem for p in found)}."
            )
        keep.extend(h for h in hits if h not in keep)
    return sorted(keep)


def notebook_parameters(path: str | Path) -> dict[str, str]:
    """The parameters declared by a notebook's ``parameters`` cell: ``{name: declared type}``."""
    import papermill

    params = papermill.inspect_notebook(str(path))
    return {name: str(p.get("inferred_type_name", "")) for name, p in params.items()}


def default_kernel() -> str:
    """``churn-radar`` if that Jupyter kernel is installed, else ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager

    return "churn-radar" if "churn-radar" in KernelSpecManager().find_kernel_specs() else "python3"


# ---------------------------------------------------------------------------- parameters
def _typed(text: str) -> Any:
    """``"12"`` -> 12, ``"0.5"`` -> 0.5, ``"true"`` -> True; quoted or other text stays a string."""
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    low = s.lower()
    if low in ("true", "false"):
        return low == "true"
    if re.fullmatch(r"[+-]?\d+", s):
        return int(s)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", s):
        return float(s)
    return s


def parse_parameters(items: Iterable[str] | None) -> dict[str, Any]:
    """``["top_n=20", "use_nps=false"]`` -> ``{"top_n": 20, "use_nps": False}``.

    Integers, decimals and ``true``/``false`` are typed; quote a value to keep it text
    (``name="12"``).

    Raises
    ------
    ReportError
        If an item is not ``name=value``, or a name is given twice or is a standard
        parameter (data_dir, as_of, lang, output_dir have their own options).
    """
    out: dict[str, Any] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not _PARAM_NAME.match(name):
            raise ReportError(f"-p '{item}': expected name=value, e.g. -p top_n=20.")
        if name in STANDARD_PARAMETERS:
            raise ReportError(f"-p {name}: set it with the command's own argument or option, not -p.")
        if name in out:
            raise ReportError(f"-p {name} is given twice.")
        out[name] = _typed(value)
    return out


def _check_as_of(as_of: str) -> str:
    """``--as-of`` as ``YYYY-MM-DD`` (:func:`analysis.metrics.lifecycle.check_as_of`, strict)."""
    return check_as_of(as_of, strict=True, name="--as-of", error=ReportError).date().isoformat()


# ----------------------------------------------------------------------------- dataset
def personal_values(ds: Dataset, min_length: int = 3) -> dict[str, set[str]]:
    """Every value of the dataset's personal columns (declared in ``ds.config.personal_columns``
    or detected by name or content, :meth:`Dataset.personal_columns`) found in the customers
    table, by column, and the customer ids that look like e-mail addresses or phone numbers
    (under ``customer_id``); values shorter than ``min_length`` are ignored (too short to
    identify anyone, and they would match ordinary text)."""
    from analysis.data.personal import looks_personal

    out: dict[str, set[str]] = {}
    for col in dict.fromkeys([*ds.config.personal_columns, *ds.personal_columns()]):
        if col in ds.customers.columns:
            s = ds.customers[col].dropna().astype("string").str.strip()
            out[col] = set(s.loc[s.str.len() >= min_length].tolist())
    ids = ds.customers["customer_id"].dropna().astype("string")
    ids = ids.loc[looks_personal(ids)]
    if len(ids):
        out["customer_id"] = set(ids.tolist())
    return out


def _visible_text(page: str) -> str:
    """The text of an HTML page without styles, scripts and embedded images, unescaped."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+", " ", page, flags=re.I)
    return html.unescape(page)


def find_personal_values(page: str, values: dict[str, set[str]]) -> dict[str, int]:
    """How many distinct personal values of each column appear in an HTML page (0 omitted)."""
    text = _visible_text(page)
    found = {col: sum(1 for v in vals if v in text) for col, vals in values.items()}
    return {col: n for col, n in found.items() if n}


# ------------------------------------------------------------------------------ folders
def prepare_run_dir(out: str | Path, as_of: str, force: bool = False) -> tuple[Path, Path | None]:
    """Create ``<out>/<as_of>/``; return it and where a previous run was moved (or None).

    Raises
    ------
    ReportError
        If the folder exists and ``force`` is False.
    """
    run_dir = Path(out) / as_of
    moved: Path | None = None
    if run_dir.exists():
        if not force:
            raise ReportError(
                f"{run_dir} already exists: a previous report for {as_of}. Use --force to run again "
                f"(the old folder is kept as {run_dir.name}.previous-<n>), or choose another --out."
            )
        n = 1
        while (run_dir.parent / f"{as_of}.previous-{n}").exists():
            n += 1
        moved = run_dir.parent / f"{as_of}.previous-{n}"
        run_dir.rename(moved)
    run_dir.mkdir(parents=True)
    return run_dir, moved


# ------------------------------------------------------------------------------- export
def _title(nb: nbformat.NotebookNode, default: str) -> str:
    """The first Markdown heading of the notebook (in a Markdown cell or a Markdown output)."""
    for cell in nb.cells:
        texts = [cell.source] if cell.cell_type == "markdown" else [
            o.get("data", {}).get("text/markdown", "") for o in cell.get("outputs", [])
        ]
        for text in texts:
            text = "".join(text) if isinstance(text, list) else text
            m = re.search(r"^\s*#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M)
            if m:
                return m.group(1).strip()
    return default


def _client_notebook(nb: nbformat.NotebookNode, lang: str,
                     failure: str | None) -> nbformat.NotebookNode:
    """A copy for the client: only the Markdown cells of its language (cells tagged
    ``lang-fr`` / ``lang-en``; untagged cells are kept), no parameter cells, no papermill error markers, no cell tagged
    ``remove-cell`` nor output of a cell tagged ``remove-output`` (errors excepted), no empty
    code cells, no stderr, and errors told in plain words instead of a traceback."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & (_PARAMETER_TAGS | REMOVE_CELL_TAGS) or _PAPERMILL_ERROR_TAG in tags:
            continue
        if any(tag.startswith("lang-") and tag != f"lang-{lang}" for tag in tags):
            continue  # static Markdown written once per language: keep the report's own
        if cell.cell_type == "code" and tags & REMOVE_OUTPUT_TAGS:
            cell.outputs = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if cell.cell_type == "code":
            outputs = []
            for o in cell.get("outputs", []):
                if o.output_type == "stream" and o.get("name") == "stderr":
                    continue
                if o.output_type == "error":
                    msg = html.escape(t("report_cell_error", lang, error=error_text(f"{o.ename}: {o.evalue}", lang)))
                    o = nbformat.v4.new_output("display_data",
                                               data={"text/html": f'<p class="report-error">{msg}</p>'})
                outputs.append(o)
            cell.outputs = outputs
            if not outputs:
                continue
        cells.append(cell)
    if failure is not None:
        msg = t("report_section_failed", lang, error=escape(error_text(failure, lang)))  # may quote data
        cells.insert(0, nbformat.v4.new_markdown_cell(f"> **{msg}**"))
    nb.cells = cells
    return nb


_IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")


def image_alt_texts(nb: nbformat.NotebookNode, lang: str) -> list[str]:
    """The alt text of every image output of ``nb``, in order, and the figure-facts outputs
    (:data:`analysis.reporting.outputs.FIGURE_FACTS_MIME`) removed from it (in place).

    A cell's images take the descriptions of the figures the same cell saved
    (:meth:`analysis.reporting.outputs.RunOutputs.figure`), in order; an image with no
    recorded facts gets a generic sentence in ``lang`` (never nbconvert's English default).
    """
    from analysis.reporting.plots.describe import describe_figure

    alts: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        facts = [o["data"][FIGURE_FACTS_MIME] for o in cell.get("outputs", [])
                 if FIGURE_FACTS_MIME in o.get("data", {})]
        cell.outputs = [o for o in cell.get("outputs", []) if FIGURE_FACTS_MIME not in o.get("data", {})]
        for o in cell.outputs:
            if any(m in o.get("data", {}) for m in _IMAGE_MIMES):
                alts.append(describe_figure(facts.pop(0), lang) if facts else t("fig_alt_generic", lang))
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.outputs]
    return alts


def _set_alts_and_lang(page: str, alts: list[str], lang: str) -> str:
    """The exported page with each output image's alt text and ``<html lang>`` set, and no
    script fetched from the internet (nbconvert's require.js and MathJax from a CDN: the
    report has no formula nor widget, and a client page must open offline without errors)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, features="html.parser")
    for script in soup.find_all("script"):
        if (re.match(r"(https?:)?//", script.get("src", "")) or script.get("type") == "text/x-mathjax-config"
                or (script.get("type") == "module" and "mermaid" in (script.string or ""))):
            script.decompose()
    images = soup.select("div.jp-RenderedImage img")
    for img, alt in zip(images, alts, strict=False):
        img["alt"] = alt
    for img in soup.select("img"):
        if img.get("alt", "").startswith("No description has been provided"):
            img["alt"] = t("fig_alt_generic", lang)
    if soup.html is not None:
        soup.html["lang"] = lang
    return str(soup)


def export_html(nb_path: str | Path, html_path: str | Path, lang: str = "en",
                failure: str | None = None) -> str:
    """Write the client HTML of an executed notebook (no code); return its title.

    ``failure`` (the error of a failed run) is told at the top in plain words. The page
    declares ``<html lang="{lang}">`` and every figure has an alt text in ``lang``
    (:func:`image_alt_texts`).
    """
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(nb_path), as_version=4)
    client = _client_notebook(nb, lang, failure)
    alts = image_alt_texts(client, lang)
    title = _title(client, Path(nb_path).stem)
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(client, resources={"metadata": {"name": title}})
    body = _set_alts_and_lang(body, alts, lang)
    from analysis.reporting.pdf import PRINT_CSS

    body = body.replace("</head>", f"<style>{PRINT_CSS}</style>\n</head>", 1)
    Path(html_path).write_text(body, encoding="utf-8")
    return title


# ------------------------------------------------------------------------------ summary
def merge_sidecars(run_dir: str | Path, stems: Iterable[str]) -> dict[str, Any]:
    """``{stem: sidecar}`` for the notebooks of ``stems`` that wrote ``<run_dir>/<stem>.json``."""
    out: dict[str, Any] = {}
    for stem in sorted(stems):
        path = Path(run_dir) / f"{stem}.json"
        if path.exists():
            out[stem] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(to_jsonable(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _utc_now() -> str:
    # run bookkeeping for the manifest only; analysis code never reads the clock
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class NotebookRun:
    """What happened to one notebook of a report run."""

    name: str
    status: str = "pending"  # ok | failed
    duration_s: float = 0.0
    error: str | None = None
    failed_cell: int | None = None
    title: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "duration_s": round(self.duration_s, 1),
                "error": self.error, "failed_cell": self.failed_cell, "title": self.title,
                "parameters": self.parameters, "files": self.files}


@dataclass
class ReportRun:
    """The result of :func:`run_report`: the dated folder, the manifest and the summary."""

    run_dir: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    notebooks: list[NotebookRun]

    @property
    def ok(self) -> bool:
        """True if every notebook ran and exported cleanly."""
        return all(n.status == "ok" for n in self.notebooks)

    @property
    def failed(self) -> list[NotebookRun]:
        return [n for n in self.notebooks if n.status != "ok"]


def _report_kernel_manager():
    """The kernel manager class of report runs: :class:`jupyter_client.AsyncKernelManager`
    with two settings that remove the kernel's noise on stderr at their cause.

    - ``transport = "ipc"``: the kernel talks over Unix sockets in a private temporary
      folder instead of TCP ports on localhost, so ipykernel has no reason to warn "Kernel is
      running over TCP without encryption" (it warns for unencrypted TCP only).
    - no interrupt at shutdown: jupyter_client 8 sends SIGINT before every shutdown, even
      to an idle kernel whose notebook has finished, and ipykernel prints "KeyboardInterrupt
      caught in kernel". The shutdown request alone stops an idle kernel; a kernel still
      busy is killed after ``shutdown_wait_time`` as before, and interrupts asked while the
      kernel runs (nbclient's timeout) are still sent.
    """
    import shutil
    import tempfile

    from jupyter_client.manager import AsyncKernelManager

    class ReportKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._ipc_dir = tempfile.mkdtemp(prefix="churn-radar-kernel-")
            self.transport = "ipc"
            self.ip = str(Path(self._ipc_dir) / "kernel")

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self._ipc_dir, ignore_errors=True)

    return ReportKernelManager


def _echo_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _run_one(path: Path, run_dir: Path, params: dict[str, Any], lang: str, kernel: str,
             personal: dict[str, set[str]], echo: Callable[[str], None],
             aliases: dict[str, str] | None = None, shown_params: dict[str, Any] | None = None) -> NotebookRun:
    import papermill

    run = NotebookRun(name=path.stem, parameters=shown_params if shown_params is not None else params)
    out_nb = run_dir / path.name
    out_html = run_dir / f"{path.stem}.html"
    echo(f"[report] {path.stem}: started")
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(path), str(out_nb), parameters=params, kernel_name=kernel,
                                   progress_bar=False, cwd=str(path.parent),
                                   kernel_manager_class=_report_kernel_manager())
        run.status = "ok"
    except papermill.PapermillExecutionError as exc:
        run.status = "failed"
        run.error = f"{exc.ename}: {exc.evalue}"
        run.failed_cell = int(exc.cell_index)
    except Exception as exc:  # noqa: BLE001 - kernel died, timeout...: record it and go on
        run.status = "failed"
        run.error = f"{type(exc).__name__}: {exc}"
    run.duration_s = time.perf_counter() - start
    if out_nb.exists():
        run.files["ipynb"] = out_nb.name
        try:
            run.title = export_html(out_nb, out_html, lang, failure=run.error)
            if aliases:
                page = out_html.read_text(encoding="utf-8")
                out_html.write_text(Pseudonymiser.replace_in_text(page, aliases), encoding="utf-8")
                run.title = Pseudonymiser.replace_in_text(run.title, aliases)
        except Exception as exc:  # noqa: BLE001 - an unreadable output must not stop the run
            run.status = "failed"
            run.error = (run.error + "; " if run.error else "") + f"HTML export failed: {type(exc).__name__}: {exc}"
        found = find_personal_values(out_html.read_text(encoding="utf-8"), personal) if out_html.exists() else {}
        if found:
            out_html.unlink()
            cols = ", ".join(sorted(found))
            run.status = "failed"
            run.error = (f"personal data ({cols}) is shown in the notebook's output; the HTML export "
                         "was withheld. Remove those columns from what the notebook displays.")
        elif out_html.exists():
            run.files["html"] = out_html.name
    sidecar = run_dir / f"{path.stem}.json"
    if sidecar.exists():
        run.files["sidecar"] = f"{path.stem}.json"
        if aliases:
            sidecar.write_text(Pseudonymiser.replace_in_text(sidecar.read_text(encoding="utf-8"), aliases),
                               encoding="utf-8")
    if run.status == "ok":
        echo(f"[report] {path.stem}: done in {run.duration_s:.0f} s")
    else:
        echo(f"[report] {path.stem}: FAILED after {run.duration_s:.0f} s: {run.error}")
    return run


#: Notebooks that run only when the export has a table (stem without its number -> table).
NOTEBOOK_NEEDS: dict[str, str] = {"reactivation": "interventions"}


def _has_tables(path: Path, ds: Dataset) -> bool:
    """False for a notebook of :data:`NOTEBOOK_NEEDS` whose table the export lacks."""
    need = NOTEBOOK_NEEDS.get(path.stem[3:])
    return need is None or ds.has(need)


def _log_decisions(out: Path, as_of: str, summary: dict[str, Any], lang: str, currency: str) -> None:
    """Append the month's decisions and KPIs to ``<out>/decisions.csv`` (never rewritten)."""
    from analysis.reporting.decisions import DECISION_LOG, append_decisions
    from analysis.reporting.summary import executive_summary

    decisions = executive_summary(summary, lang, currency)["decisions"]
    kpis = (summary.get("01_base_health") or {}).get("kpis_month")
    append_decisions(out / DECISION_LOG, as_of, decisions, kpis, lang)


def _follow_up(out: Path, as_of: str, summary: dict[str, Any], lang: str, currency: str) -> dict[str, Any] | None:
    """Last month's logged decisions with each KPI then and now, for the index page."""
    from analysis.reporting.decisions import DECISION_LOG, follow_up_view

    kpis = (summary.get("01_base_health") or {}).get("kpis_month")
    return follow_up_view(out / DECISION_LOG, as_of, kpis, lang, currency)


def check_output_dir(out: str | Path, option: str = "--out", shown: str | Path | None = None) -> Path:
    """Check, before any computation, that folder ``out`` exists or can be created, and can
    be written: a temporary file is created and removed in its nearest existing folder.

    Raises
    ------
    ReportError
        If ``out`` is a file, lies under a file, or its nearest existing folder is not writable.
    """
    out = Path(out)
    name = shown if shown is not None else out
    if out.exists() and not out.is_dir():
        raise ReportError(f"{option} {name}: cannot be created, because {out} is a file, not a folder."
                          if shown is not None else f"{option} {out}: is a file, not a folder.")
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ReportError(f"{option} {name}: cannot be created, because {probe} is a file, not a folder.")
    verb = "written" if probe == out else "created"
    try:  # the only reliable test (root ignores permissions, a read-only mount does not)
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise ReportError(
            f"{option} {name}: cannot be {verb} ({exc.strerror or type(exc).__name__} in {probe}); "
            "choose a folder you can write to."
        ) from None
    return out


def check_data_covers(ds: Dataset, as_of: str, allow_empty_month: bool = False) -> bool:
    """True if the report month of ``as_of`` (the last complete month before it) holds data.

    Raises
    ------
    ReportError
        If the report month starts after the last day of the data and ``allow_empty_month``
        is False: the tolerance is the rest of the month after the data ends.
    """
    from analysis.metrics.kpis import report_month

    end = ds.observed_until
    if end is None or pd.isna(end):
        return True
    month = report_month(as_of)
    if month <= pd.Timestamp(end).normalize():
        return True
    if allow_empty_month:
        return False
    last_ok = (pd.Timestamp(end).to_period("M") + 1).to_timestamp(how="end").normalize()
    raise ReportError(
        f"--as-of {as_of}: the data ends on {pd.Timestamp(end).date()}, so the report month "
        f"{month.strftime('%Y-%m')} would have no data. Use an --as-of from the day after the data "
        f"ends up to {last_ok.date()}, or --allow-empty-month to report on a month without data."
    )


@contextlib.contextmanager
def month_lock(out: Path, as_of: str):
    """Hold ``<out>/.<as_of>.lock`` (an exclusive ``flock``) for a run; refuse if another
    process holds it. The system releases it when the holding process dies."""
    import fcntl

    path = Path(out) / f".{as_of}.lock"
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip()[:200]
            raise ReportError(
                f"another report run is writing {as_of} into {out} ({holder or 'unknown process'}); "
                "wait for it to finish, then run again (with --force to replace it)."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {_utc_now()}")
        fh.flush()
        yield path
    finally:
        fh.close()


@contextlib.contextmanager
def _terminate_as_exit():
    """SIGTERM raises SystemExit (in the main thread), so that cleanup code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _handler(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _previous_name(out: Path, as_of: str) -> Path:
    n = 1
    while (out / f"{as_of}.previous-{n}").exists():
        n += 1
    return out / f"{as_of}.previous-{n}"


def _remove_stale_partials(out: Path, as_of: str) -> None:
    """Partial folders of this month left by a killed run (the lock is held, so none is live)."""
    for stale in out.glob(f".{as_of}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _write_call_list_workbook(run_dir: Path, lang: str, currency: str,
                              echo: Callable[[str], None]) -> dict[str, Any]:
    """``call_list.xlsx`` from the run's scores, if a notebook wrote them; ``{"xlsx": name}``,
    with ``xlsx_rows`` and ``scores_rows`` when the workbook holds only the first rows."""
    from analysis.reporting.workbook import (
        XLSX_MAX_ROWS,
        count_scores,
        read_scores,
        write_call_list_xlsx,
    )

    scores = read_scores(run_dir, max_rows=XLSX_MAX_ROWS)  # only the rows the workbook holds
    if scores is None:
        return {}
    total = count_scores(run_dir)
    write_call_list_xlsx(scores, run_dir / "call_list.xlsx", lang=lang, currency=currency,
                         max_rows=XLSX_MAX_ROWS, total=total)
    if len(scores) < total:
        echo(f"[report] call list: the first {len(scores):,} of {total:,} rows -> call_list.xlsx "
             "(every row in scores.csv)")
        return {"xlsx": "call_list.xlsx", "xlsx_rows": len(scores), "scores_rows": total}
    echo(f"[report] call list: {len(scores):,} rows -> call_list.xlsx")
    return {"xlsx": "call_list.xlsx"}


def _print_pdf(run_dir: Path, html_name: str) -> str:
    """Print ``<run_dir>/<html_name>`` to ``<run_dir>/pdf/<stem>.pdf``; its path relative to the run."""
    from analysis.reporting.pdf import render_pdf

    target = Path("pdf") / f"{Path(html_name).stem}.pdf"
    render_pdf(run_dir / html_name, run_dir / target)
    return target.as_posix()


def check_report_pages(run_dir: str | Path, lang: str,
                       echo: Callable[[str], None] | None = None) -> list[str]:
    """Open ``index.html`` and every client page of a report folder in headless Chromium.

    Writes ``screenshots/<page>.png`` and ``browser_check.json`` (per page: language, images,
    broken images, console errors) and returns the problems found, one line each (empty when
    every image loads, no page logs a console error and every page declares ``lang``).
    """
    from analysis.reporting.browser import check_page

    run_dir = Path(run_dir)
    echo = echo or (lambda _line: None)
    problems: list[str] = []
    results: dict[str, Any] = {}
    for page in sorted(run_dir.glob("*.html"), key=lambda p: (p.name != "index.html", p.name)):
        seen = check_page(page, screenshot=run_dir / "screenshots" / f"{page.stem}.png")
        results[page.name] = {"lang": seen.lang, "images": len(seen.images), "broken_images": seen.broken_images,
                              "console_errors": seen.console_errors,
                              "screenshot": f"screenshots/{page.stem}.png"}
        if seen.lang != lang:
            problems.append(f"{page.name}: <html lang> is {seen.lang!r}, expected {lang!r}")
        if seen.broken_images:
            problems.append(f"{page.name}: {len(seen.broken_images)} image(s) do not load")
        problems.extend(f"{page.name}: console error: {e}" for e in seen.console_errors)
    _write_json(run_dir / "browser_check.json", results)
    echo(f"[report] browser check: {len(results)} page(s), "
         + (f"{len(problems)} problem(s): {problems[0]}" if problems else "every image loads, no console error")
         + "; screenshots in screenshots/")
    return problems


def run_report(data_dir: str | Path, as_of: str, out: str | Path = "reports", *, lang: str = "fr",
               only: str | Iterable[str] | None = None, parameters: dict[str, Any] | None = None,
               force: bool = False, notebooks_dir: str | Path = NOTEBOOKS_DIR,
               kernel_name: str | None = None,
               echo: Callable[[str], None] | None = _echo_stderr,
               allow_empty_month: bool = False, pdf: bool = False,
               browser_check: bool = False) -> ReportRun:
    """Run the report notebooks on a dataset and write the dated report folder.

    Parameters
    ----------
    data_dir : the dataset folder (passed to the notebooks as an absolute path).
    as_of : analysis date, ``YYYY-MM-DD``; the folder is ``<out>/<as_of>/``.
    out : the reports folder.
    lang : ``fr`` or ``en``: the language of every label of the exports.
    only : notebook stems or numbers to run (see :func:`discover_notebooks`).
    parameters : extra notebook parameters; each goes only to the notebooks whose
        parameters cell declares it.
    force : replace an existing ``<out>/<as_of>/``, kept as ``<out>/<as_of>.previous-<n>/``
        once the new run is complete.
    notebooks_dir : where the ``NN_name.ipynb`` notebooks are.
    kernel_name : Jupyter kernel; default :func:`default_kernel`.
    echo : called with one progress line per notebook (stderr by default; None: silent).
    allow_empty_month : run even if the report month starts after the end of the data
        (:func:`check_data_covers`); the index then says the month has no data.
    pdf : also print ``index.html`` and every client page to ``pdf/*.pdf`` with headless
        Chromium (:mod:`analysis.reporting.pdf`); a page that cannot be printed fails the run.
    browser_check : open every page in headless Chromium (:func:`check_report_pages`): an
        image that does not load, a console error or a wrong ``<html lang>`` fails the run;
        screenshots go to ``screenshots/``.

    Whenever a notebook wrote ``scores.csv`` (or ``scores.parquet``), the call list is also
    written as ``call_list.xlsx`` in the report's language (:mod:`analysis.reporting.workbook`;
    its first :data:`~analysis.reporting.workbook.XLSX_MAX_ROWS` rows in call order).

    Returns
    -------
    ReportRun
        ``ok`` is False if any notebook failed (its error is in ``manifest.json``).

    Raises
    ------
    ReportError
        Bad date, unknown notebook or parameter, an existing folder without ``force``, an
        output folder that cannot be written, another run of the same month in progress,
        or an as-of date past the data without ``allow_empty_month``.
    DataError, ConfigError
        The dataset cannot be loaded at all.
    """
    from analysis.reporting.summary import render_index

    echo = echo or (lambda _line: None)
    lang = check_lang(lang)
    as_of = _check_as_of(as_of)
    data_path = Path(data_dir).resolve()
    extra = dict(parameters or {})
    notebooks = discover_notebooks(notebooks_dir, only)
    declared = {p.stem: notebook_parameters(p) for p in notebooks}
    unused = sorted(k for k in extra if not any(k in d for d in declared.values()))
    if unused:
        accepted = "; ".join(
            f"{stem}: {', '.join(sorted(k for k in d if k not in STANDARD_PARAMETERS)) or '(none)'}"
            for stem, d in declared.items())
        raise ReportError(
            f"-p {', '.join(unused)}: no notebook selected declares this parameter. "
            f"Parameters accepted with -p: {accepted}."
        )
    out = check_output_dir(out)
    if (out / as_of).exists() and not force:
        prepare_run_dir(out, as_of, force=False)  # raises with the message
    # The one validation of the report: it fails here, before touching any folder, if the data is
    # unusable, and writes the validated copy that every notebook's analysis.load then reads.
    # The runner reads only the report, the customers and table presence: through the warehouse
    # (SQL views over the validated copy), never the events in pandas.
    ds = Warehouse.open(data_path)
    skipped = [p.stem for p in notebooks if not _has_tables(p, ds)]
    notebooks = [p for p in notebooks if p.stem not in skipped]
    month_has_data = check_data_covers(ds, as_of, allow_empty_month)
    kernel = kernel_name or default_kernel()
    out.mkdir(parents=True, exist_ok=True)
    final_dir = out.resolve() / as_of
    with month_lock(out, as_of), _terminate_as_exit():
        if final_dir.exists() and not force:
            prepare_run_dir(out, as_of, force=False)  # another run finished meanwhile
        _remove_stale_partials(out, as_of)
        work = out.resolve() / f".{as_of}.partial-{os.getpid()}"
        work.mkdir()
        try:
            result = _run_into(work, final_dir, ds, data_path, as_of, lang, notebooks, declared, extra,
                               only, kernel, force, month_has_data, echo, notebooks_dir, render_index,
                               skipped, pdf=pdf, browser_check=browser_check)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            echo(f"[report] stopped before completion: nothing was written under {final_dir}")
            raise
    return result


def _run_into(work: Path, final_dir: Path, ds: Dataset, data_path: Path, as_of: str, lang: str,
              notebooks: list[Path], declared: dict[str, dict[str, str]], extra: dict[str, Any],
              only, kernel: str, force: bool, month_has_data: bool, echo: Callable[[str], None],
              notebooks_dir, render_index, skipped: list[str] | None = None, *, pdf: bool = False,
              browser_check: bool = False) -> ReportRun:
    """The run itself, written into ``work`` and moved to ``final_dir`` once complete."""
    started = _utc_now()
    skipped = list(skipped or [])
    moved = _previous_name(final_dir.parent, as_of) if final_dir.exists() else None
    echo(f"[report] {len(notebooks)} notebook(s) on {data_path} as of {as_of} -> {final_dir}")
    for stem in skipped:
        echo(f"[report] {stem} skipped: the export has no {NOTEBOOK_NEEDS[stem[3:]]} table")
    pseudonymiser = Pseudonymiser(lambda: pseudonym_key(final_dir.parent))  # key read only if needed
    aliases = pseudonymiser.mapping(ds.customers["customer_id"])

    write_quarantine_copies(ds.report.quarantine, work, declared=ds.config.personal_columns,
                            pseudonymiser=pseudonymiser)
    _write_json(work / "validation.json", ds.report.as_dict())
    from analysis.reporting.validation_text import validation_text

    (work / "validation.txt").write_text(validation_text(ds.report, lang) + "\n", encoding="utf-8")

    common = {"data_dir": str(data_path), "as_of": as_of, "lang": lang, "output_dir": str(work)}
    shown = {**common, "output_dir": str(final_dir)}
    personal = personal_values(ds)
    runs = []
    for path in notebooks:
        params = {k: v for k, v in {**common, **extra}.items() if k in declared[path.stem]}
        shown_params = {k: v for k, v in {**shown, **extra}.items() if k in declared[path.stem]}
        runs.append(_run_one(path, work, params, lang, kernel, personal, echo, aliases, shown_params))

    for nb_file in work.glob("*.ipynb"):  # the executed notebooks name the final folder, not the partial one
        nb_file.write_text(nb_file.read_text(encoding="utf-8").replace(str(work), str(final_dir)), encoding="utf-8")
    extra_files = _write_call_list_workbook(work, lang, ds.config.currency, echo)
    if pdf:
        for r in runs:
            if "html" in r.files:
                try:
                    r.files["pdf"] = _print_pdf(work, r.files["html"])
                except ReportError as exc:
                    r.status = "failed"
                    r.error = (r.error + "; " if r.error else "") + str(exc)
                    echo(f"[report] {r.name}: PDF FAILED: {exc}")

    summary = merge_sidecars(work, [r.name for r in runs if r.status == "ok"])
    _write_json(work / "summary.json", summary)
    manifest = {
        "as_of": as_of,
        "lang": lang,
        "status": "ok" if all(r.status == "ok" for r in runs) else "failed",
        "parameters": {**shown, **extra},
        "only": None if not only else (only if isinstance(only, str) else ",".join(only)),
        "dataset": {
            "path": str(data_path),
            "name": ds.config.name,
            "title": dataset_title(ds.config, lang),  # the name in the report's language (issue 14)
            "business_model": ds.config.business_model,
            "content_sha256": dataset_hash(data_path),
            "customers": len(ds.customers),
            "tables": sorted(ds.tables),
            "rows_quarantined": ds.report.rows_quarantined,
            "observed_until": None if ds.observed_until is None else ds.observed_until.date().isoformat(),
        },
        "month_has_data": month_has_data,
        "pseudonymised_ids": len(aliases),
        "kernel": kernel,
        "versions": _versions(),
        "notebooks_dir": str(Path(notebooks_dir).resolve()),
        "previous_run_moved_to": str(moved) if moved else None,
        "started_at": started,
        "finished_at": None,
        "notebooks": [r.as_dict() for r in runs],
        "files": extra_files,
        "skipped": skipped,
    }
    manifest["finished_at"] = _utc_now()
    _write_json(work / "manifest.json", manifest)
    notes = []
    if not month_has_data:
        notes.append(t("report_month_without_data", lang,
                       end=fmt_date(ds.observed_until, lang) if ds.observed_until is not None else "–"))
    if aliases:
        notes.append(plural("report_pseudonymised", len(aliases), lang))  # "1 identifiant", "2 identifiants"
    index = render_index(work, manifest, summary, lang=lang, currency=ds.config.currency,
                         business_model=ds.config.business_model, notes=notes,
                         index_pdf="pdf/index.pdf" if pdf else None,
                         follow=_follow_up(final_dir.parent, as_of, summary, lang, ds.config.currency))
    if aliases:
        index.write_text(Pseudonymiser.replace_in_text(index.read_text(encoding="utf-8"), aliases), encoding="utf-8")
    if pdf:
        try:
            _print_pdf(work, "index.html")
        except ReportError as exc:
            manifest["status"] = "failed"
            _write_json(work / "manifest.json", manifest)
            runs.append(NotebookRun(name="index", status="failed", error=str(exc)))
            echo(f"[report] index: PDF FAILED: {exc}")
    if browser_check:
        problems = check_report_pages(work, lang, echo)
        if problems:
            manifest["status"] = "failed"
            _write_json(work / "manifest.json", manifest)
            runs.append(NotebookRun(name="browser-check", status="failed", error="; ".join(problems)))
    # complete: put it in place (the old month, with --force, is kept aside at this moment);
    # SIGTERM waits for the two renames, so the month's name is never left empty by it
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        if moved is not None:
            final_dir.rename(moved)
        work.rename(final_dir)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    _log_decisions(final_dir.parent, as_of, summary, lang, ds.config.currency)  # once the month is in place
    failed = [r.name for r in runs if r.status != "ok"]
    echo(f"[report] finished: {len(runs) - len(failed)} ok, {len(failed)} failed"
         + (f" ({', '.join(failed)})" if failed else "") + f"; open {final_dir / 'index.html'}")
    return ReportRun(run_dir=final_dir, manifest=manifest, summary=summary, notebooks=runs)
