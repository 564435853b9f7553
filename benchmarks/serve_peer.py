"""The reference of `benchmarks/serve.py`: a bare FastAPI endpoint returning the same bytes.

    python benchmarks/serve_peer.py PORT BODY_FILE

Serves `GET /api/v1/runs/{run_id}/decisions` with the bytes of BODY_FILE (a
run's explanation as `ido serve` answers it) on the same uvicorn, loop and
HTTP parser as `ido serve`, with no auth, no journal and no cache: what any
FastAPI endpoint pays to send those bytes. Started by `benchmarks/serve.py`
beside `ido serve`; its rows are labelled as that reference, not as a peer
doing ido's work (ido answers a finished run's decisions before routing, so it
can beat it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response


def main() -> None:
    port, body = int(sys.argv[1]), Path(sys.argv[2]).read_bytes()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/v1/runs/{run_id}/decisions")
    async def decisions(run_id: str) -> Response:
        return Response(body, media_type="application/json")

    @app.get("/api/v1/health")
    async def health() -> Response:
        return Response(b"{}", media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
