"""Classic planning tasks (gripper, blocksworld, logistics) as PDDL and as ido capabilities.

Used by `benchmarks/planning.py` to solve the same instance with pyperplan's
optimal A* and with ido's planner. Both encodings describe the same state
space with unit action costs, so their optimal plan lengths must agree.

Run as a script, it times the `ido plan --json` path (load the workspace
written as YAML, plan, print the JSON) with the alternatives' verdicts and
without them (`--no-alternatives`), next to pyperplan, each call in a child
process with a timeout, and replaces its section of benchmarks/RESULTS.md:

    python benchmarks/classic.py            # gripper to 8, blocksworld to 8, logistics to 6
    python benchmarks/classic.py --quick    # smaller sizes, 10 s timeout
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ido.model import Capability, Intent


@dataclass
class Instance:
    """One task: PDDL domain and problem text, and the ido capabilities, intent and start state."""

    name: str
    size: int
    domain: str
    problem: str
    capabilities: list[dict[str, Any]]
    goal: dict[str, Any]
    state: dict[str, Any]

    def models(self) -> tuple[list[Capability], Intent]:
        """Return the ido models (built here so their construction can be timed)."""
        caps = [Capability.model_validate({**c, "invoke": "sim", "cost": 1.0}) for c in self.capabilities]
        intent = Intent.model_validate({
            "intent": f"{self.name}-{self.size}", "goal": self.goal, "objective": {"cost": 1.0},
        })
        return caps, intent


def _cap(name: str, requires: dict[str, Any], effects: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "provides": name.split(".")[0], "requires": requires, "effects": effects}


GRIPPER_DOMAIN = """(define (domain gripper-strips)
 (:predicates (room ?r) (ball ?b) (gripper ?g) (at-robby ?r) (at ?b ?r) (free ?g) (carry ?o ?g))
 (:action move :parameters (?from ?to)
  :precondition (and (room ?from) (room ?to) (at-robby ?from))
  :effect (and (at-robby ?to) (not (at-robby ?from))))
 (:action pick :parameters (?obj ?room ?gripper)
  :precondition (and (ball ?obj) (room ?room) (gripper ?gripper) (at ?obj ?room) (at-robby ?room) (free ?gripper))
  :effect (and (carry ?obj ?gripper) (not (at ?obj ?room)) (not (free ?gripper))))
 (:action drop :parameters (?obj ?room ?gripper)
  :precondition (and (ball ?obj) (room ?room) (gripper ?gripper) (carry ?obj ?gripper) (at-robby ?room))
  :effect (and (at ?obj ?room) (free ?gripper) (not (carry ?obj ?gripper)))))
"""


def gripper(n: int) -> Instance:
    """Return gripper with `n` balls to carry from room a to room b with two grippers."""
    balls = [f"ball{i}" for i in range(1, n + 1)]
    problem = (
        f"(define (problem gripper-{n}) (:domain gripper-strips)\n"
        f" (:objects rooma roomb left right {' '.join(balls)})\n"
        " (:init (room rooma) (room roomb) (gripper left) (gripper right) (at-robby rooma)"
        " (free left) (free right) "
        + " ".join(f"(ball {b}) (at {b} rooma)" for b in balls)
        + ")\n (:goal (and " + " ".join(f"(at {b} roomb)" for b in balls) + ")))\n"
    )
    caps = [
        _cap("move.a-b", {"robot.at": "a"}, {"robot.at": "b"}),
        _cap("move.b-a", {"robot.at": "b"}, {"robot.at": "a"}),
    ]
    for b in balls:
        for room in ("a", "b"):
            for g in ("left", "right"):
                caps.append(_cap(f"pick.{b}-{room}-{g}",
                                 {f"{b}.at": room, "robot.at": room, f"{g}.free": True},
                                 {f"{b}.at": g, f"{g}.free": False}))
                caps.append(_cap(f"drop.{b}-{room}-{g}",
                                 {f"{b}.at": g, "robot.at": room},
                                 {f"{b}.at": room, f"{g}.free": True}))
    state: dict[str, Any] = {"robot.at": "a", "left.free": True, "right.free": True}
    state.update({f"{b}.at": "a" for b in balls})
    return Instance("gripper", n, GRIPPER_DOMAIN, problem, caps, {f"{b}.at": "b" for b in balls}, state)


BLOCKS_DOMAIN = """(define (domain blocksworld)
 (:requirements :strips)
 (:predicates (clear ?x) (ontable ?x) (handempty) (holding ?x) (on ?x ?y))
 (:action pick-up :parameters (?x)
  :precondition (and (clear ?x) (ontable ?x) (handempty))
  :effect (and (not (ontable ?x)) (not (clear ?x)) (not (handempty)) (holding ?x)))
 (:action put-down :parameters (?x)
  :precondition (holding ?x)
  :effect (and (not (holding ?x)) (clear ?x) (handempty) (ontable ?x)))
 (:action stack :parameters (?x ?y)
  :precondition (and (holding ?x) (clear ?y))
  :effect (and (not (holding ?x)) (not (clear ?y)) (clear ?x) (handempty) (on ?x ?y)))
 (:action unstack :parameters (?x ?y)
  :precondition (and (on ?x ?y) (clear ?x) (handempty))
  :effect (and (holding ?x) (clear ?y) (not (clear ?x)) (not (handempty)) (not (on ?x ?y)))))
"""


def _towers(blocks: list[str], rng: random.Random) -> dict[str, str]:
    """Return a random configuration: block -> what it is on (a block or 'table')."""
    order = blocks[:]
    rng.shuffle(order)
    on: dict[str, str] = {}
    tops: list[str] = []
    for b in order:
        if tops and rng.random() < 0.6:
            below = rng.choice(tops)
            tops.remove(below)
            on[b] = below
        else:
            on[b] = "table"
        tops.append(b)
    return on


def blocksworld(n: int, seed: int = 1) -> Instance:
    """Return blocksworld with `n` blocks between two random configurations (seeded)."""
    rng = random.Random(seed * 1000 + n)
    blocks = [f"b{i}" for i in range(1, n + 1)]
    start = _towers(blocks, rng)
    goal = _towers(blocks, rng)
    while sum(1 for b in blocks if goal[b] != "table") < max(1, n // 2) or goal == start:
        goal = _towers(blocks, rng)
    clear = {b: all(start[o] != b for o in blocks) for b in blocks}
    init = ["(handempty)"]
    for b in blocks:
        init.append(f"(ontable {b})" if start[b] == "table" else f"(on {b} {start[b]})")
        if clear[b]:
            init.append(f"(clear {b})")
    goal_pddl = [f"(on {b} {goal[b]})" for b in blocks if goal[b] != "table"]
    problem = (
        f"(define (problem blocks-{n}) (:domain blocksworld)\n (:objects {' '.join(blocks)})\n"
        f" (:init {' '.join(init)})\n (:goal (and {' '.join(goal_pddl)})))\n"
    )
    caps = []
    for x in blocks:
        caps.append(_cap(f"pickup.{x}", {f"{x}.on": "table", f"{x}.clear": True, "hand.empty": True},
                         {f"{x}.on": "hand", f"{x}.clear": False, "hand.empty": False}))
        caps.append(_cap(f"putdown.{x}", {f"{x}.on": "hand"},
                         {f"{x}.on": "table", f"{x}.clear": True, "hand.empty": True}))
        for y in blocks:
            if x == y:
                continue
            caps.append(_cap(f"stack.{x}-{y}", {f"{x}.on": "hand", f"{y}.clear": True},
                             {f"{x}.on": y, f"{x}.clear": True, f"{y}.clear": False, "hand.empty": True}))
            caps.append(_cap(f"unstack.{x}-{y}", {f"{x}.on": y, f"{x}.clear": True, "hand.empty": True},
                             {f"{x}.on": "hand", f"{x}.clear": False, f"{y}.clear": True, "hand.empty": False}))
    state: dict[str, Any] = {"hand.empty": True}
    for b in blocks:
        state[f"{b}.on"] = start[b]
        state[f"{b}.clear"] = clear[b]
    ido_goal = {f"{b}.on": goal[b] for b in blocks if goal[b] != "table"}
    return Instance("blocksworld", n, BLOCKS_DOMAIN, problem, caps, ido_goal, state)


LOGISTICS_DOMAIN = """(define (domain logistics-strips)
 (:requirements :strips)
 (:predicates (OBJ ?obj) (TRUCK ?truck) (LOCATION ?loc) (AIRPLANE ?airplane) (CITY ?city)
  (AIRPORT ?airport) (at ?obj ?loc) (in ?obj1 ?obj2) (in-city ?obj ?city))
 (:action LOAD-TRUCK :parameters (?obj ?truck ?loc)
  :precondition (and (OBJ ?obj) (TRUCK ?truck) (LOCATION ?loc) (at ?truck ?loc) (at ?obj ?loc))
  :effect (and (not (at ?obj ?loc)) (in ?obj ?truck)))
 (:action LOAD-AIRPLANE :parameters (?obj ?airplane ?loc)
  :precondition (and (OBJ ?obj) (AIRPLANE ?airplane) (LOCATION ?loc) (at ?obj ?loc) (at ?airplane ?loc))
  :effect (and (not (at ?obj ?loc)) (in ?obj ?airplane)))
 (:action UNLOAD-TRUCK :parameters (?obj ?truck ?loc)
  :precondition (and (OBJ ?obj) (TRUCK ?truck) (LOCATION ?loc) (at ?truck ?loc) (in ?obj ?truck))
  :effect (and (not (in ?obj ?truck)) (at ?obj ?loc)))
 (:action UNLOAD-AIRPLANE :parameters (?obj ?airplane ?loc)
  :precondition (and (OBJ ?obj) (AIRPLANE ?airplane) (LOCATION ?loc) (in ?obj ?airplane) (at ?airplane ?loc))
  :effect (and (not (in ?obj ?airplane)) (at ?obj ?loc)))
 (:action DRIVE-TRUCK :parameters (?truck ?loc-from ?loc-to ?city)
  :precondition (and (TRUCK ?truck) (LOCATION ?loc-from) (LOCATION ?loc-to) (CITY ?city)
   (at ?truck ?loc-from) (in-city ?loc-from ?city) (in-city ?loc-to ?city))
  :effect (and (not (at ?truck ?loc-from)) (at ?truck ?loc-to)))
 (:action FLY-AIRPLANE :parameters (?airplane ?loc-from ?loc-to)
  :precondition (and (AIRPLANE ?airplane) (AIRPORT ?loc-from) (AIRPORT ?loc-to) (at ?airplane ?loc-from))
  :effect (and (not (at ?airplane ?loc-from)) (at ?airplane ?loc-to))))
"""


def logistics(n: int, seed: int = 1) -> Instance:
    """Return logistics with `n` packages over max(2, n//2+1) cities (an airport and a
    post office each, one truck per city, one airplane); random start and goal (seeded)."""
    rng = random.Random(seed * 1000 + n)
    n_cities = max(2, n // 2 + 1)
    cities = [f"c{i}" for i in range(n_cities)]
    locs = {c: [f"{c}-air", f"{c}-post"] for c in cities}
    all_locs = [loc for c in cities for loc in locs[c]]
    airports = [locs[c][0] for c in cities]
    trucks = {c: f"t{c}" for c in cities}
    plane = "plane"
    packages = [f"p{i}" for i in range(1, n + 1)]
    p_start = {p: rng.choice(all_locs) for p in packages}
    p_goal = {p: rng.choice([loc for loc in all_locs if loc != p_start[p]]) for p in packages}
    t_start = {c: rng.choice(locs[c]) for c in cities}
    a_start = rng.choice(airports)
    objects = cities + all_locs + list(trucks.values()) + [plane] + packages
    init = [f"(CITY {c})" for c in cities]
    init += [f"(LOCATION {loc})" for loc in all_locs] + [f"(AIRPORT {a})" for a in airports]
    init += [f"(in-city {loc} {c})" for c in cities for loc in locs[c]]
    init += [f"(TRUCK {trucks[c]}) (at {trucks[c]} {t_start[c]})" for c in cities]
    init += [f"(AIRPLANE {plane}) (at {plane} {a_start})"]
    init += [f"(OBJ {p}) (at {p} {p_start[p]})" for p in packages]
    problem = (
        f"(define (problem logistics-{n}) (:domain logistics-strips)\n (:objects {' '.join(objects)})\n"
        f" (:init {' '.join(init)})\n (:goal (and {' '.join(f'(at {p} {p_goal[p]})' for p in packages)})))\n"
    )
    caps = []
    for c in cities:
        t = trucks[c]
        for a in locs[c]:
            for b in locs[c]:
                if a != b:
                    caps.append(_cap(f"drive.{t}-{a}-{b}", {f"{t}.at": a}, {f"{t}.at": b}))
            for p in packages:
                caps.append(_cap(f"load.{p}-{t}-{a}", {f"{p}.at": a, f"{t}.at": a}, {f"{p}.at": t}))
                caps.append(_cap(f"unload.{p}-{t}-{a}", {f"{p}.at": t, f"{t}.at": a}, {f"{p}.at": a}))
    for a in airports:
        for b in airports:
            if a != b:
                caps.append(_cap(f"fly.{plane}-{a}-{b}", {f"{plane}.at": a}, {f"{plane}.at": b}))
        for p in packages:
            caps.append(_cap(f"loadair.{p}-{a}", {f"{p}.at": a, f"{plane}.at": a}, {f"{p}.at": plane}))
            caps.append(_cap(f"unloadair.{p}-{a}", {f"{p}.at": plane, f"{plane}.at": a}, {f"{p}.at": a}))
    state: dict[str, Any] = {f"{trucks[c]}.at": t_start[c] for c in cities}
    state[f"{plane}.at"] = a_start
    state.update({f"{p}.at": p_start[p] for p in packages})
    return Instance("logistics", n, LOGISTICS_DOMAIN, problem, caps, {f"{p}.at": p_goal[p] for p in packages}, state)


DOMAINS = {"gripper": gripper, "blocksworld": blocksworld, "logistics": logistics}


# -- `ido plan --json` with and without alternatives, vs pyperplan --------------------

CLI_SIZES = {"gripper": (2, 4, 6, 8), "blocksworld": (4, 6, 8), "logistics": (2, 4, 6)}
CLI_QUICK = {"gripper": (2, 4, 6), "blocksworld": (4, 6), "logistics": (2, 4)}


def write_workspace(inst: Instance, root: Path) -> str:
    """Write `inst` as a workspace below `root` (JSON is YAML) and return its intent's name."""
    name = f"{inst.name}-{inst.size}"
    (root / "capabilities").mkdir(parents=True, exist_ok=True)
    (root / "intents").mkdir(parents=True, exist_ok=True)
    caps = [{**c, "invoke": "sim", "cost": 1.0} for c in inst.capabilities]
    (root / "capabilities" / "classic.yaml").write_text(json.dumps({"capabilities": caps}, indent=1))
    intent = {"intent": name, "given": inst.state, "goal": inst.goal, "objective": {"cost": 1.0}}
    (root / "intents" / f"{name}.yaml").write_text(json.dumps(intent, indent=1))
    return name


def _solve_cli(domain: str, size: int, out: Any) -> None:
    """Send the median `ido plan --json` call on the instance with the alternatives (`total`) and
    without them (`bare`), the two alternating in this process (output captured): on a shared
    machine, load changes over seconds, and alternating exposes both to the same."""
    from benchmarks.planning import REPEAT_BUDGET_S, REPEATS
    from ido.cli.main import cli

    inst = DOMAINS[domain](size)
    with tempfile.TemporaryDirectory() as tmp:
        name = write_workspace(inst, Path(tmp))
        args = ["--workspace", tmp, "plan", name, "--json"]

        def once(extra: list[str]) -> dict[str, Any]:
            buffer = io.StringIO()
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(buffer):
                cli.main(args + extra, standalone_mode=False)
            total = time.perf_counter() - t0
            plan = json.loads(buffer.getvalue())
            alts = plan["alternatives"]
            return {
                "total": total, "cost": len(plan["steps"]), "expanded": plan["metrics"]["nodes_expanded"],
                "alternatives": len(alts), "bounds": sum(1 for a in alts if a.get("lower_bound")),
            }

        bare, full = [once(["--no-alternatives"])], [once([])]
        while len(full) < REPEATS and sum(r["total"] for r in bare + full) < 2 * REPEAT_BUDGET_S:
            bare.append(once(["--no-alternatives"]))
            full.append(once([]))
        median = statistics.median_low
        row = full[full.index(min(full, key=lambda r: abs(r["total"] - median([f["total"] for f in full]))))]
        out.send(row | {"bare": median([b["total"] for b in bare]), "total": median([f["total"] for f in full]),
                        "calls": len(full), "first": full[0]["total"]})


def bench_cli(quick: bool, timeout: float) -> list[dict[str, Any]]:
    """Return one row per (domain, size): ido plan bare and with alternatives, and pyperplan."""
    from benchmarks.planning import _measured, _second_limit, _solve_pyperplan

    rows = []
    for domain, sizes in (CLI_QUICK if quick else CLI_SIZES).items():
        for size in sizes:
            # the child makes both calls, each within `timeout`
            full = _measured(_solve_cli, (domain, size), 2 * timeout)
            if full is not None and max(full["total"], full["bare"]) > timeout:
                full = None
            bare = None if full is None else full | {"total": full["bare"]}
            lm = _measured(_solve_pyperplan, (domain, size, "lmcut"), timeout)
            hm = _measured(_solve_pyperplan, (domain, size, "hmax"), _second_limit(lm, timeout))
            pyp = min([r for r in (lm, hm) if r], key=lambda r: r["total"], default=None)
            row = {"domain": domain, "size": size, "bare": bare, "full": full, "pyperplan": pyp}
            rows.append(row)
            print(f"{domain} {size}: bare {_s(bare)}, with alternatives {_s(full)}"
                  f" (x{_ratio(full, bare)}), pyperplan {_s(pyp)}", flush=True)
            if full is None:
                break
    return rows


def _s(r: dict[str, Any] | None) -> str:
    return "timeout" if r is None else f"{r['total'] * 1000:,.1f} ms"


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    return "-" if a is None or b is None else f"{a['total'] / b['total']:.2f}"


def report(rows: list[dict[str, Any]], quick: bool, timeout: float) -> str:
    """Return the markdown section for RESULTS.md."""
    lines = [
        "## `ido plan --json` on classic tasks, with and without alternatives (`benchmarks/classic.py`)", "",
        f"{datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; {platform.platform()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), Python "
        f"{platform.python_version()}" + (" (--quick)" if quick else "") + f"; timeout {timeout:g} s per call.", "",
        "The whole `ido plan --json` path in one process (load the YAML workspace, compile, plan, print "
        "JSON; interpreter start-up excluded), median call, bare and with alternatives alternating in "
        "one process; calls under 0.1 s are the median over five hash seeds. *bare* is `--no-alternatives`. *bounds* counts the verdicts whose figure is a lower "
        "bound (`lower_bound`), not searched for within the call's explanation budget. pyperplan: best "
        "of its h_max and LM-cut A* on the same task (parse, ground, search).", "",
        "| domain | size | plan length | nodes expanded | bare ms | with alternatives ms | ratio "
        "| alternatives (bounds) | pyperplan ms | with alternatives / pyperplan |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ratios = []
    for r in rows:
        bare, full, pyp = r["bare"], r["full"], r["pyperplan"]
        if full is not None and bare is not None:
            ratios.append(full["total"] / bare["total"])
        alts = f"{full['alternatives']} ({full['bounds']})" if full else "-"
        lines.append(
            f"| {r['domain']} | {r['size']} | {bare['cost'] if bare else '-'} | {bare['expanded'] if bare else '-'} "
            f"| {_ms(bare)} | {_ms(full)} | {_ratio(full, bare)} | {alts} | {_ms(pyp)} | {_ratio(full, pyp)} |"
        )
    if ratios:
        lines += ["", f"With alternatives / bare: median {statistics.median(ratios):.2f}x, worst {max(ratios):.2f}x "
                  f"(target <= 2x at every size: {'met' if max(ratios) <= 2.0 else 'missed'})."]
    return "\n".join(lines)


def _ms(r: dict[str, Any] | None) -> str:
    return "timeout" if r is None else f"{r['total'] * 1000:,.1f}"


def main() -> None:
    """Time the classic tasks through `ido plan --json`, print the rows, write RESULTS.md."""
    from benchmarks.results import replace_section

    parser = argparse.ArgumentParser(description="ido plan --json on classic tasks, with and without alternatives")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and a 10 s timeout")
    parser.add_argument("--timeout", type=float, default=None, help="per-call timeout (s)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    timeout = args.timeout or (10.0 if args.quick else 60.0)
    text = report(bench_cli(args.quick, timeout), args.quick, timeout)
    print(text)
    if not args.no_write:
        replace_section("classic-cli", text)


if __name__ == "__main__":
    main()
