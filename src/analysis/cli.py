"""The ``churn-radar`` command line (also ``python -m analysis``), built on Typer.

Commands: ``validate``, ``sample``, ``score``, ``report``, ``audit``, ``campaigns``, ``plan-campaign``. Every user error
(:class:`~analysis.errors.ChurnRadarError`) prints a plain message and exits with code 1.
Option values (dates, horizon, output paths) are checked before any computation. Any other
failure also prints one line and exits with code 1; ``churn-radar --debug COMMAND ...`` (or
``CHURN_RADAR_DEBUG=1``) shows the Python traceback instead.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import re
import sys
from pathlib import Path

import click
import typer

from analysis.errors import ChurnRadarError, ConfigError

__all__ = ["app", "main"]

app = typer.Typer(
    name="churn-radar",
    help="Churn Radar: find customers going quiet before they are lost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_STATE = {"debug": False}
#: Characters of an unexpected error's message shown on its one line.
_ERROR_CHARS = 300


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show the Python traceback of an error.")) -> None:
    """Churn Radar: find customers going quiet before they are lost."""
    _STATE["debug"] = debug or os.environ.get("CHURN_RADAR_DEBUG", "") not in ("", "0")


def _one_line(text: str, limit: int = _ERROR_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def user_errors(func):
    """Turn any error into one line on stderr and exit code 1 (a traceback with ``--debug``)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except ChurnRadarError as exc:
            if _STATE["debug"]:
                raise
            typer.echo(f"error: {_one_line(exc, 2000)}", err=True)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            typer.echo("error: interrupted.", err=True)
            raise typer.Exit(code=1) from None
        except Exception as exc:  # noqa: BLE001 - one line for the user, the traceback with --debug
            if _STATE["debug"]:
                raise
            typer.echo(f"error: {type(exc).__name__}: {_one_line(exc)} (run with --debug for the traceback)",
                       err=True)
            raise typer.Exit(code=1) from None

    return wrapper


def _date_option(value: str, option: str) -> str:
    """A real calendar date written YYYY-MM-DD (``2026-02-30`` is refused), as text."""
    text = str(value).strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return _dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ConfigError(f"{option} '{_one_line(text, 40)}' is not a date; expected a real date "
                          "written YYYY-MM-DD, e.g. 2026-11-01.") from None


def _positive(value: int | None, option: str, unit: str) -> None:
    if value is not None and value <= 0:
        raise ConfigError(f"{option} {value}: expected a number of {unit} above 0.")


def _choice(value: str, option: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{option} '{_one_line(value, 40)}': expected one of {', '.join(choices)}.")


def _check_output_file(out: Path, option: str = "--out") -> None:
    """``out`` can be written as a file: not a folder, and its folder exists or can be created."""
    from analysis.reporting.runner import check_output_dir

    if out.is_dir():
        raise ConfigError(f"{option} {out}: is a folder; expected a file name such as scores.csv.")
    if out.exists() and not os.access(out, os.W_OK):
        raise ConfigError(f"{option} {out}: the file exists and is read-only.")
    check_output_dir(out.parent if str(out.parent) else Path("."), option=option, shown=out)


@app.command()
@user_errors
def validate(
    data_dir: Path = typer.Argument(..., help="Dataset folder (CSV/Parquet tables and optional dataset.yml)."),
    out: Path | None = typer.Option(None, help="Write quarantined rows to OUT/quarantine/<table>.csv."),
) -> None:
    """Check a dataset: tables, rows, customers, date ranges, detected settings, quarantine."""
    from analysis.data.dataset import load
    from analysis.reporting.runner import check_output_dir
    from analysis.reporting.safety import write_quarantine_copies

    if out is not None:
        check_output_dir(out)
    ds = load(data_dir)
    if out is not None:  # the analyst's own copy: values kept, spreadsheet formulas neutralised
        write_quarantine_copies(ds.report.quarantine, out, mask=False)
    cfg = ds.config
    typer.echo(f"dataset      {data_dir} ({cfg.business_model}, {cfg.currency}, "
               f"config: {cfg.source or 'none, defaults and detection'})")
    typer.echo(f"customers    {len(ds.customers):,}")
    typer.echo(f"covers       {ds.observed_from.date() if ds.observed_from is not None else '-'} "
               f"to {ds.observed_until.date() if ds.observed_until is not None else '-'}")
    typer.echo(ds.report.to_text())
    q = ds.report.rows_quarantined
    if q:
        where = f" written to {out / 'quarantine'}" if out else " (use --out DIR to write them)"
        typer.echo(f"{q:,} row(s) quarantined{where}.")
    typer.echo("usable: yes")


@app.command()
@user_errors
def report(
    data_dir: Path = typer.Argument(..., help="Dataset folder (CSV/Parquet tables and optional dataset.yml)."),
    as_of: str = typer.Option(..., "--as-of", help="Analysis date, YYYY-MM-DD; nothing after it is read."),
    out: Path = typer.Option(Path("reports"), "--out", help="Reports folder; the run goes to OUT/<as-of>/."),
    lang: str = typer.Option("fr", "--lang", help="Language of the exports: fr or en."),
    only: str | None = typer.Option(None, "--only", help="Notebooks to run, e.g. '01,04' or '01_base_health'."),
    param: list[str] | None = typer.Option(None, "-p", "--param",
                                           help="Extra notebook parameter name=value (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Re-run a month: the old folder is kept as <as-of>.previous-<n>."),
    notebooks: Path | None = typer.Option(None, "--notebooks", help="Notebooks folder (default: the project's notebooks/)."),
    kernel: str | None = typer.Option(None, "--kernel", help="Jupyter kernel (default: churn-radar if installed, else python3)."),
    allow_empty_month: bool = typer.Option(False, "--allow-empty-month",
                                           help="Run even if the report month starts after the end of the data "
                                                "(the report then says the month has no data)."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print index.html and each client page to pdf/*.pdf "
                             "(headless Chromium: apt-get install chromium)."),
    check: bool = typer.Option(False, "--check", help="Open every page in headless Chromium: images load, "
                               "no console error, language; screenshots into screenshots/."),
) -> None:
    """Run the report notebooks headless into OUT/<as-of>/: executed notebooks, HTML without
    code, index.html with the executive summary, summary.json, manifest.json, validation,
    call_list.xlsx beside scores.csv, and with --pdf the pages as PDF."""
    from analysis.paths import NOTEBOOKS_DIR
    from analysis.reporting.runner import check_output_dir, parse_parameters, run_report

    as_of = _date_option(as_of, "--as-of")
    _choice(lang, "--lang", ("fr", "en"))
    check_output_dir(out)
    result = run_report(data_dir, as_of, out, lang=lang, only=only, parameters=parse_parameters(param),
                        force=force, notebooks_dir=notebooks or NOTEBOOKS_DIR, kernel_name=kernel,
                        allow_empty_month=allow_empty_month, pdf=pdf, browser_check=check)
    if not result.ok:
        raise typer.Exit(code=1)


@app.command()
@user_errors
def sample(
    customers: int = typer.Option(3000, help="Number of customers."),
    seed: int = typer.Option(42, help="Random seed: the same seed gives byte-identical files."),
    business: str = typer.Option("contractual", help="contractual (French B2B, churn_date) or non_contractual (e-shop)."),
    months: int = typer.Option(24, help="Months of history, ending on --end."),
    end: str = typer.Option("2026-10-31", help="Last observed day, YYYY-MM-DD."),
    messy: bool = typer.Option(True, "--messy/--clean", help="Inject the documented export defects (duplicates, refunds, unknown events, out-of-range NPS)."),
    fmt: str = typer.Option("csv", "--format", help="csv (customers.csv + <table>.csv.gz) or parquet (large bases)."),
    out: Path = typer.Option("data/sample", help="Output folder."),
) -> None:
    """Generate a realistic synthetic base with every table (model in analysis/data/sample.py)."""
    import time

    from analysis.data.sample import write_sample

    _positive(customers, "--customers", "customers")
    _positive(months, "--months", "months")
    end = _date_option(end, "--end")
    from analysis.reporting.runner import check_output_dir

    check_output_dir(out)
    started = time.perf_counter()
    paths = write_sample(out, customers, seed=seed, business=business, months=months, end=end,
                         messy=messy, fmt=fmt)
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in paths.values())
    typer.echo(f"wrote {customers:,} {business} customers, {months} months to {end}, into {out} "
               f"({size / 1e6:.1f} MB, {elapsed:.1f} s)")


@app.command()
@user_errors
def score(
    data_dir: Path = typer.Argument(..., help="Dataset folder (CSV/Parquet tables and optional dataset.yml)."),
    as_of: str = typer.Option(..., "--as-of", help="Scoring date, YYYY-MM-DD; nothing on or after it is read."),
    horizon: int | None = typer.Option(None, "--horizon", help="Days within which a loss is predicted "
                                       "(default: thresholds.churn_horizon_days of dataset.yml, else 90)."),
    out: Path = typer.Option(..., "--out", help="CSV file written with one row per known customer."),
    capacity: int | None = typer.Option(None, help="Customers the team can contact per month (size of the "
                                        "call list; default: capacity of dataset.yml, else 150)."),
    lang: str = typer.Option("", help="Language of the reasons, fr or en (default: the dataset's)."),
    random_state: int = typer.Option(0, "--random-state", help="Seed of the models and of the hold-out."),
    evaluate: bool = typer.Option(False, "--evaluate", help="Also measure the scores against what happened "
                                  "in the horizon after --as-of (needs an export that goes that far)."),
    engine: str = typer.Option("", "--engine", help="local (default: engine.kind of dataset.yml, else local): "
                               "customers processed in buckets on this machine."),
    buckets: int | None = typer.Option(None, "--buckets", help="Buckets of customers (default: engine.buckets of "
                                       "dataset.yml, else one per engine.rows_per_bucket event rows, 1,000,000 by "
                                       "default). One bucket: the whole base in memory, as before."),
    training_cap: int | None = typer.Option(None, "--training-cap", help="Labelled snapshot rows the models are "
                                            "trained and tested on with buckets (a stratified sample; default: "
                                            "engine.training_cap of dataset.yml, else 300,000)."),
    workers: int | None = typer.Option(None, "--workers", help="Processes working on buckets at once (default: "
                                       "engine.workers of dataset.yml, else 2 when the machine has 2 cores or "
                                       "more and there are 4 buckets or more)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress lines on stderr."),
    spark_conf: list[str] | None = typer.Option(None, "--spark-conf", help="With --engine spark: a Spark setting "
                                                "key=value (repeatable), e.g. spark.master=local[4]; on top of "
                                                "engine.spark of dataset.yml."),
    scores_dir: str | None = typer.Option(None, "--scores-dir", help="With --engine spark: folder or URI where "
                                          "Spark writes every score as Parquet (default: OUT's name + "
                                          "'-all-scores'); OUT then holds the call list."),
) -> None:
    """Churn probability, status, priority and reasons for every known customer, after a backtest.

    With ``--engine spark`` (or ``engine: {kind: spark}`` in dataset.yml) the same work runs on
    Spark: every score is written as Parquet (``--scores-dir``) and OUT holds the call list."""
    from analysis.data.dataset import load
    from analysis.models.classifier import forward_evaluation
    from analysis.models.classifier import score as score_customers
    from analysis.reporting import check_lang
    from analysis.reporting.risk_text import scores_table
    from analysis.reporting.safety import write_people_csv

    as_of = _date_option(as_of, "--as-of")
    _positive(horizon, "--horizon", "days")
    _positive(capacity, "--capacity", "customers")
    if lang:
        _choice(lang, "--lang", ("fr", "en"))
    _check_output_file(out)  # before the backtest, not after it
    if _engine_kind(data_dir, engine) == "spark":
        _score_on_spark(data_dir, as_of, horizon, capacity, random_state, lang, out, buckets=buckets,
                        training_cap=training_cap, spark_conf=spark_conf, scores_dir=scores_dir, quiet=quiet,
                        evaluate=evaluate)
        return
    _positive(buckets, "--buckets", "buckets")
    _positive(training_cap, "--training-cap", "rows")
    n_buckets, cap = _score_engine(data_dir, engine, buckets, training_cap)
    pds = None
    if n_buckets == 1:  # the whole base in memory, exactly as before
        ds = load(data_dir)
        lang = check_lang(lang or ds.config.language)
        result = score_customers(ds, as_of, horizon, capacity=capacity, random_state=random_state)
        write_people_csv(scores_table(result, lang), out)  # formulas neutralised; exact values in <out>.parquet
    else:
        import time

        from analysis.data.partitions import load_partitioned
        from analysis.models.partitioned import score_partitioned

        t0 = time.perf_counter()
        say = (lambda line: None) if quiet else (
            lambda line: typer.echo(f"[{time.perf_counter() - t0:7.1f} s] {line}", err=True))
        _positive(workers, "--workers", "processes")
        procs = workers or pds_workers(data_dir, n_buckets)
        pds = load_partitioned(data_dir, n_buckets, progress=say, workers=procs)
        lang = check_lang(lang or pds.config.language)
        result = score_partitioned(pds, as_of, horizon, capacity, random_state, training_cap=cap, progress=say,
                                   every=max(1, n_buckets // 10), workers=procs)
        from analysis.reporting.workbook import write_scores

        write_scores(result, lang, out)  # chunk by chunk beyond 200,000 rows
        ds = pds
    bt = result.backtest
    split = bt.split
    typer.echo(f"backtest     train snapshots {', '.join(d.date().isoformat() for d in split.train)}")
    typer.echo(f"             test snapshots  {', '.join(d.date().isoformat() for d in split.test)}"
               + ("  (customers held out: history too short for a full gap)" if split.holdout else ""))
    metrics = bt.metrics[["auc", "average_precision", "lift_top_decile", "brier", "recall_at_capacity", "n"]]
    typer.echo(metrics.round(4).to_string())
    typer.echo(f"best model   {bt.best_model}")
    typer.echo(_auc_line("backtest AUC", bt.population_metrics, bt.best_model))
    for f in result.bgnbd_fits:
        if f["status"] != "ok":
            typer.echo(f"BG/NBD       {f['as_of']}: {f['status']} ({f['reason']}"
                       + (f", penalizer {f['penalizer']}" if f["penalizer"] is not None else "")
                       + (")" if f["status"] == "penalized" else "); its features and baseline left out that date"))
    status = result.scores["status"].value_counts()
    typer.echo(f"scored       {len(result.scores):,} of {result.n_known:,} known customers on {result.as_of.date()} "
               f"(horizon {result.horizon_days} days, capacity {result.capacity}, value: {result.value_basis}); "
               + ", ".join(f"{k} {int(status.get(k, 0)):,}" for k in ("active", "watch", "inactive", "lapsed")))
    typer.echo(f"priority 1   {int(result.scores['priority'].eq('P1').sum()):,}")
    if result.training_rows is not None:
        typer.echo(f"engine       local, {n_buckets} buckets; models trained and tested on {result.training_rows:,} "
                   f"of {result.labelled_rows:,} labelled snapshot rows (cap {result.training_cap})")
    if evaluate:
        if pds is not None:
            from analysis.models.partitioned import (
                forward_evaluation_partitioned as forward_evaluation,
            )
        fwd = forward_evaluation(ds, result)
        if fwd is None:
            typer.echo(f"forward      not measured: the export ends before {result.as_of.date()} + "
                       f"{result.horizon_days} days")
        else:
            typer.echo(_auc_line("forward AUC", fwd, "model"))
    typer.echo(f"written      {out}")


def _score_engine(data_dir: Path, engine: str, buckets: int | None, training_cap: int | None) -> tuple[int, int | None]:
    """Number of buckets and training cap of a ``score`` run (options, then dataset.yml, then
    the base's size: one bucket per ``rows_per_bucket`` event rows)."""
    from analysis.data.config import read_config
    from analysis.data.partitions import choose_buckets, estimate_rows

    if not Path(data_dir).is_dir():
        return 1, None  # load() words the error
    cfg = read_config(data_dir)
    kind = engine or cfg.engine.kind
    _choice(kind, "--engine", ("local",))
    n = buckets or cfg.engine.buckets or choose_buckets(estimate_rows(data_dir, cfg), cfg.engine.rows_per_bucket)
    cap = training_cap if training_cap is not None else cfg.engine.training_cap
    return int(n), cap


def _engine_kind(data_dir: Path, engine: str) -> str:
    """``--engine``, else ``engine.kind`` of dataset.yml, else ``local``."""
    from analysis.data.config import read_config

    if engine:
        _choice(engine, "--engine", ("local", "spark"))
        return engine
    return read_config(data_dir).engine.kind if Path(data_dir).is_dir() else "local"


def _score_on_spark(data_dir: Path, as_of: str, horizon: int | None, capacity: int | None, random_state: int,
                    lang: str, out: Path, *, buckets: int | None, training_cap: int | None,
                    spark_conf: list[str] | None, scores_dir: str | None, quiet: bool, evaluate: bool) -> None:
    """``churn-radar score --engine spark``: the Spark engine (:mod:`analysis.models.spark_engine`)
    on the bucketed validated copy; every score as Parquet in ``scores_dir``, the call list in ``out``."""
    from analysis.data.config import read_config
    from analysis.data.partitions import choose_buckets, estimate_rows, load_partitioned
    from analysis.data.spark import (
        parse_spark_conf,
        parse_spark_settings,
        require_spark,
        spark_session,
    )
    from analysis.models.spark_engine import score_spark, spark_source
    from analysis.reporting import check_lang
    from analysis.reporting.risk_text import scores_table
    from analysis.reporting.safety import write_people_csv

    conf = parse_spark_conf(spark_conf)
    require_spark()  # before validating: one line naming what to install
    say = (lambda line: None) if quiet else (lambda line: typer.echo(line, err=True))
    cfg = read_config(data_dir)
    settings = parse_spark_settings(cfg.engine.spark).merged(conf)
    n = buckets or cfg.engine.buckets or choose_buckets(estimate_rows(data_dir, cfg), cfg.engine.rows_per_bucket)
    cap = training_cap if training_cap is not None else cfg.engine.training_cap
    pds = load_partitioned(data_dir, int(n), progress=say)
    lang = check_lang(lang or pds.config.language)
    target = scores_dir or str(out.with_name(out.stem + "-all-scores"))
    with spark_session(settings) as spark:
        say(f"spark        {spark.sparkContext.master}, Spark {spark.version}, "
            f"{spark.conf.get('spark.sql.shuffle.partitions')} shuffle partitions")
        source = spark_source(spark, pds, settings)
        run = score_spark(spark, source, as_of, horizon, capacity, random_state, scores_path=target,
                          training_cap=cap, progress=say, evaluate=evaluate)
        source.release()
    result = run.call
    write_people_csv(scores_table(result, lang), out)  # formulas neutralised; exact values in <out>.parquet
    bt = result.backtest
    typer.echo(f"backtest     train snapshots {', '.join(d.date().isoformat() for d in bt.split.train)}")
    typer.echo(f"             test snapshots  {', '.join(d.date().isoformat() for d in bt.split.test)}"
               + ("  (customers held out: history too short for a full gap)" if bt.split.holdout else ""))
    metrics = bt.metrics[["auc", "average_precision", "lift_top_decile", "brier", "recall_at_capacity", "n"]]
    typer.echo(metrics.round(4).to_string())
    typer.echo(f"best model   {bt.best_model}")
    typer.echo(_auc_line("backtest AUC", bt.population_metrics, bt.best_model))
    typer.echo(f"scored       {run.n_scored:,} of {result.n_known:,} known customers on {result.as_of.date()} "
               f"(horizon {result.horizon_days} days, capacity {result.capacity}, value: {result.value_basis})")
    typer.echo(f"engine       spark, {run.n_buckets} buckets; models trained and tested on "
               f"{run.fitted.n_training_rows:,} of {run.fitted.n_labelled_rows:,} labelled snapshot rows (cap {cap})")
    if evaluate:  # every score against the horizon after as_of, the labels computed in Spark
        if run.forward is None:
            typer.echo(f"forward      not measured: the export ends before {result.as_of.date()} + "
                       f"{result.horizon_days} days")
        else:
            typer.echo(_auc_line("forward AUC", run.forward, "model"))
    typer.echo(f"written      {out} (call list, {len(result.scores):,} customers) and {target} (every score, Parquet)")


def pds_workers(data_dir: Path, n_buckets: int) -> int:
    """Worker processes of a partitioned run: ``engine.workers`` of dataset.yml, else 2 on a
    machine with 2 cores or more when there are 4 buckets or more, else 1."""
    from analysis.data.config import read_config

    configured = read_config(data_dir).engine.workers
    if configured:
        return int(configured)
    return 2 if (os.cpu_count() or 1) >= 2 and n_buckets >= 4 else 1


@app.command()
@user_errors
def campaigns(
    data_dir: Path = typer.Argument(..., help="Dataset folder with an interventions table."),
    as_of: str = typer.Option(..., "--as-of", help="Analysis date, YYYY-MM-DD; nothing on or after it is read."),
    out: Path = typer.Option(..., "--out", help="CSV file: one row per campaign, variant and outcome."),
) -> None:
    """Effect of each re-activation campaign against its control group: lifts with 95 % intervals, ROI."""
    from analysis.data.dataset import load
    from analysis.metrics.campaigns import analyse_campaigns

    ds = load(data_dir)
    result = analyse_campaigns(ds, as_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.effects.to_csv(out, index=False)
    e = result.effects
    for (cid, variant), g in e.groupby(["campaign_id", "variant"], sort=False):
        row = g.set_index("outcome")
        first = row.iloc[0]
        line = f"{cid:<14} {variant:<5} {first['status']:<12} treated {int(first['n_treatment']):>5}, control {int(first['n_control']):>5}"
        if "purchase" in row.index and first["status"] in ("ok", "too_small"):
            p = row.loc["purchase"]
            line += (f"; purchase {p['treatment_value']:.1%} vs {p['control_value']:.1%}, lift "
                     f"{100 * p['abs_lift']:+.1f} pts [{100 * p['abs_lift_low']:+.1f}, {100 * p['abs_lift_high']:+.1f}]"
                     + (" significant" if p["significant"] else " not significant")
                     + (f" (Holm p {p['p_holm']:.3f})" if pd_notna(p.get("p_holm")) else ""))
        if "revenue" in row.index and pd_notna(row.loc["revenue", "roi"]):
            r = row.loc["revenue"]
            line += f"; ROI {r['roi']:.2f} [{r['roi_low']:.2f}, {r['roi_high']:.2f}]"
        typer.echo(line)
    typer.echo(f"written      {out} ({len(e):,} rows)")


@app.command("plan-campaign")
@user_errors
def plan_campaign(
    data_dir: Path = typer.Argument(..., help="Dataset folder (CSV/Parquet tables and optional dataset.yml)."),
    as_of: str = typer.Option(..., "--as-of", help="Planning date, YYYY-MM-DD; nothing on or after it is read."),
    target: str = typer.Option("lapsed", "--target", help="Who to target: a status (all, active, watch, wake_up, "
                               "inactive, dormant, lapsed, lapsed_buyers) or a segment column=value."),
    holdout: float = typer.Option(0.1, "--holdout", help="Share of the target kept as a control group (not contacted)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random control group."),
    out: Path = typer.Option(..., "--out", help="CSV file: customer_id, value_tier, group."),
) -> None:
    """Select a campaign's target, draw a control group stratified by value tier, print the MDE."""
    from analysis.data.dataset import load
    from analysis.metrics.targeting import plan_campaign as plan

    ds = load(data_dir)
    result = plan(ds, as_of, target=target, holdout=holdout, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.assignments.to_csv(out, index=False)
    typer.echo(f"target       {target}: {len(result.assignments):,} customers on {result.as_of.date()} "
               f"(excluded as unsubscribed: {result.excluded_unsubscribed:,})")
    typer.echo(f"groups       treatment {result.n_treatment:,}, control {result.n_control:,} "
               f"(holdout {holdout:.0%}, seed {seed}, stratified by value tier)")
    for label, base, mde in (("reactivation", result.baseline, result.mde),
                             ("purchase", result.baseline_purchase, result.mde_purchase)):
        if base is None:
            typer.echo(f"MDE          {label}: no baseline (no such customers {result.baseline_days} days earlier)")
        elif mde is None:
            typer.echo(f"MDE          {label}: not detectable with these group sizes (baseline {base:.1%})")
        else:
            typer.echo(f"MDE          {label}: +{100 * mde:.1f} points (80 % power, 5 % level, baseline "
                       f"{base:.1%} over the last {result.baseline_days} days), next to the seeds' "
                       "'a good campaign recovers up to 20 %'")
    typer.echo(f"written      {out}")


def pd_notna(value) -> bool:
    """True for a real number (not None / NaN)."""
    import pandas as pd

    return bool(pd.notna(value))


@app.command()
@user_errors
def audit(
    data_dir: Path = typer.Argument(..., help="Dataset folder (CSV/Parquet tables and optional dataset.yml)."),
    as_of: str = typer.Option(..., "--as-of", help="Audit date, YYYY-MM-DD; nothing on or after it is read."),
    n_lost: int = typer.Option(100, "--n-lost", help="The last N lost clients are audited."),
    lookback_weeks: int = typer.Option(26, "--lookback-weeks", help="Weeks replayed before each departure."),
    min_lead_weeks: int = typer.Option(4, "--min-lead-weeks", help="Lead (weeks) a signal needs to be usable."),
    anchor: str = typer.Option("churn", help="Replay before the churn date (churn) or the last interaction."),
    tune: bool = typer.Option(False, "--tune", help="Tune each indicator's threshold (needs --out FILE.yml)."),
    out: Path | None = typer.Option(None, "--out", help="With --tune: the suggested thresholds block (YAML); "
                                    "the grid of every candidate is written beside it as <name>_grid.csv."),
    objective: str = typer.Option("precision", help="precision (at a minimum median lead and recall floor) "
                                  "or recall (at a false-alarm budget)."),
    min_median_lead: float = typer.Option(4, "--min-median-lead", help="Median lead a threshold needs (weeks)."),
    recall_floor: float = typer.Option(0.20, "--recall-floor", help="Minimum recall (objective precision)."),
    far_budget: float = typer.Option(0.20, "--far-budget", help="Maximum false-alarm rate (objective recall)."),
    min_segment_lost: int = typer.Option(30, "--min-segment-lost",
                                         help="Lost clients a segment needs in each period for its own thresholds."),
    switch_off: bool = typer.Option(False, "--switch-off", help="Write uninformative indicators under disabled."),
    lang: str = typer.Option("", help="Language of the comments, fr or en (default: the dataset's)."),
    random_state: int = typer.Option(0, "--random-state", help="Seed of the matching and of the bootstrap."),
) -> None:
    """Retro-audit of the lost clients; with --tune, the thresholds to use on this base."""
    import time

    import pandas as pd

    from analysis.data.dataset import load
    from analysis.errors import ConfigError
    from analysis.models.audit import RetroAudit
    from analysis.models.tuning import BASE, ThresholdTuner
    from analysis.reporting import check_lang
    from analysis.reporting.tuning import thresholds_yaml

    if tune and out is None:
        raise ConfigError("audit --tune needs --out FILE.yml (where the suggested thresholds are written).")
    ds = load(data_dir)
    lang = check_lang(lang or ds.config.language)
    started = time.perf_counter()
    fitted = RetroAudit(n_lost=n_lost, lookback_weeks=lookback_weeks, min_lead_weeks=min_lead_weeks, anchor=anchor,
                        random_state=random_state).fit(ds, as_of)
    audit_s = time.perf_counter() - started
    cols = ["indicator", "recall", "false_alarm_rate", "precision", "lift", "median_lead_weeks"]
    typer.echo(f"audit        {len(fitted.lost_)} lost clients, {len(fitted.controls_)} matched retained windows, "
               f"as of {fitted.as_of_.date()} ({audit_s:.1f} s)")
    typer.echo(fitted.per_indicator_.loc[fitted.per_indicator_["available"], cols].round(3).to_string(index=False))
    if not tune:
        return
    started = time.perf_counter()
    tuner = ThresholdTuner(objective=objective, min_median_lead_weeks=min_median_lead, recall_floor=recall_floor,
                           far_budget=far_budget, min_segment_lost=min_segment_lost,
                           random_state=random_state).fit(fitted, ds)
    tune_s = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(thresholds_yaml(tuner, lang=lang, switch_off=switch_off), encoding="utf-8")
    grid_path = out.with_name(out.stem + "_grid.csv")
    tuner.grid_.to_csv(grid_path, index=False)
    r = tuner.recommendations_
    show = r.loc[r["status"].ne("not_available")]
    table = pd.DataFrame({
        "scope": show["scope"], "indicator": show["indicator"], "status": show["status"],
        "informative": show["informative"],
        **{f"{m}_{w}": show[f"eval_{c}_{w}"] for m, c in (("prec", "precision"), ("recall", "recall"),
                                                        ("lead", "median_lead_weeks"), ("lift", "lift"),
                                                        ("lift_lo", "lift_low"))
           for w in ("default", "tuned")},
        "gain": show["gain"], "gain_lo": show["gain_low"], "gain_hi": show["gain_high"],
    })
    base = r.loc[r["scope"].eq(BASE)].iloc[0]
    typer.echo(f"tuning       {len(tuner.candidates_)} candidates; tune on {int(base['n_lost_tune'])} departures "
               f"up to {tuner.split_date_.date()}, evaluate on the {int(base['n_lost_eval'])} later ones "
               f"({tune_s:.2f} s)")
    typer.echo("later period, default vs tuned:")
    typer.echo(table.round(3).to_string(index=False))
    typer.echo(f"watch        {', '.join(tuner.watch()) or '-'}")
    typer.echo(f"uninformative {', '.join(tuner.uninformative()) or '-'}")
    typer.echo(f"written      {out} and {grid_path}")


def _auc_line(title: str, metrics, model: str) -> str:
    """``title  all: model 0.74 bgnbd 0.73 recency 0.71 (n) | active90: ...`` on one line."""
    parts = []
    for pop in ("all", "active90"):
        if metrics is None or pop not in metrics.index.get_level_values(0):
            continue
        m = metrics.loc[pop]
        cells = [f"{name} {m.loc[k, 'auc']:.3f}" for k, name in ((model, "model"), ("bgnbd", "bgnbd"),
                                                                  ("recency", "recency")) if k in m.index]
        parts.append(f"{pop}: " + " ".join(cells) + f" (n {int(m['n'].max()):,})")
    return f"{title:<12} " + " | ".join(parts)


# Further commands are registered below (sample, score, report).


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
