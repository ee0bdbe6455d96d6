"""Hostile inputs (issue 13): ONE real monthly report (notebooks 01-04) on a 300-customer
base full of markup, formula ids, e-mail and phone ids and personal columns under many names
(:mod:`hostile_base`). About 90 s: marked ``notebook``.
"""

from __future__ import annotations

import csv
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import hostile_base
import pandas as pd
import pytest

from analysis import load
from analysis.cli import main
from analysis.reporting.i18n import plural
from analysis.reporting.safety import FORMULA_PREFIXES, Pseudonymiser, pseudonym_key

pytestmark = pytest.mark.notebook
AS_OF = "2026-11-01"
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


class _Tags(HTMLParser):
    """Every start tag of a page with its attributes, and the text inside <script> elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    built = hostile_base.build(root / "data")
    code = main(["report", str(root / "data"), "--as-of", AS_OF, "--out", str(root / "reports"), "--lang", "fr"])
    run = root / "reports" / AS_OF
    return {"code": code, "run": run, "reports": root / "reports", "data": root / "data", **built}


def _pages(run: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in run.glob("*.html")}


def test_report_ran_every_notebook(hostile_run):
    assert hostile_run["code"] == 0
    manifest = json.loads((hostile_run["run"] / "manifest.json").read_text(encoding="utf-8"))
    # the hostile base is built from the sample, interventions included: 05 runs too
    assert [n["status"] for n in manifest["notebooks"]] == ["ok"] * 5
    assert set(_pages(hostile_run["run"])) == {"01_base_health.html", "02_retro_audit.html", "03_cohort_decay.html",
                                               "04_churn_risk.html", "05_reactivation.html", "index.html"}


def test_no_data_borne_tag_survives_in_any_page(hostile_run):
    for name, page in _pages(hostile_run["run"]).items():
        parser = _Tags()
        parser.feed(page)
        for tag, attrs in parser.tags:
            assert not any(a.lower().startswith("on") for a in attrs), (name, tag, attrs)  # no event handler
            assert not (tag == "img" and attrs.get("src") == "x"), (name, attrs)
        assert not any("alert(" in s for s in parser.scripts), name
        low = page.lower()
        for raw in ("<script>alert", "<img src=x", "<i>c000021", "<b>hostile"):
            assert raw not in low, (name, raw)
    pages = _pages(hostile_run["run"])
    # the values are shown, escaped, not dropped: the dataset name in 01-03 and the index
    shown = html.escape(hostile_base.NAME, quote=False)
    for name in ("01_base_health.html", "02_retro_audit.html", "03_cohort_decay.html"):
        assert shown in pages[name].replace("&#x27;", "'"), name
    assert html.escape(hostile_base.NAME) in pages["index.html"] or "&lt;script&gt;alert(1)" in pages["index.html"]


def _cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_formula_cells_neutralised_in_every_csv_and_exact_in_parquet(hostile_run):
    run = hostile_run["run"]
    files = [run / "scores.csv", *sorted((run / "tables").glob("*.csv")), *sorted((run / "quarantine").glob("*.csv"))]
    assert len(files) > 10 and (run / "quarantine" / "orders.csv") in files
    for path in files:
        for cell in _cells(path):
            assert not (cell.startswith(FORMULA_PREFIXES) and not _NUMBER.match(cell)), (path.name, cell[:80])
    assert "'" + hostile_base.FORMULA_IDS[0] in _cells(run / "quarantine" / "orders.csv")
    exact = pd.read_parquet(run / "quarantine" / "orders.parquet")
    assert hostile_base.FORMULA_IDS[0] in exact["customer_id"].tolist()  # machine copy: exact value
    scores = pd.read_parquet(run / "scores.parquet")
    formula_scored = [i for i in hostile_base.FORMULA_IDS if i in set(scores["customer_id"])]
    neutral = set(_cells(run / "scores.csv"))
    assert all("'" + i in neutral for i in formula_scored)


def test_email_and_phone_ids_pseudonymised_in_pages_and_summary(hostile_run):
    run = hostile_run["run"]
    personal = hostile_run["personal"]
    texts = {**_pages(run), "summary.json": (run / "summary.json").read_text(encoding="utf-8")}
    texts.update({p.name: p.read_text(encoding="utf-8") for p in run.glob("0*.json")})
    for name, text in texts.items():
        for value in personal["emails"] + personal["phones"]:
            assert value not in text and html.escape(value) not in text, (name, value)
    # the top priorities of the summary are shown by stable pseudonyms, and the index says so
    alias = Pseudonymiser(pseudonym_key(hostile_run["reports"]))  # the env key if set, else the file
    summary = json.loads(texts["summary.json"])
    ids = [p["customer_id"] for p in summary["04_churn_risk"]["top_priorities"]]
    mapping = hostile_run["mapping"]
    personal_ids = [v for v in mapping.values() if v.endswith("@hostile-mail.example") or v.startswith("+33")]
    expected = {alias.pseudonym(v) for v in personal_ids}
    assert any(i in expected for i in ids) or not any(i.startswith("ID-") for i in ids)
    assert all(not i.startswith("ID-") or i in expected for i in ids)
    n = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["pseudonymised_ids"]
    kept = set(load(hostile_run["data"]).customers["customer_id"])  # validation may set a customer aside
    assert n == len([v for v in personal_ids if v in kept]) > 100
    assert plural("report_pseudonymised", n, "fr") in html.unescape(texts["index.html"])
    assert not list(run.rglob(".pseudonym-key"))  # the key stays outside the month's folder


def test_personal_columns_under_any_name_never_shown(hostile_run):
    run = hostile_run["run"]
    personal = hostile_run["personal"]
    values = personal["owners"] + personal["contacts"] + personal["names"] + personal["buyers"]
    files = [*run.glob("*.html"), run / "summary.json", *run.glob("0*.json"), *(run / "tables").glob("*.csv"),
             *(run / "quarantine").glob("*.csv"), *(run / "quarantine").glob("*.parquet")]
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        for value in values:
            assert value not in text, (path.name, value)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["03_cohort_decay"].get("segment_by") not in ("owner_email", "contact_email", "Email", "Nom")
    assert "owner_email" not in json.dumps(summary)
