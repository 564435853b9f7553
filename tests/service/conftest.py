"""Fixtures of the service tests: a copy of the demo workspace with one finished run, an app with tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_helpers import TOKENS, copy_workspace, make_service

from ido.cli.main import main
from ido.journal import open_store
from ido.service.app import create_app
from ido.service.auth import Scope


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A workspace copy, its journal URL and the id of one succeeded run of order-fulfilled in it."""
    root = copy_workspace(tmp_path_factory.mktemp("ws"))
    url = f"sqlite:///{root / 'journal.db'}"
    assert main(["--workspace", str(root), "--store", url, "run", "order-fulfilled", "--json"]) == 0
    store = open_store(url)
    try:
        run_id = store.list_runs()[0].run_id
    finally:
        store.close()
    return root, url, run_id


@pytest.fixture
def api(finished: tuple[Path, str, str]) -> Iterator[TestClient]:
    """A TestClient of an app with the three test tokens, over the finished run's journal."""
    root, url, _ = finished
    service = make_service(root, url, {TOKENS[s]: Scope[s] for s in TOKENS})
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield client
