"""The package's one public face: `ido.__all__` is sorted, complete and importable."""

import subprocess
import sys

import ido


def test_all_is_sorted_and_every_name_resolves() -> None:
    """Every name in `ido.__all__` imports, and the list stays sorted (case-sensitive)."""
    assert ido.__all__ == sorted(ido.__all__)
    for name in ido.__all__:
        assert getattr(ido, name) is not None, name


def test_exports_match_all() -> None:
    """The lazy export table and `__all__` name the same things, so neither can drift."""
    assert set(ido._EXPORTS) | {"__version__"} == set(ido.__all__)


def test_public_names_are_the_defining_objects() -> None:
    """`ido.X` is the same object as where X is defined (no copies, no wrappers)."""
    from ido.engine import Engine
    from ido.workspace import Workspace

    assert ido.Engine is Engine
    assert ido.Workspace is Workspace


def test_unknown_attribute_raises_attribute_error() -> None:
    """A misspelt public name fails like any module attribute, naming the name."""
    try:
        ido.Enginee  # noqa: B018
    except AttributeError as exc:
        assert "Enginee" in str(exc)
    else:
        raise AssertionError("ido.Enginee resolved")


def test_import_ido_does_not_pull_in_the_planner_or_engine() -> None:
    """`import ido` (and so the CLI's start-up) stays light: OR-Tools and httpx load on demand."""
    code = "import sys, ido; print(any(m.startswith(('ortools', 'httpx', 'ido.engine')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_workspace_imports_first_without_a_cycle() -> None:
    """`from ido.workspace import Workspace` works in a fresh interpreter (loader/workspace cycle)."""
    code = "from ido.workspace import Workspace; print(Workspace.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Workspace"


def test_engine_exports_are_the_objects_whatever_was_imported_first() -> None:
    """`ido.engine` names its parts lazily; a submodule imported first never shadows an export."""
    import subprocess
    import sys

    code = ("import ido.engine.decide, ido.engine.health, ido.engine.run\nimport ido.engine as e\n"
            "print(all(not isinstance(getattr(e, n), type(e)) for n in e.__all__))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
