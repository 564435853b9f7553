"""A closed-loop HTTP/1.1 load generator on raw asyncio streams, for the service benchmarks.

`load(port, method, path, ...)` opens `clients` keep-alive connections to
127.0.0.1 and has each send its next request as soon as its previous answer
has been read whole, until `total` requests have been answered; it returns
requests/s, p50/p99 latency (ms) and the count of answers that were not the
expected status. Called by `benchmarks/serve.py` for every row, ido's and
the peer's alike.

Why not httpx: with 50 connections an httpx AsyncClient spends ~3 ms of CPU
per request in its connection pool (measured: 6.9 s of client CPU against
0.9 s of server CPU for 2000 reads), so on a 2-core machine it measured the
client, and its pool hands connections out unevenly, which showed as a
seconds-long p99 the server never caused. Here a request is one prebuilt
byte string written and one `Content-Length` body read: tens of
microseconds of client CPU.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass


@dataclass
class Result:
    """What one `load` measured: throughput, latency percentiles and wrong answers."""

    rps: float
    p50: float
    p99: float
    errors: int
    n: int


def percentile(values: list[float], q: float) -> float:
    """Return the `q` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def request_bytes(method: str, path: str, port: int, token: str, body: object = None) -> bytes:
    """Return the whole HTTP/1.1 keep-alive request, built once and sent as is."""
    payload = b"" if body is None else json.dumps(body).encode()
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Authorization: Bearer {token}",
            "Accept: application/json", "Connection: keep-alive"]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one response (status line, headers, a Content-Length body); return its status and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length) if length else b""


async def _run(port: int, request: bytes, total: int, clients: int, expect: int,
               expect_body: bytes | None) -> Result:
    latencies: list[float] = []
    errors = 0
    remaining = total

    async def one_client() -> None:
        nonlocal remaining, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                writer.write(request)
                status, body = await _answer(reader)
                latencies.append(time.perf_counter() - start)
                if status != expect or (expect_body is not None and body != expect_body):
                    errors += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    return Result(rps=len(latencies) / elapsed, p50=1000 * statistics.median(latencies),
                  p99=1000 * percentile(latencies, 0.99), errors=errors, n=len(latencies))


def load(port: int, method: str, path: str, *, token: str, total: int, clients: int, body: object = None,
         expect: int = 200, expect_body: bytes | None = None) -> Result:
    """Send `total` requests from `clients` keep-alive connections (closed loop); return what was measured.

    An answer counts as an error when its status is not `expect`, or its body
    is not `expect_body` when that is given (so a fast wrong answer never
    counts as a fast answer).
    """
    request = request_bytes(method, path, port, token, body)
    return asyncio.run(_run(port, request, total, clients, expect, expect_body))
