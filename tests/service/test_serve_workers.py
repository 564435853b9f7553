"""`ido serve --workers N` runs N `ido worker` processes beside its HTTP loop, and they end with it.

Processes at a lower CPU priority, so a worker's engine never holds the GIL
against the HTTP loop nor takes a short core from it;
each ends when the service's pipe closes, so a service killed outright
(SIGKILL, no cleanup of its own) leaves no worker driving runs behind it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from service_helpers import copy_workspace

from ido.cli.serve import WORKER_NICE

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def alive(pid: int) -> bool:
    """Return whether process `pid` runs (a zombie no longer does)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def nice_of(pid: int) -> int:
    """Return the nice value of process `pid`."""
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])


def wait_for(what: str, check: object, log: Path, limit_s: float = 120.0) -> None:
    limit = time.monotonic() + limit_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < limit, f"{what}; the log:\n{log.read_text()}"
        time.sleep(0.2)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_workers_are_processes_of_their_own_and_end_with_a_killed_service(tmp_path: Path) -> None:
    root = copy_workspace(tmp_path / "ws")
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as handle:
        service = subprocess.Popen(
            [sys.executable, "-m", "ido", "--workspace", str(root), "--store", url, "serve", "--port", str(port),
             "--workers", "2"], cwd=ROOT, env=ENV, stdout=handle, stderr=subprocess.STDOUT)
    workers: list[int] = []
    try:
        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for("ido serve did not answer", up, log)

        def banners() -> bool:
            workers[:] = [int(pid) for pid in re.findall(r"worker [^:\s]+:(\d+):\S+ on .*waiting for runs",
                                                         log.read_text())]
            return len(workers) == 2

        wait_for("two worker banners", banners, log)
        assert service.pid not in workers and len(set(workers)) == 2
        assert all(alive(pid) for pid in workers)
        # a lower CPU priority than the service's: its HTTP loop answers first when cores are short
        assert all(nice_of(pid) == min(19, nice_of(service.pid) + WORKER_NICE) for pid in workers)
        assert "sqlite" not in " ".join(Path(f"/proc/{workers[0]}/cmdline").read_text().split("\0"))
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=30)
        wait_for("the workers outlived the killed service", lambda: not any(alive(pid) for pid in workers), log,
                 limit_s=60)
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
