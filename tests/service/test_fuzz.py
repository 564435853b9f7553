"""Hypothesis: no body or query string makes the API answer 500; every error has the error shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_helpers import TOKENS, make_service

from ido.service.app import create_app
from ido.service.auth import Scope

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(["intent", "inputs", "set", "strategy", "scenario", "runs", "seed", "strategies",
                        "what_if", "by", "note"])
BODIES = (
    JSON.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(KEYS, JSON, max_size=5).map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=60)
)
PATHS = st.sampled_from(["/api/v1/runs", "/api/v1/plans", "/api/v1/simulations",
                         "/api/v1/runs/{run}/replay", "/api/v1/runs/{run}/approve",
                         "/api/v1/runs/{run}/reject"])
QUERY = st.dictionaries(st.sampled_from(["status", "intent", "limit", "cursor", "after", "timeout"]),
                        st.text(max_size=12) | st.integers().map(str), max_size=4)
GETS = st.sampled_from(["/api/v1/runs", "/api/v1/runs/{run}", "/api/v1/runs/{run}/decisions",
                        "/api/v1/runs/{run}/why-not/{text}", "/api/v1/capabilities/{text}",
                        "/api/v1/runs/{text}", "/api/v1/runs/{run}/events"])


@pytest.fixture(scope="module")
def client(finished: tuple[Path, str, str]) -> Iterator[TestClient]:
    root, url, _ = finished
    service = make_service(root, url, {TOKENS["admin"]: Scope.admin})
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = f"Bearer {TOKENS['admin']}"
        yield c


def _check(answer: object) -> None:
    status = answer.status_code  # type: ignore[attr-defined]
    assert status < 500, answer.text  # type: ignore[attr-defined]
    if status >= 400:
        assert set(answer.json()["error"]) == {"kind", "message", "problems"}  # type: ignore[attr-defined]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(path=PATHS, body=BODIES, json_type=st.booleans())
def test_bodies_never_500(client: TestClient, finished: tuple[Path, str, str], path: str, body: bytes,
                          json_type: bool) -> None:
    headers = {"Content-Type": "application/json"} if json_type else {"Content-Type": "text/plain"}
    _check(client.post(path.format(run=finished[2]), content=body, headers=headers))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(path=GETS, query=QUERY, text=st.text(min_size=1, max_size=20).filter(lambda t: t not in (".", "..")))
def test_query_strings_never_500(client: TestClient, finished: tuple[Path, str, str], path: str,
                                 query: dict[str, str], text: str) -> None:
    if path.endswith("/events"):
        query = {**query, "timeout": "0.5"} if "timeout" not in query else query
    answer = client.get(path.format(run=finished[2], text=quote(text, safe="")), params=query)
    _check(answer)
