"""Helpers of the explorer's browser tests: start `ido serve`, copy the demo, watch a page.

`watch(page)` records a page's console errors and aborts (and records) every
request to a host other than 127.0.0.1; `Watched.check()` fails on either.
Used by tests/explorer/conftest.py, the tests, and benchmarks/explorer.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: what the brief asks for: no network beyond loopback, nothing the browser would fetch by itself
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 120.0
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}


def browser_or_skip() -> None:
    """Skip (or fail under IDO_REQUIRE_BROWSER=1) when Playwright or Debian's Chromium is missing."""
    missing = None
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing = "playwright is not installed: pip install -e '.[test]'"
    if missing is None and not CHROMIUM.exists():
        missing = "no /usr/bin/chromium: apt-get install -y chromium"
    if missing is not None:
        if os.environ.get("IDO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"IDO_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def copy_demo(target: Path) -> Path:
    """Copy the repository's demo workspace (with its scenarios) into `target`."""
    for folder in ("intents", "capabilities", "policies", "benchmarks/scenarios"):
        shutil.copytree(ROOT / folder, target / folder)
    return target


@dataclass
class Served:
    """A running `ido serve`: its workspace, journal, base URL and the runs the tests put in it."""

    root: Path
    store: str
    base: str
    log: Path
    login_url: str
    outage_run: str
    plain_run: str
    cookies: list[dict[str, Any]] = field(default_factory=list)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Return the API's answer to a loopback script (no Origin: no login needed)."""
        return httpx.request(method, f"{self.base}{path}", timeout=30, **kwargs)


def start_serve(root: Path, store: str, log: Path, *extra: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start `ido serve` on a free port; return the process, its base URL and the login URL it printed
    ("" with `--token-file`, which prints none)."""
    port = free_port()
    handle = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ido", "--workspace", str(root), "--store", store, "serve", "--port", str(port),
         *extra], cwd=ROOT, env=ENV, stdout=handle, stderr=subprocess.STDOUT, text=True,
    )
    handle.close()
    base = f"http://127.0.0.1:{port}"
    limit = time.monotonic() + START_TIMEOUT_S
    while True:
        assert proc.poll() is None, log.read_text()
        found = re.search(r"(http://\S+/login\?secret=\S+)", log.read_text())
        if found or "--token-file" in extra:  # with tokens there is no login URL
            try:
                # openapi.json reads no journal (/api/v1/health counts every run: slow on a big one)
                if httpx.get(f"{base}/api/v1/openapi.json", timeout=5).status_code == 200:
                    return proc, base, found.group(1) if found else ""
            except httpx.TransportError:
                pass
        assert time.monotonic() < limit, "ido serve did not answer in time:\n" + log.read_text()
        time.sleep(0.3)


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the process and wait for it (SIGKILL after 30 s)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Watched:
    """What a page did that a test must not allow: requests off the loopback, console errors."""

    offsite: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: console messages a test expects (an answer it asked for with a 4xx status)
    allowed: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Fail when the page asked for another host or logged an error nobody expected."""
        assert not self.offsite, f"requests to hosts other than 127.0.0.1: {self.offsite}"
        unexpected = [e for e in self.errors if not any(a in e for a in self.allowed)]
        assert not unexpected, f"console errors: {unexpected}"


def watch(page: Any) -> Watched:
    """Record the page's console errors, page errors and requests off 127.0.0.1 (which are aborted)."""
    watched = Watched()

    def route(request_route: Any) -> None:
        host = urlparse(request_route.request.url).hostname
        if request_route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            request_route.continue_()
        else:
            watched.offsite.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: watched.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watched.errors.append(f"page error: {exc}"))
    return watched


