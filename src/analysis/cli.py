"""The ``churn-radar`` command line (also ``python -m analysis``), built on Typer.

Commands: ``validate``, ``sample``, ``score``, ``report``. Every user error
(:class:`~analysis.errors.ChurnRadarError`) prints a plain message and exits with code 1.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import typer

from .errors import ChurnRadarError

__all__ = ["app", "main"]

app = typer.Typer(
    name="churn-radar",
    help="Churn Radar: find customers going quiet before they are lost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Churn Radar: find customers going quiet before they are lost."""


def user_errors(func):
    """Turn a ChurnRadarError into its message on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ChurnRadarError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None

    return wrapper


@app.command()
@user_errors
def validate(
    data_dir: Path = typer.Argument(..., help="Dataset folder (CSV/Parquet tables and optional dataset.yml)."),
    out: Path | None = typer.Option(None, help="Write quarantined rows to OUT/quarantine/<table>.csv."),
) -> None:
    """Check a dataset: tables, rows, customers, date ranges, detected settings, quarantine."""
    from .dataset import load

    ds = load(data_dir, quarantine_dir=out)
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
