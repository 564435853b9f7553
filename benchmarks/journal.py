"""Benchmark: durable steps/s and runs/s of ido on SQLite, side by side with DBOS.

A three-step intent, run sequentially and with 100 runs in flight, three ways:
- *ido journal*: exactly the appends the engine makes for such a run
  (`Engine._flush`, see `ido_run`): five awaited appends carrying the real
  event payloads (decision records with plan, alternatives and reasons); an
  outcome is durable, in the same append as the next decision, before the
  step that depends on it is dispatched. This isolates durability cost.
- *ido engine end to end*: the real `ido.engine.Engine` with three
  instantaneous simulated capabilities: planning, decisions, health and the
  journal (what a user gets; planning CPU dominates).
- *DBOS* (a benchmark extra: `pip install dbos`): an equivalent workflow of
  three `@DBOS.step`s on a SQLite system database.
All in one process on one machine, repetitions interleaved. Equal
durability: every commit is fsynced on both sides (ido: WAL with
`synchronous=FULL`; DBOS: SQLite's default rollback journal with
`synchronous=FULL`, it sets no pragma), and a step's result is on disk
before the next step starts.

    python benchmarks/journal.py [--quick] [--reps N] [--no-dbos] [--no-engine] [--no-write]
    python benchmarks/journal.py --size [--quick] [--no-before] [--no-dbos] [--no-write]

Prints a table and replaces its section of benchmarks/RESULTS.md. `--size` measures
the journal's bytes per executed step instead (section `journal-size`): 20 runs of the
example workspace's demo through the CLI and 20 runs on a 100-capability registry,
with main's format-1 code (before) and this checkout's (after), beside DBOS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import replace_section  # noqa: E402 - after the path insert
from ido.decisions import DecisionRecord, Outcome, Remaining, Revisions, Trigger  # noqa: E402
from ido.health import CapabilityHealth, Circuit  # noqa: E402
from ido.journal.base import Event, RunInfo, Store  # noqa: E402
from ido.journal.sqlite import SQLiteStore  # noqa: E402
from ido.model import Capability, Intent  # noqa: E402
from ido.planning.types import Alternative, Plan, PlanStep, Verdict  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN journal -->", "<!-- END journal -->"
STEPS = [("payment.stripe-eu", "payment", "order.paid"), ("shipping.dhl", "shipping", "order.shipped"),
         ("notify.email", "notify", "customer.notified")]
IN_FLIGHT = 100


# -- the ido side ------------------------------------------------------------------------------

def _decision(run_id: str, seq: int) -> dict[str, Any]:
    """Return a realistic decision record (as the engine writes it) choosing step `seq`."""
    cap, role, fact = STEPS[min(seq, 3) - 1]
    plan = Plan(
        intent="order-fulfilled", feasible=True,
        steps=[PlanStep(capability=c, provides=r, after=[i - 1] if i else [], cost=0.25,
                        latency_s=0.3, success_probability=0.995, effects={f: True})
               for i, (c, r, f) in enumerate(STEPS)],
        cost=0.75, latency_s=0.9, success_probability=0.985, score=1.2,
    )
    state = {f: i < seq - 1 for i, (_, _, f) in enumerate(STEPS)}
    record = DecisionRecord(
        decision_id=f"{run_id}-d{seq}", run_id=run_id, seq=seq, at="2026-11-21T06:00:00.000+00:00",
        trigger=Trigger.START if seq == 1 else Trigger.STEP_SUCCEEDED,
        action="dispatch" if seq <= 3 else "succeed", intent="order-fulfilled",
        revisions=Revisions(intent="a" * 16, capabilities="b" * 16, policies="c" * 16),
        state=state, gap={fact: {"want": "= true", "have": False}},
        health={cap: CapabilityHealth(success_rate=0.99, latency_s=0.3, samples=20, circuit=Circuit.CLOSED)},
        remaining=Remaining(budget=2.0 - 0.25 * (seq - 1), deadline_s=60.0, spent=0.25 * (seq - 1)),
        chosen=[cap] if seq <= 3 else [], plan=plan if seq <= 3 else None,
        alternatives=[
            Alternative(capability=cap, provides=role, verdict=Verdict.CHOSEN,
                        reason="cheapest admissible: cost 0.25, 300ms, p=0.995"),
            Alternative(capability=f"{role}.alt", provides=role, verdict=Verdict.COSTLIER,
                        reason="scores 0.12 worse than the chosen plan", score_delta=0.12),
            Alternative(capability=f"{role}.us", provides=role, verdict=Verdict.DENIED,
                        reason="denied by gdpr-data-stays-in-eu", policies=["gdpr-data-stays-in-eu"]),
        ] if seq <= 3 else [],
        reason="cheapest admissible plan" if seq <= 3 else "the goal holds",
    )
    return record.model_dump(mode="json")


async def ido_run(store: Store, run_id: str) -> None:
    """Journal one three-step run with the engine's appends (`Engine._flush`): five, all awaited.

    [run_started] -> [decision 1, dispatched 1] -> [outcome 1, decision 2, dispatched 2] ->
    [outcome 2, decision 3, dispatched 3] -> [outcome 3, decision 4 (succeed), status], each
    with the run row; an outcome is durable before the step that depends on it is dispatched.
    """
    now = time.time()
    row = RunInfo(run_id=run_id, intent="order-fulfilled", status="running", created_at=now,
                  updated_at=now, inputs={"order_id": run_id, "amount": 42.0})
    seq = 0

    def ev(kind: str, data: dict[str, Any]) -> Event:
        nonlocal seq
        seq += 1
        return Event(run_id=run_id, seq=seq, kind=kind, at=time.time(), data=data)  # type: ignore[arg-type]

    def dispatched(step: int) -> Event:
        cap = STEPS[step - 1][0]
        return ev("dispatched", {"decision_id": f"{run_id}-d{step}", "step": step, "capability": cap,
                                 "idempotency_key": f"{run_id}:{cap}:1", "attempt": 1})

    await store.append([ev("run_started", {"intent": "order-fulfilled", "inputs": row.inputs})], run=row)
    await store.append([ev("decision", _decision(run_id, 1)), dispatched(1)], run=row)
    for step, (cap, _, fact) in enumerate(STEPS, start=1):
        outcome = Outcome(capability=cap, step=step, status="succeeded", hit=True, latency_s=0.0,
                          cost=0.25, facts={fact: True}, idempotency_key=f"{run_id}:{cap}:1")
        batch = [ev("outcome", {**outcome.model_dump(mode="json"), "decision_id": f"{run_id}-d{step}"}),
                 ev("decision", _decision(run_id, step + 1))]
        if step < 3:
            batch.append(dispatched(step + 1))
        else:
            row = row.model_copy(update={"status": "succeeded", "updated_at": time.time(),
                                         "cost": 0.75, "steps_executed": 3, "decisions": 4})
            batch.append(ev("status", {"status": "succeeded"}))
        await store.append(batch, run=row)


def _workspace() -> Any:
    """Return a workspace of three instantaneous simulated capabilities and the intent."""
    facts = [f for _, _, f in STEPS]
    caps = [
        Capability(name=cap, provides=role, cost=0.25,
                   requires={**({facts[i - 1]: True} if i else {}), fact: False}, effects={fact: True})
        for i, (cap, role, fact) in enumerate(STEPS)
    ]
    intent = Intent(intent="order-fulfilled", given=dict.fromkeys(facts, False),
                    goal=dict.fromkeys(facts, True))
    return SimpleNamespace(capabilities=caps, policies=[], intents=[intent], observers=[])


async def engine_run(engine: Any, _: int) -> None:
    """Run the intent through the real engine (planning, decisions, sim steps, journal)."""
    result = await engine.run("order-fulfilled")
    if result.status != "succeeded":
        raise RuntimeError(f"benchmark run ended {result.status}")


async def _drive(runs: int, in_flight: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run `runs` runs with at most `in_flight` at once; return elapsed seconds."""
    gate = asyncio.Semaphore(in_flight)

    async def gated(i: int) -> None:
        async with gate:
            await one(i)

    start = time.perf_counter()
    if in_flight == 1:
        for i in range(runs):
            await one(i)
    else:
        await asyncio.gather(*(gated(i) for i in range(runs)))
    return time.perf_counter() - start


async def bench_ido(folder: Path, runs: int, in_flight: int, rep: int, *, engine: bool
                    ) -> tuple[float, int, int]:
    """Return (elapsed s, journal bytes, commits) for `runs` runs on a fresh journal file.

    `engine`: drive the real engine end to end, else only its journal appends.
    """
    path = folder / f"ido-{'engine' if engine else 'journal'}-{in_flight}-{rep}.db"
    store = SQLiteStore(path)
    if engine:
        from ido.engine.engine import Engine

        eng = Engine(_workspace(), store, keep_records=False)
        elapsed = await _drive(runs, in_flight, lambda i: engine_run(eng, i))
        await eng.close()
    else:
        elapsed = await _drive(runs, in_flight, lambda i: ido_run(store, f"r{rep}-{i:06d}"))
    commits = store.commits
    store.close()  # checkpoints the WAL into the file
    empty = path.with_name(f"empty-{path.name}")
    SQLiteStore(empty).close()
    return elapsed, _size(path) - _size(empty), commits


# -- the DBOS side -----------------------------------------------------------------------------

class DbosSide:
    """An equivalent three-step durable workflow on DBOS, on a fresh SQLite system database per
    measurement: SQLite's default rollback journal (as DBOS leaves it), or WAL."""

    def __init__(self) -> None:
        from dbos import DBOS, SetWorkflowID  # a benchmark extra: pip install dbos

        self._dbos, self._set_id = DBOS, SetWorkflowID
        self._fulfil: Any = None
        self._empty: dict[bool, int] = {}  # wal -> bytes of a system database with no workflow

    def _register(self) -> None:
        # DBOS keeps registrations across instances: register the workflow once per process.
        if self._fulfil is not None:
            return
        DBOS = self._dbos

        @DBOS.step()
        async def pay(order: str) -> dict[str, Any]:
            return {"order.paid": True, "payment.id": f"pay-{order}"}

        @DBOS.step()
        async def ship(order: str) -> dict[str, Any]:
            return {"order.shipped": True}

        @DBOS.step()
        async def notify(order: str) -> dict[str, Any]:
            return {"customer.notified": True}

        @DBOS.workflow()
        async def fulfil(order: str) -> list[dict[str, Any]]:
            return [await pay(order), await ship(order), await notify(order)]

        self._fulfil = fulfil

    def bench(self, path: Path, runs: int, in_flight: int, *, wal: bool) -> tuple[float, int]:
        """Return (elapsed s, bytes the workflows added) for `runs` workflows on a fresh database."""
        if wal not in self._empty:
            empty = path.with_name(f"empty-{path.name}")
            self._run(empty, 0, 1, wal=wal)
            self._empty[wal] = _size(empty)
        elapsed = self._run(path, runs, in_flight, wal=wal)
        return elapsed, _size(path) - self._empty[wal]

    def _run(self, path: Path, runs: int, in_flight: int, *, wal: bool) -> float:
        if wal:  # journal_mode is stored in the file: DBOS then runs on WAL
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.close()
        self._dbos(config={"name": "ido-bench", "system_database_url": f"sqlite:///{path}",
                           "log_level": "WARNING"})
        self._register()
        self._dbos.launch()
        try:

            async def one(i: int) -> None:
                with self._set_id(f"w-{i:06d}"):
                    await self._fulfil(f"o-{i}")

            elapsed = asyncio.run(_drive(runs, in_flight, one))
        finally:
            self._dbos.destroy()
        conn = sqlite3.connect(path)
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = conn.execute("PRAGMA synchronous").fetchone()[0]
        done = conn.execute("SELECT count(*) FROM workflow_status WHERE status = 'SUCCESS'").fetchone()[0]
        conn.close()
        if str(mode).lower() != ("wal" if wal else "delete") or sync != 2 or done != runs:
            raise RuntimeError(f"DBOS ran with journal_mode={mode}, synchronous={sync}, {done}/{runs} done")
        return elapsed


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def measure(folder: Path, reps: int, seq_runs: int, par_runs: int, with_dbos: bool,
            with_engine: bool) -> tuple[dict[str, list[tuple[float, int]]], float, str]:
    """Return samples per configuration, ido's median commits in flight, and the DBOS note.

    Every configuration is measured once per repetition, in turn, on a fresh
    file and in its own event loop, so load from elsewhere on the machine
    hits all of them alike.
    """
    samples: dict[str, list[tuple[float, int]]] = {}
    commits: list[int] = []
    note = "not run (--no-dbos)"
    dbos = None
    if with_dbos:
        try:
            dbos = DbosSide()
            note = "synchronous=FULL, each step's output committed before the next step"
        except ImportError as exc:
            note = f"not run: {exc} (pip install dbos)"
    for rep in range(reps):
        for runs, in_flight, label in ((seq_runs, 1, "sequential"),
                                       (par_runs, IN_FLIGHT, f"{IN_FLIGHT} in flight")):
            t, size, c = asyncio.run(bench_ido(folder, runs, in_flight, rep, engine=False))
            samples.setdefault(f"ido journal, {label}", []).append((t, size))
            if in_flight > 1:
                commits.append(c)
            if with_engine:
                t, size, _ = asyncio.run(bench_ido(folder, runs, in_flight, rep, engine=True))
                samples.setdefault(f"ido engine end to end, {label}", []).append((t, size))
            if dbos is not None:
                for wal, name in ((False, "DBOS (rollback journal)"), (True, "DBOS (WAL)")):
                    path = folder / f"dbos-{'wal' if wal else 'delete'}-{in_flight}-{rep}.sqlite"
                    samples.setdefault(f"{name}, {label}", []).append(
                        dbos.bench(path, runs, in_flight, wal=wal)
                    )
    return samples, statistics.median(commits), note


# -- journal size: bytes per executed step -----------------------------------------------------

#: the example workspace's demo, as a user types it (the workspace is the repository root).
DEMO = ["run", "order-fulfilled", "--simulate", "payments-outage"]
SIZE_RUNS = 20
#: the code the "before" rows measure: main as merged into this branch, journal format 1.
BEFORE_COMMIT = "37f8fe7"
#: the code the "format 2" rows measure: the last commit writing journal format 2.
FORMAT_2_COMMIT = "e408817"

_REGISTRY_SNIPPET = """
import asyncio, sys
import ido  # first: from the code under test, whatever benchmarks/ puts on sys.path
sys.path.insert(1, sys.argv[3])
from benchmarks.engine import registry
from ido.engine.engine import Engine
from ido.journal.sqlite import SQLiteStore

async def main():
    store = SQLiteStore(sys.argv[1])
    engine = Engine(registry(100), store, keep_records=False)
    steps = 0
    for _ in range(int(sys.argv[2])):
        result = await engine.run("chain")
        if result.status != "succeeded":
            raise SystemExit(f"registry run ended {result.status}")
    await engine.close()
    store.close()

asyncio.run(main())
"""


def _checkpointed_size(path: Path) -> tuple[int, int]:
    """Return (bytes of the file as closed, bytes after VACUUM) of a closed SQLite journal."""
    closed = _size(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return closed, _size(path)


def _steps(path: Path) -> tuple[int, int]:
    """Return (runs, steps executed) the journal holds (read with this checkout's code)."""
    store = SQLiteStore(path)
    runs = store.list_runs()
    store.close()
    return len(runs), sum(r.steps_executed for r in runs)


def size_rows(folder: Path, code: Path, label: str, runs: int) -> list[dict[str, Any]]:
    """Return the size rows of the ido code at `code`: the demo through the CLI, one process
    per run as a user runs it, and 20 runs on a 100-capability registry in one process."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    rows = []
    demo = folder / f"demo-{label}.db"
    for _ in range(runs):
        # run from `folder`, not the checkout, so that `-m ido` imports the code under test
        subprocess.run([sys.executable, "-m", "ido", "--workspace", str(ROOT), "--store", f"sqlite:///{demo}",
                        *DEMO], cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    reg = folder / f"registry-{label}.db"
    subprocess.run([sys.executable, "-c", _REGISTRY_SNIPPET, str(reg), str(runs), str(ROOT)], cwd=folder,
                   env=env, check=True)
    for name, path in ((f"`ido {' '.join(DEMO)}`", demo), ("100-capability registry (all relevant)", reg)):
        closed, vacuumed = _checkpointed_size(path)
        n, steps = _steps(path)  # after measuring: reading may migrate a format-1 file
        rows.append({"name": f"ido {label}: {name}", "runs": n, "steps": steps, "closed": closed,
                     "vacuumed": vacuumed})
    return rows


def dbos_size_row(folder: Path, runs: int) -> dict[str, Any] | None:
    """Return DBOS's row: `runs` three-step workflows, one at a time, on a fresh WAL file."""
    try:
        dbos = DbosSide()
    except ImportError:
        return None
    path = folder / "dbos-size.sqlite"
    dbos._run(path, runs, 1, wal=True)
    closed, vacuumed = _checkpointed_size(path)
    return {"name": "DBOS: three `@DBOS.step`s per workflow (WAL)", "runs": runs, "steps": 3 * runs,
            "closed": closed, "vacuumed": vacuumed}


def size_report(rows: list[dict[str, Any]], runs: int) -> str:
    """Return the markdown of the size section."""
    lines = [
        "## Journal: bytes per executed step (`benchmarks/journal.py --size`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}. {runs} runs into one SQLite file each.",
        "",
        "| journal | runs | steps executed | file bytes (closed) | bytes/step | bytes/run | after VACUUM: bytes/step |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['runs']} | {r['steps']} | {r['closed']:,} | **{r['closed'] / r['steps']:,.0f}** "
            f"| {r['closed'] / r['runs']:,.0f} | {r['vacuumed'] / r['steps']:,.0f} |"
        )
    ratios = []
    for before in (r for r in rows if r["name"].startswith(("ido before", "ido format 2"))):
        label = before["name"].split(": ", 1)[0].removeprefix("ido ")
        after = next((a for a in rows if a["name"] == before["name"].replace(f"ido {label}", "ido after")), None)
        if after:
            ratios.append(f"{before['name'].split(': ', 1)[1]}, {label} -> after: "
                          f"{before['closed'] / before['steps']:,.0f} -> "
                          f"{after['closed'] / after['steps']:,.0f} bytes/step "
                          f"(**{before['closed'] / after['closed']:.1f}x** smaller)")
    lines += [""] + [f"- {r}" for r in ratios] + [
        "",
        "Measured as a user's disk holds it: each run is its own `ido` process (`python -m ido "
        "--workspace REPO --store sqlite:///FILE run ...`, the example workspace), so the "
        "file is checkpointed and its `-wal` removed when the last one exits; *bytes/step* is that "
        "file's size divided by the steps the runs executed (the runs' `steps_executed`), "
        "everything included (tables, indexes, the schema, free space); the last column is the "
        "same after `VACUUM`. The registry rows drive `ido.engine.Engine` over "
        "`benchmarks/engine.py`'s `registry(100)` (5 roles x 20 providers, every one judged in "
        f"every decision) with the journal's code. *before*: main at {BEFORE_COMMIT} (journal format 1: "
        "JSON text rows; alternative sets over 64 entries by digest), run from a `git archive` of "
        f"that commit; *format 2*: {FORMAT_2_COMMIT}, the same way (every long value stored once by "
        "digest and deflated against its previous version, each row deflated with zlib against a "
        "dictionary of ido's field names and the run's previous events, 1 KiB pages, integer event "
        "keys; its seed of an intent's first events was made only when an append ended at seq 6, "
        "so never in the demo); *after*: this checkout (format 4: as format 2, and every row of a "
        "run deflated against its intent's seed, the first 20 KB of the first whole run of it, "
        "named once; a list too long for one deflate window kept in runs of 16 entries, each "
        "deflated against its previous version, not one shared part per entry; raw deflate with an Adler-32 instead of zlib's framing; event kinds as a "
        "one-byte code; a time shared with the previous event stored once; `meta` and "
        "`revisions` without rowid; the field-name dictionary named by digest). The file holds "
        "every table of the checkout, also the ones other features added (registry, shared "
        "health, probe leases, signals: an empty table costs a 1 KiB page). Every "
        "alternative with its verdict and reason is kept; `store.events()` returns the same events. "
        "DBOS stores its steps' outputs only; its file here includes its fixed schema, which "
        "`benchmarks/journal.py` (throughput) leaves out: there DBOS adds 437 bytes per step "
        "over an empty system database.",
    ]
    return "\n".join(lines)


def size_main(args: argparse.Namespace) -> None:
    """Measure the journal's size before (main at BEFORE_COMMIT) and after; print and record it."""
    runs = 5 if args.quick else SIZE_RUNS
    with tempfile.TemporaryDirectory(prefix="ido-size-") as tmp:
        folder = Path(tmp)
        rows = []
        if not args.no_before:
            for commit, label in ((BEFORE_COMMIT, "before"), (FORMAT_2_COMMIT, "format 2")):
                code = folder / f"{label.replace(' ', '-')}-code"
                code.mkdir()
                archive = subprocess.run(["git", "archive", commit, "ido"], cwd=ROOT, check=True,
                                         capture_output=True).stdout
                subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
                rows += size_rows(folder, code, label, runs)
        rows += size_rows(folder, ROOT, "after", runs)
        dbos = None if args.no_dbos else dbos_size_row(folder, runs)
        if dbos is not None:
            rows.append(dbos)
    report = size_report(rows, runs)
    print(report)
    if not args.no_write:
        replace_section("journal-size", report, RESULTS)
        print(f"updated {RESULTS.relative_to(ROOT)}")


# -- report ------------------------------------------------------------------------------------

def _row(name: str, times: list[float], runs: int, size: float | None) -> dict[str, Any]:
    t = statistics.median(times)
    return {"name": name, "runs_s": runs / t, "steps_s": 3 * runs / t, "reps": len(times),
            "bytes_step": None if size is None else size / (3 * runs)}


def main() -> None:
    """Run the benchmark, print the table and update benchmarks/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (for a smoke check)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions; medians are quoted")
    parser.add_argument("--no-dbos", action="store_true", help="skip the DBOS side")
    parser.add_argument("--no-engine", action="store_true", help="skip the end-to-end engine rows")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--size", action="store_true",
                        help="measure bytes per step (before/after, beside DBOS) instead of throughput")
    parser.add_argument("--no-before", action="store_true", help="with --size: skip the format-1 rows")
    args = parser.parse_args()
    if args.size:
        size_main(args)
        return
    seq_runs, par_runs = (20, 150) if args.quick else (100, 500)
    with tempfile.TemporaryDirectory(prefix="ido-bench-") as tmp:
        samples, commits, dbos_note = measure(
            Path(tmp), args.reps, seq_runs, par_runs, not args.no_dbos, not args.no_engine
        )
    rows = [
        _row(name, [t for t, _ in got], seq_runs if name.endswith("sequential") else par_runs,
             statistics.median(b for _, b in got))
        for name, got in samples.items()
    ]
    report = _report(rows, args, seq_runs, par_runs, commits, dbos_note)
    print(report)
    if not args.no_write:
        _write_section(report)
        print(f"updated {RESULTS.relative_to(ROOT)}")


def _report(rows: list[dict[str, Any]], args: argparse.Namespace, seq_runs: int, par_runs: int,
            commits: float, dbos_note: str) -> str:
    by = {r["name"]: r for r in rows}
    lines = [
        "## Journal: durable throughput (`benchmarks/journal.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
        f"{' (--quick)' if args.quick else ''}. Medians of {args.reps} repetitions; "
        f"{seq_runs} runs sequential, {par_runs} runs with {IN_FLIGHT} in flight; three steps per run.",
        "",
        "| configuration | runs/s | durable steps/s | journal bytes/step |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        size = "-" if r["bytes_step"] is None else f"{r['bytes_step']:,.0f}"
        lines.append(f"| {r['name']} | {r['runs_s']:,.1f} | {r['steps_s']:,.0f} | {size} |")
    lines.append("")
    par, seq = f", {IN_FLIGHT} in flight", ", sequential"
    for dbos_name in ("DBOS (WAL)", "DBOS (rollback journal)"):
        ratios = []
        for ido_name in ("ido journal", "ido engine end to end"):
            a_par, b_par = by.get(ido_name + par), by.get(dbos_name + par)
            a_seq, b_seq = by.get(ido_name + seq), by.get(dbos_name + seq)
            if a_par and b_par and a_seq and b_seq:
                ratios.append(
                    f"{ido_name} **{a_par['steps_s'] / b_par['steps_s']:.1f}x** with {IN_FLIGHT} in "
                    f"flight, {a_seq['steps_s'] / b_seq['steps_s']:.1f}x sequential"
                )
        if ratios:
            lines.append(f"- against {dbos_name}: " + "; ".join(ratios) + ".")
    lines += [
        "",
        "Target: ido's durable throughput at least 3x DBOS's with runs in flight. *ido journal* is "
        "exactly the durable writing the engine does for such a run (five awaited appends: "
        "[run_started], [decision, dispatched], 2x [outcome, decision, dispatched], [outcome, "
        "decision, status], with realistic decision records); WAL, synchronous=FULL; group commit "
        f"made {commits:.0f} transactions for {5 * par_runs} appends with {IN_FLIGHT} in flight. "
        "*ido engine end to end* is `ido.engine.Engine` with three instantaneous `sim` "
        "capabilities: planning every decision, health, decision records and the journal. DBOS: "
        "one `@DBOS.workflow` of three `@DBOS.step`s on a fresh SQLite system database, with "
        "SQLite's default rollback journal (DBOS sets no pragma) and, its best case, with the file "
        f"switched to WAL beforehand ({dbos_note}). Equal durability: every commit is fsynced "
        "(synchronous=FULL) on both sides and a step's outcome is on disk before anything "
        "depending on it starts. ido journals far more per step than DBOS (full decision records "
        "with every alternative and its reason, versus DBOS's step outputs). The machine is "
        "shared with other work, so absolute figures move between runs; the configurations "
        "alternate within each repetition so that load hits all of them alike.",
    ]
    return "\n".join(lines)


def _write_section(report: str) -> None:
    replace_section("journal", report, RESULTS)


if __name__ == "__main__":
    main()
