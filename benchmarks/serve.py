"""Benchmark: requests/s and latency of `ido serve` with 50 concurrent clients on loopback.

One `ido serve` process (uvicorn, one event loop, FastAPI's thread pool) over
a SQLite journal holding one finished run of the demo intent
(order-fulfilled, 6 decisions). 50 httpx async clients send, each in a loop,
`GET /api/v1/runs/{id}/decisions` (the run's explanation, ~25 kB of JSON) and
then `POST /api/v1/runs` (a queued run: one journal write, durable before the
202). Bearer tokens are on, as in production. The clients run in this
process, the server in another, on the same 2 shared cores, so the figures
are a floor.

    python benchmarks/serve.py [--quick] [--requests N]
    python benchmarks/serve.py --registry [--trials N] [--store URL]

Prints a table and replaces its section of benchmarks/RESULTS.md. With
`--registry`: the time from a `PUT` of a capability to the first decision of a
worker that uses it (`ido serve --workers 1`; SQLite, or the `--store` given),
for a run submitted right after the PUT and for a run already blocked waiting
for a provider reliable enough; section "serve-registry".
"""

from __future__ import annotations

import argparse
import asyncio
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
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402 - after the path insert

from benchmarks.results import replace_section  # noqa: E402

#: concurrent clients of the headline figures; one client is measured too (latency without queueing)
CLIENTS = int(os.environ.get("IDO_BENCH_CLIENTS", "50"))
TOKEN = "bench-token-0123456789abcdef"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _load(base: str, method: str, path: str, body: object, total: int, clients: int = CLIENTS) -> dict[str, float]:
    """Send `total` requests from `clients` concurrent clients; return req/s, p50, p99 (ms) and errors."""
    latencies: list[float] = []
    errors = 0
    remaining = total
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:

        async def one_client() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                response = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - start)
                if response.status_code >= 400:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {"rps": len(latencies) / elapsed, "p50": 1000 * statistics.median(latencies),
            "p99": 1000 * _percentile(latencies, 0.99), "errors": errors, "n": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="Requests per endpoint.")
    parser.add_argument("--quick", action="store_true", help="300 requests per endpoint; RESULTS.md untouched.")
    args = parser.parse_args()
    total = 300 if args.quick else args.requests
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder in ("intents", "capabilities", "policies"):
            shutil.copytree(ROOT / folder, root / folder)
        url = f"sqlite:///{root / 'journal.db'}"
        base_cmd = [sys.executable, "-m", "ido", "--workspace", str(root), "--store", url]
        subprocess.run([*base_cmd, "run", "order-fulfilled", "--json"], check=True, env=ENV,
                       stdout=subprocess.DEVNULL)
        listing = subprocess.run([*base_cmd, "runs", "--json"], check=True, env=ENV, capture_output=True,
                                 text=True).stdout
        import json

        run_id = json.loads(listing)["runs"][0]["run_id"]
        (root / "tokens").write_text(f"{TOKEN} operate\n")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([*base_cmd, "serve", "--port", str(port), "--token-file", str(root / "tokens")],
                                  env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            limit = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"},
                                 timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > limit or server.poll() is not None:
                    raise SystemExit("ido serve did not start")
                time.sleep(0.3)
            asyncio.run(_load(base, "GET", f"/api/v1/runs/{run_id}/decisions", None, 100))  # warm-up
            reads = asyncio.run(_load(base, "GET", f"/api/v1/runs/{run_id}/decisions", None, total))
            writes = asyncio.run(_load(base, "POST", "/api/v1/runs", {"intent": "order-fulfilled"}, total))
            read_one = asyncio.run(_load(base, "GET", f"/api/v1/runs/{run_id}/decisions", None, total // 3, 1))
            write_one = asyncio.run(_load(base, "POST", "/api/v1/runs", {"intent": "order-fulfilled"},
                                          total // 3, 1))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    rows = [(f"GET /runs/{{id}}/decisions, {CLIENTS} clients", reads),
            (f"POST /runs (queue a run), {CLIENTS} clients", writes),
            ("GET /runs/{id}/decisions, 1 client", read_one), ("POST /runs (queue a run), 1 client", write_one)]
    table = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; `ido serve` (one uvicorn process) on SQLite, "
        f"{CLIENTS} concurrent httpx clients on loopback, {total} requests per endpoint, bearer tokens on.",
        "",
        "| endpoint | requests/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        table.append(f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {int(r['errors'])} |")
    table += ["", "Load average at the end (other work on the machine): "
              + ", ".join(f"{x:.2f}" for x in os.getloadavg())
              + ". The clients run on the same 2 cores as the server; a finished run's decisions are "
              "served from the service's cache after the first read."]
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
            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        return (f"| {label} | {len(ms)} | {statistics.median(ms):.0f} | {_percentile(ms, 0.9):.0f} | "
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
