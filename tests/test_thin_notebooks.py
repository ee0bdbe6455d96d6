"""Report notebooks stay thin: each code cell loads, calls the package, shows or saves.

Pivots, filters, groupings and fallbacks belong in the package (where they are tested);
this reads the committed notebooks' code cells and fails on the pandas operations that
would mean logic crept back into a notebook.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from analysis.paths import NOTEBOOKS_DIR

#: The notebooks made thin so far (issue 10); add one when it is.
THIN = ("01_base_health", "03_cohort_decay", "05_reactivation")
#: Data wrangling that has no place in a report notebook.
FORBIDDEN = re.compile(r"\.(pivot|pivot_table|groupby|merge|melt|assign|query|loc|iloc|apply|fillna|dropna)\b"
                       r"|^\s*(def|class|lambda)\b|\blambda\b", re.M)


def _code(name: str) -> list[str]:
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("name", THIN)
def test_notebook_code_cells_only_load_call_show_or_save(name):
    bad = [(i, m.group(0)) for i, src in enumerate(_code(name)) for m in FORBIDDEN.finditer(src)]
    assert bad == [], f"{name}: move this logic into the package: {bad}"


def test_the_check_catches_wrangling():
    assert FORBIDDEN.search('at_risk.pivot(index="group", columns="months")')
    assert FORBIDDEN.search('life.loc[~life["left_truncated"]]')
    assert not FORBIDDEN.search('decay = co.cohort_decay(ds, as_of, cohort_period)')
