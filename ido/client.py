"""A Python client of `ido serve`, over httpx, named as the engine's public API.

    from ido.client import Client

    with Client("http://127.0.0.1:8420", token=None) as ido:
        run_id = ido.start("order-fulfilled", inputs={"order_id": "ord-7"})
        print(ido.wait(run_id)["status"])              # succeeded
        for d in ido.explain(run_id)["decisions"]:     # = `ido explain RUN --json`
            print(d["seq"], d["action"], d["chosen"], d["reason"])

`start` queues a run (as `Engine.start` starts one) and returns its id; `run`
is `start` then `wait` (as `Engine.run`); `explain` / `decisions`, `why_not`,
`replay`, `approve`, `reject`, `plan`, `simulate`, `runs`, `get_run`,
`events` (server-sent events, resumable) and the registry reads return the
bodies of DESIGN.md section 6, which are the CLI's `--json` outputs. An error
answer raises `ClientError` with the API's `kind`, `message` and `problems`.
`put_capability` / `put_policy` / `put_intent` (or `add(*models)`, as
`Workspace.add`) and `delete_*` change the registry every worker follows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx

#: Statuses after which a run changes no more.
TERMINAL = frozenset({"succeeded", "failed", "compensated", "compensation_failed"})


class ClientError(Exception):
    """An error answer of the API: its HTTP `status`, error `kind`, `message` and located `problems`."""

    def __init__(self, status: int, kind: str, message: str, problems: list[dict[str, Any]],
                 body: Any = None) -> None:
        self.status = status
        self.kind = kind
        self.message = message
        self.problems = problems
        self.body = body
        super().__init__(f"{status} {kind}: {message}")


class Client:
    """The API of one `ido serve`; see the module docstring. Close it (or use `with`)."""

    def __init__(self, base_url: str = "http://127.0.0.1:8420", *, token: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url.rstrip("/") + "/api/v1", headers=headers,
                                 timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def _call(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
              headers: Mapping[str, str] | None = None) -> Any:
        response = self.http.request(
            method, path, json=body, headers=dict(headers or {}),
            params={k: v for k, v in (params or {}).items() if v is not None},
        )
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    # runs ---------------------------------------------------------------------------------

    def submit(self, intent: str, *, inputs: Mapping[str, Any] | None = None,
               set_facts: Mapping[str, Any] | None = None, strategy: str = "adaptive",
               idempotency_key: str | None = None) -> dict[str, Any]:
        """Queue a run for the service's workers; return `{run_id, status}`. A retried key returns the same run."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = {"intent": intent, "inputs": dict(inputs or {}), "set": dict(set_facts or {}),
                "strategy": strategy}
        result: dict[str, Any] = self._call("POST", "/runs", body=body, headers=headers)
        return result

    def start(self, intent: str, **options: Any) -> str:
        """Queue a run (options as `submit`); return its id."""
        return str(self.submit(intent, **options)["run_id"])

    def wait(self, run_id: str, *, timeout: float = 300.0, poll_s: float = 0.2) -> dict[str, Any]:
        """Return the run's row once it ended; TimeoutError after `timeout` seconds."""
        limit = time.monotonic() + timeout
        while True:
            row = self.get_run(run_id)
            if row["status"] in TERMINAL:
                return row
            if time.monotonic() > limit:
                raise TimeoutError(f"run {run_id} is still {row['status']} after {timeout:g}s")
            time.sleep(poll_s)

    def run(self, intent: str, *, timeout: float = 300.0, **options: Any) -> dict[str, Any]:
        """Queue a run and wait for it to end; return its row."""
        return self.wait(self.start(intent, **options), timeout=timeout)

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Return the run's row (as `ido runs --json` lists it)."""
        result: dict[str, Any] = self._call("GET", f"/runs/{run_id}")
        return result

    def runs(self, *, status: str | None = None, intent: str | None = None, limit: int = 50,
             cursor: str | None = None) -> dict[str, Any]:
        """Return one page `{runs, next_cursor, corrupted}`, newest first; pass `next_cursor` for the next."""
        result: dict[str, Any] = self._call(
            "GET", "/runs", params={"status": status, "intent": intent, "limit": limit, "cursor": cursor})
        return result

    def explain(self, run_id: str) -> dict[str, Any]:
        """Return the run's decisions: the JSON of `ido explain RUN --json`."""
        result: dict[str, Any] = self._call("GET", f"/runs/{run_id}/decisions")
        return result

    decisions = explain

    def why_not(self, run_id: str, capability: str) -> dict[str, Any]:
        """Return why the capability was or was not used (`ido why-not RUN CAP --json`)."""
        result: dict[str, Any] = self._call("GET", f"/runs/{run_id}/why-not/{capability}")
        return result

    def approve(self, run_id: str, *, by: str = "api", note: str = "") -> dict[str, Any]:
        """Approve the step the run waits for; return the run's row."""
        result: dict[str, Any] = self._call("POST", f"/runs/{run_id}/approve", body={"by": by, "note": note})
        return result

    def reject(self, run_id: str, *, by: str = "api", note: str = "") -> dict[str, Any]:
        """Reject the step the run waits for; return the run's row."""
        result: dict[str, Any] = self._call("POST", f"/runs/{run_id}/reject", body={"by": by, "note": note})
        return result

    def cancel(self, run_id: str, *, by: str = "api", note: str = "") -> dict[str, Any]:
        """Ask the run to stop (its worker compensates per its on_failure); return its row now.

        A queued run ends at once; raises ClientError 409 (`run_ended`) for a finished run.
        """
        result: dict[str, Any] = self._call("POST", f"/runs/{run_id}/cancel", body={"by": by, "note": note})
        return result

    def replay(self, run_id: str, *, what_if: bool = False) -> dict[str, Any]:
        """Return the replay report (`ido replay RUN --json`); `what_if` uses the service's workspace now."""
        result: dict[str, Any] = self._call("POST", f"/runs/{run_id}/replay", body={"what_if": what_if})
        return result

    def events(self, run_id: str, *, after: int = 0, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Yield the run's journal events after seq `after` as they are written, until the run ends.

        A dropped connection is resumed with `Last-Event-ID`, so no event is lost or repeated.
        """
        last = after
        while True:
            headers = {"Last-Event-ID": str(last), "Accept": "text/event-stream"}
            params = {"timeout": timeout} if timeout else {}
            try:
                with self.http.stream("GET", f"/runs/{run_id}/events", headers=headers, params=params,
                                      timeout=httpx.Timeout(self.http.timeout.connect, read=None)) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise _error(response)
                    for kind, data in _messages(response.iter_lines()):
                        if kind == "end":
                            return
                        last = int(data["seq"])
                        yield data
                    return  # the server closed the stream at its timeout
            except (httpx.RemoteProtocolError, httpx.ReadError):
                continue  # dropped: resume after the last event seen

    # planning and the registry ------------------------------------------------------------

    def plan(self, intent: str, *, inputs: Mapping[str, Any] | None = None,
             set_facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the plan (`ido plan --json`); ClientError 409 with `body["plan"]` when none is admissible."""
        result: dict[str, Any] = self._call(
            "POST", "/plans", body={"intent": intent, "inputs": dict(inputs or {}), "set": dict(set_facts or {})})
        return result

    def simulate(self, scenario: str, *, runs: int | None = None, seed: int | None = None,
                 strategies: list[str] | None = None) -> dict[str, Any]:
        """Return the simulation report (`ido simulate --json`)."""
        body = {"scenario": scenario, "runs": runs, "seed": seed, "strategies": strategies}
        result: dict[str, Any] = self._call("POST", "/simulations", body=body)
        return result

    def capabilities(self) -> dict[str, Any]:
        """Return `{revision, registry, items}` of the capabilities (and observers) the service plans with
        (`registry`: the registry revision number, what `if_match` takes)."""
        result: dict[str, Any] = self._call("GET", "/capabilities")
        return result

    def policies(self) -> dict[str, Any]:
        """Return `{revision, registry, items}` of the policies."""
        result: dict[str, Any] = self._call("GET", "/policies")
        return result

    def intents(self) -> dict[str, Any]:
        """Return `{revision, registry, items}` of the intents."""
        result: dict[str, Any] = self._call("GET", "/intents")
        return result

    # the registry at runtime -------------------------------------------------------------------

    def put_capability(self, declaration: Any, *, if_match: int | None = None) -> dict[str, Any]:
        """Register or replace a capability (or observer); return `{registry, digest, kind, name, changed, item}`.

        `declaration` is a model (`ido.Capability`), a mapping, or YAML text as in a
        file. `if_match`: the registry revision you read (409 `ClientError` when it
        moved). A wrong declaration raises `ClientError` 422 with located problems.
        """
        return self._put("capabilities", declaration, if_match)

    def put_policy(self, declaration: Any, *, if_match: int | None = None) -> dict[str, Any]:
        """Register or replace a policy (as `put_capability`)."""
        return self._put("policies", declaration, if_match)

    def put_intent(self, declaration: Any, *, if_match: int | None = None) -> dict[str, Any]:
        """Register or replace an intent (as `put_capability`)."""
        return self._put("intents", declaration, if_match)

    def add(self, *declarations: Any) -> list[dict[str, Any]]:
        """Register models as `Workspace.add` adds them (Capability, Observer, Policy, Intent); return the answers."""
        collections = {"Capability": "capabilities", "Observer": "capabilities", "Policy": "policies",
                       "Intent": "intents"}
        answers = []
        for model in declarations:
            collection = collections.get(type(model).__name__)
            if collection is None:
                raise TypeError(f"cannot register {type(model).__name__}; add Capability, Observer, Policy or Intent")
            answers.append(self._put(collection, model, None))
        return answers

    def delete_capability(self, name: str, *, if_match: int | None = None) -> dict[str, Any]:
        """Delete a capability (or observer); 409 `ClientError` naming what still needs it."""
        return self._delete("capabilities", name, if_match)

    def delete_policy(self, name: str, *, if_match: int | None = None) -> dict[str, Any]:
        """Delete a policy (as `delete_capability`)."""
        return self._delete("policies", name, if_match)

    def delete_intent(self, name: str, *, if_match: int | None = None) -> dict[str, Any]:
        """Delete an intent (as `delete_capability`)."""
        return self._delete("intents", name, if_match)

    def _put(self, collection: str, declaration: Any, if_match: int | None) -> dict[str, Any]:
        if isinstance(declaration, str):
            import yaml

            parsed = yaml.safe_load(declaration)
            name = str((parsed or {}).get("intent" if collection == "intents" else "name", "")) \
                if isinstance(parsed, dict) else ""
            content, media = declaration.encode(), "application/yaml"
        else:
            data = declaration.model_dump(mode="json", by_alias=True, exclude_none=True) \
                if hasattr(declaration, "model_dump") else dict(declaration)
            name = str(data.get("intent" if collection == "intents" else "name", ""))
            content, media = json.dumps(data).encode(), "application/json"
        if not name:
            raise ValueError(f"the declaration has no {'intent' if collection == 'intents' else 'name'}")
        headers = {"Content-Type": media, **({"If-Match": f'"{if_match}"'} if if_match is not None else {})}
        response = self.http.request("PUT", f"/{collection}/{_quote(name)}", content=content, headers=headers)
        if response.status_code >= 400:
            raise _error(response)
        result: dict[str, Any] = response.json()
        return result

    def _delete(self, collection: str, name: str, if_match: int | None) -> dict[str, Any]:
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
        result: dict[str, Any] = self._call("DELETE", f"/{collection}/{_quote(name)}", headers=headers)
        return result

    def health(self) -> dict[str, Any]:
        """Return the service's health: its journal, runs by status, workers holding leases, capability health."""
        result: dict[str, Any] = self._call("GET", "/health")
        return result


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _error(response: httpx.Response) -> ClientError:
    try:
        body = response.json()
        error = body["error"]
        return ClientError(response.status_code, str(error.get("kind", "")), str(error.get("message", "")),
                           list(error.get("problems") or []), body)
    except (ValueError, KeyError, TypeError, AttributeError):
        return ClientError(response.status_code, "http_error", response.text[:500], [])


def _messages(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """Yield (event kind, decoded data) of each server-sent event in `lines`."""
    kind, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
