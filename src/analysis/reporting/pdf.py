"""Print-ready PDFs of the report's pages, rendered by headless Chromium.

``churn-radar report ... --pdf`` writes ``pdf/index.pdf`` and one ``pdf/NN_name.pdf`` per
client page. The renderer is the browser itself (Debian package ``chromium``; ``.ci/run``
installs it when missing), run headless with a fresh profile and no network service, so a
PDF shows exactly what a reader's browser shows. :data:`PRINT_CSS`, added to every page,
keeps tables, figures and headings from being cut by a page break.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from analysis.errors import ReportError

__all__ = ["CHROMIUM_FLAGS", "PRINT_CSS", "find_chromium", "chromium_command", "render_pdf"]

#: Flags of every headless Chromium run: no sandbox (root in containers), no GPU, no
#: background network, first-run, component-update or sync services.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--mute-audio",
)

#: Print rules added to the client pages and the index: A4, no table, figure or heading cut
#: or left alone at the bottom of a page, links printed as text.
PRINT_CSS = """
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  table, figure, img, tr, .jp-RenderedImage, .jp-OutputArea-output, .figures, li { break-inside: avoid; page-break-inside: avoid; }
  h1, h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; }
  img { max-width: 100% !important; height: auto; }
  .jp-Cell { break-inside: auto; }
  /* the page's full width for the content: no prompt column, no notebook padding */
  body, .jp-Notebook, main { margin: 0 !important; padding: 0 !important; }
  .jp-InputPrompt, .jp-OutputPrompt { display: none !important; }
  .jp-Cell, .jp-OutputArea-output { padding-left: 0 !important; padding-right: 0 !important; }
  /* a table never wider than the page: cells wrap (numbers keep their no-break spaces) */
  table { max-width: 100% !important; font-size: 8.5pt !important; }
  td, th { white-space: normal !important; min-width: 0 !important; max-width: none !important; padding: 2px 4px !important; }
}
"""

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` if set, else the first of chromium,
    chromium-browser, google-chrome on the PATH; None if there is none."""
    env = os.environ.get("CHROMIUM")
    if env and (shutil.which(env) or Path(env).is_file()):
        return shutil.which(env) or env
    return next((shutil.which(n) for n in _NAMES if shutil.which(n)), None)


def chromium_command(*args: str, profile: str | Path, chromium: str | None = None) -> list[str]:
    """A headless Chromium command line with :data:`CHROMIUM_FLAGS` and a fresh profile folder.

    Raises
    ------
    ReportError
        If no Chromium is installed.
    """
    exe = chromium or find_chromium()
    if not exe:
        raise ReportError("PDF and browser checks need Chromium, which is not installed: "
                          "apt-get install chromium (Debian), or set CHROMIUM=/path/to/chrome.")
    return [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]


def render_pdf(html_path: str | Path, pdf_path: str | Path, *, chromium: str | None = None,
               timeout: float = 120.0) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; return the PDF's path.

    Raises
    ------
    ReportError
        If Chromium is missing, fails, times out or writes no PDF (its last stderr line is given).
    """
    html_path = Path(html_path).resolve()
    pdf_path = Path(pdf_path).resolve()
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="churn-radar-chromium-") as profile:
        cmd = chromium_command("--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
                               "--virtual-time-budget=10000", f"--print-to-pdf={pdf_path}",
                               html_path.as_uri(), profile=profile, chromium=chromium)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise ReportError(f"{html_path.name}: Chromium did not print the PDF within {timeout:.0f} s.") from exc
    if proc.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise ReportError(f"{html_path.name}: Chromium could not print the PDF (exit {proc.returncode}: {last}).")
    return pdf_path
