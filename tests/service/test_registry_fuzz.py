"""Hypothesis: no PUT or DELETE of the registry answers 500; a refused write changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_helpers import TOKENS, copy_workspace, make_service

from ido.service.app import create_app
from ido.service.auth import Scope

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
FIELDS = st.sampled_from(["name", "provides", "requires", "effects", "cost", "latency", "invoke", "reliability",
                          "intent", "goal", "given", "because", "deny", "applies_to", "capabilities", "policies",
                          "observers", "facts", "constraints", "timeout", "tags"])
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8) | FIELDS, inner, max_size=4), max_leaves=10)
DECLARATIONS = st.dictionaries(FIELDS, JSON, max_size=6)
YAML_TEXT = st.lists(st.sampled_from([
    "name: x", "name: [", "intent: x", "provides: p", "cost: -1", "latency: 5 parsecs", "invoke: sim",
    "effects: {a: true}", "goal: {a: true}", "  - a", "a: b: c", "\t", "name: x\nname: y", "&a [*a]", "---",
    "capabilities:", "- name: x", "because: y", "deny: {capability.name: x}", "!!python/object:os.system x",
]), max_size=6).map("\n".join)
NAMES = st.sampled_from(["x", "greet", "notify.email", "order-fulfilled", "a b", "%00", "é", "..", "a/b",
                         "%0a", "x" * 300, "%7f", "\\", ".yaml"]) | st.text(max_size=12)
KINDS = st.sampled_from(["capabilities", "policies", "intents"])


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("registry-fuzz")
    root = copy_workspace(tmp / "ws")
    service = make_service(root, f"sqlite:///{tmp / 'journal.db'}", {TOKENS["admin"]: Scope.admin})
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = f"Bearer {TOKENS['admin']}"
        yield c


def _registry(client: TestClient) -> str:
    return json.dumps([client.get(f"/api/v1/{k}").json() for k in ("capabilities", "policies", "intents")])


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(kind=KINDS, name=NAMES, body=DECLARATIONS.map(lambda d: json.dumps(d).encode())
       | YAML_TEXT.map(str.encode) | st.binary(max_size=40),
       media=st.sampled_from(["application/json", "application/yaml", "", "text/plain"]),
       if_match=st.none() | st.sampled_from(['"1"', "*", "W/\"2\"", "abc", '"99999999999999999999"']))
def test_put_bodies_never_500_and_a_refusal_changes_nothing(
    client: TestClient, kind: str, name: str, body: bytes, media: str, if_match: str | None,
) -> None:
    before = _registry(client)
    headers = {"Content-Type": media} if media else {}
    if if_match is not None:
        headers["If-Match"] = if_match
    answer = client.put(f"/api/v1/{kind}/{quote(name, safe='')}", content=body, headers=headers)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert set(answer.json()["error"]) == {"kind", "message", "problems"}
        for problem in answer.json()["error"]["problems"]:
            assert set(problem) == {"path", "line", "column", "field", "message"}
        assert _registry(client) == before


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(kind=KINDS, name=NAMES, if_match=st.none() | st.sampled_from(['"0"', "junk", "*"]))
def test_deletes_never_500(client: TestClient, kind: str, name: str, if_match: str | None) -> None:
    headers = {"If-Match": if_match} if if_match is not None else {}
    answer = client.delete(f"/api/v1/{kind}/{quote(name, safe='')}", headers=headers)
    assert answer.status_code < 500, answer.text


def test_an_unsafe_yaml_tag_is_a_located_problem(client: TestClient, tmp_path: Path) -> None:
    answer = client.put("/api/v1/capabilities/x", content=b"name: !!python/object:os.system x\n",
                        headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 422
    assert answer.json()["error"]["problems"][0]["line"] == 1


@pytest.mark.parametrize("name", ["%00", "-x", "x" * 201, "é", "a b"])
def test_a_put_under_a_name_no_declaration_may_have_is_422_naming_the_field(client: TestClient, name: str) -> None:
    before = _registry(client)
    answer = client.put(f"/api/v1/capabilities/{quote(name, safe='%')}", content=b"name: x\n",
                        headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in answer.json()["error"]["problems"]] == ["name"]
    assert _registry(client) == before
