"""The report as a reader's browser shows it: headless Chromium (installed by .ci/run) opens
the index and a client page of a real report run, and every image must load, no page may log
a console error, and each page must declare the report's language. Screenshots of both pages
are kept in the test's output folder (printed) for a human look; the PDFs of --pdf too.

One run: the real notebook 01 on a tiny base written here (four customers), in French, with
--pdf, so the PDF renderer is exercised on a real page; what the run printed on the terminal
is kept to check that the kernel is silent.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from notebook_runs import tiny_base

from analysis.reporting.browser import check_page
from analysis.reporting.runner import run_report

AS_OF = "2026-04-01"


@contextlib.contextmanager
def _terminal_output(path: Path):
    """Everything written on file descriptors 1 and 2 (the kernel process inherits them)."""
    saved = [os.dup(1), os.dup(2)]
    with path.open("wb") as sink:
        try:
            for fd in (1, 2):
                os.dup2(sink.fileno(), fd)
            yield
        finally:
            for fd, old in zip((1, 2), saved, strict=True):
                os.dup2(old, fd)
                os.close(old)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    data = tiny_base(root / "data")
    (data / "dataset.yml").write_text("business_model: contractual\n", encoding="utf-8")
    with _terminal_output(root / "terminal.txt"):
        result = run_report(data, AS_OF, root / "reports", lang="fr", only="01", pdf=True, echo=None)
    assert result.ok, [(n.name, n.error) for n in result.failed]
    return result.run_dir


@pytest.mark.notebook
def test_no_kernel_noise_on_the_terminal(report):
    """The kernel talks over IPC (no "running over TCP without encryption" warning) and an
    idle kernel is not sent SIGINT before shutdown (no "KeyboardInterrupt caught in kernel")."""
    noise = (report.parent.parent / "terminal.txt").read_text(encoding="utf-8", errors="replace")
    assert "without encryption" not in noise
    assert "KeyboardInterrupt" not in noise


@pytest.mark.notebook
@pytest.mark.parametrize("page", ["index.html", "01_base_health.html"])
def test_page_in_a_real_browser(report, page):
    shot = report / "screenshots" / f"{Path(page).stem}.png"
    seen = check_page(report / page, screenshot=shot)
    print(f"screenshot: {shot}")
    assert seen.lang == "fr"
    assert seen.images, "the page shows no figure"
    assert seen.broken_images == []                       # naturalWidth > 0 for every image
    assert seen.console_errors == []                      # no failed load, no script error
    for img in seen.images:
        assert img["alt"] and not img["alt"].startswith("No description"), img
    assert shot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.notebook
def test_pdf_of_every_page_and_links(report):
    for name in ("index", "01_base_health"):
        pdf = report / "pdf" / f"{name}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF-"), name
    index = (report / "index.html").read_text(encoding="utf-8")
    assert 'href="pdf/index.pdf"' in index and 'href="pdf/01_base_health.pdf"' in index
    page = (report / "01_base_health.html").read_text(encoding="utf-8")
    assert "break-inside: avoid" in page and "cdnjs" not in page


def test_check_report_pages_finds_broken_images_errors_and_language(tmp_path):
    from analysis.reporting.runner import check_report_pages

    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><title>x</title></head><body><h1>Rapport</h1>'
        '<img src="figures/missing.png" alt="absente"><script>console.error("boom")</script></body></html>',
        encoding="utf-8")
    problems = check_report_pages(tmp_path, "fr")
    assert "index.html: <html lang> is 'en', expected 'fr'" in problems
    assert "index.html: 1 image(s) do not load" in problems
    assert any(p.startswith("index.html: console error: boom") for p in problems)
    assert (tmp_path / "screenshots" / "index.png").exists() and (tmp_path / "browser_check.json").exists()
