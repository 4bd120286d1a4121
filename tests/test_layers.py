"""The packages' arrows point one way (DESIGN.md): features <- models <- cmt_live <- cli -> apps.

Every import statement of every module is read from the source (``ast``), including imports
inside functions, so a lazy import that climbs back up is caught too.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "models", "cmt_live", "apps")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported module, at module level?)`` for every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out += [(f"{mod}.{a.name}" if not node.module else mod, id(node) in top_level)
                    for a in node.names]  # fmt: skip
    return out


def _graph() -> dict[str, list[tuple[str, bool]]]:
    return {
        _module_name(p): _imports(p) for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
    }


def _top(mod: str) -> str:
    return mod.split(".")[0]


GRAPH = _graph()


def test_the_walk_sees_every_package_and_relative_imports():
    assert {_top(m) for m in GRAPH} == set(PACKAGES)
    # A relative import resolves to the full name (a walk that missed them would pass anything).
    assert ("cmt_live.records", True) in GRAPH["cmt_live.pipeline"]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("features", {"models", "cmt_live", "apps"}), ("models", {"cmt_live", "apps"})],
)
def test_lower_packages_never_import_upper_ones(package, forbidden):
    bad = [
        (m, imp)
        for m, imps in GRAPH.items()
        if _top(m) == package
        for imp, _ in imps
        if _top(imp) in forbidden
    ]
    assert not bad, f"{package}/ imports upwards: {bad}"


def test_seedv_facts_are_the_ground_floor():
    assert not [imp for imp, _ in GRAPH["features.seedv"] if _top(imp) in PACKAGES]


def test_only_the_command_lines_open_apps_and_only_lazily():
    users = {
        (m, at_top)
        for m, imps in GRAPH.items()
        if _top(m) != "apps"
        for imp, at_top in imps
        if _top(imp) == "apps"
    }
    assert users, "the command line opens the monitor somewhere"
    assert all(m.startswith("cmt_live.cli.") and not at_top for m, at_top in users), users


def test_nothing_outside_the_command_lines_imports_them():
    bad = [
        (m, imp)
        for m, imps in GRAPH.items()
        if not m.startswith("cmt_live.cli")
        for imp, _ in imps
        if imp.startswith("cmt_live.cli")
    ]
    assert not bad, f"library code imports a command line: {bad}"
