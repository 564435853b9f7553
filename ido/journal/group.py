"""Group commit: appends of many tasks (and event loops) written by one thread, a batch a transaction.

`GroupCommit` is shared by the SQLite and PostgreSQL journals
(`ido.journal.sqlite`, `ido.journal.postgres`): each caller's append is queued
and awaited; the writer thread drains whatever is queued into one call of the
store's `commit(batch)` (one transaction), then settles every caller's future
in its own loop. The store's commit sets `error` on the items it refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from ido.errors import JournalError


class Waiting(Protocol):
    """An append waiting for the writer: where to answer, and why it was refused (if it was)."""

    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[None] | None
    error: JournalError | None


Item = TypeVar("Item", bound=Waiting)


class GroupCommit(Generic[Item]):
    """A writer thread committing queued appends in batches; see the module docstring."""

    def __init__(
        self, commit: Callable[[list[Item]], None], *, name: str,
        failed: Callable[[Exception], JournalError],
    ) -> None:
        self.commit = commit
        self.name = name
        #: the error a batch gets when `commit` itself raised (the connection broke ...).
        self.failed = failed
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def submit(self, item: Item) -> None:
        """Queue `item` and return once its batch committed; raises what refused it.

        If the caller is cancelled while waiting, the write still lands.
        """
        loop = asyncio.get_running_loop()
        item.loop, item.future = loop, loop.create_future()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._drain, name=self.name, daemon=True)
                    self._thread.start()
        self._queue.put(item)
        await item.future

    def _drain(self) -> None:
        """Commit one batch at a time until `close` sends None."""
        while True:
            first = self._queue.get()
            batch: list[Item] = [] if first is None else [first]
            stop = first is None
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                try:
                    self.commit(batch)
                except Exception as exc:  # even the rollback failed: never leave a caller waiting
                    for item in batch:
                        item.error = item.error or self.failed(exc)
                for item in batch:
                    _answer(item, item.error)
            if stop:
                return

    def close(self, closed: JournalError) -> None:
        """Wait for queued appends to commit and stop the thread; fail what queued behind the stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _answer(item, closed)


def _answer(item: Waiting, error: JournalError | None) -> None:
    """Settle `item`'s future in its own loop (a closed loop means nobody waits any more)."""
    if item.loop is None or item.future is None:
        return
    with contextlib.suppress(RuntimeError):
        item.loop.call_soon_threadsafe(_settle, item.future, error)


def _settle(future: asyncio.Future[None], error: JournalError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
