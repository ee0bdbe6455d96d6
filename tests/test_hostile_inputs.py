"""Hostile inputs (issue 13), fast part: escaping, formulas, personal data, broken files,
bad config and bad options. Every error case runs the real CLI entry point and checks exit
code 1, exactly one line on stderr and no traceback.

The report runs (atomic, concurrent, interrupted, past the data, a base full of markup)
are in ``test_hostile_runs.py`` and ``test_hostile_report.py``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import main
from analysis.data.config import parse_config, read_config
from analysis.data.dataset import from_frames, load
from analysis.data.personal import detect_personal_columns, is_personal_name, looks_personal
from analysis.data.validation import parse_dates
from analysis.errors import ConfigError
from analysis.metrics.kpis import monthly_review
from analysis.reporting.runner import personal_values
from analysis.reporting.safety import (
    MASK,
    Pseudonymiser,
    escape,
    mask_personal,
    neutralise_formulas,
    pseudonym_key,
    write_people_csv,
)

CUSTOMERS = """customer_id,signup_date,churn_date,sector
C1,2026-01-05,,retail
C2,2026-02-10,,industry
C3,2026-03-01,,retail
"""
ORDERS = """customer_id,order_date,amount,order_id
C1,2026-01-10,100.0,O1
C2,2026-02-15,200.0,O2
C3,2026-03-05,30.0,O3
"""


def _dataset(folder: Path, yml: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    if yml is not None:
        (folder / "dataset.yml").write_text(yml, encoding="utf-8")
    return folder


def _one_line_error(capsys, argv: list[str], *expected: str) -> str:
    """Run the CLI; assert exit 1, one line on stderr, no traceback, and the expected words."""
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert len(err.splitlines()) == 1, err[:2000]
    assert "Traceback" not in err and err.startswith("error: "), err[:500]
    for word in expected:
        assert word in err, (word, err[:500])
    return err


# ---------------------------------------------------------------------- escaping
@pytest.mark.parametrize("context", ["markdown", "html", "attr"])
def test_escape_leaves_no_tag_in_any_html_context(context):
    import markdown_it  # the CommonMark renderer of nbconvert/JupyterLab's family

    hostile = "<script>alert(1)</script><img src=x onerror=alert(1)> & **bold** [x](javascript:alert(1))"
    text = escape(hostile, context)
    assert "<" not in text and ">" not in text
    rendered = markdown_it.MarkdownIt("commonmark").render(text) if context == "markdown" else text
    assert "<script" not in rendered and "<img" not in rendered and "<strong>" not in rendered
    assert "<a href" not in rendered
    if context == "markdown":  # the reader still sees the original characters
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered and "**bold**" in rendered


def test_escape_attr_quotes_and_figure_dollars():
    assert escape('a"b\'c\nd', "attr") == "a&quot;b&#x27;c d"
    assert escape("cost $5 <b>", "figure") == r"cost \$5 <b>"  # matplotlib text, no HTML
    assert escape(None) == ""
    with pytest.raises(ValueError):
        escape("x", "latex")


# ---------------------------------------------------------------------- formulas
def test_neutralise_formulas_owasp_prefixes_numbers_kept():
    df = pd.DataFrame({
        "customer_id": ['=HYPERLINK("http://x.example/C000259","C000259")', "+SUM(1,2)", "-2+3", "@SUM(A1)",
                        "\tx", "\rx", "C7", "-12.5", None],
        "amount": [1.0, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    })
    out = neutralise_formulas(df)
    assert out["customer_id"].tolist() == [
        '\'=HYPERLINK("http://x.example/C000259","C000259")', "'+SUM(1,2)", "'-2+3", "'@SUM(A1)", "'\tx",
        "'\rx", "C7", "-12.5", None]
    assert out["amount"].tolist() == df["amount"].tolist()  # numbers stay numbers
    assert df["customer_id"].iloc[0].startswith("=")  # the input is not modified


def test_write_people_csv_neutralises_and_keeps_exact_parquet(tmp_path):
    df = pd.DataFrame({"customer_id": ["=1+1", "C2"], "value": [1.5, 2.0]})
    path = write_people_csv(df, tmp_path / "t" / "scores.csv")
    text = path.read_text(encoding="utf-8").splitlines()
    assert text == ["customer_id,value", "'=1+1,1.5", "C2,2.0"]
    exact = pd.read_parquet(tmp_path / "t" / "scores.parquet")
    assert exact["customer_id"].tolist() == ["=1+1", "C2"] and exact["value"].tolist() == [1.5, 2.0]


# ---------------------------------------------------------------------- personal data
@pytest.mark.parametrize("name", ["email", "Email", "E-mail", "courriel", "owner_email", "contactEmail", "buyer_email",
                                  "phone", "Téléphone", "tel", "mobile", "portable", "name", "Nom", "Prénom",
                                  "first_name", "LastName", "address", "Adresse postale"])
def test_personal_names_detected_case_and_accent_insensitive(name):
    assert is_personal_name(name)


@pytest.mark.parametrize("name", ["customer_id", "sector", "plan", "region", "channel", "size", "signup_date",
                                  "hotel", "nombre", "order_id", "campaign_id", "amount"])
def test_ordinary_columns_are_not_personal(name):
    assert not is_personal_name(name)


def test_personal_content_detected_ids_are_not():
    s = pd.Series(["a.b@x.fr", "+33 6 11 22 33 44", "06.11.22.33.44", "17850", "00042", "C000259", "0612"])
    assert looks_personal(s).tolist() == [True, True, True, False, False, False, False]
    frame = pd.DataFrame({"contact": ["a@x.fr", "b@y.fr", None], "ref": ["17850", "17851", "17852"],
                          "Nom": ["A", "B", "C"], "vip": ["x", "y", "z"]})
    assert detect_personal_columns(frame, declared=["VIP"]) == {"contact": "content", "Nom": "name", "vip": "declared"}


def test_personal_columns_config_string_is_one_column(tmp_path):
    assert parse_config({"personal_columns": "email"}).personal_columns == ("email",)
    assert parse_config({"personal_columns": ["email", "phone"]}).personal_columns == ("email", "phone")
    with pytest.raises(ConfigError, match="personal_columns"):
        parse_config({"personal_columns": {"a": 1}})


def test_undeclared_personal_columns_never_segments_and_guarded():
    cust = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "signup_date": ["2026-01-01"] * 3,
                         "owner_email": ["o1@agency.example", "o2@agency.example", "o1@agency.example"],
                         "Nom": ["Zorrodin", "Quillevec", "Wadeleux"], "contact": ["+33 6 11 22 33 44"] * 3,
                         "sector": ["retail", "industry", "retail"]})
    orders = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "order_date": ["2026-02-01"] * 3, "amount": [1, 2, 3]})
    ds = from_frames(customers=cust, orders=orders)
    assert ds.segment_columns() == ["sector"]
    assert set(ds.personal_columns()) == {"owner_email", "Nom", "contact"}
    values = personal_values(ds)
    assert values["owner_email"] == {"o1@agency.example", "o2@agency.example"} and "Zorrodin" in values["Nom"]


def test_mask_personal_masks_columns_and_pseudonymises_ids():
    frame = pd.DataFrame({"customer_id": ["jane@x.fr", "C2"], "buyer_email": ["b@y.fr", None],
                          "first_name": ["Jane", "Paul"], "amount": ["10", "20"]})
    p = Pseudonymiser(b"test-key")
    out = mask_personal(frame, pseudonymiser=p)
    assert out["buyer_email"].tolist() == [MASK, None]
    assert out["first_name"].tolist() == [MASK, MASK]
    assert out["customer_id"].tolist() == [p.pseudonym("jane@x.fr"), "C2"]
    assert out["amount"].tolist() == ["10", "20"]


def test_pseudonyms_stable_keyed_and_replaced_in_text(tmp_path, monkeypatch):
    monkeypatch.delenv("CHURN_RADAR_PSEUDONYM_KEY", raising=False)
    key = pseudonym_key(tmp_path)
    assert key == pseudonym_key(tmp_path) and len(key) == 64  # created once, then read
    assert oct((tmp_path / ".pseudonym-key").stat().st_mode & 0o777) == "0o600"
    a, b = Pseudonymiser(key), Pseudonymiser(b"another key")
    assert a.pseudonym("jane@x.fr") == a.pseudonym("jane@x.fr") != b.pseudonym("jane@x.fr")
    assert a.pseudonym("jane@x.fr").startswith("ID-") and len(a.pseudonym("jane@x.fr")) == 13
    mapping = a.mapping(["jane@x.fr", "ajane@x.fr", "C3", "+33 6 11 22 33 44"])
    assert set(mapping) == {"jane@x.fr", "ajane@x.fr", "+33 6 11 22 33 44"}
    text = Pseudonymiser.replace_in_text("<td>ajane@x.fr</td><td>jane@x.fr</td><td>C3</td>", mapping)
    assert text == f"<td>{mapping['ajane@x.fr']}</td><td>{mapping['jane@x.fr']}</td><td>C3</td>"


# ---------------------------------------------------------------------- config
def test_threshold_values_typed_with_clear_errors():
    assert parse_config({"thresholds": {"churn_horizon_days": "120"}}).thresholds.churn_horizon_days == 120
    for bad in ("ninety", 0, -5, 1.5, True):
        with pytest.raises(ConfigError, match="thresholds.churn_horizon_days"):
            parse_config({"thresholds": {"churn_horizon_days": bad}})


def test_dates_and_timezone_validated():
    import datetime as dt

    assert parse_config({"observed_until": dt.date(2026, 10, 31)}).observed_until == "2026-10-31"
    assert parse_config({"observed_until": "2026-10-31"}).observed_until == "2026-10-31"
    for bad in ("yesterday", "2026-02-30", "31/10/2026"):
        with pytest.raises(ConfigError, match="observed_until"):
            parse_config({"observed_until": bad})
    assert parse_config({"timezone": "Europe/Paris"}).timezone == "Europe/Paris"
    with pytest.raises(ConfigError, match="timezone"):
        parse_config({"timezone": "Mars/Olympus"})


def test_timezone_suffixed_timestamps_converted_to_the_dataset_zone():
    values = pd.Series(["2026-10-31T23:30:00+02:00", "2026-10-31T22:30:00Z", "2026-10-31 10:00", "2026-10-31"])
    local, _ = parse_dates(values)  # no timezone key: the local date and time as written
    assert local.tolist() == [pd.Timestamp("2026-10-31 23:30"), pd.Timestamp("2026-10-31 22:30"),
                              pd.Timestamp("2026-10-31 10:00"), pd.Timestamp("2026-10-31")]
    paris, _ = parse_dates(values, timezone="Europe/Paris")  # UTC+1 after 2026-10-25
    assert paris.tolist() == [pd.Timestamp("2026-10-31 22:30"), pd.Timestamp("2026-10-31 23:30"),
                              pd.Timestamp("2026-10-31 10:00"), pd.Timestamp("2026-10-31")]


def test_timezone_key_applies_when_loading(tmp_path):
    d = _dataset(tmp_path / "tz", "timezone: Europe/Paris\n")
    (d / "orders.csv").write_text("customer_id,order_date,amount\nC1,2026-10-31T23:30:00Z,5\n", encoding="utf-8")
    assert load(d).orders["order_date"].iloc[0] == pd.Timestamp("2026-11-01 00:30")


# ---------------------------------------------------------------------- broken files: one line, exit 1
def test_truncated_gzip_names_the_file(tmp_path, capsys):
    d = _dataset(tmp_path / "gz")
    raw = gzip.compress(("customer_id,order_date,amount\n" + "C1,2026-01-10,1.0\n" * 20000).encode())
    (d / "orders.csv").unlink()
    (d / "orders.csv.gz").write_bytes(raw[: len(raw) // 2])
    _one_line_error(capsys, ["validate", str(d)], "orders.csv.gz", "truncated")


def test_huge_header_and_million_field_line_fail_fast(tmp_path, capsys):
    import resource
    import time

    d = _dataset(tmp_path / "big")
    with (d / "customers.csv").open("w", encoding="utf-8") as fh:  # 9.7 MB header line
        fh.write("x" * 9_700_000 + ",customer_id\nC1,1\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    _one_line_error(capsys, ["validate", str(d)], "customers.csv", "first line is longer")
    with (d / "customers.csv").open("w", encoding="utf-8") as fh:  # 11 MB single line, a million fields
        fh.write(",".join(["abcdefghij"] * 1_000_000))
    _one_line_error(capsys, ["validate", str(d)], "customers.csv")
    assert time.perf_counter() - start < 20
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, grown_mb  # only the first 256 KB is read


def test_many_columns_header_refused(tmp_path, capsys):
    d = _dataset(tmp_path / "wide")
    (d / "customers.csv").write_text(",".join(f"c{i}" for i in range(5000)) + "\n" + "1," * 4999 + "1\n",
                                     encoding="utf-8")
    _one_line_error(capsys, ["validate", str(d)], "customers.csv", "more than 2,000 columns")


def test_huge_field_is_not_echoed_whole(tmp_path, capsys):
    d = _dataset(tmp_path / "field")
    (d / "orders.csv").write_text(ORDERS + "C1," + "9" * 10_000_000 + ",5.0,O9\n", encoding="utf-8")
    assert main(["validate", str(d)]) == 0
    out = capsys.readouterr().out
    assert "unparseable_date:order_date" in out
    assert max(len(line) for line in out.splitlines()) < 400
    assert "(10,000,000 characters)" in out


def test_file_entry_directory_dangling_symlink_and_outside(tmp_path, capsys):
    d = _dataset(tmp_path / "dir", "tables:\n  nps:\n    file: sub\n")
    (d / "sub").mkdir()
    _one_line_error(capsys, ["validate", str(d)], "'sub'", "folder, not a file", "nps")

    d = _dataset(tmp_path / "link")
    os.symlink(d / "gone.csv", d / "nps.csv")
    _one_line_error(capsys, ["validate", str(d)], "nps.csv", "symbolic link", "does not exist")

    secret = tmp_path / "secret.csv"
    secret.write_text("root:x:0:0:SECRET-CONTENT\nline2\n", encoding="utf-8")
    d = _dataset(tmp_path / "out", "tables:\n  nps:\n    file: ../secret.csv\n")
    err = _one_line_error(capsys, ["validate", str(d)], "outside the dataset folder", "allow_external_files")
    assert "SECRET" not in err
    # allowed by the flag, the file is read, but its content is still never echoed
    (d / "dataset.yml").write_text("allow_external_files: true\ntables:\n  nps:\n    file: ../secret.csv\n",
                                   encoding="utf-8")
    err = _one_line_error(capsys, ["validate", str(d)], "secret.csv", "not echoed")
    assert "SECRET" not in err and "root:x" not in err


@pytest.mark.parametrize("yml, words", [
    ("thresholds: {churn_horizon_days: ninety}\n", ("thresholds.churn_horizon_days", "'ninety'")),
    ("observed_until: yesterday\n", ("observed_until", "'yesterday'")),
    ("timezone: Nowhere/City\n", ("timezone",)),
    ("personal_columns: {a: 1}\n", ("personal_columns",)),
    ("allow_external_files: maybe\n", ("allow_external_files",)),
    ("interaction_weights: {open: lots}\n", ("interaction_weights.open",)),
])
def test_bad_config_values_one_line(tmp_path, capsys, yml, words):
    _one_line_error(capsys, ["validate", str(_dataset(tmp_path / "cfg", yml))], *words)


def test_dataset_yml_a_directory(tmp_path, capsys):
    d = _dataset(tmp_path / "ymldir")
    (d / "dataset.yml").mkdir()
    _one_line_error(capsys, ["validate", str(d)], "dataset.yml", "not a file")


# ---------------------------------------------------------------------- bad options, checked before computing
@pytest.fixture
def tiny(tmp_path):
    return _dataset(tmp_path / "tiny")


@pytest.mark.parametrize("extra, words", [
    (["--as-of", "2026-02-30"], ("--as-of", "2026-02-30", "not a date")),
    (["--as-of", "2026-11-01", "--horizon", "0"], ("--horizon 0",)),
    (["--as-of", "2026-11-01", "--horizon", "-5"], ("--horizon -5",)),
    (["--as-of", "2026-11-01", "--capacity", "0"], ("--capacity 0",)),
    (["--as-of", "2026-11-01", "--lang", "de"], ("--lang",)),
])
def test_score_bad_options(tiny, tmp_path, capsys, extra, words):
    _one_line_error(capsys, ["score", str(tiny), *extra, "--out", str(tmp_path / "s.csv")], *words)


def test_score_out_checked_before_the_backtest(tiny, tmp_path, capsys, monkeypatch):
    import analysis.models.classifier as classifier

    def _never(*args, **kwargs):
        raise AssertionError("the backtest ran before the output was checked")

    monkeypatch.setattr(classifier, "score", _never)
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    base = ["score", str(tiny), "--as-of", "2026-11-01", "--out"]
    _one_line_error(capsys, [*base, str(tmp_path / "afile" / "s.csv")], "afile", "is a file")
    _one_line_error(capsys, [*base, str(tmp_path / "adir")], "is a folder")
    _one_line_error(capsys, [*base, "/proc/1/nope/s.csv"], "cannot be created")


def test_report_bad_out_and_dates(tiny, tmp_path, capsys):
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    base = ["report", str(tiny), "--as-of"]
    _one_line_error(capsys, [*base, "2026-02-30", "--out", str(tmp_path / "r")], "not a date")
    _one_line_error(capsys, [*base, "2026-06-01", "--out", str(tmp_path / "afile" / "r")], "is a file")
    _one_line_error(capsys, [*base, "2026-06-01", "--out", "/proc/1/nope/r"], "cannot be created")
    _one_line_error(capsys, ["validate", str(tiny), "--out", str(tmp_path / "afile")], "is a file")
    _one_line_error(capsys, ["sample", "--customers", "0", "--out", str(tmp_path / "s")], "--customers 0")
    _one_line_error(capsys, ["sample", "--end", "2026-13-01", "--out", str(tmp_path / "s")], "--end")


def test_unwritable_out_folder_even_for_root(tiny, capsys):
    # /sys refuses new files to everyone, root included: the check writes a probe file
    _one_line_error(capsys, ["report", str(tiny), "--as-of", "2026-06-01", "--out", "/sys"], "cannot be")


def test_unexpected_error_one_line_and_debug_traceback(tiny, tmp_path, capsys, monkeypatch):
    import analysis.data.dataset as dataset

    def _boom(*args, **kwargs):
        raise RuntimeError("unexpected\nmulti-line failure")

    monkeypatch.setattr(dataset, "load", _boom)
    _one_line_error(capsys, ["validate", str(tiny)], "RuntimeError", "--debug")
    with pytest.raises(RuntimeError):
        main(["--debug", "validate", str(tiny)])


def test_validate_quarantine_copy_neutralised(tmp_path, capsys):
    d = _dataset(tmp_path / "q")
    (d / "orders.csv").write_text(ORDERS + '"=HYPERLINK(""http://x.example/C1"",""C1"")",bad,5,O9\n', encoding="utf-8")
    assert main(["validate", str(d), "--out", str(tmp_path / "v")]) == 0
    lines = (tmp_path / "v" / "quarantine" / "orders.csv").read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith('"\'=HYPERLINK(')
    exact = pd.read_parquet(tmp_path / "v" / "quarantine" / "orders.parquet")
    assert exact["customer_id"].iloc[0] == '=HYPERLINK("http://x.example/C1","C1")'


# ---------------------------------------------------------------------- revenue of zero
def test_revenue_zero_after_a_normal_month_raises_an_alert():
    from analysis.reporting.narrative import alert_text

    cust = pd.DataFrame({"customer_id": ["C1", "C2"], "signup_date": ["2026-01-01", "2026-01-01"]})
    orders = pd.DataFrame({"customer_id": ["C1", "C2", "C1"], "order_date": ["2026-08-10", "2026-09-05", "2026-09-20"],
                           "amount": [50.0, 120.0, 80.0]})
    ds = from_frames(customers=cust, orders=orders)
    review = monthly_review(ds, "2026-11-01")  # report month October: no order
    assert review.kpis_month["revenue"] == 0 and review.kpis_prev_month["revenue"] == 200.0
    zero = [a for a in review.alerts if a["code"] == "revenue_zero"]
    assert zero == [{"kind": "alarm", "code": "revenue_zero", "kpi": "revenue", "value": 0.0, "threshold": 200.0}]
    assert review.decisions[0] == "check_revenue"
    text = alert_text(zero[0], "en", "EUR")
    assert "€0" in text and "€200" in text
    # September (200 after 50 in August) is normal: no alert
    assert not [a for a in monthly_review(ds, "2026-10-01").alerts if a["code"] == "revenue_zero"]


def test_revenue_zero_alert_reads_nothing_after_as_of():
    cust = pd.DataFrame({"customer_id": ["C1"], "signup_date": ["2026-01-01"]})
    base = pd.DataFrame({"customer_id": ["C1", "C1"], "order_date": ["2026-09-05", "2026-11-20"], "amount": [10.0, 99.0]})
    full = monthly_review(from_frames(customers=cust, orders=base), "2026-11-01").alerts
    cut = monthly_review(from_frames(customers=cust, orders=base.iloc[:1]), "2026-11-01").alerts
    assert [a["code"] for a in full] == [a["code"] for a in cut] == ["revenue_zero"]


def test_read_config_string_personal_columns_file(tmp_path):
    d = _dataset(tmp_path / "pc", "personal_columns: email\n")
    assert read_config(d).personal_columns == ("email",)


def test_figure_text_from_data_cannot_break_a_plot():
    import matplotlib

    matplotlib.use("Agg")
    from analysis.reporting.plots.cohorts import plot_survival

    curves = pd.DataFrame({"group": ["$\\frac$ <script>", "$\\frac$ <script>", "b", "b"], "months": [0, 3, 0, 3],
                           "survival": [1.0, 0.8, 1.0, 0.9], "lower": [1.0, 0.7, 1.0, 0.8],
                           "upper": [1.0, 0.9, 1.0, 1.0]})
    ax = plot_survival(curves, lang="en", title=escape("Survival by $\\frac$", "figure"))
    ax.figure.canvas.draw()  # unescaped, mathtext would raise on "$\frac$"
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["\\$\\frac\\$ <script>", "b"]


def test_pseudonym_key_read_only_when_needed(tmp_path, monkeypatch):
    monkeypatch.delenv("CHURN_RADAR_PSEUDONYM_KEY", raising=False)
    lazy = Pseudonymiser(lambda: pseudonym_key(tmp_path / "reports"))
    assert lazy.mapping(["C1", "C2"]) == {}
    assert not (tmp_path / "reports").exists()  # no personal-looking id: no key file
    alias = lazy.mapping(["x@y.fr"])["x@y.fr"]
    assert (tmp_path / "reports" / ".pseudonym-key").exists()
    assert alias == Pseudonymiser(pseudonym_key(tmp_path / "reports")).pseudonym("x@y.fr")


def test_output_file_names_built_from_data_stay_in_the_folder(tmp_path):
    from analysis.reporting.outputs import RunOutputs, safe_name

    out = RunOutputs("01_x", as_of="2026-11-01", output_dir=tmp_path / "run")
    out.table(pd.DataFrame({"a": [1]}), "by_../../evil<script>")
    assert [p.name for p in (tmp_path / "run" / "tables").glob("*.csv")] == ["01_x_by_.._.._evil_script.csv"]
    assert not list(tmp_path.glob("evil*")) and safe_name("sector") == "sector" and safe_name("../") == "unnamed"
