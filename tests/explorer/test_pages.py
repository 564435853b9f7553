"""The explorer's pages over HTTP without a browser: escaping, the asset allow-list, refusals as
HTML pages, bad filters as 400 pages (never a traceback or a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import copy_demo
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ido.cli.main import main
from ido.journal import open_store
from ido.loading import load_workspace
from ido.service.app import create_app
from ido.service.auth import Guard, Scope
from ido.service.state import Service

TOKEN = "explorer-token-0123456789"
READ = "explorer-read-0123456789"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    root = copy_demo(tmp_path_factory.mktemp("pages"))
    url = f"sqlite:///{root / 'journal.db'}"
    assert main(["--workspace", str(root), "--store", url, "run", "order-fulfilled", "--json"]) == 0
    store = open_store(url)
    try:
        run_id = store.list_runs()[0].run_id
    finally:
        store.close()
    service = Service(workspace=load_workspace(root), workspace_root=root, store_url=url,
                      guard=Guard.for_tokens({TOKEN: Scope.admin, READ: Scope.read}))
    with TestClient(create_app(service), raise_server_exceptions=False) as http:
        yield http, run_id


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_pages_are_html_behind_the_apis_guard(client: tuple[TestClient, str]) -> None:
    http, run_id = client
    for path in ("/", f"/runs/{run_id}", "/health", "/simulate", "/compare"):
        refused = http.get(path)
        assert refused.status_code == 401 and refused.headers["content-type"].startswith("text/html"), path
        assert 'href="/sign-in"' in refused.text  # how to get in, with the tokens of this service
        page = http.get(path, headers=auth())
        assert page.status_code == 200, (path, page.text[:300])
        assert "default-src 'self'" in page.headers["content-security-policy"]
    acting = http.post(f"/runs/{run_id}/act/approve", headers=auth(READ))
    assert acting.status_code == 403 and "operate" in acting.text  # a read token cannot approve


def test_a_decisions_body_loads_alone_for_a_long_runs_page(client: tuple[TestClient, str]) -> None:
    http, run_id = client
    body = http.get(f"/runs/{run_id}/decisions/2", headers=auth())
    assert body.status_code == 200
    assert 'aria-label="role payment"' in body.text and "<html" not in body.text  # a fragment, not a page
    assert 'data-capability="payment.paypal-us" data-verdict="denied"' in body.text


def test_what_a_user_typed_is_escaped_in_the_page(client: tuple[TestClient, str]) -> None:
    http, run_id = client
    answer = http.get(f"/runs/{run_id}/why-not", params={"capability": "<script>alert(1)</script>"}, headers=auth())
    assert answer.status_code == 422
    assert "<script>alert" not in answer.text and "&lt;script&gt;" in answer.text
    listed = http.get("/", params={"intent": '"><script>x</script>'}, headers=auth())
    assert listed.status_code == 200 and "<script>x" not in listed.text


def test_only_the_shipped_assets_are_served(client: tuple[TestClient, str]) -> None:
    http, _ = client
    assert http.get("/ui/static/vendor/htmx/htmx.min.js").status_code == 200
    assert http.get("/ui/static/vendor/VERSIONS.txt").status_code == 200
    for path in ("/ui/static/../common.py", "/ui/static/%2e%2e/common.py", "/ui/static/templates/run.html",
                 "/ui/static/nope.js"):
        assert http.get(path).status_code == 404, path


@pytest.mark.parametrize(("path", "status"), [
    ("/?status=nope", 400), ("/?verdict=nope", 400), ("/?cursor=garbage", 400), ("/?limit=0", 422),
    ("/runs/no-such-run", 404), ("/runs/no-such-run/plan/1", 404), ("/runs/{run}/plan/99", 404),
    ("/runs/{run}/decisions/99", 404), ("/compare?a=no-such&b={run}", 404),
])
def test_bad_addresses_get_a_4xx_page_never_a_500(client: tuple[TestClient, str], path: str, status: int) -> None:
    http, run_id = client
    answer = http.get(path.format(run=run_id), headers=auth())
    assert answer.status_code == status, answer.text[:300]
    assert "Traceback" not in answer.text


def test_a_what_if_form_with_bad_yaml_is_a_422_with_located_problems(client: tuple[TestClient, str]) -> None:
    http, run_id = client
    answer = http.post(f"/runs/{run_id}/what-if", headers=auth(),
                       data={"pick": "policy:gdpr-data-stays-in-eu", "yaml": "policies:\n  - name: [unclosed\n"})
    assert answer.status_code == 422 and "line" in answer.text
    flood = http.post(f"/runs/{run_id}/what-if", headers={**auth(), "Content-Type": "application/x-www-form-urlencoded"},
                      content="&".join(f"f{i}=1" for i in range(100)))
    assert flood.status_code == 422 and "more than 20 fields" in flood.text



def test_every_template_and_vendored_file_ships_as_package_data() -> None:
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ido"]
    package = root / "ido"
    shipped = [p for p in (package / "service" / "explorer").rglob("*")
               if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert len(shipped) > 20
    for path in shipped:
        rel = path.relative_to(package).as_posix()
        # fnmatch's * crosses "/", setuptools' does not: the depth must match too
        assert any(fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs), rel


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(["status", "intent", "capability", "verdict", "cursor", "limit"]),
                              st.text(max_size=60), max_size=4))
def test_any_filter_in_the_url_is_a_page_or_a_4xx_never_a_500(client: tuple[TestClient, str],
                                                             params: dict[str, str]) -> None:
    http, _ = client
    answer = http.get("/", params=params, headers=auth())
    assert answer.status_code in (200, 400, 422), (params, answer.text[:300])


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | st.builds(
    lambda pick, text, disable: f"pick={pick}&yaml={text}&disable={disable}".encode(),
    st.sampled_from(["policy:gdpr-data-stays-in-eu", "capability:payment.paypal-us", "policy:", ":", "x"]),
    st.text(max_size=80), st.sampled_from(["", "1", "on"])))
def test_any_what_if_form_is_an_answer_or_a_422_never_a_500(client: tuple[TestClient, str], body: bytes) -> None:
    http, run_id = client
    answer = http.post(f"/runs/{run_id}/what-if", content=body,
                       headers={**auth(), "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code in (200, 422), answer.text[:300]


def test_a_browser_signs_in_with_a_token_kept_in_an_httponly_cookie(client: tuple[TestClient, str]) -> None:
    http, run_id = client
    try:
        refused = http.get("/")
        assert refused.status_code == 401 and 'href="/sign-in"' in refused.text
        wrong = http.post("/sign-in", data={"token": "not-a-token-of-this-service"})
        assert wrong.status_code == 401 and "not-a-token" not in wrong.text  # never echoed
        foreign = http.post("/sign-in", data={"token": READ}, headers={"Origin": "http://attacker.example"})
        assert foreign.status_code == 403 and "ido_explorer_token" not in foreign.headers.get("set-cookie", "")
        signed = http.post("/sign-in", data={"token": READ}, follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert http.get("/").status_code == 200 and "Sign out" in http.get("/").text
        stream = http.get(f"/runs/{run_id}/events")  # the page's live stream, on the same cookie
        assert stream.status_code == 200 and "event: end" in stream.text
        assert http.post(f"/runs/{run_id}/act/approve").status_code == 403  # a read token cannot act
        http.post("/sign-out")
        assert http.get("/").status_code == 401
    finally:
        http.cookies.clear()
