"""The registry at runtime against a real `ido serve --workers 1` on 127.0.0.1 (SQLite and PostgreSQL).

A capability and an intent registered over HTTP are used by the next run, whose
decisions name them; a wrong PUT gets 422 with line and column and changes
nothing; a stale If-Match gets 409 with the current revision; writes need the
admin scope; `ido export` writes files `ido validate` accepts; a restart keeps
the store's registry and says the folder differs.
"""

from __future__ import annotations

import json
import signal
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
from tests.conftest import postgres_url

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0

GREET_CAPABILITY = """\
name: greet.sim
provides: greeting
description: Say hello (simulated).
effects: {customer.greeted: true}
cost: 0.01
latency: 50ms
invoke: sim
idempotent: true
"""

GREET_INTENT = """\
intent: greet
description: The customer has been greeted.
given: {customer.greeted: false}
goal: {customer.greeted: true}
constraints: {budget: 1.0, deadline: 30s}
"""


@dataclass
class Served:
    root: Path
    store: str
    base: str
    log: Path
    proc: subprocess.Popen[str]

    def client(self, scope: str | None = "admin") -> Client:
        return Client(self.base, token=TOKENS[scope] if scope else None)


def start(root: Path, store: str, tmp: Path, *extra: str) -> Served:
    """Start `ido serve --workers 1` with the three test tokens; return once it answers."""
    from test_server import ENV, free_port

    tokens = tmp / "tokens"
    tokens.write_text("".join(f"{token} {scope}\n" for scope, token in TOKENS.items()))
    port = free_port()
    log = tmp / f"serve-{port}.log"
    handle = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ido", "--workspace", str(root), "--store", store, "serve", "--port", str(port),
         "--workers", "1", "--token-file", str(tokens), *extra],
        cwd=ROOT, env=ENV, stdout=handle, stderr=subprocess.STDOUT, text=True,
    )
    handle.close()
    served = Served(root, store, f"http://127.0.0.1:{port}", log, proc)
    limit = time.monotonic() + START_TIMEOUT_S
    with served.client("read") as ido:
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                ido.health()
                return served
            except httpx.TransportError:
                assert time.monotonic() < limit, log.read_text()
                time.sleep(0.3)


def stop(served: Served) -> None:
    if served.proc.poll() is None:
        served.proc.send_signal(signal.SIGTERM)
    try:
        served.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(f"registry-{request.param}")
    root = copy_workspace(tmp / "ws")
    store = f"sqlite:///{tmp / 'journal.db'}" if request.param == "sqlite" else postgres_url()
    server = start(root, store, tmp)
    try:
        yield server
    finally:
        stop(server)


def test_a_capability_and_intent_registered_over_http_are_used_by_the_next_run(served: Served) -> None:
    with served.client("admin") as ido:
        before = ido.capabilities()["registry"]
        # the intent first: nothing can produce its goal yet, so it is refused and nothing changes
        with pytest.raises(ClientError) as refused:
            ido.put_intent(GREET_INTENT)
        assert refused.value.status == 422
        assert any("customer.greeted" in p["message"] for p in refused.value.problems)
        assert ido.capabilities()["registry"] == before
        added = ido.put_capability(GREET_CAPABILITY)
        assert added["registry"] == before + 1 and added["changed"] and added["kind"] == "capability"
        assert ido.put_intent(GREET_INTENT)["registry"] == before + 2
        # the same body again changes nothing: no new revision
        again = ido.put_capability(GREET_CAPABILITY)
        assert again["registry"] == before + 2 and again["changed"] is False
        row = ido.run("greet", timeout=120)
        assert row["status"] == "succeeded", row
        decisions = ido.explain(row["run_id"])["decisions"]
        assert [c for d in decisions for c in d["chosen"]] == ["greet.sim"]
        assert ido.get_run(row["run_id"])["revisions"]["capabilities"] == ido.capabilities()["revision"]


def test_an_invalid_put_is_422_with_line_and_column_and_changes_nothing(served: Served) -> None:
    with served.client("admin") as ido:
        listing = ido.capabilities()
        bad = GREET_CAPABILITY.replace("greet.sim", "greet.bad").replace("cost: 0.01", "cots: 0.01")
        with pytest.raises(ClientError) as caught:
            ido.put_capability(bad)
        assert caught.value.status == 422 and caught.value.kind == "invalid_declaration"
        [problem] = caught.value.problems
        assert (problem["line"], problem["column"], problem["field"]) == (5, 1, "cots")
        assert "did you mean 'cost'" in problem["message"]
        assert problem["path"] == "capabilities/greet.bad.yaml"
        assert ido.capabilities() == listing
    # the same text as a file: `ido validate` prints the same problem at the same place
    wrong = served.root / "capabilities" / "greet.bad.yaml"
    wrong.write_text(bad)
    try:
        done = subprocess.run([sys.executable, "-m", "ido", "--workspace", str(served.root), "validate", str(wrong)],
                              cwd=ROOT, capture_output=True, text=True, check=False)
    finally:
        wrong.unlink()
    assert done.returncode == 2
    assert ":5:1: cots: unknown field 'cots'; did you mean 'cost'?" in done.stdout


def test_raw_http_put_delete_and_if_match(served: Served) -> None:
    auth = {"Authorization": f"Bearer {TOKENS['admin']}"}
    with httpx.Client(base_url=f"{served.base}/api/v1", headers=auth, timeout=30) as http:
        got = http.get("/policies")
        etag = got.headers["etag"]
        number = int(etag.strip('"'))
        policy = {"name": "no-sms", "because": "SMS is dear", "deny": {"capability.name": "notify.sms"}}
        put = http.put("/policies/no-sms", json=policy, headers={"If-Match": etag})
        assert put.status_code == 201, put.text
        assert put.headers["etag"] == f'"{number + 1}"'
        stale = http.put("/policies/no-sms", json={**policy, "because": "still dear"}, headers={"If-Match": etag})
        assert stale.status_code == 409
        assert stale.json()["current"] == number + 1 and stale.headers["etag"] == f'"{number + 1}"'
        assert http.get("/policies/no-sms").json()["because"] == "SMS is dear"
        mismatch = http.put("/policies/other", json=policy)
        assert mismatch.status_code == 422
        assert mismatch.json()["error"]["problems"][0]["field"] == "name"
        wrong_type = http.put("/policies/no-sms", content=b"x", headers={"Content-Type": "image/png"})
        assert wrong_type.status_code == 415
        too_big = http.put("/policies/no-sms", content=b"a" * (2 << 20), headers={"Content-Type": "application/yaml"})
        assert too_big.status_code == 413
        gone = http.delete("/policies/no-sms", headers={"If-Match": put.headers["etag"]})
        assert gone.status_code == 200 and gone.json()["item"] is None
        assert http.get("/policies/no-sms").status_code == 404
        assert http.delete("/policies/no-sms").status_code == 404
        # the demo intent needs a notification: deleting both providers is refused for the second
        assert http.delete("/capabilities/notify.sms").status_code == 200
        in_use = http.delete("/capabilities/notify.email")
        assert in_use.status_code == 409 and in_use.json()["error"]["kind"] == "declaration_in_use"
        assert any("customer.notified" in p["message"] for p in in_use.json()["error"]["problems"])


@pytest.mark.parametrize(("scope", "status"), [(None, 401), ("read", 403), ("operate", 403)])
def test_registry_writes_need_the_admin_scope(served: Served, scope: str | None, status: int) -> None:
    with served.client(scope) as ido:
        for call in (lambda: ido.put_capability(GREET_CAPABILITY.replace("greet.sim", "greet.x")),
                     lambda: ido.delete_capability("greet.sim")):
            with pytest.raises(ClientError) as caught:
                call()
            assert caught.value.status == status
    if scope is not None:
        with served.client(scope) as ido:
            assert ido.capabilities()["items"]  # reading needs only `read`


def test_export_writes_files_ido_validate_accepts_and_a_restart_keeps_the_store(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with served.client("admin") as ido:
        ido.put_capability(GREET_CAPABILITY)
        ido.put_intent(GREET_INTENT)
        listing = {kind: getattr(ido, kind)() for kind in ("capabilities", "policies", "intents")}
    out = tmp_path / "exported"
    capsys.readouterr()
    assert main(["--store", served.store, "export", str(out), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["registry"] == listing["capabilities"]["registry"]
    assert (out / "capabilities" / "greet.sim.yaml").is_file()
    assert main(["--workspace", str(out), "validate"]) == 0
    # a second export into the same folder is refused unless --replace
    assert main(["--store", served.store, "export", str(out)]) == 2
    assert main(["--store", served.store, "export", str(out), "--replace"]) == 0
    # the exported folder seeds a fresh store with the very same revision digests
    from ido.loading import load_workspace
    from ido.registry import content_of

    loaded = load_workspace(out)
    assert sorted(content_of(c)["name"] for c in [*loaded.capabilities.values(), *loaded.observers.values()]) == \
        sorted(i["name"] for i in listing["capabilities"]["items"])
    from ido.digest import digest_models

    assert digest_models([*loaded.capabilities.values(), *loaded.observers.values()]) == \
        listing["capabilities"]["revision"]
    assert digest_models(loaded.policies.values()) == listing["policies"]["revision"]
    assert digest_models(loaded.intents.values()) == listing["intents"]["revision"]


def test_a_restart_keeps_the_stores_registry_and_reseed_pushes_the_folder(tmp_path: Path) -> None:
    root = copy_workspace(tmp_path / "ws")
    store = f"sqlite:///{tmp_path / 'journal.db'}"
    first = start(root, store, tmp_path)
    try:
        with first.client() as ido:
            ido.put_capability(GREET_CAPABILITY)
            number = ido.capabilities()["registry"]
    finally:
        stop(first)
    assert "registry seeded from" in first.log.read_text()
    second = start(root, store, tmp_path)
    try:
        with second.client() as ido:
            assert ido.capabilities()["registry"] == number
            assert "greet.sim" in [c["name"] for c in ido.capabilities()["items"]]
    finally:
        stop(second)
    text = second.log.read_text()
    assert "the store is the source of truth" in text and "capability greet.sim (removed)" in text
    third = start(root, store, tmp_path, "--reseed")
    try:
        with third.client() as ido:
            assert ido.capabilities()["registry"] == number + 1
            assert "greet.sim" not in [c["name"] for c in ido.capabilities()["items"]]
    finally:
        stop(third)
    assert "registry reseeded from" in third.log.read_text()
