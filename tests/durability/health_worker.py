"""A worker process with a long circuit backoff, for the shared-health test.

Usage: python health_worker.py WORKSPACE JOURNAL_URL [RUN]. Drives every
claimable run (or only RUN, waiting for it to be queued) until SIGTERM. A
circuit it opens stays open 60 s, so the test can see another worker decide
while it is open; prints `ready` once serving.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import ido.loading  # noqa: F401 - first: ido.workspace and ido.loading import each other
from ido.engine.health import HealthConfig
from ido.engine.worker import Worker
from ido.journal import open_store
from ido.loading import load_workspace


async def main(root: str, url: str, run_id: str | None) -> None:
    """Serve until SIGTERM."""
    store = open_store(url)
    worker = Worker(
        load_workspace(root), store, concurrency=8, lease_s=2.0, poll_s=0.1,
        engine_options={"health_config": HealthConfig(backoff=60.0, backoff_cap=60.0)},
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop)
    print("ready", worker.owner, flush=True)
    try:
        await worker.serve(run_id=run_id)
    finally:
        store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
