"""Helpers of the durability tests: a real local shop service and a workspace of files using it.

The shop is one `ServiceServer` on 127.0.0.1 living in the test process; the
workspace is YAML on disk (tmp_path) whose capabilities invoke its endpoints
over HTTP, so an engine in another process (killed, resumed) talks to it too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import IO

import ido.loading  # noqa: F401 - first: ido.workspace and ido.loading import each other
from ido.journal import open_store
from ido.journal.base import Event
from ido.testing.services import ServiceServer

ROOT = Path(__file__).resolve().parents[2]
#: the environment of `ido` processes the tests start: this checkout's ido, no colours.
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}

#: endpoint -> (cost, delay in seconds): every step takes a little time, so kills land mid-run.
ENDPOINTS = {
    "stock.reserve": (0.05, 0.12),
    "stock.release": (0.01, 0.05),
    "pay.acme": (0.20, 0.15),
    "pay.backup": (0.35, 0.15),
    "pay.refund": (0.01, 0.05),
    "ship.parcel": (0.30, 0.20),
    "ship.cancel": (0.01, 0.05),
    "notify.mail": (0.01, 0.08),
}


def _capability(server: ServiceServer, name: str, provides: str, requires: str, effects: str,
                compensate: str | None = None) -> str:
    cost, _ = ENDPOINTS[name]
    undo = f"\n        compensate: {compensate}" if compensate else ""
    return textwrap.dedent(f"""\
      - name: {name}
        provides: {provides}
        requires: {requires}
        effects: {effects}
        cost: {cost}
        latency: 200ms
        reliability: 0.99
        idempotent: true
        timeout: 3s{undo}
        invoke:
          http:
            method: POST
            url: {server.url_for(name)}
            json: {{order: "{{inputs.order_id}}"}}
    """)


def shop_capabilities(server: ServiceServer, *, pay_cost: float | None = None) -> str:
    """Return capabilities/shop.yaml for `server`: reserve -> pay (two providers) -> ship, notify."""
    caps = [
        _capability(server, "stock.reserve", "reservation", "{order.reserved: false}",
                    "{order.reserved: true}", "stock.release"),
        _capability(server, "stock.release", "reservation-release", "{order.reserved: true}",
                    "{order.reserved: false}"),
        _capability(server, "pay.acme", "payment", "{order.reserved: true, order.paid: false}",
                    "{order.paid: true}", "pay.refund"),
        _capability(server, "pay.backup", "payment", "{order.reserved: true, order.paid: false}",
                    "{order.paid: true}", "pay.refund"),
        _capability(server, "pay.refund", "refund", "{order.paid: true}", "{order.paid: false}"),
        _capability(server, "ship.parcel", "shipping", "{order.paid: true, order.shipped: false}",
                    "{order.shipped: true}", "ship.cancel"),
        _capability(server, "ship.cancel", "shipping-cancel", "{order.shipped: true}", "{order.shipped: false}"),
        _capability(server, "notify.mail", "notification", "{order.paid: true, customer.notified: false}",
                    "{customer.notified: true}"),
    ]
    text = "capabilities:\n" + "".join(textwrap.indent(c, "  ") for c in caps)
    if pay_cost is not None:
        text = text.replace("cost: 0.2\n", f"cost: {pay_cost}\n", 1)
    return text


ORDER_INTENT = """\
intent: order
inputs:
  order_id: {type: str}
given:
  order.reserved: false
  order.paid: false
  order.shipped: false
  customer.notified: false
goal: {order.paid: true, order.shipped: true, customer.notified: true}
constraints: {budget: 5.0, deadline: DEADLINE}
objective: {cost: 1.0}
on_failure: compensate
"""


def write_shop(root: Path, server: ServiceServer, *, deadline: str = "8s") -> Path:
    """Write the shop workspace (intents/order.yaml, capabilities/shop.yaml) below `root`; return it."""
    (root / "intents").mkdir(parents=True, exist_ok=True)
    (root / "capabilities").mkdir(parents=True, exist_ok=True)
    (root / "intents" / "order.yaml").write_text(ORDER_INTENT.replace("DEADLINE", deadline))
    (root / "capabilities" / "shop.yaml").write_text(shop_capabilities(server))
    return root


class Workers:
    """`ido worker` processes on one workspace and journal; all stopped at the end."""

    def __init__(self, root: Path, url: str, tmp: Path) -> None:
        self.root, self.url, self.tmp = root, url, tmp
        self.procs: list[subprocess.Popen[str]] = []
        self.logs: list[IO[str]] = []

    def start(self, *, lease: str = "1s", concurrency: int = 8) -> subprocess.Popen[str]:
        log = (self.tmp / f"worker{len(self.procs)}.log").open("w")
        self.logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ido", "--workspace", str(self.root), "--store", self.url,
             "worker", "--lease", lease, "--concurrency", str(concurrency)],
            cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        self.procs.append(proc)
        return proc

    def log(self, proc: subprocess.Popen[str]) -> str:
        return (self.tmp / f"worker{self.procs.index(proc)}.log").read_text()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()


def snapshot(url: str) -> tuple[dict[str, str], dict[str, list[Event]]]:
    """Return (status by run, events by run) as the journal holds them now."""
    store = open_store(url)
    try:
        runs = store.list_runs()
        return {r.run_id: r.status for r in runs}, {r.run_id: store.events(run_id=r.run_id) for r in runs}
    finally:
        store.close()


def wait_until(predicate: object, *, limit_s: float, what: str) -> None:
    """Poll `predicate()` every 50 ms until true; fail naming `what` after `limit_s`."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {limit_s}s waiting for {what}")
