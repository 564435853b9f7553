"""Where a SQLite journal's bytes go: pages per table, stored bytes per event kind, and what
each field of a decision record costs once deflated.

    python benchmarks/journal_bytes.py JOURNAL.db

Prints three tables (nothing is recorded in RESULTS.md; `benchmarks/journal.py --size`
measures the totals). *pages*: SQLite's own accounting (`dbstat`) of every table and
index, used and unused bytes. *event kinds*: the rows as stored (packed, deflated) and
the JSON text they hold. *decision fields*: for each top-level field of the decision
records as a row holds them (long values by reference to a shared part, which the
`blobs` table holds), how many bytes the journal's deflate (against the same
dictionary, the run's previous events and the intent's seed) spends on it: the
deflated size with the field minus without it, summed over decisions; an estimate
(deflate does not add up exactly), enough to see which fields cost.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ido.journal.codec import MEM_LEVEL, WINDOW, ZDICT_1, Packer, kind_name  # noqa: E402 - after the path insert
from ido.journal.sqlite import SQLiteStore  # noqa: E402

#: a run's events a row is deflated against (the store's `_CHAIN`)
CHAIN = 6


def pages(conn: sqlite3.Connection) -> list[tuple[str, int, int, int]]:
    """Return (table or index, pages, payload bytes, unused bytes), most pages first."""
    return [tuple(r) for r in conn.execute(  # type: ignore[misc]
        "SELECT name, count(*), sum(payload), sum(unused) FROM dbstat GROUP BY name ORDER BY 2 DESC, 1"
    )]


def kinds(conn: sqlite3.Connection, store: SQLiteStore) -> dict[str, tuple[int, int, int]]:
    """Return kind -> (rows, stored bytes, JSON text bytes)."""
    count: Counter[str] = Counter()
    stored: Counter[str] = Counter()
    for kind, data in conn.execute("SELECT kind, data FROM events"):
        name = kind_name(str(kind))
        count[name] += 1
        stored[name] += len(data)
    text: Counter[str] = Counter()
    for run in store.list_runs():
        for e in store.events(run_id=run.run_id):
            text[e.kind] += len(json.dumps(e.data, separators=(",", ":")))
    return {k: (count[k], stored[k], text[k]) for k in count}


def _deflated(text: bytes, before: list[bytes]) -> int:
    zdict = (ZDICT_1.encode() + b"".join(before))[-WINDOW:]
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY, zdict)
    return len(comp.compress(text) + comp.flush())


def decision_fields(store: SQLiteStore) -> Counter[str]:
    """Return field -> estimated deflated bytes spent on it over every decision record."""
    cost: Counter[str] = Counter()
    seeds: dict[str, bytes] = {}
    packer = Packer({1: ZDICT_1.encode()}, current=1)

    def packed(data: dict[str, object]) -> bytes:  # as the row holds it: long values by reference
        return packer.pack(data, what="a decision").text

    for run in sorted(store.list_runs(), key=lambda r: r.created_at):
        events = store.events(run_id=run.run_id)
        texts = [packed(e.data) for e in events]
        first = run.intent not in seeds  # the intent's first run: it has no seed, it is one
        seed = seeds.setdefault(run.intent, b"\n".join(texts)[:20_000])
        for i, e in enumerate(events):
            if e.kind != "decision":
                continue
            before = ([] if first else [seed]) + texts[max(0, i - CHAIN):i]
            whole = _deflated(texts[i], before)
            for field in e.data:
                rest = {k: v for k, v in e.data.items() if k != field}
                cost[field] += whole - _deflated(packed(rest), before)
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal", type=Path, help="a SQLite journal file")
    parser.add_argument("--fields", type=int, default=20, help="how many decision fields to list")
    args = parser.parse_args()
    conn = sqlite3.connect(f"file:{args.journal}?mode=ro", uri=True)
    store = SQLiteStore(args.journal, must_exist=True)
    size = args.journal.stat().st_size
    runs = store.list_runs()
    steps = sum(r.steps_executed for r in runs) or 1
    print(f"{args.journal}: {size:,} bytes, {len(runs)} runs, {steps} steps executed, "
          f"{size / steps:,.0f} bytes/step\n")
    print("| table or index | pages | payload bytes | unused bytes |\n| --- | ---: | ---: | ---: |")
    for name, n, payload, unused in pages(conn):
        print(f"| {name} | {n} | {payload:,} | {unused:,} |")
    print("\n| event kind | rows | stored bytes | per row | JSON text bytes |\n| --- | ---: | ---: | ---: | ---: |")
    for kind, (n, stored, text) in sorted(kinds(conn, store).items(), key=lambda kv: -kv[1][1]):
        print(f"| {kind} | {n} | {stored:,} | {stored / n:,.0f} | {text:,} |")
    print("\n| decision field | deflated bytes (estimate) |\n| --- | ---: |")
    for field, spent in decision_fields(store).most_common(args.fields):
        print(f"| {field} | {spent:,} |")
    store.close()
    conn.close()


if __name__ == "__main__":
    main()
