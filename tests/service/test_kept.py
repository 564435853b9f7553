"""Kept answers (`ido.service.kept`): a finished run's decisions and why-not, answered before routing.

The kept answer is the routed one byte for byte and header for header, the
guard judges it exactly as it judges the route, and an answer about a run in
flight is never kept: the next read shows what the run did since.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from service_helpers import bearer, make_service

from ido.cli.main import main
from ido.journal.base import Store
from ido.service.app import create_app
from ido.service.kept import DECISIONS, kept_key, why_not_kind
from ido.service.state import Cache

SEGMENT = st.text(min_size=1, max_size=30).filter(lambda s: "/" not in s)


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def _served(answer: object) -> tuple[int, bytes, str, str]:
    headers = answer.headers  # type: ignore[attr-defined]
    return (answer.status_code, answer.content,  # type: ignore[attr-defined]
            headers["content-type"], headers["content-length"])


def test_a_kept_answer_is_the_routed_answer_byte_for_byte(
    api: TestClient, finished: tuple[Path, str, str], capsys: pytest.CaptureFixture[str],
) -> None:
    root, url, run_id = finished
    base = ["--workspace", str(root), "--store", url]
    for path, cli in ((f"/api/v1/runs/{run_id}/decisions", ["explain", run_id, "--json"]),
                      (f"/api/v1/runs/{run_id}/why-not/fraud.sift-us", ["why-not", run_id, "fraud.sift-us", "--json"])):
        built = api.get(path, headers=bearer("read"))  # routed: built from the journal, then kept
        kept = [api.get(path, headers=bearer(scope)) for scope in ("read", "operate", "admin")]
        assert built.status_code == 200
        assert all(_served(answer) == _served(built) for answer in kept)
        assert built.json() == cli_json(capsys, *base, *cli)
    by_prefix = api.get(f"/api/v1/runs/{run_id[:8]}/decisions", headers=bearer("read"))
    assert by_prefix.content == api.get(f"/api/v1/runs/{run_id}/decisions", headers=bearer("read")).content


def test_the_guard_judges_a_kept_answer_as_it_judges_the_route(api: TestClient, finished: tuple[Path, str, str]) -> None:
    _, _, run_id = finished
    path = f"/api/v1/runs/{run_id}/decisions"
    refusals = [{}, {"Authorization": "Bearer unknown-token-0123456789"}, {"Authorization": "Basic abc"}]
    before = [api.get(path, headers=h) for h in refusals]
    assert api.get(path, headers=bearer("read")).status_code == 200  # now kept
    after = [api.get(path, headers=h) for h in refusals]
    for first, again in zip(before, after, strict=True):
        assert again.status_code == first.status_code == 401
        assert again.json() == first.json() and again.json()["error"]["kind"] == "unauthorized"
        assert again.headers["www-authenticate"] == "Bearer"


def test_loopback_mode_judges_a_kept_answer_too(finished: tuple[Path, str, str]) -> None:
    root, url, run_id = finished
    app = create_app(make_service(root, url, None))
    path = f"/api/v1/runs/{run_id}/decisions"
    with TestClient(app, client=("127.0.0.1", 4000), base_url="http://127.0.0.1:8420") as local:
        assert local.get(path).status_code == 200  # a script on the loopback: built and kept
        assert local.get(path, headers={"Origin": "http://evil.example"}).status_code == 401
        assert local.get(path).status_code == 200
    with TestClient(app, client=("203.0.113.9", 4000)) as remote:
        assert remote.get(path).status_code == 403


def test_a_run_in_flight_is_never_kept(api: TestClient, finished: tuple[Path, str, str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    root, url, _ = finished
    submitted = api.post("/api/v1/runs", headers=bearer("operate"),
                         json={"intent": "order-fulfilled", "inputs": {"order_id": "kept-1"}})
    assert submitted.status_code == 202
    run_id = submitted.json()["run_id"]
    queued = api.get(f"/api/v1/runs/{run_id}/decisions", headers=bearer("read")).json()
    assert queued["decisions"] == []
    base = ["--workspace", str(root), "--store", url]
    assert main([*base, "worker", "--once"]) == 0  # drives the queued run to its end
    done = api.get(f"/api/v1/runs/{run_id}/decisions", headers=bearer("read")).json()
    assert done["decisions"] and done["decisions"][-1]["action"] == "succeed"
    assert done == cli_json(capsys, *base, "explain", run_id, "--json")


@given(run=SEGMENT, capability=SEGMENT)
def test_kept_key_names_the_decisions_and_why_not_routes(run: str, capability: str) -> None:
    assert kept_key(f"/api/v1/runs/{run}/decisions") == (DECISIONS, run)
    assert kept_key(f"/api/v1/runs/{run}/why-not/{capability}") == (why_not_kind(capability), run)


@given(path=st.text(max_size=80) | st.builds(lambda a, b: f"/api/v1/runs/{a}/{b}", st.text(max_size=10),
                                             st.text(max_size=20)))
def test_kept_key_names_no_other_path(path: str) -> None:
    key = kept_key(path)
    if key is not None:
        kind, run = key
        assert run and "/" not in run
        if kind == DECISIONS:
            assert path == f"/api/v1/runs/{run}/decisions"
        else:
            capability = kind.removeprefix("why-not ")
            assert capability and "/" not in capability
            assert path == f"/api/v1/runs/{run}/why-not/{capability}"


KEYS = st.tuples(st.sampled_from(["decisions", "why-not a"]), st.sampled_from(["r1", "r2", "r3", "r4"]))


@given(size=st.integers(1, 4), max_bytes=st.integers(1, 40),
       puts=st.lists(st.tuples(KEYS, st.binary(max_size=50)), max_size=30))
def test_the_cache_keeps_within_its_bounds_and_never_answers_stale(size: int, max_bytes: int,
                                                                   puts: list[tuple[tuple[str, str], bytes]]) -> None:
    cache = Cache(size=size, max_bytes=max_bytes)
    last: dict[tuple[str, str], bytes] = {}
    for key, value in puts:
        cache.put(key, value)
        last[key] = value
        kept = [k for k in last if cache.get(k) is not None]
        assert len(kept) <= size
        assert cache.kept_bytes == sum(len(last[k]) for k in kept) <= max_bytes
        assert all(cache.get(k) == last[k] for k in kept)  # only the newest answer under a key
        assert (cache.get(key) == value) == (len(value) <= max_bytes)  # the newest is kept if it fits


def test_a_run_in_flight_is_built_again_only_when_its_row_moved(
    api: TestClient, finished: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ido.service import runs

    monkeypatch.setattr(runs, "LIVE_S", 3600.0)  # only the row decides within this test
    from ido.explain import explain

    built: list[str] = []

    def counted(store: Store, run_id: str) -> object:
        built.append(run_id)
        return explain(store, run_id)

    monkeypatch.setattr("ido.service.runs.explain", counted)
    run_id = api.post("/api/v1/runs", headers=bearer("operate"),
                      json={"intent": "order-fulfilled", "inputs": {"order_id": "live-1"}}).json()["run_id"]
    path = f"/api/v1/runs/{run_id}/decisions"
    first, again = (api.get(path, headers=bearer("read")) for _ in range(2))
    assert again.content == first.content and built == [run_id]  # the row did not move: built once
    root, url, _ = finished
    assert main(["--workspace", str(root), "--store", url, "worker", "--once"]) == 0  # the row moves
    done = api.get(path, headers=bearer("read"))
    assert built == [run_id, run_id] and done.json()["decisions"] != first.json()["decisions"]
