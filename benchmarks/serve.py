"""Benchmark: requests/s, latency and server CPU of `ido serve` with 1 and 50 concurrent clients on loopback.

One `ido serve` process (uvicorn, one event loop) over a SQLite journal
holding one finished run of the demo intent (order-fulfilled, 6 decisions).
Keep-alive clients (`benchmarks/loadgen.py`, raw asyncio streams: a request
costs the client tens of microseconds, so the figures are the server's) send
`GET /api/v1/runs/{id}/decisions` (the run's explanation, ~25 kB of JSON,
every answer compared byte for byte) and `POST /api/v1/runs` (a queued run:
one journal write, durable before the 202). Bearer tokens are on, as in
production.

Beside it, measured by the same clients in the same rounds:

- `--baseline DIR`: `ido serve` of another checkout (e.g. `git archive
  COMMIT | tar -x -C DIR`), run as that commit installed it: uvicorn without
  uvloop and httptools (they are hidden from it);
- `ido serve --workers 2` on a journal of its own, its worker processes
  driving runs (300 queued before the rounds, more by each round's POSTs)
  while its reads are measured;
- a reference (`benchmarks/serve_peer.py`): a bare FastAPI endpoint on the
  same uvicorn returning the same bytes, with no auth, journal or cache: what
  routing a request through FastAPI costs (ido's kept answers skip it).

The servers take turns, round after round (`--rounds`), and each figure is
the median over the rounds, so load from other work on the machine falls on
all of them alike. Server CPU per request (from /proc) is the figure least
moved by that load. The clients share the machine's cores with the servers.

    python benchmarks/serve.py [--quick] [--rounds N] [--baseline DIR]
    python benchmarks/serve.py --registry [--trials N] [--store URL]

Prints a table and replaces its section of benchmarks/RESULTS.md. With
`--registry`: the time from a `PUT` of a capability to the first decision of a
worker that uses it (`ido serve --workers 1`; SQLite, or the `--store` given),
for a run submitted right after the PUT and for a run already blocked waiting
for a provider reliable enough; section "serve-registry".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402 - after the path insert

from benchmarks.loadgen import Result, load, percentile  # noqa: E402
from benchmarks.results import replace_section  # noqa: E402

#: concurrent clients of the headline figures; one client is measured too (latency without queueing)
CLIENTS = int(os.environ.get("IDO_BENCH_CLIENTS", "50"))
TOKEN = "bench-token-0123456789abcdef"
#: in-process workers of the `ido serve --workers` row, and the runs queued for them before the rounds
WORKERS = 2
QUEUED = 300
HIDDEN = 'raise ImportError("hidden from the baseline: its serve extra did not install it")\n'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float | None:
    """Return the CPU time (user + system, s) process `pid` used so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """One server under test: its label, process, port, and the decisions bytes it answers."""

    label: str
    process: subprocess.Popen[bytes]
    port: int
    writes: bool
    body: bytes = b""
    path: str = ""
    figures: dict[str, list[tuple[Result, float | None]]] = field(default_factory=dict)

    def measure(self, name: str, method: str, path: str, total: int, clients: int, body: object = None) -> None:
        """Run one load against this server and keep its result and the server CPU per request (ms)."""
        before = cpu_seconds(self.process.pid)
        result = load(self.port, method, path, token=TOKEN, total=total, clients=clients, body=body,
                      expect=202 if method == "POST" else 200,
                      expect_body=self.body if method == "GET" else None)
        after = cpu_seconds(self.process.pid)
        cpu = None if before is None or after is None else 1000 * (after - before) / max(1, result.n)
        self.figures.setdefault(name, []).append((result, cpu))


def _start(label: str, command: list[str], port: int, env: dict[str, str], writes: bool) -> Server:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    limit = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=2).status_code == 200:
                return Server(label, process, port, writes)
        except httpx.TransportError:
            pass
        if time.monotonic() > limit or process.poll() is not None:
            process.kill()
            raise SystemExit(f"{label} did not start")
        time.sleep(0.3)


def _row(label: str, name: str, runs: list[tuple[Result, float | None]]) -> str:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    cpus = [c for _, c in runs if c is not None]
    cpu = f"{median(cpus):.2f}" if cpus else "n/a"
    return (f"| {label} | {name} | {median([r.rps for r, _ in runs]):.0f} | {median([r.p50 for r, _ in runs]):.1f} "
            f"| {median([r.p99 for r, _ in runs]):.1f} | {cpu} | {sum(r.errors for r, _ in runs)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="Requests per endpoint and round (50 clients).")
    parser.add_argument("--rounds", type=int, default=5, help="Rounds; every figure is the median over them.")
    parser.add_argument("--baseline", type=Path, default=None, help="A checkout whose `ido serve` is measured too.")
    parser.add_argument("--quick", action="store_true", help="300 requests, 1 round; RESULTS.md untouched.")
    args = parser.parse_args()
    total, rounds = (300, 1) if args.quick else (args.requests, args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder in ("intents", "capabilities", "policies"):
            shutil.copytree(ROOT / folder, root / folder)
        url = f"sqlite:///{root / 'journal.db'}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        base_cmd = [sys.executable, "-m", "ido", "--workspace", str(root), "--store", url]
        subprocess.run([*base_cmd, "run", "order-fulfilled", "--json"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        listing = subprocess.run([*base_cmd, "runs", "--json"], check=True, env=env, capture_output=True,
                                 text=True).stdout
        run_id = json.loads(listing)["runs"][0]["run_id"]
        (root / "tokens").write_text(f"{TOKEN} operate\n")
        tokens = ["--token-file", str(root / "tokens")]
        servers: list[Server] = []
        try:
            if args.baseline is not None:
                hide = root / "hidden"
                for module in ("uvloop", "httptools"):
                    (hide / module).mkdir(parents=True)
                    (hide / module / "__init__.py").write_text(HIDDEN)
                port = _free_port()
                old_env = {**os.environ, "PYTHONPATH": f"{hide}{os.pathsep}{args.baseline.resolve()}"}
                servers.append(_start(f"ido serve before ({args.baseline.name})",
                                      [*base_cmd, "serve", "--port", str(port), *tokens], port, old_env, True))
            port = _free_port()
            ido = _start("ido serve", [*base_cmd, "serve", "--port", str(port), *tokens], port, env, True)
            servers.append(ido)
            path = f"/api/v1/runs/{run_id}/decisions"
            auth = {"Authorization": f"Bearer {TOKEN}"}
            body = httpx.get(f"http://127.0.0.1:{ido.port}{path}", headers=auth).content
            # in-process workers on a journal of their own, driving the runs queued there meanwhile
            busy_url = f"sqlite:///{root / 'busy.db'}"
            busy_cmd = [sys.executable, "-m", "ido", "--workspace", str(root), "--store", busy_url]
            subprocess.run([*busy_cmd, "run", "order-fulfilled", "--json"], check=True, env=env,
                           stdout=subprocess.DEVNULL)
            busy_runs = subprocess.run([*busy_cmd, "runs", "--json"], check=True, env=env, capture_output=True,
                                       text=True).stdout
            port = _free_port()
            busy = _start(f"ido serve --workers {WORKERS}, driving runs",
                          [*busy_cmd, "serve", "--port", str(port), "--workers", str(WORKERS), *tokens],
                          port, env, True)
            busy.path = f"/api/v1/runs/{json.loads(busy_runs)['runs'][0]['run_id']}/decisions"
            servers.append(busy)
            (root / "decisions.json").write_bytes(body)
            port = _free_port()
            servers.append(_start("reference: bare FastAPI endpoint, same bytes",
                                  [sys.executable, str(ROOT / "benchmarks" / "serve_peer.py"), str(port),
                                   str(root / "decisions.json")], port, env, False))
            for server in servers:
                server.path = server.path or path
                server.body = httpx.get(f"http://127.0.0.1:{server.port}{server.path}", headers=auth).content
                if server.path == path and json.loads(server.body) != json.loads(body):
                    raise SystemExit(f"{server.label} answers other decisions than ido serve")
                load(server.port, "GET", server.path, token=TOKEN, total=200, clients=CLIENTS)  # warm-up
            post = {"intent": "order-fulfilled"}
            # runs for the workers to drive while the reads are measured (more are queued each round)
            load(busy.port, "POST", "/api/v1/runs", token=TOKEN, total=QUEUED, clients=10, body=post, expect=202)
            for _ in range(rounds):
                for server in servers:
                    server.measure(f"GET decisions, {CLIENTS} clients", "GET", server.path, total, CLIENTS)
                    server.measure("GET decisions, 1 client", "GET", server.path, max(100, total // 3), 1)
                    if server.writes:
                        server.measure(f"POST /runs, {CLIENTS} clients", "POST", "/api/v1/runs", total // 2,
                                       CLIENTS, post)
                        server.measure("POST /runs, 1 client", "POST", "/api/v1/runs", max(50, total // 10), 1,
                                       post)
        finally:
            for server in servers:
                server.process.send_signal(signal.SIGTERM)
                server.process.wait(timeout=30)
    table = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; each server one uvicorn process, ido's on SQLite; "
        f"keep-alive clients on loopback (benchmarks/loadgen.py); {total} requests per round with "
        f"{CLIENTS} clients, a third of that with 1; bearer tokens on; medians of {rounds} round(s), "
        "the servers taking turns.",
        "",
        "| server | endpoint | requests/s | p50 ms | p99 ms | server CPU ms/request | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    names = list(servers[0].figures)
    for name in names:
        for server in servers:
            if name in server.figures:
                table.append(_row(server.label, name, server.figures[name]))
    table += ["", "Load average at the end (other work on the machine): "
              + ", ".join(f"{x:.2f}" for x in os.getloadavg())
              + f". The clients run on the same {os.cpu_count()} cores as the servers. A GET answer counts "
              "as an error unless it is the whole expected body."]
    report = "\n".join(table)
    print(report)
    if not args.quick:
        replace_section("serve", "## ido serve: HTTP API throughput and latency (benchmarks/serve.py)\n\n" + report)


GREET = """\
capabilities:
  - {name: greet.base, provides: greeting, effects: {customer.greeted: true}, cost: 1.0, latency: 20ms,
     invoke: sim, idempotent: true}
"""
GREET_INTENT = "intent: greet\ngiven: {customer.greeted: false}\ngoal: {customer.greeted: true}\n"


def _decided(http: httpx.Client, run_id: str, capability: str, limit_s: float = 30.0) -> float:
    """Poll the run's decisions until one chooses `capability`; return that decision's time (epoch s)."""
    from datetime import datetime as dt

    limit = time.monotonic() + limit_s
    while time.monotonic() < limit:
        got = http.get(f"/runs/{run_id}/decisions")
        if got.status_code == 200:
            for decision in got.json().get("decisions", []):
                if capability in decision.get("chosen", []):
                    return dt.fromisoformat(decision["at"]).timestamp()
        time.sleep(0.01)
    raise SystemExit(f"run {run_id} never chose {capability}")


def _put(http: httpx.Client, kind: str, name: str, body: str) -> None:
    answer = http.put(f"/{kind}/{name}", content=body.encode(), headers={"Content-Type": "application/yaml"})
    if answer.status_code >= 300:
        raise SystemExit(f"PUT {kind}/{name}: {answer.status_code} {answer.text}")


def registry_latency(trials: int, store: str | None, write: bool) -> None:
    """Time PUT -> first decision using the capability, for new and for blocked runs; print, record."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder in ("intents", "capabilities", "policies"):
            shutil.copytree(ROOT / folder, root / folder)
        (root / "capabilities" / "greet.yaml").write_text(GREET)
        (root / "intents" / "greet.yaml").write_text(GREET_INTENT)
        url = store or f"sqlite:///{root / 'journal.db'}"
        (root / "tokens").write_text(f"{TOKEN} admin\n")
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "ido", "--workspace", str(root), "--store", url, "serve", "--port", str(port),
             "--token-file", str(root / "tokens"), "--workers", "1"],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fresh: list[float] = []
        blocked: list[float] = []
        puts: list[float] = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30,
                              headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                limit = time.monotonic() + 120
                while True:
                    try:
                        if http.get("/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > limit or server.poll() is not None:
                        raise SystemExit("ido serve did not start")
                    time.sleep(0.3)
                for i in range(trials):
                    # a run submitted right after the PUT: the worker claims it and its first decision uses it
                    name = f"greet.fast-{i}"
                    body = (f"name: {name}\nprovides: greeting\neffects: {{customer.greeted: true}}\n"
                            f"cost: {0.5 / (i + 2):.6f}\nlatency: 20ms\ninvoke: sim\n")
                    t0 = time.time()
                    _put(http, "capabilities", name, body)
                    puts.append(time.time() - t0)
                    run_id = http.post("/runs", json={"intent": "greet"}).json()["run_id"]
                    fresh.append(_decided(http, run_id, name) - t0)
                    # a run blocked (its only provider too unreliable for min_success) until a good one appears
                    fact = f"sure{i}.done"
                    _put(http, "capabilities", f"sure{i}.flaky",
                         f"name: sure{i}.flaky\nprovides: sure{i}\neffects: {{{fact}: true}}\nreliability: 0.5\n"
                         "latency: 20ms\ninvoke: sim\n")
                    _put(http, "intents", f"sure-{i}",
                         f"intent: sure-{i}\ngiven: {{{fact}: false}}\ngoal: {{{fact}: true}}\n"
                         "constraints: {min_success: 0.9}\n")
                    run_id = http.post("/runs", json={"intent": f"sure-{i}"}).json()["run_id"]
                    wait_limit = time.monotonic() + 30
                    while http.get(f"/runs/{run_id}").json()["status"] != "blocked":
                        if time.monotonic() > wait_limit:
                            raise SystemExit(f"run {run_id} never blocked")
                        time.sleep(0.02)
                    t0 = time.time()
                    _put(http, "capabilities", f"sure{i}.good",
                         f"name: sure{i}.good\nprovides: sure{i}\neffects: {{{fact}: true}}\nreliability: 0.999\n"
                         "latency: 20ms\ninvoke: sim\n")
                    blocked.append(_decided(http, run_id, f"sure{i}.good") - t0)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"

    def row(label: str, values: list[float]) -> str:
        ms = [v * 1000 for v in values]
        return (f"| {label} | {len(ms)} | {statistics.median(ms):.0f} | {percentile(ms, 0.9):.0f} | "
                f"{max(ms):.0f} |")

    table = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; `ido serve --workers 1` on {backend}; the client polls "
        "the decisions every 10 ms and times the decision by its own `at` stamp. Target: <= 1000 ms.",
        "",
        "| from the PUT of a capability to | trials | median ms | p90 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        row("the PUT's answer (validated, committed as a new revision)", puts),
        row("the first decision of a run submitted after it (worker claim + start)", fresh),
        row("the next decision of a run blocked waiting for it (woken by the registry)", blocked),
        "",
        "A new run waits for the worker's next claim (it polls every 0.5 s when idle); a blocked run is woken "
        "by the engine's registry watch (every 0.1 s) rather than at its health recheck (5 s). Load average "
        "at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + ".",
    ]
    report = "\n".join(table)
    print(report)
    if write:
        replace_section(f"serve-registry-{backend.lower()}",
                        f"## ido serve: a registered capability used by the next decision, {backend} "
                        "(benchmarks/serve.py --registry)\n\n" + report)


if __name__ == "__main__":
    if "--registry" in sys.argv:
        registry_parser = argparse.ArgumentParser(description=__doc__)
        registry_parser.add_argument("--registry", action="store_true")
        registry_parser.add_argument("--trials", type=int, default=20)
        registry_parser.add_argument("--store", default=None, help="A journal URL (default: SQLite in a temp dir).")
        registry_parser.add_argument("--quick", action="store_true", help="3 trials; RESULTS.md untouched.")
        given = registry_parser.parse_args()
        registry_latency(3 if given.quick else given.trials, given.store, write=not given.quick)
    else:
        main()
