"""Layout of the `ido` package: modules, import circles, private imports, who writes a run's state.

Counts, for the package importable now and (with `--before PATH`) for another
checkout of it: modules; import circles (strongly connected sets of modules,
every import counted, as `tests/test_layers.py` does); imports of another
module's private name; and the modules that write a run's `RunState` fields,
all of them and those the journal holds (the fields `ido.engine.fold` folds).
Prints a table and records it in benchmarks/RESULTS.md (section `layout`).

    .venv/bin/python benchmarks/layout.py --before /tmp/ido-main   # a `git archive main` export
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import replace_section

#: the RunState fields a run's journal holds (`ido.engine.fold.FOLDED`), listed here so that an
#: older checkout, which has no fold, is measured by the same list.
JOURNALED = (
    "event_seq", "state", "spent", "steps_taken", "attempts", "decisions", "last_decision", "status",
    "conditions", "degraded", "completed", "key_groups", "pinned", "approved", "excluded",
    "pending_approval", "faults", "revisions", "compensating", "awaiting",
)
_WRITE = r"\brun\.({fields})\b(\[[^\]]*\])?\s*(=(?!=)|\+=|-=|\.(add|append|pop|update|clear|remove|discard|extend)\()"


def measure() -> dict[str, Any]:
    """Return the figures of the `ido` package this interpreter imports."""
    import grimp
    import networkx as nx

    import ido

    root = Path(ido.__file__).resolve().parent
    graph = grimp.build_graph("ido", include_external_packages=False)
    digraph = nx.DiGraph()
    for module in graph.modules:
        digraph.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            digraph.add_edge(module, imported)
    circles = sorted(sorted(c) for c in nx.strongly_connected_components(digraph) if len(c) > 1)
    private = 0
    fields = _runstate_fields(root / "engine" / "run.py")
    writers_all: set[str] = set()
    writers_journaled: set[str] = set()
    any_field = re.compile(_WRITE.format(fields="|".join(fields)))
    journaled = re.compile(_WRITE.format(fields="|".join(JOURNALED)))
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ido"):
                private += sum(a.name.startswith("_") and not a.name.startswith("__") for a in node.names)
        name = str(path.relative_to(root.parent))
        if any_field.search(text) or (re.search(r"\bRunState\(", text) and name != "ido/engine/run.py"):
            writers_all.add(name)
        if journaled.search(text):
            writers_journaled.add(name)
    return {
        "modules": len(graph.modules), "circles": [" <-> ".join(m.removeprefix("ido.") for m in c) for c in circles],
        "private": private, "fields": len(fields), "writers_all": sorted(writers_all),
        "writers_journaled": sorted(writers_journaled),
    }


def _runstate_fields(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "RunState":
            return [s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
    return []


def _measure_elsewhere(path: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": path}
    out = subprocess.run([sys.executable, __file__, "--json"], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def report(before: dict[str, Any] | None, after: dict[str, Any], label: str) -> str:
    """Return the markdown section: one column per checkout measured."""
    cols = [("before", before), ("after", after)] if before is not None else [("now", after)]
    lines = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}, Python {platform.python_version()}.",
        "",
        "| | " + " | ".join(c for c, _ in cols) + " |",
        "|---|" + "---:|" * len(cols),
        "| modules in `ido` | " + " | ".join(str(m["modules"]) for _, m in cols) + " |",
        "| import circles | " + " | ".join(str(len(m["circles"])) for _, m in cols) + " |",
        "| imports of another module's private name | " + " | ".join(str(m["private"]) for _, m in cols) + " |",
        "| `RunState` fields | " + " | ".join(str(m["fields"]) for _, m in cols) + " |",
        "| modules writing `RunState` fields | " + " | ".join(str(len(m["writers_all"])) for _, m in cols) + " |",
        "| modules writing the fields the journal holds | "
        + " | ".join(str(len(m["writers_journaled"])) for _, m in cols) + " |",
        "",
    ]
    for col, m in cols:
        lines.append(f"Circles {col}: " + ("; ".join(f"`{c}`" for c in m["circles"]) or "none") + ".")
        lines.append(f"Modules writing journaled run fields {col}: "
                     + (", ".join(f"`{w}`" for w in m["writers_journaled"]) or "none") + ".")
    lines += ["", label]
    return "\n".join(lines)


def main() -> None:
    """Measure, print the table and update benchmarks/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="a checkout of ido to compare with (its root directory)")
    parser.add_argument("--before-label", default="before: main before issue 10's engine work")
    parser.add_argument("--after-label", default="after: this checkout")
    parser.add_argument("--json", action="store_true", help="print this checkout's figures as JSON only")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    after = measure()
    if args.json:
        print(json.dumps(after))
        return
    before = _measure_elsewhere(args.before) if args.before else None
    text = report(before, after, (
        f"{args.before_label}; {args.after_label}. Circles count every import, `TYPE_CHECKING` ones too. "
        "A module writes a field when it assigns it or calls a mutating method on it (`run.x = ...`, "
        "`run.x.add(...)`), or builds a `RunState`; the journaled fields are those `ido.engine.fold.apply` owns."
    ) if before else "This checkout.")
    print(text)
    if not args.no_write:
        replace_section("layout", "## Layout: modules, import circles, who writes a run's state (`benchmarks/layout.py`)\n\n" + text)


if __name__ == "__main__":
    main()
