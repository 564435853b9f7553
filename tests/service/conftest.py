"""Fixtures of the service tests: a copy of the demo workspace with one finished run, apps, tokens."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ido.cli.main import main
from ido.loading import load_workspace
from ido.service.app import create_app
from ido.service.auth import Guard, Scope
from ido.service.state import Service

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"read": "r-token-0123456789abcdef", "operate": "o-token-0123456789abcdef",
          "admin": "a-token-0123456789abcdef"}


def copy_workspace(target: Path) -> Path:
    """Copy the repository's demo workspace (intents, capabilities, policies) into `target`."""
    for folder in ("intents", "capabilities", "policies"):
        shutil.copytree(ROOT / folder, target / folder)
    return target


def bearer(scope: str) -> dict[str, str]:
    """Return the Authorization header of the test token with `scope`."""
    return {"Authorization": f"Bearer {TOKENS[scope]}"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A workspace copy, its journal URL and the id of one succeeded run of order-fulfilled in it."""
    root = copy_workspace(tmp_path_factory.mktemp("ws"))
    url = f"sqlite:///{root / 'journal.db'}"
    assert main(["--workspace", str(root), "--store", url, "run", "order-fulfilled", "--json"]) == 0
    from ido.journal import open_store

    store = open_store(url)
    try:
        run_id = store.list_runs()[0].run_id
    finally:
        store.close()
    return root, url, run_id


def make_service(root: Path, url: str, tokens: dict[str, Scope] | None) -> Service:
    """Return a Service over `root` and `url` with `tokens` (None: loopback mode)."""
    return Service(workspace=load_workspace(root), workspace_root=root, store_url=url,
                   guard=Guard.for_tokens(tokens))


@pytest.fixture
def api(finished: tuple[Path, str, str]) -> Iterator[TestClient]:
    """A TestClient of an app with the three test tokens, over the finished run's journal."""
    root, url, _ = finished
    service = make_service(root, url, {TOKENS[s]: Scope[s] for s in TOKENS})
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield client
