"""Start N concurrent runs of the shop's `order` intent on a SQLite journal; the crash test kills it.

Usage: python driver.py WORKSPACE JOURNAL_URL TAG N. Prints `started` once every
run's `run_started` event is durable, then runs them to the end (unless killed).
Run ids are TAG-0 ... TAG-(N-1).
"""

from __future__ import annotations

import asyncio
import sys

import ido.loading  # noqa: F401 - first: ido.workspace and ido.loading import each other
from ido.engine import Engine
from ido.journal import open_store
from ido.loading import load_workspace


async def main(root: str, url: str, tag: str, n: int) -> None:
    """Start the runs, announce them, and wait for them all."""
    workspace = load_workspace(root)
    store = open_store(url)
    engine = Engine(workspace, store)
    try:
        ids = [
            await engine.start("order", inputs={"order_id": f"{tag}-{i}"},
                               options={"run_id": f"{tag}-{i}", "workspace": root})
            for i in range(n)
        ]
        print("started", *ids, flush=True)
        await asyncio.gather(*(engine.wait(i) for i in ids))
    finally:
        await engine.close()
        store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
