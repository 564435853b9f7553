"""`POST /runs/{id}/cancel` and the capability health of `GET /health`, in process (TestClient)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from service_helpers import bearer

from ido.journal import open_store


def test_cancel_of_a_queued_run_ends_it_and_a_second_cancel_is_409(api: TestClient) -> None:
    queued = api.post("/api/v1/runs", headers=bearer("operate"), json={"intent": "order-fulfilled"}).json()
    answer = api.post(f"/api/v1/runs/{queued['run_id']}/cancel", headers=bearer("operate"),
                      json={"by": "ana", "note": "duplicate order"})
    assert answer.status_code == 202, answer.text
    row = answer.json()
    assert row["status"] == "failed" and row["conditions"][0]["reason"] == "Cancelled"
    assert "ana" in row["conditions"][0]["message"] and "duplicate order" in row["conditions"][0]["message"]
    again = api.post(f"/api/v1/runs/{queued['run_id']}/cancel", headers=bearer("operate"))
    assert again.status_code == 409
    assert again.json()["error"]["kind"] == "run_ended" and "already ended" in again.json()["error"]["message"]


def test_cancel_needs_operate_a_known_run_and_a_bounded_body(api: TestClient) -> None:
    queued = api.post("/api/v1/runs", headers=bearer("operate"), json={"intent": "order-fulfilled"}).json()
    path = f"/api/v1/runs/{queued['run_id']}/cancel"
    assert api.post(path, headers=bearer("read")).status_code == 403
    assert api.post("/api/v1/runs/nope-nope/cancel", headers=bearer("operate")).status_code == 404
    too_long = api.post(path, headers=bearer("operate"), json={"by": "x" * 201})
    assert too_long.status_code in (400, 422) and too_long.json()["error"]["problems"]
    assert api.post(path, headers=bearer("operate"), json={"who": "ana"}).status_code in (400, 422)
    # nothing was cancelled by the refused requests
    assert api.get(f"/api/v1/runs/{queued['run_id']}", headers=bearer("read")).json()["status"] == "queued"


def test_health_lists_each_capability_from_the_shared_rows(api: TestClient, finished: tuple[Path, str, str]) -> None:
    _, url, run_id = finished
    store = open_store(url)
    try:
        used = {e.data["capability"] for e in store.events(run_id=run_id, kinds=["outcome"])}
        rows = store.health_rows()
    finally:
        store.close()
    health = api.get("/api/v1/health", headers=bearer("read")).json()
    caps = health["capabilities"]
    assert used and used <= set(caps)  # every capability the run called has a row
    for name in used:
        assert caps[name]["circuit"] == "closed"
        assert caps[name]["samples"] >= 1 and caps[name]["version"] == rows[name].version >= 1
        assert caps[name]["last_seen"] is not None and caps[name]["updated_at"] > 0


def test_the_explorer_cancel_button_goes_through_the_api(finished: tuple[Path, str, str]) -> None:
    """The run page's Cancel posts to the explorer, which calls POST /api/v1/runs/{id}/cancel as the API does."""
    from service_helpers import make_service

    from ido.service.app import create_app

    root, url, run_id = finished
    service = make_service(root, url, None)  # loopback mode: a local script needs no token
    with TestClient(create_app(service), client=("127.0.0.1", 5000), base_url="http://127.0.0.1:8420") as local:
        queued = local.post("/api/v1/runs", json={"intent": "order-fulfilled"}).json()["run_id"]
        page = local.post(f"/runs/{queued}/act/cancel")
        assert page.status_code == 200 and "cancel requested; the run is now failed" in page.text
        row = local.get(f"/api/v1/runs/{queued}").json()
        assert row["status"] == "failed" and "explorer" in row["conditions"][0]["message"]
        ended = local.post(f"/runs/{run_id}/act/cancel")  # a finished run: the API's 409, said in words
        assert ended.status_code == 409 and "already ended" in ended.text
