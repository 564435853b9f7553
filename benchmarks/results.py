"""benchmarks/RESULTS.md: one section per benchmark script, each replaced alone.

Every script calls `replace_section` with its own name; the section sits between
`<!-- BEGIN name -->` and `<!-- END name -->`, so scripts run in any order (or at
the same time on different machines) never overwrite each other's figures.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def markers(name: str) -> tuple[str, str]:
    """Return the BEGIN and END markers of benchmark `name`'s section."""
    return f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"


def replace_section(name: str, report: str, results: Path = RESULTS) -> None:
    """Write `report` as section `name` of `results`, replacing only that section.

    A missing file is created with the `# Benchmark results` heading; a missing
    section is appended. `report` is the text between the markers.
    """
    begin, end = markers(name)
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    block = f"{begin}\n{report}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    results.write_text(text)
