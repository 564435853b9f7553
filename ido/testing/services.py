"""A real, controllable HTTP service for tests: `ServiceServer`.

Tests (ido's and users' own) start one on 127.0.0.1, point capabilities at
its endpoints, then tell an endpoint at run time to fail with a status, slow
down, hang, change its answer, or lie in its health endpoint. The server
records every request with its `Idempotency-Key` and performs an endpoint's
side effect only once per key (a repeated key gets the first answer back), so
a test can assert "one side effect per key".

    with ServiceServer() as server:
        server.endpoint("charges", response={"id": "ch_1"}, cost=0.25)
        url = server.url_for("charges")          # POST here to invoke
        health = server.health_url("charges")    # GET: 200 when up, 503 when down
        server.set("charges", status=503)        # now it fails
        server.set("charges", status=200, healthy=False)  # works, but health says down
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    """A threading server that does not print a traceback when a client hangs up early."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | OSError):
            return  # the caller timed out or went away: expected in fault tests
        super().handle_error(request, client_address)


@dataclass(frozen=True)
class Request:
    """One request an endpoint received."""

    endpoint: str
    method: str
    path: str
    idempotency_key: str | None
    body: Any
    at: float
    #: the request's headers (lower-case names), e.g. to check a credential arrived
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Endpoint:
    """How one endpoint behaves now; change it with `ServiceServer.set`."""

    name: str
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    cost: float | None = None
    #: None: /health tells the truth (up unless failing or hanging); True/False: it says so regardless.
    healthy: bool | None = None
    #: fail this many next requests with `fail_status`, then behave normally.
    fail_next: int = 0
    fail_status: int = 503
    requests: list[Request] = field(default_factory=list)
    #: idempotency key (or a generated one) -> the answer of its one side effect.
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    effect_keys: list[str] = field(default_factory=list)

    def truthful_health(self) -> bool:
        """Return whether the endpoint would serve a call successfully now."""
        return not self.hang and self.status < 400 and self.fail_next == 0


class ServiceServer:
    """An HTTP server on 127.0.0.1 (a free port) in a background thread; a context manager.

    Paths: `POST|GET|PUT|PATCH|DELETE /NAME` invokes endpoint NAME;
    `GET /NAME/health` is its health probe. Unknown endpoints answer 404.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self._health_counts: dict[str, int] = {}
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: tests read `requests()` instead

            def _handle(self) -> None:
                server.serve_request(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._httpd = _QuietServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> ServiceServer:
        """Start serving in a daemon thread; return self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging requests, stop serving and close the socket."""
        self._release.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ServiceServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- configuration -----------------------------------------------------
    @property
    def url(self) -> str:
        """Return the base URL, e.g. `http://127.0.0.1:54321`."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url_for(self, name: str) -> str:
        """Return the URL that invokes endpoint `name`."""
        return f"{self.url}/{name}"

    def health_url(self, name: str) -> str:
        """Return the URL of endpoint `name`'s health probe."""
        return f"{self.url}/{name}/health"

    def endpoint(self, name: str, **behaviour: Any) -> Endpoint:
        """Create (or reset) endpoint `name` with the given `Endpoint` fields; return it."""
        with self._lock:
            ep = Endpoint(name=name, **behaviour)
            self._endpoints[name] = ep
            return ep

    def set(self, name: str, **behaviour: Any) -> None:
        """Change how endpoint `name` behaves from now on (status, delay, hang, response, ...).

        Setting `hang=False` also releases requests hanging right now.
        """
        with self._lock:
            ep = self._endpoints[name]
            for key, value in behaviour.items():
                if not hasattr(ep, key) or key in ("name", "requests", "effects", "effect_keys"):
                    raise ValueError(f"endpoint has no setting {key!r}")
                setattr(ep, key, value)
        if behaviour.get("hang") is False:
            self._release.set()
            self._release = threading.Event()

    # -- what happened -----------------------------------------------------
    def requests(self, name: str) -> list[Request]:
        """Return the requests endpoint `name` received, in order (health probes excluded)."""
        with self._lock:
            return list(self._endpoints[name].requests)

    def side_effects(self, name: str) -> list[str]:
        """Return the keys of the side effects endpoint `name` performed, one per key, in order."""
        with self._lock:
            return list(self._endpoints[name].effect_keys)

    def health_checks(self, name: str) -> int:
        """Return how many health probes endpoint `name` answered."""
        with self._lock:
            return self._health_counts.get(name, 0)

    # -- serving -----------------------------------------------------------
    def serve_request(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request the server's handler received (an endpoint, or its /health)."""
        path = handler.path.split("?", 1)[0].strip("/")
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if path.endswith("/health"):
            self._serve_health(handler, path.removesuffix("/health"))
            return
        with self._lock:
            ep = self._endpoints.get(path)
            if ep is None:
                behaviour = None
            else:
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                key = handler.headers.get("Idempotency-Key")
                sent = {name.lower(): value for name, value in handler.headers.items()}
                ep.requests.append(Request(path, handler.command, handler.path, key, body, time.time(), sent))
                failing = ep.fail_next > 0
                if failing:
                    ep.fail_next -= 1
                behaviour = (ep.hang, ep.delay, ep.fail_status if failing else ep.status)
            release = self._release
        if behaviour is None:
            self._reply(handler, 404, {"error": f"no endpoint {path!r}"})
            return
        hang, delay, status = behaviour
        if hang:
            release.wait(timeout=30)
            handler.close_connection = True
            return
        if delay:
            time.sleep(delay)
        if status >= 400:
            self._reply(handler, status, {"error": f"{path} failing with {status}"})
            return
        assert ep is not None
        with self._lock:
            answer = self._side_effect(ep, key)
        headers = {"X-Cost": str(ep.cost)} if ep.cost is not None else {}
        self._reply(handler, status, answer, headers)

    def _side_effect(self, ep: Endpoint, key: str | None) -> dict[str, Any]:
        if key is not None and key in ep.effects:
            return {**ep.effects[key], "replayed": True}
        count = len(ep.effect_keys) + 1
        effect_key = key if key is not None else f"(no key #{count})"
        answer = {"id": f"{ep.name}-{count}", **ep.response, "replayed": False}
        if ep.cost is not None:
            answer.setdefault("cost", ep.cost)
        ep.effects[effect_key] = answer
        ep.effect_keys.append(effect_key)
        return answer

    def _serve_health(self, handler: BaseHTTPRequestHandler, name: str) -> None:
        with self._lock:
            ep = self._endpoints.get(name)
            self._health_counts[name] = self._health_counts.get(name, 0) + 1
            up = None if ep is None else (ep.truthful_health() if ep.healthy is None else ep.healthy)
        if up is None:
            self._reply(handler, 404, {"error": f"no endpoint {name!r}"})
        else:
            self._reply(handler, 200 if up else 503, {"status": "up" if up else "down"})

    @staticmethod
    def _reply(
        handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (timeout); nothing to answer

