"""A cap on request bodies: anything larger than the service's limit gets 413 before any endpoint runs.

An ASGI middleware rather than a FastAPI dependency, so a body is never read
past the limit: a declared `Content-Length` over it is refused at once, and a
chunked body is buffered only up to the limit. Installed by `create_app`.
"""

from __future__ import annotations

import json
from typing import Any

from ido.service.errors import body

Scope_ = dict[str, Any]


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413 and the error shape."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope_, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                await self._refuse(send, 400, "malformed_request", "Content-Length is not a number")
                return
            if too_big:
                await self._too_big(send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_big(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        whole = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, send)

    async def _too_big(self, send: Any) -> None:
        await self._refuse(send, 413, "body_too_large", f"the body is over {self.limit} bytes")

    async def _refuse(self, send: Any, status: int, kind: str, message: str) -> None:
        payload = json.dumps(body(kind, message)).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
