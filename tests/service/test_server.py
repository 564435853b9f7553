"""A real `ido serve` process beside a real `ido worker` process on one SQLite journal, over 127.0.0.1.

A run submitted over HTTP succeeds, and its decisions read back over HTTP
equal `ido explain --json`; scopes give 401/403; the events stream resumes
from Last-Event-ID without loss or duplicates while the run is live; no token
ever reaches the journal file or the processes' logs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from service_helpers import TOKENS, copy_workspace

from ido.cli.main import main
from ido.client import Client, ClientError
from ido.journal import open_store

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    root: Path
    url: str
    base: str
    logs: list[Path]

    def client(self, scope: str | None) -> Client:
        return Client(self.base, token=TOKENS[scope] if scope else None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("served")
    root = copy_workspace(tmp / "ws")
    url = f"sqlite:///{tmp / 'journal.db'}"
    tokens = tmp / "tokens"
    tokens.write_text("".join(f"{token} {scope}\n" for scope, token in TOKENS.items()))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = [tmp / "serve.log", tmp / "worker.log"]
    commands = [
        ["serve", "--port", str(port), "--token-file", str(tokens)],
        ["worker", "--lease", "2s"],
    ]
    procs = []
    handles = []
    for log, command in zip(logs, commands, strict=True):
        handle = log.open("w")
        handles.append(handle)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "ido", "--workspace", str(root), "--store", url, *command],
            cwd=ROOT, env=ENV, stdout=handle, stderr=subprocess.STDOUT, text=True,
        ))
    try:
        limit = time.monotonic() + START_TIMEOUT_S
        while True:
            assert procs[0].poll() is None, logs[0].read_text()
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2,
                             headers={"Authorization": f"Bearer {TOKENS['read']}"}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < limit, "ido serve did not answer in time:\n" + logs[0].read_text()
            time.sleep(0.3)
        yield Server(root=root, url=url, base=base, logs=logs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for handle in handles:
            handle.close()


def test_a_run_submitted_over_http_succeeds_and_its_decisions_equal_ido_explain(
    server: Server, capsys: pytest.CaptureFixture[str],
) -> None:
    with server.client("operate") as ido:
        run_id = ido.start("order-fulfilled", inputs={"order_id": "ord-http-1"},
                           idempotency_key="ord-http-1")
        assert ido.start("order-fulfilled", inputs={"order_id": "ord-http-1"},
                         idempotency_key="ord-http-1") == run_id
        row = ido.wait(run_id, timeout=120)
        assert row["status"] == "succeeded", row
        decisions = ido.decisions(run_id)
        capsys.readouterr()
        assert main(["--workspace", str(server.root), "--store", server.url, "explain", run_id, "--json"]) == 0
        assert decisions == json.loads(capsys.readouterr().out)
        assert decisions["decisions"][-1]["action"] == "succeed"
        assert ido.get_run(run_id)["steps_executed"] == row["steps_executed"] > 0


def test_scopes_on_the_real_server(server: Server) -> None:
    with server.client(None) as anonymous, pytest.raises(ClientError) as caught:
        anonymous.runs()
    assert caught.value.status == 401
    with server.client("read") as reader:
        assert reader.runs()["runs"] is not None
        with pytest.raises(ClientError) as caught:
            reader.start("order-fulfilled")
        assert caught.value.status == 403 and caught.value.kind == "forbidden"


def test_events_resume_from_last_event_id_while_the_run_is_live(server: Server) -> None:
    with server.client("operate") as ido:
        run_id = ido.start("order-fulfilled", inputs={"order_id": "ord-sse"})
        seen: list[int] = []
        headers = {"Authorization": f"Bearer {TOKENS['read']}"}
        # first connection: read three events, then drop it
        with httpx.stream("GET", f"{server.base}/api/v1/runs/{run_id}/events", headers=headers,
                          timeout=60) as response:
            for line in response.iter_lines():
                if line.startswith("id: "):
                    seen.append(int(line[4:]))
                    if len(seen) == 3:
                        break
        status_when_dropped = ido.get_run(run_id)["status"]
        # the client resumes with Last-Event-ID = the last seq it saw
        seen += [event["seq"] for event in ido.events(run_id, after=seen[-1])]
    store = open_store(server.url)
    try:
        journal = [e.seq for e in store.events(run_id=run_id)]
        final = store.get_run(run_id=run_id).status
    finally:
        store.close()
    assert seen == journal == list(range(1, len(journal) + 1))
    assert final == "succeeded"
    assert status_when_dropped in {"queued", "running", "succeeded"}


def test_tokens_never_reach_the_journal_or_the_logs(server: Server) -> None:
    # runs above were submitted and approved-for with tokens; nothing of them may be written down
    path = Path(server.url.removeprefix("sqlite:///"))
    files = list(path.parent.glob(path.name + "*")) + server.logs
    assert files
    for file in files:
        data = file.read_bytes()
        for token in TOKENS.values():
            assert token.encode() not in data, f"{token} found in {file}"


def test_serve_with_in_process_workers_and_no_token_file(tmp_path: Path) -> None:
    """`ido serve --workers 1` drives runs itself; without tokens a loopback script needs no login."""
    root = copy_workspace(tmp_path / "ws")
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ido", "--workspace", str(root), "--store", url, "serve", "--port",
             str(port), "--workers", "1"], cwd=ROOT, env=ENV, stdout=handle, stderr=subprocess.STDOUT,
            text=True)
        try:
            with Client(f"http://127.0.0.1:{port}") as ido:
                limit = time.monotonic() + START_TIMEOUT_S
                while True:
                    assert proc.poll() is None, log.read_text()
                    try:
                        ido.health()
                        break
                    except httpx.TransportError:
                        assert time.monotonic() < limit, log.read_text()
                        time.sleep(0.3)
                row = ido.run("order-fulfilled", inputs={"order_id": "ord-inproc"}, timeout=120)
                assert row["status"] == "succeeded"
                assert ido.health()["runs_by_status"] == {"succeeded": 1}
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert "/login?secret=" in text  # the one-time link for browsers is printed once
    assert text.count("/login?secret=") == 1


def test_client_cancel_reaches_the_worker_process_driving_the_run(server: Server) -> None:
    """`Client.cancel` of a run the worker process drives: it stops, compensates, and says who asked."""
    with server.client("operate") as ido:
        run_id = ido.start("order-fulfilled", inputs={"order_id": "ord-cancel", "amount": 1500.0})
        limit = time.monotonic() + 120
        while ido.get_run(run_id)["status"] != "waiting_approval":
            assert time.monotonic() < limit, ido.get_run(run_id)
            time.sleep(0.1)
        assert ido.cancel(run_id, by="ana", note="customer called")["status"] == "waiting_approval"
        row = ido.wait(run_id, timeout=120)
        assert row["status"] == "compensated", row
        cancel = [d for d in ido.decisions(run_id)["decisions"] if d["trigger"] == "cancel"]
        assert len(cancel) == 1 and cancel[0]["cause"] == "cancel requested by ana: customer called"
        with pytest.raises(ClientError) as caught:
            ido.cancel(run_id)
        assert caught.value.status == 409 and caught.value.kind == "run_ended"
        sent = {name for d in ido.decisions(run_id)["decisions"] if d["action"] == "dispatch" for name in d["chosen"]}
        caps = ido.health()["capabilities"]
        assert sent and all(caps[name]["samples"] >= 1 for name in sent)  # the worker's outcomes are shared
