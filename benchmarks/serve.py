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

Prints a table and replaces its section of benchmarks/RESULTS.md.
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


if __name__ == "__main__":
    main()
