"""The pipeline's layers hold: no module imports from a layer above it (pyproject's contract)."""

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_layers_contract_is_kept(monkeypatch) -> None:
    """import-linter finds no import from a lower layer into a higher one (engine -> simulation ...)."""
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


# Circles still to be broken (issue 10). Each helper that breaks one deletes its line;
# the test fails on any circle not listed here, and on a listed one that is gone
# (so the list only ever shrinks and always tells the truth).
KNOWN_CIRCLES: set[frozenset[str]] = {
    frozenset({"ido.engine.compensation", "ido.engine.engine", "ido.engine.resume"}),
}


def import_circles() -> set[frozenset[str]]:
    """Return each strongly connected set of ido modules (more than one) in the import graph.

    Every import counts, `TYPE_CHECKING` ones too: a circle of types is still a circle
    a reader has to hold in their head.
    """
    import grimp
    import networkx as nx

    graph = grimp.build_graph("ido", include_external_packages=False)
    digraph = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            digraph.add_edge(module, imported)
    return {frozenset(c) for c in nx.strongly_connected_components(digraph) if len(c) > 1}


def test_no_import_circle_but_the_known_ones() -> None:
    """ido's modules import one another without circles (the known ones are being broken)."""
    circles = import_circles()
    assert circles - KNOWN_CIRCLES == set(), "new import circle(s)"
    assert KNOWN_CIRCLES - circles == set(), "a known circle is gone: delete it from KNOWN_CIRCLES"


def private_imports() -> list[str]:
    """Return `file:line: module._name` for each import of another module's private name."""
    import ast

    found: list[str] = []
    for path in sorted((ROOT / "ido").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ido"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        rel = path.relative_to(ROOT)
                        found.append(f"{rel}:{node.lineno}: {node.module}.{alias.name}")
    return found


def test_no_module_imports_a_private_name_of_another() -> None:
    """`from ido.x import _name` is how modules get tied by their insides; there is none."""
    assert private_imports() == []
