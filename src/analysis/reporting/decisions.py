"""The decision log: every monthly report appends the decisions it proposed and the KPIs then.

[002]: next month's report shows what changed after each decision. The log is a CSV in
the reports folder (``reports/decisions.csv``), **appended, never rewritten**: a row is
added per decision with the as-of date, its rank, the text shown (in the report's
language) and the month's KPIs as JSON (``01_base_health``'s ``kpis_month``). A re-run of
the same month (``--force``) does not duplicate a decision already logged for that month.

:func:`follow_up` reads the log and, for the decisions of the latest earlier month, puts
each KPI then beside its value now.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.reporting.outputs import to_jsonable

__all__ = ["DECISION_LOG", "LOG_COLUMNS", "append_decisions", "follow_up", "follow_up_view", "read_decisions"]

DECISION_LOG = "decisions.csv"
LOG_COLUMNS: tuple[str, ...] = ("as_of", "lang", "rank", "decision", "kpis")


def read_decisions(path: str | Path) -> pd.DataFrame:
    """The log as a frame (empty with :data:`LOG_COLUMNS` if the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(LOG_COLUMNS))
    return pd.read_csv(path, dtype={"as_of": "string", "lang": "string", "decision": "string", "kpis": "string"},
                       keep_default_na=False)


def append_decisions(path: str | Path, as_of: str, decisions: list[str], kpis: dict[str, Any] | None,
                     lang: str) -> int:
    """Append this month's decisions to the log; return how many rows were added.

    The file is opened in append mode only (the header is written when it is created);
    a decision already logged for ``as_of`` is not written again.
    """
    path = Path(path)
    logged = read_decisions(path)
    seen = set(zip(logged["as_of"].astype(str), logged["decision"].astype(str), strict=True))
    kpi_json = json.dumps(to_jsonable(kpis or {}), sort_keys=True, ensure_ascii=False)
    rows = [(as_of, lang, i, text, kpi_json) for i, text in enumerate(decisions, start=1)
            if (as_of, text) not in seen]
    if not rows:
        return 0
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(LOG_COLUMNS)
        writer.writerows(rows)
    return len(rows)


def follow_up(path: str | Path, as_of: str, kpis_now: dict[str, Any] | None) -> pd.DataFrame:
    """Decisions of the latest month before ``as_of`` with each KPI then and now.

    Returns one row per (decision, KPI): ``decided_on``, ``rank``, ``decision``, ``kpi``,
    ``then``, ``now``, ``change`` (now - then; NaN when either is missing).
    """
    log = read_decisions(path)
    cols = ["decided_on", "rank", "decision", "kpi", "then", "now", "change"]
    earlier = log.loc[log["as_of"].astype(str) < str(as_of)]
    if earlier.empty:
        return pd.DataFrame(columns=cols)
    last = earlier.loc[earlier["as_of"] == earlier["as_of"].max()]
    now = kpis_now or {}
    rows = []
    for rec in last.itertuples(index=False):  # a loop over at most three decisions
        then = json.loads(rec.kpis or "{}")
        for key in sorted(set(then) | set(now)):
            a, b = _number(then.get(key)), _number(now.get(key))
            rows.append({"decided_on": rec.as_of, "rank": int(rec.rank), "decision": rec.decision, "kpi": key,
                         "then": then.get(key), "now": now.get(key),
                         "change": (b - a) if a is not None and b is not None else float("nan")})
    return pd.DataFrame(rows, columns=cols)


def _number(v: Any) -> float | None:
    if isinstance(v, dict):  # {"value": x, "unit": ...}
        v = v.get("value")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def follow_up_view(path: str | Path, as_of: str, kpis_now: dict[str, Any] | None, lang: str,
                   currency: str = "EUR") -> dict[str, Any] | None:
    """Last month's decisions and each KPI then / now / change, formatted for the index page.

    Returns None when the log holds no earlier month; else ``decided_on`` (formatted date),
    ``decisions`` (texts as logged) and ``rows`` ([label, then, now, change] per KPI, in the
    summary's KPI order).
    """
    from analysis.reporting.i18n import fmt_date
    from analysis.reporting.summary import _change, fmt_kpi, kpi_label, kpi_sort_key

    f = follow_up(path, as_of, kpis_now)
    if f.empty:
        return None
    decisions = f.drop_duplicates("rank").sort_values("rank")["decision"].tolist()
    kpis = f.drop_duplicates("kpi")
    rows = [[kpi_label(r.kpi, lang), fmt_kpi(r.kpi, r.then, lang, currency), fmt_kpi(r.kpi, r.now, lang, currency),
             _change(r.kpi, r.now, r.then, lang)]
            for r in sorted(kpis.itertuples(index=False), key=lambda r: kpi_sort_key(r.kpi))]
    return {"decided_on": fmt_date(f["decided_on"].iloc[0], lang), "decisions": decisions, "rows": rows}
