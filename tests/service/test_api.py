"""The API in-process (FastAPI's TestClient): bodies equal the CLI's --json, auth, errors, idempotency, SSE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_helpers import bearer, make_service

from ido.cli.main import main
from ido.service.app import create_app
from ido.service.auth import SESSION_COOKIE, Guard, Scope, read_token_file
from ido.service.state import Service


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    main(list(args))
    return json.loads(capsys.readouterr().out)


def test_decisions_why_not_replay_and_run_equal_the_cli_json(
    api: TestClient, finished: tuple[Path, str, str], capsys: pytest.CaptureFixture[str],
) -> None:
    root, url, run_id = finished
    base = ["--workspace", str(root), "--store", url]
    assert api.get(f"/api/v1/runs/{run_id}/decisions", headers=bearer("read")).json() == \
        cli_json(capsys, *base, "explain", run_id, "--json")
    assert api.get(f"/api/v1/runs/{run_id}/why-not/fraud.sift-us", headers=bearer("read")).json() == \
        cli_json(capsys, *base, "why-not", run_id, "fraud.sift-us", "--json")
    assert api.post(f"/api/v1/runs/{run_id}/replay", headers=bearer("read")).json() == \
        cli_json(capsys, *base, "replay", run_id, "--json")
    listed = cli_json(capsys, *base, "runs", "--json")
    assert isinstance(listed, dict)
    assert api.get(f"/api/v1/runs/{run_id}", headers=bearer("read")).json() == listed["runs"][0]
    page = api.get("/api/v1/runs", headers=bearer("read")).json()
    assert page["runs"] == listed["runs"] and page["next_cursor"] is None
    assert {k: page[k] for k in listed} == listed  # every key of `ido runs --json`, same values


def test_plan_equals_ido_plan_json(api: TestClient, finished: tuple[Path, str, str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    root, url, _ = finished
    body = {"intent": "order-fulfilled", "inputs": {"amount": 50}, "set": {"order.reserved": True}}
    got = api.post("/api/v1/plans", headers=bearer("read"), json=body)
    assert got.status_code == 200
    cli = cli_json(capsys, "--workspace", str(root), "--store", url, "plan", "order-fulfilled",
                   "--input", "amount=50", "--set", "order.reserved=true", "--json")
    assert isinstance(cli, dict)
    # the planner's wall-clock time differs between two plannings; everything else is equal
    mine = got.json()
    assert mine["metrics"].pop("milliseconds") >= 0 and cli["metrics"].pop("milliseconds") >= 0
    assert mine == cli


def test_no_admissible_plan_is_409_with_the_explanation(finished: tuple[Path, str, str], tmp_path: Path) -> None:
    root, _, _ = finished
    # a journal of its own: its registry is seeded from the workspace below on first use
    service = make_service(root, f"sqlite:///{tmp_path / 'journal.db'}", None)
    # every shipping provider gone: the goal order.shipped cannot be reached
    service.workspace.capabilities = {
        n: c for n, c in service.workspace.capabilities.items() if c.provides != "shipping"
    }
    with TestClient(create_app(service), client=("127.0.0.1", 5000),
                    base_url="http://127.0.0.1:8420") as client:
        got = client.post("/api/v1/plans", json={"intent": "order-fulfilled"})
    assert got.status_code == 409
    assert got.json()["error"]["kind"] == "no_admissible_plan"
    assert got.json()["plan"]["feasible"] is False
    assert got.json()["error"]["message"] == got.json()["plan"]["explanation"]


@pytest.mark.parametrize(("scope", "method", "path", "needed"), [
    ("read", "POST", "/api/v1/runs", "operate"),
    ("read", "POST", "/api/v1/simulations", "operate"),
    ("operate", "GET", "/api/v1/runs", None),
    ("read", "GET", "/api/v1/capabilities", None),
])
def test_scopes(api: TestClient, scope: str, method: str, path: str, needed: str | None) -> None:
    body = {"intent": "order-fulfilled"} if path.endswith("runs") else {"scenario": "nope"}
    answer = api.request(method, path, headers=bearer(scope), json=body if method == "POST" else None)
    if needed is None:
        assert answer.status_code == 200
    else:
        assert answer.status_code == 403
        assert answer.json()["error"]["kind"] == "forbidden"
        assert needed in answer.json()["error"]["message"]


def test_missing_or_unknown_token_is_401(api: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        answer = api.get("/api/v1/runs", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]["kind"] == "unauthorized"


def test_loopback_mode(finished: tuple[Path, str, str]) -> None:
    root, url, _ = finished
    service = make_service(root, url, None)
    app = create_app(service)
    with TestClient(app, client=("203.0.113.9", 4000)) as remote:
        assert remote.get("/api/v1/runs").status_code == 403
    with TestClient(app, client=("127.0.0.1", 4000), base_url="http://127.0.0.1:8420") as local:
        assert local.get("/api/v1/runs").status_code == 200  # a script: no Origin
        browser = {"Origin": "http://evil.example"}
        assert local.get("/api/v1/runs", headers=browser).status_code == 401
        secret = service.guard.login_secret
        assert secret
        assert local.get("/login", params={"secret": "wrong"}, follow_redirects=False).status_code == 403
        login = local.get("/login", params={"secret": secret}, follow_redirects=False)
        assert login.status_code == 303
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        assert local.get("/api/v1/runs", headers=browser).status_code == 200  # the cookie is kept
        assert local.get("/login", params={"secret": secret}, follow_redirects=False).status_code == 403
    with TestClient(app, client=("127.0.0.1", 4000), base_url="http://rebound.example") as rebound:
        assert rebound.get("/api/v1/runs").status_code == 401  # a DNS-rebound name is no loopback
        rebound.cookies.set(SESSION_COOKIE, service.guard.session)
        assert rebound.get("/api/v1/runs").status_code == 200


def test_token_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# ops\nAAAAAAAAAAAAAAAAAAAA read\n\nBBBBBBBBBBBBBBBBBBBB\n")
    assert read_token_file(path) == {"AAAAAAAAAAAAAAAAAAAA": Scope.read, "BBBBBBBBBBBBBBBBBBBB": Scope.admin}
    path.write_text("CCCCCCCCCCCCCCCCCCCC root\n")
    code = main(["serve", "--token-file", str(path)])
    assert code == 2


def test_non_loopback_host_without_tokens_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--token-file" in capsys.readouterr().err


def test_idempotency_key(api: TestClient) -> None:
    headers = {**bearer("operate"), "Idempotency-Key": "order-ord-42-attempt"}
    body = {"intent": "order-fulfilled", "inputs": {"order_id": "ord-42"}}
    first = api.post("/api/v1/runs", headers=headers, json=body)
    again = api.post("/api/v1/runs", headers=headers, json=body)
    assert first.status_code == again.status_code == 202
    assert first.json()["run_id"] == again.json()["run_id"]
    other = api.post("/api/v1/runs", headers=headers, json={**body, "inputs": {"order_id": "ord-43"}})
    assert other.status_code == 409
    assert other.json()["error"]["kind"] == "idempotency_key_reused"
    fresh = api.post("/api/v1/runs", headers=bearer("operate"), json=body)
    assert fresh.status_code == 202 and fresh.json()["run_id"] != first.json()["run_id"]
    queued = api.get("/api/v1/runs", params={"status": "queued"}, headers=bearer("read")).json()["runs"]
    assert sum(r["run_id"] == first.json()["run_id"] for r in queued) == 1


def test_runs_pages_with_a_cursor(api: TestClient) -> None:
    for n in range(5):
        api.post("/api/v1/runs", headers=bearer("operate"),
                 json={"intent": "order-fulfilled", "inputs": {"order_id": f"page-{n}"}})
    everything = api.get("/api/v1/runs", params={"limit": 500}, headers=bearer("read")).json()["runs"]
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        page = api.get("/api/v1/runs", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                       headers=bearer("read")).json()
        seen += [r["run_id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["run_id"] for r in everything]
    first = api.get("/api/v1/runs", params={"limit": 2}, headers=bearer("read")).json()
    second = api.get("/api/v1/runs", params={"limit": 2, "before": first["next_before"]},
                     headers=bearer("read")).json()
    assert [r["run_id"] for r in first["runs"] + second["runs"]] == seen[:4]
    only = api.get("/api/v1/runs", params={"intent": "service-restored"}, headers=bearer("read")).json()
    assert only["runs"] == []
    assert api.get("/api/v1/runs", params={"cursor": "%%%"}, headers=bearer("read")).status_code == 400


def test_error_shapes(api: TestClient) -> None:
    h = {**bearer("admin"), "Content-Type": "application/json"}
    bad = api.post("/api/v1/runs", headers=h, content=b'{"intent": ')
    assert bad.status_code == 400 and bad.json()["error"]["kind"] == "malformed_body"
    wrong = api.post("/api/v1/runs", headers=h, json={"intent": 3, "extra": 1})
    assert wrong.status_code == 422
    fields = {p["field"] for p in wrong.json()["error"]["problems"]}
    assert {"body.intent", "body.extra"} <= fields
    unknown = api.post("/api/v1/runs", headers=h, json={"intent": "no-such-intent"})
    assert unknown.status_code == 400 and "unknown intent" in unknown.json()["error"]["message"]
    missing = api.get("/api/v1/runs/ffffffffffffffff/decisions", headers=h)
    assert missing.status_code == 404 and missing.json()["error"]["kind"] == "unknown_run"
    big = api.post("/api/v1/runs", headers=h, content=b"[" + b"1," * 600_000 + b"1]")
    assert big.status_code == 413 and big.json()["error"]["kind"] == "body_too_large"
    nowhere = api.get("/api/v1/nowhere", headers=h)
    assert nowhere.status_code == 404 and set(nowhere.json()["error"]) == {"kind", "message", "problems"}
    too_many = api.post("/api/v1/simulations", headers=h, json={"scenario": "x", "runs": 10**6})
    assert too_many.status_code in (400, 422)


def test_an_internal_error_is_a_500_without_traceback(api: TestClient, finished: tuple[Path, str, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import ido.service.runs as runs

    def broken(*args: object) -> object:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(runs, "explain", broken)
    answer = api.get(f"/api/v1/runs/{finished[2]}/decisions", headers=bearer("read"))
    assert answer.status_code == 500
    assert answer.json()["error"]["kind"] == "internal"
    assert "Traceback" not in answer.text and "/etc/passwd" not in answer.text


def test_events_resume_after_last_event_id(api: TestClient, finished: tuple[Path, str, str]) -> None:
    run_id = finished[2]

    def ids(text: str) -> list[int]:
        return [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]

    whole = api.get(f"/api/v1/runs/{run_id}/events", headers=bearer("read"))
    assert whole.headers["content-type"].startswith("text/event-stream")
    every = ids(whole.text)
    assert every == list(range(1, len(every) + 1)) and len(every) > 5
    assert "event: end" in whole.text
    cut = every[len(every) // 2]
    rest = api.get(f"/api/v1/runs/{run_id}/events", headers={**bearer("read"), "Last-Event-ID": str(cut)})
    assert ids(rest.text) == every[cut:]
    bad = api.get(f"/api/v1/runs/{run_id}/events", headers={**bearer("read"), "Last-Event-ID": "x"})
    assert bad.status_code == 400


def test_openapi_and_vendored_docs(api: TestClient) -> None:
    spec = api.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/runs", "/api/v1/runs/{run_id}/decisions", "/api/v1/runs/{run_id}/events",
            "/api/v1/plans", "/api/v1/simulations", "/api/v1/health"} <= set(spec["paths"])
    assert "Explanation" in spec["components"]["schemas"]
    page = api.get("/api/v1/docs").text
    assert "/api/v1/static/swagger-ui-bundle.js" in page and "http" not in page.replace("http-equiv", "")
    assert api.get("/api/v1/static/swagger-ui-bundle.js").status_code == 200
    assert api.get("/api/v1/static/../state.py").status_code == 404


def test_registry_and_health(api: TestClient, finished: tuple[Path, str, str]) -> None:
    from ido.loading import load_workspace

    ws = load_workspace(finished[0])
    caps = api.get("/api/v1/capabilities", headers=bearer("read")).json()
    intent = ws.intent("order-fulfilled")
    assert caps["revision"] == ws.revisions(intent).capabilities
    assert api.get("/api/v1/policies", headers=bearer("read")).json()["revision"] == ws.revisions(intent).policies
    one = api.get("/api/v1/capabilities/fraud.seon-eu", headers=bearer("read"))
    assert one.status_code == 200 and one.json()["name"] == "fraud.seon-eu"
    assert api.get("/api/v1/intents/nope", headers=bearer("read")).status_code == 404
    health = api.get("/api/v1/health", headers=bearer("read")).json()
    assert health["status"] == "ok" and health["runs_by_status"].get("succeeded", 0) >= 1


def test_service_closes_its_journal(finished: tuple[Path, str, str]) -> None:
    root, url, _ = finished
    service = make_service(root, url, None)
    with TestClient(create_app(service), client=("127.0.0.1", 1),
                    base_url="http://localhost:8420") as client:
        assert client.get("/api/v1/health").status_code == 200
        assert service.is_open
    assert not service.is_open
    assert isinstance(service, Service) and isinstance(service.guard, Guard)


def test_odd_credentials_are_refused_not_500(api: TestClient, finished: tuple[Path, str, str]) -> None:
    assert api.get("/api/v1/runs", headers={"Authorization": "Bearer t\xe9st".encode("latin-1")}).status_code == 401
    root, url, _ = finished
    service = make_service(root, url, None)
    with TestClient(create_app(service), client=("127.0.0.1", 1), base_url="http://127.0.0.1:8420",
                    raise_server_exceptions=False) as local:
        odd = {"Cookie": f"{SESSION_COOKIE}=caf\xe9".encode("latin-1"), "Origin": "http://x.example"}
        assert local.get("/api/v1/runs", headers=odd).status_code == 401


def test_runs_filtered_by_capability_and_verdict(api: TestClient, finished: tuple[Path, str, str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root, url, run_id = finished
    explanation = cli_json(capsys, "--workspace", str(root), "--store", url, "explain", run_id, "--json")
    assert isinstance(explanation, dict)
    weighed = {(a["capability"], a["verdict"]) for d in explanation["decisions"] for a in d["alternatives"]}
    chosen = next(c for c, v in weighed if v == "chosen")
    rejected_verdict = next(v for _, v in weighed if v not in ("chosen", "not_needed"))

    def ids(**params: str) -> list[str]:
        answer = api.get("/api/v1/runs", params=params, headers=bearer("read"))
        assert answer.status_code == 200, answer.text
        return [r["run_id"] for r in answer.json()["runs"]]

    assert run_id in ids(capability=chosen)
    assert run_id in ids(capability=chosen, verdict="chosen")
    assert run_id in ids(verdict=rejected_verdict)
    assert run_id not in ids(capability="no.such-capability")
    assert api.get("/api/v1/runs", params={"verdict": "great"}, headers=bearer("read")).status_code == 422
