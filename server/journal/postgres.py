"""The job journal in PostgreSQL (`SEEDANCE_DATABASE_URL=postgresql://…`): one journal for a team of
replicas, the `journal_api.JobJournal` interface with the same behaviour as the SQLite journal.

What PostgreSQL adds for several processes:
- a duplicate claim is one transaction under a transaction-scoped advisory lock on the dedupe key,
  so identical calls reaching two replicas at once make one job;
- leases are taken with `FOR UPDATE SKIP LOCKED`: two replicas racing for a job never wait on each
  other, one of them gets it;
- every change to a job sends `NOTIFY seedance_jobs, '<job id>'` in its own transaction, and
  `subscribe` hands those to the process, so a call waiting on replica B wakes when replica A
  changes the job (no polling). `publish_if_made`/`listen` carry other wake-ups (fal webhooks) the same way.

The database going away (restarted, stopped a while, its connections killed) is an expected event:
the pool checks a connection before lending it and replaces dead ones, and every operation is tried
again, with backoff, for up to `retry_seconds`; past that it raises `JournalUnavailable`, and the
job manager waits and resumes instead of deciding anything on it.

Schema changes are named, recorded migrations, as in SQLite (same names, PostgreSQL's SQL); a
process opening the database applies the missing ones under an advisory lock, so replicas
starting together apply each once. Nothing here stores a secret.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import JournalUnavailable
from . import queries
from .api import (
    HELD_KEPT_SECONDS,
    JSON_FIELDS,
    RECORD_FIELDS,
    HeldOutcome,
    HeldRequest,
    JobJournal,
    JobRecord,
    JobState,
    Reservation,
    Spending,
    changes_for,
    checked_update,
    prepared,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["JOB_CHANNEL", "MIGRATIONS", "PgJournal", "is_postgres_url"]

log = logging.getLogger(__name__)

T = TypeVar("T")

JOB_CHANNEL = "seedance_jobs"  # payload: the id of a job that changed
POOL_MAX = 10  # statements are short; ten connections serve hundreds of followed jobs
MIGRATION_LOCK = 0x5EED  # advisory lock key: one process migrates at a time
LISTEN_RETRY_MAX = 30.0
# A pooled connection is lent only after a round trip proves it alive; a caller waits this long for one
# (the pool reconnects in the background meanwhile).
POOL_WAIT_SECONDS = 5.0
# An operation is tried again while the database is away, pausing 0.2 s, 0.4 s, ... up to 2 s, for this
# long in all: a restart (well under a second) or a failover passes unseen; a longer outage is reported.
RETRY_SECONDS = 20.0
RETRY_FIRST = 0.2
RETRY_MAX = 2.0


# Which jobs need a follower, as in the SQLite journal, in PostgreSQL's spelling of false.
_NEEDS_FOLLOWER = (
    "(state NOT IN ('completed', 'failed', 'cancelled', 'uncertain')"
    " OR (state = 'completed' AND saved = false AND next_save_at IS NOT NULL))"
)
_INSERT = f"INSERT INTO jobs ({', '.join(RECORD_FIELDS)}) VALUES ({', '.join('%s' for _ in RECORD_FIELDS)})"  # noqa: S608


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


# --- migrations ------------------------------------------------------------------------------

_M001_JOBS = """
CREATE TABLE jobs (
    seq BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    provider TEXT NOT NULL,
    simulated BOOLEAN NOT NULL,
    tool TEXT NOT NULL,
    tier TEXT NOT NULL,
    mode TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    arguments JSONB NOT NULL,
    estimate JSONB NOT NULL,
    estimate_usd DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL,
    submission TEXT,
    request_id TEXT,
    queue_position INTEGER,
    logs JSONB NOT NULL,
    result_url TEXT,
    seed BIGINT,
    video_path TEXT,
    video_sha256 TEXT,
    video_bytes BIGINT,
    error TEXT,
    error_type TEXT,
    dedupe_key TEXT,
    group_id TEXT,
    finished_at DOUBLE PRECISION,
    history JSONB NOT NULL
);
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_created_at ON jobs (created_at);
CREATE INDEX jobs_dedupe_key ON jobs (dedupe_key, created_at);
CREATE INDEX jobs_group_id ON jobs (group_id) WHERE group_id IS NOT NULL;
"""

_M002_LEASES_SAVES_RESERVATIONS = """
ALTER TABLE jobs
    ADD COLUMN lease_owner TEXT,
    ADD COLUMN lease_expires DOUBLE PRECISION,
    ADD COLUMN saved BOOLEAN,
    ADD COLUMN save_error TEXT,
    ADD COLUMN save_attempts INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN next_save_at DOUBLE PRECISION;
UPDATE jobs SET saved = true WHERE video_path IS NOT NULL;
UPDATE jobs SET saved = false, next_save_at = 0
    WHERE state = 'completed' AND video_path IS NULL AND result_url IS NOT NULL;
CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    usd DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
"""

_M003_HELD_REQUESTS = """
CREATE TABLE held_requests (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    request JSONB NOT NULL,
    taken_at DOUBLE PRECISION,
    outcome TEXT,
    job_id TEXT
);
"""

_M004_DRAFTS = """
ALTER TABLE jobs
    ADD COLUMN draft_id TEXT,
    ADD COLUMN draft_expires DOUBLE PRECISION,
    ADD COLUMN finished_from TEXT;
"""

# Append only, with the SQLite journal's names: never edit, reorder or remove an entry once released.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("001_jobs", _M001_JOBS),
    ("002_leases_saves_reservations", _M002_LEASES_SAVES_RESERVATIONS),
    ("003_held_requests", _M003_HELD_REQUESTS),
    ("004_drafts", _M004_DRAFTS),
)


async def migrate(db: AsyncConnection[Any], migrations: Sequence[tuple[str, str]] = MIGRATIONS) -> list[str]:
    """Apply the migrations the database lacks, in order, each with its record in one transaction."""
    async with db.transaction():
        # IF NOT EXISTS alone races when replicas start together: the lock makes it one at a time.
        await db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await db.execute(
            "CREATE TABLE IF NOT EXISTS migrations"
            " (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        )
    applied: list[str] = []
    for name, sql in migrations:
        async with db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            cur = await db.execute("SELECT 1 FROM migrations WHERE name = %s", (name,))
            if await cur.fetchone() is None:
                await db.execute(sql.encode())
                await db.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (%s, %s)", (name, time.time())
                )
                applied.append(name)
    if applied:
        log.info("journal migrated: %s", ", ".join(applied))
    return applied


async def applied_migrations(db: AsyncConnection[Any]) -> list[str]:
    cur = await db.execute("SELECT to_regclass('migrations') IS NOT NULL AS present")
    row = await cur.fetchone()
    if row is None or not row["present"]:
        return []
    cur = await db.execute("SELECT name FROM migrations ORDER BY name")
    return [str(r["name"]) for r in await cur.fetchall()]


# --- rows <-> records ------------------------------------------------------------------------


def _encode(name: str, value: Any) -> Any:
    if name in JSON_FIELDS:
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    return value


def _decode(row: dict[str, Any]) -> JobRecord:
    values = {name: row[name] for name in RECORD_FIELDS}
    values["history"] = [(str(s), float(t), str(n)) for s, t, n in values["history"]]
    return JobRecord(**values)


# --- the journal -----------------------------------------------------------------------------


class PgJournal(JobJournal):
    """The job journal in one PostgreSQL database. Open with `await PgJournal.open(dsn)`."""

    def __init__(
        self, dsn: str, pool: AsyncConnectionPool[Any], retry_seconds: float = RETRY_SECONDS
    ) -> None:
        self.dsn = dsn
        self.retry_seconds = retry_seconds
        self._pool: AsyncConnectionPool[Any] | None = pool
        self._listeners: dict[str, list[Callable[[str], None]]] = {}
        self._listen_task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    @classmethod
    async def open(cls, dsn: str, retry_seconds: float = RETRY_SECONDS) -> PgJournal:
        """Connect, migrate, and start hearing other processes' changes (`subscribe`)."""
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=POOL_MAX,
            kwargs={"autocommit": True, "row_factory": dict_row},
            open=False,
            check=AsyncConnectionPool.check_connection,
            timeout=POOL_WAIT_SECONDS,
        )
        await pool.open(wait=True, timeout=15)
        try:
            async with pool.connection() as db:
                await migrate(db)
        except BaseException:
            await pool.close()
            raise
        journal = cls(dsn, pool, retry_seconds)
        journal._listen_task = asyncio.get_running_loop().create_task(journal._listen())
        await journal._listening.wait()
        return journal

    async def close(self) -> None:
        task, self._listen_task = self._listen_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> PgJournal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _connection(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection[Any]]:
        if self._pool is None:
            raise RuntimeError("the journal is closed")
        return self._pool.connection()

    async def _with_db(self, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        """Run `work` on a pooled connection, again on another one while the database is away.

        `work` is one transaction (or one statement): a try that failed committed nothing, unless the
        connection broke while the commit's answer was on its way; each operation below is safe to
        repeat in that case (an update writes the same values, a claim recognises its own rows)."""
        from psycopg import OperationalError

        pause, deadline = RETRY_FIRST, time.monotonic() + self.retry_seconds
        while True:
            try:
                async with self._connection() as db:
                    return await work(db)
            except OperationalError as exc:  # connection lost or refused, server shutting down, pool empty
                if time.monotonic() + pause > deadline:
                    raise JournalUnavailable(
                        f"the job journal's database did not answer for {self.retry_seconds:.0f} s "
                        f"({type(exc).__name__}); try again in a moment"
                    ) from exc
                log.warning("journal: database unavailable (%s); trying again", type(exc).__name__)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX)

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[JobRecord]:
        async def fetch(db: AsyncConnection[Any]) -> builtins.list[JobRecord]:
            cur = await db.execute(sql.encode(), params)
            return [_decode(r) for r in await cur.fetchall()]

        return await self._with_db(fetch)

    # -- change notifications --

    def subscribe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback(job_id)` whenever any process changes a job; returns the unsubscribe.

        After the listening connection was lost and is back, `callback("")` says "anything may have
        changed meanwhile".
        """
        return self.listen(JOB_CHANNEL, callback)

    def listen(self, channel: str, callback: Callable[[str], None]) -> Callable[[], None]:
        callbacks = self._listeners.setdefault(channel, [])
        callbacks.append(callback)
        return lambda: callbacks.remove(callback) if callback in callbacks else None

    async def publish_if_made(self, channel: str, payload: str, *, job_id: str, request_id: str) -> bool:
        """Send `payload` to every process's `listen(channel, …)` callbacks (this one's too), only if
        job `job_id` made provider request `request_id`; whether it did. The check and the notice are
        one statement: one round trip for a webhook's wake-up."""

        async def send(db: AsyncConnection[Any]) -> bool:
            cur = await db.execute(
                "SELECT pg_notify(%s, %s) FROM jobs WHERE id = %s AND request_id = %s",
                (channel, payload, job_id, request_id),
            )
            return await cur.fetchone() is not None

        return await self._with_db(send)

    def _dispatch(self, channel: str, payload: str) -> None:
        for callback in list(self._listeners.get(channel, ())):
            try:
                callback(payload)
            except Exception:
                log.exception("journal change listener failed")

    async def _listen(self) -> None:
        from psycopg import AsyncConnection, OperationalError

        pause = 0.5
        first = True
        while True:
            try:
                async with await AsyncConnection.connect(self.dsn, autocommit=True) as db:
                    for channel in (JOB_CHANNEL, *WAKE_CHANNELS):
                        await db.execute(f'LISTEN "{channel}"'.encode())
                    self._listening.set()
                    if not first:
                        for channel in list(self._listeners):
                            self._dispatch(channel, "")
                    first, pause = False, 0.5
                    async for note in db.notifies():
                        self._dispatch(note.channel, note.payload)
            except OperationalError as exc:
                log.warning("journal: lost the notification connection (%s); reconnecting", exc)
                self._listening.set()  # open() must not hang on a flaky network: waits fall back to timeouts
                await asyncio.sleep(pause)
                pause = min(pause * 2, LISTEN_RETRY_MAX)

    # -- writes --

    async def create(self, record: JobRecord) -> None:
        from psycopg.errors import UniqueViolation

        record = prepared(record)

        async def insert(db: AsyncConnection[Any]) -> None:
            async with db.transaction():
                await db.execute(_INSERT.encode(), [_encode(n, getattr(record, n)) for n in RECORD_FIELDS])
                await _notify(db, record.id)

        try:
            await self._with_db(insert)
        except UniqueViolation:
            raise ValueError(f"a job with id {record.id!r} is already in the journal") from None

    async def update(
        self, job_id: str, *, state: JobState | None = None, note: str = "", **fields: Any
    ) -> JobRecord:
        fields = checked_update(fields, state)

        async def write(db: AsyncConnection[Any]) -> JobRecord:
            async with db.transaction():
                cur = await db.execute("SELECT * FROM jobs WHERE id = %s FOR UPDATE", (job_id,))
                row = await cur.fetchone()
                if row is None:
                    raise KeyError(job_id)
                old = _decode(row)
                changes = changes_for(old, fields, state, note)
                new = replace(old, **changes)
                # Column names come from the dataclass's own fields, never from the caller's text.
                assignments = ", ".join(f"{name} = %s" for name in changes)
                # The notice in the same statement (one round trip); sent when the transaction commits.
                await db.execute(
                    f"WITH changed AS (UPDATE jobs SET {assignments} WHERE id = %s RETURNING id)"  # noqa: S608
                    " SELECT pg_notify(%s, id) FROM changed".encode(),
                    [*(_encode(name, getattr(new, name)) for name in changes), job_id, JOB_CHANNEL],
                )
                return new

        return await self._with_db(write)

    # -- reads --

    async def get(self, job_id: str) -> JobRecord | None:
        found = await self._fetch("SELECT * FROM jobs WHERE id = %s", (job_id,))
        return found[0] if found else None

    async def list(
        self, *, states: Collection[str] | None = None, limit: int = 20, since: float | None = None
    ) -> builtins.list[JobRecord]:
        sql, params = queries.listing(queries.POSTGRES, states=states, limit=limit, since=since)
        return await self._fetch(sql, params)

    async def overview(
        self,
        *,
        states: Collection[str] | None = None,
        limit: int = 20,
        days_since: float,
        budget_since: float,
    ) -> tuple[builtins.list[JobRecord], Spending]:
        sql, params = queries.listing(queries.POSTGRES, states=states, limit=limit, since=None)

        async def select(db: AsyncConnection[Any]) -> tuple[builtins.list[JobRecord], Spending]:
            # One snapshot (the totals agree with the jobs listed), and one round trip: a pipeline
            # sends the queries together when the first answer is awaited (`_spent`'s).
            async with db.transaction(), db.pipeline():
                await db.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                jobs = await db.execute(sql.encode(), params)
                days = await db.execute(queries.spend_by_day(queries.POSTGRES).encode(), (days_since,))
                certain, possible = await _spent(db, budget_since)
                rows, day_rows = await jobs.fetchall(), await days.fetchall()
            by_day = [
                queries.spend_row(
                    r["day"], r["provider"], r["simulated"], r["usd"], r["possible_usd"], r["jobs"]
                )
                for r in day_rows
            ]
            return [_decode(r) for r in rows], Spending(by_day, certain, possible)

        return await self._with_db(select)

    async def group(self, group_id: str) -> builtins.list[JobRecord]:
        return await self._fetch(
            "SELECT * FROM jobs WHERE group_id = %s ORDER BY created_at, seq", (group_id,)
        )

    async def unfinished(self, *, not_held_by: str | None = None) -> builtins.list[JobRecord]:
        return await self._fetch(
            "SELECT * FROM jobs WHERE state NOT IN ('completed', 'failed', 'cancelled')"
            " AND (%s::text IS NULL OR lease_owner IS NULL OR lease_owner <> %s) ORDER BY created_at, seq",
            (not_held_by, not_held_by),
        )

    async def find_duplicate(self, dedupe_key: str, since: float) -> JobRecord | None:
        return await self._with_db(lambda db: _duplicate(db, dedupe_key, since))

    # -- one submit per call --

    async def claim(
        self, intents: Sequence[JobRecord], *, since: float
    ) -> tuple[builtins.list[JobRecord], bool]:
        """Insert `intents` unless an identical call's job exists: one transaction, serialised per
        dedupe key by an advisory lock, so identical calls on two replicas make one job."""
        keys = {intent.dedupe_key for intent in intents}
        if len(keys) != 1 or None in keys:
            raise ValueError("claim needs intents that share one dedupe_key")
        (key,) = keys
        rows = [prepared(intent) for intent in intents]
        ours = {record.id for record in rows}

        async def insert(db: AsyncConnection[Any]) -> tuple[builtins.list[JobRecord], bool]:
            async with db.transaction():
                await db.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
                earlier = await _duplicate(db, str(key), since)
                if earlier is not None:
                    found = [earlier]
                    if earlier.group_id is not None:
                        cur = await db.execute(
                            "SELECT * FROM jobs WHERE group_id = %s ORDER BY created_at, seq",
                            (earlier.group_id,),
                        )
                        found = [_decode(r) for r in await cur.fetchall()]
                    # Our own rows, from a try whose commit went through unanswered: still our claim.
                    return found, {record.id for record in found} == ours
                for record in rows:
                    await db.execute(
                        _INSERT.encode(), [_encode(n, getattr(record, n)) for n in RECORD_FIELDS]
                    )
                    await _notify(db, record.id)
                return rows, True

        return await self._with_db(insert)

    # -- leases --

    async def take_lease(self, job_id: str, owner: str, seconds: float) -> JobRecord | None:
        async def take(db: AsyncConnection[Any]) -> JobRecord | None:
            now = time.time()
            async with db.transaction():
                cur = await db.execute(
                    "UPDATE jobs SET lease_owner = %s, lease_expires = %s WHERE id = ("
                    " SELECT id FROM jobs WHERE id = %s"
                    " AND (lease_owner IS NULL OR lease_owner = %s OR lease_expires <= %s)"
                    " FOR UPDATE SKIP LOCKED) RETURNING *",
                    (owner, now + seconds, job_id, owner, now),
                )
                row = await cur.fetchone()
                if row is None:
                    return None
                await _notify(db, job_id)
                return _decode(row)

        return await self._with_db(take)

    async def renew_lease(self, job_id: str, owner: str, seconds: float) -> bool:
        async def renew(db: AsyncConnection[Any]) -> bool:
            cur = await db.execute(
                "UPDATE jobs SET lease_expires = %s WHERE id = %s AND lease_owner = %s",
                (time.time() + seconds, job_id, owner),
            )
            return cur.rowcount > 0

        return await self._with_db(renew)

    async def renew_leases(self, job_ids: Collection[str], owner: str, seconds: float) -> set[str]:
        async def renew(db: AsyncConnection[Any]) -> set[str]:
            cur = await db.execute(
                "UPDATE jobs SET lease_expires = %s WHERE id = ANY(%s) AND lease_owner = %s RETURNING id",
                (time.time() + seconds, list(job_ids), owner),
            )
            return {str(row["id"]) for row in await cur.fetchall()}

        return await self._with_db(renew)

    async def release_lease(self, job_id: str, owner: str) -> None:
        async def release(db: AsyncConnection[Any]) -> None:
            async with db.transaction():
                cur = await db.execute(
                    "UPDATE jobs SET lease_owner = NULL, lease_expires = NULL"
                    " WHERE id = %s AND lease_owner = %s",
                    (job_id, owner),
                )
                if cur.rowcount:
                    await _notify(db, job_id)

        await self._with_db(release)

    async def takeable(
        self, owner: str, now: float | None = None, *, skipping: Collection[str] = ()
    ) -> builtins.list[JobRecord]:
        """Rows another process is taking right now are skipped, not waited for."""
        at = time.time() if now is None else now
        skipped = sorted(skipping)

        async def select(db: AsyncConnection[Any]) -> builtins.list[JobRecord]:
            async with db.transaction():
                cur = await db.execute(
                    f"SELECT * FROM jobs WHERE {_NEEDS_FOLLOWER}"  # noqa: S608
                    " AND (next_save_at IS NULL OR next_save_at <= %s)"
                    " AND (lease_owner IS NULL OR lease_owner = %s OR lease_expires <= %s)"
                    " AND NOT (id = ANY(%s)) ORDER BY created_at, seq FOR UPDATE SKIP LOCKED",
                    (at, owner, at, skipped),
                )
                return [_decode(r) for r in await cur.fetchall()]

        return await self._with_db(select)

    async def next_lease_expiry(self, owner: str) -> float | None:
        async def select(db: AsyncConnection[Any]) -> float | None:
            cur = await db.execute(
                f"SELECT MIN(lease_expires) AS at FROM jobs WHERE {_NEEDS_FOLLOWER}"  # noqa: S608
                " AND lease_owner IS NOT NULL AND lease_owner <> %s AND lease_expires > %s",
                (owner, time.time()),
            )
            row = await cur.fetchone()
            return None if row is None or row["at"] is None else float(row["at"])

        return await self._with_db(select)

    # -- money --

    async def spent_since(self, since: float) -> tuple[float, float]:
        return await self._with_db(lambda db: _spent(db, since))

    async def reserve(
        self, usd: float, *, owner: str, budget_usd: float | None, since: float, ttl_seconds: float
    ) -> Reservation:
        """Hold `usd` against the budget if real spend + every replica's live reservations + `usd` fit.

        The check and the insert are serialised across processes by an exclusive lock on the
        reservations table (held for one short transaction)."""

        async def hold(db: AsyncConnection[Any]) -> Reservation:
            async with db.transaction():
                await db.execute("LOCK TABLE reservations IN SHARE ROW EXCLUSIVE MODE")
                now = time.time()
                await db.execute("DELETE FROM reservations WHERE expires_at <= %s", (now,))
                certain, possible = await _spent(db, since)
                spent = round(certain + possible, 6)
                cur = await db.execute("SELECT COALESCE(SUM(usd), 0) AS held FROM reservations")
                row = await cur.fetchone()
                reserved = round(float(row["held"]) if row else 0.0, 6)
                if budget_usd is not None and spent + reserved + usd > budget_usd + 1e-9:
                    return Reservation(id=None, granted=False, spent_usd=spent, reserved_usd=reserved)
                rid = "rsv_" + secrets.token_urlsafe(9)
                await db.execute(
                    "INSERT INTO reservations (id, owner, usd, created_at, expires_at)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (rid, owner, usd, now, now + ttl_seconds),
                )
                return Reservation(id=rid, granted=True, spent_usd=spent, reserved_usd=reserved)

        return await self._with_db(hold)

    async def release(self, reservation_id: str) -> None:
        async def delete(db: AsyncConnection[Any]) -> None:
            await db.execute("DELETE FROM reservations WHERE id = %s", (reservation_id,))

        await self._with_db(delete)

    # -- requests held for the person's confirmation --

    async def hold(self, held: HeldRequest, token_hash: str) -> None:
        from psycopg.types.json import Jsonb

        old = held.created_at - HELD_KEPT_SECONDS

        async def insert(db: AsyncConnection[Any]) -> None:
            async with db.transaction():
                await db.execute(
                    "DELETE FROM held_requests WHERE expires_at < %s AND (taken_at IS NULL OR taken_at < %s)",
                    (old, old),
                )
                await db.execute(
                    "INSERT INTO held_requests (id, token_hash, created_at, expires_at, request)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    (held.id, token_hash, held.created_at, held.expires_at, Jsonb(held.request)),
                )

        await self._with_db(insert)

    async def take_held(
        self, token_hash: str, outcome: HeldOutcome, *, now: float
    ) -> tuple[HeldRequest | None, bool]:
        """One conditional UPDATE: of two replicas taking the same request at once, one wins. Repeated
        after a lost commit answer, it reads as taken by another: never as a second yes."""

        async def take(db: AsyncConnection[Any]) -> tuple[dict[str, Any] | None, bool]:
            async with db.transaction():
                cur = await db.execute(
                    "UPDATE held_requests SET taken_at = %s, outcome = %s WHERE token_hash = %s"
                    " AND taken_at IS NULL AND expires_at > %s",
                    (now, outcome, token_hash, now),
                )
                took = cur.rowcount == 1
                cur = await db.execute("SELECT * FROM held_requests WHERE token_hash = %s", (token_hash,))
                return await cur.fetchone(), took

        row, took = await self._with_db(take)
        if row is None:
            return None, False
        fields = ("id", "created_at", "expires_at", "request", "taken_at", "outcome", "job_id")
        return HeldRequest(**{name: row[name] for name in fields}), took

    async def held_job(self, held_id: str, job_id: str) -> None:
        async def update(db: AsyncConnection[Any]) -> None:
            await db.execute("UPDATE held_requests SET job_id = %s WHERE id = %s", (job_id, held_id))

        await self._with_db(update)

    # -- operations (doctor) --

    async def health(self) -> dict[str, Any]:
        return await self._with_db(_health)


async def inspect_database(dsn: str, timeout: float) -> dict[str, Any]:
    """For `doctor`: connect (raising psycopg's error when unreachable) and report, changing nothing."""
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row

    async with await AsyncConnection.connect(
        dsn, connect_timeout=max(1, int(timeout)), autocommit=True, row_factory=dict_row
    ) as db:
        return await _health(db)


async def _health(db: AsyncConnection[Any]) -> dict[str, Any]:
    """Migrations applied/missing, jobs needing a follower, leases held and lapsed."""
    now = time.time()
    applied = await applied_migrations(db)
    missing = [name for name, _ in MIGRATIONS if name not in applied]
    if missing:
        return {
            "migrations_missing": missing,
            "jobs_needing_follower": 0,
            "leases_held": 0,
            "leases_lapsed": 0,
            "oldest_lapse_seconds": None,
        }
    cur = await db.execute(
        "SELECT COUNT(*) AS open,"  # noqa: S608
        " COUNT(*) FILTER (WHERE lease_owner IS NOT NULL AND lease_expires > %s) AS held,"
        " COUNT(*) FILTER (WHERE lease_owner IS NOT NULL AND lease_expires <= %s) AS lapsed,"
        " MIN(lease_expires) FILTER (WHERE lease_owner IS NOT NULL AND lease_expires <= %s)"
        f" AS oldest_lapse FROM jobs WHERE {_NEEDS_FOLLOWER}",
        (now, now, now),
    )
    row = await cur.fetchone() or {}
    oldest = row.get("oldest_lapse")
    return {
        "migrations_missing": missing,
        "jobs_needing_follower": int(row.get("open") or 0),
        "leases_held": int(row.get("held") or 0),
        "leases_lapsed": int(row.get("lapsed") or 0),
        "oldest_lapse_seconds": None if oldest is None else round(now - float(oldest), 1),
    }


# Other wake-up channels the listening connection joins (see `server.webhooks`).
WAKE_CHANNELS: tuple[str, ...] = ("seedance_wake",)


async def _notify(db: AsyncConnection[Any], job_id: str) -> None:
    # Delivered when the transaction commits, and only then: a waiter never sees an uncommitted change.
    await db.execute("SELECT pg_notify(%s, %s)", (JOB_CHANNEL, job_id))


async def _duplicate(db: AsyncConnection[Any], dedupe_key: str, since: float) -> JobRecord | None:
    cur = await db.execute(queries.duplicate(queries.POSTGRES).encode(), (dedupe_key, since))
    row = await cur.fetchone()
    return None if row is None else _decode(row)


async def _spent(db: AsyncConnection[Any], since: float) -> tuple[float, float]:
    cur = await db.execute(queries.spent(queries.POSTGRES).encode(), (since,))
    row = await cur.fetchone()
    assert row is not None
    return round(float(row["certain"]), 6), round(float(row["possible"]), 6)
