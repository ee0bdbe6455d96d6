"""The package's four layers, checked on the imports themselves.

``data < metrics < models < reporting < cli``: a module imports only from its own layer or a
lower one, and only ``reporting/`` knows about languages (imports ``analysis.reporting.i18n``).
Every import is read with :mod:`ast`, including those inside functions (a deferred import
is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "analysis"

#: Layer rank of each top-level part of the package; modules beside the layers (errors,
#: paths, the package ``__init__``) are shared foundations usable from every layer.
LAYERS: dict[str, int] = {"data": 0, "metrics": 1, "models": 2, "reporting": 3, "cli": 4, "__main__": 4}
FOUNDATIONS: frozenset[str] = frozenset({"errors", "paths", "__init__"})

#: Modules still importing i18n outside reporting/, each with the issue that removes it.
#: Empty when every layer is clean; the integrator deletes entries as their owners land.
I18N_EXCEPTIONS: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _dotted(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, package: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, at any depth.

    ``from a.b import c`` gives both ``a.b`` and ``a.b.c`` (``c`` may be a submodule);
    relative imports are resolved against ``package`` (default: the file's own package).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if package is None:
        package = _dotted(path) if path.name == "__init__.py" else _dotted(path).rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            # ``from analysis.reporting import i18n`` imports the submodule i18n
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


def _layer(dotted: str) -> str | None:
    """``analysis.metrics.kpis`` -> ``metrics``; None outside the package."""
    parts = dotted.split(".")
    if parts[0] != "analysis":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _rank(layer: str) -> int | None:
    return None if layer in FOUNDATIONS else LAYERS.get(layer)


def upward_imports() -> list[str]:
    """Every import from a lower layer to a higher one, as ``file:line module -> target``."""
    bad = []
    for path in _modules():
        own = _layer(_dotted(path))
        own_rank = _rank(own) if own else None
        for line, target in _imports(path):
            layer = _layer(target)
            if layer is None:
                continue
            rank = _rank(layer)
            if own_rank is None:  # a foundation module may import no layer at all
                if rank is not None and own not in ("__init__",):
                    bad.append(f"{path.relative_to(PACKAGE)}:{line} {own} -> {target}")
                continue
            rel = str(path.relative_to(PACKAGE))
            if rel in I18N_EXCEPTIONS and target.startswith("analysis.reporting.i18n"):
                continue  # listed once, in I18N_EXCEPTIONS
            if rank is not None and rank > own_rank:
                bad.append(f"{rel}:{line} {own} -> {'.'.join(target.split('.')[:3])}")
    return sorted(set(bad))


def i18n_outside_reporting() -> list[str]:
    """Every import of ``analysis.reporting.i18n`` from a module outside ``reporting/`` (the command
    line included: it checks languages through ``analysis.reporting.check_lang``)."""
    bad = []
    for path in _modules():
        own = _layer(_dotted(path))
        if own == "reporting":
            continue
        rel = str(path.relative_to(PACKAGE))
        if rel in I18N_EXCEPTIONS:
            continue
        for line, target in _imports(path):
            if target == "analysis.reporting.i18n":
                bad.append(f"{rel}:{line} imports {target}")
    return sorted(set(bad))


def test_the_walker_sees_imports_inside_functions(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import os\n\ndef f():\n    from analysis.reporting.i18n import t\n    return t\n")
    found = _imports(src, package="analysis.models")
    assert (4, "analysis.reporting.i18n") in found and (1, "os") in found
    rel = tmp_path / "r.py"
    rel.write_text("from ..reporting import i18n\n")
    assert (1, "analysis.reporting.i18n") in _imports(rel, package="analysis.models")


def test_every_layer_is_found():
    layers = {_layer(_dotted(p)) for p in _modules()}
    assert {"data", "metrics", "models", "reporting", "cli"} <= layers


def test_no_import_from_a_lower_layer_to_a_higher_one():
    bad = upward_imports()
    assert bad == [], "upward imports (data < metrics < models < reporting < cli):\n" + "\n".join(bad)


def test_only_reporting_knows_about_languages():
    bad = i18n_outside_reporting()
    assert bad == [], "i18n imported outside reporting/:\n" + "\n".join(bad)


def test_i18n_exceptions_are_still_needed():
    """An exception whose module no longer imports i18n must be deleted from the list."""
    clean = [rel for rel in I18N_EXCEPTIONS
             if "analysis.reporting.i18n" not in {target for _, target in _imports(PACKAGE / rel)}]
    assert clean == [], f"no longer importing i18n, remove from I18N_EXCEPTIONS: {clean}"
