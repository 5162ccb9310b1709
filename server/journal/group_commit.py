"""The SQLite journal's writer: every write in turn, and the writes that queued while one transaction
ran committed together in the next one (a group commit).

A thousand jobs finishing together make thousands of small writes in seconds (a state, a log line, a
saved video). One transaction each cost a worker-thread trip, a lock and a commit apiece, so the
writes fell seconds behind, and every trip took the GIL from the answers. Here each write still runs
alone in a savepoint, so one that fails (a duplicate id, a missing job) changes nothing and fails only
its caller; the others commit. A caller hears of its write only once its transaction has committed,
so what it is told holds for every other process too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import anyio
import anyio.to_thread

T = TypeVar("T")

Change = Callable[[sqlite3.Connection], T]


@dataclass(eq=False)
class _Write(Generic[T]):
    change: Change[T]
    durable: bool  # fsync the WAL when it commits (a request id, a new job)
    done: bool = False
    result: T | None = None
    error: BaseException | None = field(default=None, repr=False)

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return cast(T, self.result)


class GroupCommit:
    """The journal's one write connection; `commit` runs a change in a write transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db: sqlite3.Connection | None = db
        self._queue: list[_Write[Any]] = []
        self._turn = anyio.Lock()

    async def commit(self, change: Change[T], *, durable: bool) -> T:
        """Run `change(db)` in a write transaction (`BEGIN IMMEDIATE`, so other processes wait their
        turn) and return what it returned, once committed. Not abandoned on cancel: a write that
        started finishes (or rolls back) before the caller moves on."""
        if self._db is None:
            raise RuntimeError("the journal is closed")
        write = _Write(change, durable)
        self._queue.append(write)
        try:
            await self._turn.acquire()
        except BaseException:
            if write in self._queue:  # not started: it never will be
                self._queue.remove(write)
            else:  # in a transaction under way: wait for its end, like a worker thread's call
                with anyio.CancelScope(shield=True):
                    async with self._turn:
                        pass
            raise
        try:
            if not write.done:
                batch, self._queue = self._queue, []
                await anyio.to_thread.run_sync(_commit_all, self._db, batch)
        finally:
            self._turn.release()
        return write.outcome()

    async def close(self) -> None:
        async with self._turn:
            db, self._db = self._db, None
            if db is not None:
                await anyio.to_thread.run_sync(db.close)


def _commit_all(db: sqlite3.Connection | None, batch: list[_Write[Any]]) -> None:
    """One transaction for `batch`, each change in a savepoint of its own; sets every write's outcome."""
    try:
        if db is None:
            raise RuntimeError("the journal is closed")
        durable = any(write.durable for write in batch)
        if durable:
            db.execute("PRAGMA synchronous = FULL")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                for write in batch:
                    _apply(db, write)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        finally:
            if durable:
                db.execute("PRAGMA synchronous = NORMAL")
    except BaseException as exc:  # nothing of the batch committed: every write hears why
        for write in batch:
            write.result, write.error = None, write.error or exc
        if not isinstance(exc, Exception):
            raise
    finally:
        for write in batch:
            write.done = True


def _apply(db: sqlite3.Connection, write: _Write[Any]) -> None:
    db.execute("SAVEPOINT one_write")
    try:
        write.result = write.change(db)
    except Exception as exc:
        if not db.in_transaction:  # SQLite rolled the whole transaction back (disk full, I/O error)
            raise
        db.execute("ROLLBACK TO one_write")
        write.error = exc
    db.execute("RELEASE one_write")
