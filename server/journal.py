"""The durable job journal: every job, from the intent to submit to the saved video, in SQLite.

The job manager writes a row *before* it submits (state "submitting"), records the provider's
request id the moment the submit returns, and follows unfinished rows again after a restart. So a
paid job can always be found again, even if the process is killed mid-call.

One connection, one writer: every statement runs on a worker thread behind a `CapacityLimiter(1)`,
so the event loop never waits on disk and no two statements interleave. Several processes (two
hosts each running the server) may share the file; SQLite's locking and a busy timeout serialise them.

Schema changes are named, append-only migrations recorded in the `migrations` table; opening a
journal applies the ones it lacks, in order, each in its own transaction.

Nothing here takes or stores a secret: arguments hold prompts and media URLs, never API keys.
"""

from __future__ import annotations

import builtins
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, get_args

import anyio
import anyio.to_thread

__all__ = [
    "JOB_STATES",
    "JOURNAL_FILENAME",
    "LOG_LINES_KEPT",
    "MIGRATIONS",
    "TERMINAL",
    "JobRecord",
    "JobState",
    "Journal",
    "migrate",
    "new_job_id",
]

logger = logging.getLogger(__name__)

JobState = Literal["submitting", "uncertain", "queued", "running", "completed", "failed", "cancelled"]
JOB_STATES: frozenset[str] = frozenset(get_args(JobState))
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})

JOURNAL_FILENAME = "journal.sqlite3"
LOG_LINES_KEPT = 50  # enough to show what the provider was doing; a row stays small
BUSY_TIMEOUT_MS = 10_000  # another process holding the write lock commits in milliseconds; 10 s is ample

T = TypeVar("T")


def new_job_id() -> str:
    """A fresh job id: "sd_" and 12 URL-safe characters (72 random bits)."""
    return "sd_" + secrets.token_urlsafe(9)


@dataclass(frozen=True)
class JobRecord:
    """One job as the journal holds it. Build one for `Journal.create`; read them back from queries."""

    id: str
    created_at: float
    updated_at: float
    provider: str
    simulated: bool
    tool: str
    tier: str
    mode: str
    endpoint: str
    arguments: dict[str, Any]
    estimate: dict[str, Any]
    estimate_usd: float
    state: JobState = "submitting"
    submission: str | None = None
    request_id: str | None = None
    queue_position: int | None = None
    logs: list[str] = field(default_factory=list)
    result_url: str | None = None
    seed: int | None = None
    video_path: str | None = None
    video_sha256: str | None = None
    video_bytes: int | None = None
    error: str | None = None
    error_type: str | None = None
    dedupe_key: str | None = None
    group_id: str | None = None
    finished_at: float | None = None
    history: list[tuple[str, float, str]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(JobRecord))
_JSON_FIELDS = frozenset({"arguments", "estimate", "logs", "history"})
# `update` may set these; the id is the key, and history/updated_at are kept by the journal itself.
_UPDATABLE = frozenset(_FIELDS) - {"id", "history", "updated_at", "state"}
# Losing these to a power cut would lose track of a paid job, so their commits are fsynced.
_DURABLE_FIELDS = frozenset({"submission", "request_id"})


# --- migrations ------------------------------------------------------------------------------

Migration = tuple[str, Callable[[sqlite3.Connection], None]]


def _m001_jobs(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            provider TEXT NOT NULL,
            simulated INTEGER NOT NULL,
            tool TEXT NOT NULL,
            tier TEXT NOT NULL,
            mode TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            arguments TEXT NOT NULL,
            estimate TEXT NOT NULL,
            estimate_usd REAL NOT NULL,
            state TEXT NOT NULL,
            submission TEXT,
            request_id TEXT,
            queue_position INTEGER,
            logs TEXT NOT NULL,
            result_url TEXT,
            seed INTEGER,
            video_path TEXT,
            video_sha256 TEXT,
            video_bytes INTEGER,
            error TEXT,
            error_type TEXT,
            dedupe_key TEXT,
            group_id TEXT,
            finished_at REAL,
            history TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX jobs_state ON jobs (state)")
    db.execute("CREATE INDEX jobs_created_at ON jobs (created_at)")
    db.execute("CREATE INDEX jobs_dedupe_key ON jobs (dedupe_key, created_at)")
    # Oxen's num_generations makes a group of jobs that are read together.
    db.execute("CREATE INDEX jobs_group_id ON jobs (group_id) WHERE group_id IS NOT NULL")


# Append only: never edit, reorder or remove an entry once released; add a new one instead.
MIGRATIONS: tuple[Migration, ...] = (("001_jobs", _m001_jobs),)


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations `db` lacks, in order; return the names applied (empty when up to date).

    `db` must be in autocommit mode (isolation_level=None). Each migration and its record commit
    together, under a write lock, so two processes opening a new journal at once cannot both apply one.
    """
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    applied: list[str] = []
    for name, apply in migrations:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone() is None:
                apply(db)
                db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
                applied.append(name)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    known = {name for name, _ in migrations}
    unknown = [r[0] for r in db.execute("SELECT name FROM migrations") if r[0] not in known]
    if unknown:
        # A newer version wrote this journal. Its migrations only ever add, so reading on is safe.
        logger.warning("journal has migrations this version does not know: %s", ", ".join(sorted(unknown)))
    if applied:
        logger.info("journal migrated: %s", ", ".join(applied))
    return applied


# --- rows <-> records ------------------------------------------------------------------------


def _encode(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return json.dumps(value, ensure_ascii=False, sort_keys=name != "history")
    if name == "simulated":
        return int(bool(value))
    return value


def _decode(row: sqlite3.Row) -> JobRecord:
    values: dict[str, Any] = {name: row[name] for name in _FIELDS}
    for name in _JSON_FIELDS:
        values[name] = json.loads(values[name])
    values["history"] = [(str(s), float(t), str(n)) for s, t, n in values["history"]]
    values["simulated"] = bool(values["simulated"])
    return JobRecord(**values)


def _check_state(state: str) -> None:
    if state not in JOB_STATES:
        raise ValueError(f"unknown job state {state!r}; expected one of {', '.join(sorted(JOB_STATES))}")


_INSERT = f"INSERT INTO jobs ({', '.join(_FIELDS)}) VALUES ({', '.join('?' for _ in _FIELDS)})"  # noqa: S608

# A job costs money once the provider has its request id, and a job that has not failed or been
# cancelled may still be submitted (or may have been, unseen: "submitting"/"uncertain"). So the
# only jobs that are free are those that failed or were cancelled before any request id existed.
_COUNTS_AS_SPEND = "NOT (state IN ('failed', 'cancelled') AND request_id IS NULL)"


# --- the journal -----------------------------------------------------------------------------


class Journal:
    """The job journal over one SQLite file. Open with `await Journal.open(path)`; close when done."""

    def __init__(self, path: Path, db: sqlite3.Connection, limiter: anyio.CapacityLimiter) -> None:
        # Use `Journal.open`: the connection must be made and migrated on the worker thread.
        self.path = path
        self._db: sqlite3.Connection | None = db
        self._limiter = limiter

    @classmethod
    async def open(cls, path: Path) -> Journal:
        """Open (creating folders and file as needed) and migrate the journal at `path`."""
        path = Path(path)
        limiter = anyio.CapacityLimiter(1)
        db = await anyio.to_thread.run_sync(_connect, path, limiter=limiter)
        return cls(path, db, limiter)

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await anyio.to_thread.run_sync(db.close, limiter=self._limiter)

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        if db is None:
            raise RuntimeError("the journal is closed")
        # Not abandoned on cancel: a write that started finishes (or rolls back) before we move on.
        return await anyio.to_thread.run_sync(fn, db, limiter=self._limiter)

    # -- writes --

    async def create(self, record: JobRecord) -> None:
        """Record a job's intent. Written before submitting and fsynced, so it outlives a crash.

        An empty `history` is started with the record's own state. Raises ValueError if the id exists.
        """
        _check_state(record.state)
        if not record.history:
            record = replace(record, history=[(record.state, record.created_at, "created")])
        if len(record.logs) > LOG_LINES_KEPT:
            record = replace(record, logs=record.logs[-LOG_LINES_KEPT:])
        params = [_encode(name, getattr(record, name)) for name in _FIELDS]

        def write(db: sqlite3.Connection) -> None:
            try:
                _write(db, lambda: db.execute(_INSERT, params), durable=True)
            except sqlite3.IntegrityError:
                raise ValueError(f"a job with id {record.id!r} is already in the journal") from None

        await self._run(write)

    async def update(
        self, job_id: str, *, state: JobState | None = None, note: str = "", **fields: Any
    ) -> JobRecord:
        """Set any of the record's fields and return the new record; KeyError if no such job.

        A change of state is appended to `history` with `note`; entering a terminal state sets
        `finished_at` unless given. `logs` keeps its last LOG_LINES_KEPT lines.
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise TypeError(f"JobRecord fields that cannot be updated: {', '.join(sorted(unknown))}")
        if state is not None:
            _check_state(state)
        if "logs" in fields:
            fields["logs"] = list(fields["logs"])[-LOG_LINES_KEPT:]
        durable = not _DURABLE_FIELDS.isdisjoint(fields)

        def write(db: sqlite3.Connection) -> JobRecord:
            def change() -> JobRecord:
                row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None:
                    raise KeyError(job_id)
                old = _decode(row)
                now = time.time()
                changes: dict[str, Any] = dict(fields, updated_at=now)
                if state is not None and state != old.state:
                    changes["state"] = state
                    changes["history"] = [*old.history, (state, now, note)]
                    if state in TERMINAL and "finished_at" not in fields and old.finished_at is None:
                        changes["finished_at"] = now
                new = replace(old, **changes)
                # Column names come from the dataclass's own fields, never from the caller's text.
                assignments = ", ".join(f"{name} = ?" for name in changes)
                db.execute(
                    f"UPDATE jobs SET {assignments} WHERE id = ?",  # noqa: S608
                    [*(_encode(name, getattr(new, name)) for name in changes), job_id],
                )
                return new

            return _write(db, change, durable=durable)

        return await self._run(write)

    # -- reads --

    async def get(self, job_id: str) -> JobRecord | None:
        def read(db: sqlite3.Connection) -> JobRecord | None:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return None if row is None else _decode(row)

        return await self._run(read)

    async def find_duplicate(self, dedupe_key: str, since: float) -> JobRecord | None:
        """The newest job with this key created at or after `since` that did not fail or get cancelled."""

        def read(db: sqlite3.Connection) -> JobRecord | None:
            row = db.execute(
                "SELECT * FROM jobs WHERE dedupe_key = ? AND created_at >= ?"
                " AND state NOT IN ('failed', 'cancelled') ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (dedupe_key, since),
            ).fetchone()
            return None if row is None else _decode(row)

        return await self._run(read)

    async def list(
        self, *, states: Collection[str] | None = None, limit: int = 20, since: float | None = None
    ) -> builtins.list[JobRecord]:
        """Jobs newest first, optionally only those in `states` or created at or after `since`."""
        where: list[str] = []
        params: list[Any] = []
        if states is not None:
            states = sorted(set(states))
            for s in states:
                _check_state(s)
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(states)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT * FROM jobs {clause} ORDER BY created_at DESC, rowid DESC LIMIT ?"  # noqa: S608
        params.append(max(0, limit))
        return await self._run(lambda db: [_decode(r) for r in db.execute(sql, params)])

    async def unfinished(self) -> builtins.list[JobRecord]:
        """Jobs not in a terminal state, oldest first: what to follow again after a restart."""
        sql = (
            "SELECT * FROM jobs WHERE state NOT IN ('completed', 'failed', 'cancelled')"
            " ORDER BY created_at, rowid"
        )
        return await self._run(lambda db: [_decode(r) for r in db.execute(sql)])

    async def spend(self, since: float) -> float:
        """Sum of `estimate_usd` of jobs created at or after `since` that may have cost money.

        Every job counts except one that failed or was cancelled before it had a request id: that
        one never reached the provider. Jobs still "submitting" or "uncertain" count, since they
        may have been (or are about to be) accepted and billed.
        """
        sql = f"SELECT COALESCE(SUM(estimate_usd), 0) FROM jobs WHERE created_at >= ? AND {_COUNTS_AS_SPEND}"  # noqa: S608
        total = await self._run(lambda db: float(db.execute(sql, (since,)).fetchone()[0]))
        return round(total, 6)

    async def spend_by_day(self, since: float) -> builtins.list[dict[str, Any]]:
        """Spend per UTC day and provider since `since`, oldest day first, by the same rule as `spend`.

        Each entry: {"day": "2026-11-21", "provider": "fal", "usd": 1.23, "jobs": 3}.
        """
        sql = (
            "SELECT date(created_at, 'unixepoch') AS day, provider, SUM(estimate_usd), COUNT(*)"  # noqa: S608
            f" FROM jobs WHERE created_at >= ? AND {_COUNTS_AS_SPEND}"
            " GROUP BY day, provider ORDER BY day, provider"
        )

        def read(db: sqlite3.Connection) -> builtins.list[dict[str, Any]]:
            return [
                {"day": day, "provider": provider, "usd": round(usd, 6), "jobs": jobs}
                for day, provider, usd, jobs in db.execute(sql, (since,))
            ]

        return await self._run(read)


# --- worker-thread helpers -------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit mode: we open our own transactions. check_same_thread is off because the worker
    # thread may differ from call to call; the limiter guarantees only one uses it at a time.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a committed transaction is in the OS's hands once COMMIT returns, so it
        # survives the process being killed (SIGKILL, crash); only a power cut or OS crash can lose
        # the last transactions. Writes that record money (a new job, a request id) go further and
        # commit with synchronous=FULL (see `_write`), so even a power cut cannot lose those.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def _write(db: sqlite3.Connection, change: Callable[[], T], *, durable: bool) -> T:
    """Run `change` in one write transaction; with `durable`, fsync the WAL when it commits."""
    if durable:
        db.execute("PRAGMA synchronous = FULL")
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = change()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return result
    finally:
        if durable:
            db.execute("PRAGMA synchronous = NORMAL")
