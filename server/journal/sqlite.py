"""The durable job journal in SQLite: the `journal_api.JobJournal` interface over one file.

The job manager writes a row *before* it submits (state "submitting"), records the provider's
request id the moment the submit returns, and follows unfinished rows again after a restart. So a
paid job can always be found again, even if the process is killed mid-call.

Three connections ("lanes"), each used by one worker thread at a time, so the event loop never
waits on disk: one writes, every write in turn, those that queue together in one transaction
(`group_commit`); one reads for answers (`list_jobs`, `check_status`);
one reads for the process's own periodic scans (jobs to take over, leases about to lapse), which
decode every unfinished row. WAL lets reads run beside a write, so answers neither queue behind a
thousand finishing jobs' writes nor behind a scan of their rows. Several processes (two
hosts each running the server) may share the file; SQLite's locking and a busy timeout serialise them,
and every step that must be atomic across processes (a duplicate claim, a lease, a budget
reservation) runs in one `BEGIN IMMEDIATE` transaction.

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
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from . import queries
from .api import (
    HELD_KEPT_SECONDS,
    JOB_STATES,
    JSON_FIELDS,
    LOG_LINES_KEPT,
    RECORD_FIELDS,
    TERMINAL,
    HeldOutcome,
    HeldRequest,
    JobJournal,
    JobRecord,
    JobState,
    Reservation,
    Spending,
    changes_for,
    checked_update,
    new_job_id,
    prepared,
)
from .group_commit import GroupCommit

__all__ = [
    "JOB_STATES",
    "JOURNAL_FILENAME",
    "LOG_LINES_KEPT",
    "MIGRATIONS",
    "TERMINAL",
    "JobJournal",
    "JobRecord",
    "JobState",
    "Journal",
    "Reservation",
    "migrate",
    "new_job_id",
]

logger = logging.getLogger(__name__)

JOURNAL_FILENAME = "journal.sqlite3"
# Ids bound in one statement: well under SQLite's oldest limit on variables (999).
_IDS_PER_STATEMENT = 500
BUSY_TIMEOUT_MS = 10_000  # another process holding the write lock commits in milliseconds; 10 s is ample
READER_CACHE_KIB = 512  # page cache of each reading connection (SQLite's default: 2,000 KiB)

T = TypeVar("T")

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
    # One call that makes several videos (Oxen) makes a group of jobs that are read together.
    db.execute("CREATE INDEX jobs_group_id ON jobs (group_id) WHERE group_id IS NOT NULL")


def _m002_leases_saves_reservations(db: sqlite3.Connection) -> None:
    for column in (
        "lease_owner TEXT",
        "lease_expires REAL",
        "saved INTEGER",
        "save_error TEXT",
        "save_attempts INTEGER NOT NULL DEFAULT 0",
        "next_save_at REAL",
    ):
        db.execute(f"ALTER TABLE jobs ADD COLUMN {column}")
    # Jobs saved before this migration; a finished one with only a URL gets one more try.
    db.execute("UPDATE jobs SET saved = 1 WHERE video_path IS NOT NULL")
    db.execute(
        "UPDATE jobs SET saved = 0, next_save_at = 0 WHERE state = 'completed' AND video_path IS NULL"
        " AND result_url IS NOT NULL"
    )
    db.execute(
        """
        CREATE TABLE reservations (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            usd REAL NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        )
        """
    )


def _m003_held_requests(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE held_requests (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            request TEXT NOT NULL,
            taken_at REAL,
            outcome TEXT,
            job_id TEXT
        )
        """
    )


def _m004_drafts(db: sqlite3.Connection) -> None:
    # A draft's id and expiry (what finishing it needs beyond its request); a finish's draft job.
    for column in ("draft_id TEXT", "draft_expires REAL", "finished_from TEXT"):
        db.execute(f"ALTER TABLE jobs ADD COLUMN {column}")


# Append only: never edit, reorder or remove an entry once released; add a new one instead.
MIGRATIONS: tuple[Migration, ...] = (
    ("001_jobs", _m001_jobs),
    ("002_leases_saves_reservations", _m002_leases_saves_reservations),
    ("003_held_requests", _m003_held_requests),
    ("004_drafts", _m004_drafts),
)


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
    if name in JSON_FIELDS:
        return json.dumps(value, ensure_ascii=False, sort_keys=name != "history")
    if name == "simulated":
        return int(bool(value))
    if name == "saved":
        return None if value is None else int(bool(value))
    return value


def _decode(row: sqlite3.Row) -> JobRecord:
    values: dict[str, Any] = {name: row[name] for name in RECORD_FIELDS}
    for name in JSON_FIELDS:
        values[name] = json.loads(values[name])
    values["history"] = [(str(s), float(t), str(n)) for s, t, n in values["history"]]
    values["simulated"] = bool(values["simulated"])
    values["saved"] = None if values["saved"] is None else bool(values["saved"])
    return JobRecord(**values)


_INSERT = f"INSERT INTO jobs ({', '.join(RECORD_FIELDS)}) VALUES ({', '.join('?' for _ in RECORD_FIELDS)})"  # noqa: S608

# Jobs a follower should hold: still moving at the provider, or finished with a save due.
_NEEDS_FOLLOWER = (
    "(state NOT IN ('completed', 'failed', 'cancelled', 'uncertain')"
    " OR (state = 'completed' AND saved = 0 AND next_save_at IS NOT NULL))"
)


# --- the journal -----------------------------------------------------------------------------


class _Lane:
    """One connection and the one worker thread at a time that may use it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db: sqlite3.Connection | None = db
        self._limiter = anyio.CapacityLimiter(1)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        if db is None:
            raise RuntimeError("the journal is closed")
        return await anyio.to_thread.run_sync(fn, db, limiter=self._limiter)

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await anyio.to_thread.run_sync(db.close, limiter=self._limiter)


class Journal(JobJournal):
    """The job journal over one SQLite file. Open with `await Journal.open(path)`; close when done."""

    def __init__(self, path: Path, writes: GroupCommit, answers: _Lane, scans: _Lane) -> None:
        # Use `Journal.open`: the connections must be made (and the file migrated) on a worker thread.
        self.path = path
        self._writes, self._answers, self._scans = writes, answers, scans

    @classmethod
    async def open(cls, path: Path) -> Journal:
        """Open (creating folders and file as needed) and migrate the journal at `path`."""
        path = Path(path)
        writes = GroupCommit(await anyio.to_thread.run_sync(partial(_connect, path, writes=True)))
        lanes: list[_Lane] = []
        try:
            for _ in range(2):
                lanes.append(_Lane(await anyio.to_thread.run_sync(partial(_connect, path, writes=False))))
        except BaseException:
            for lane in lanes:
                await lane.close()
            await writes.close()
            raise
        return cls(path, writes, *lanes)

    async def close(self) -> None:
        for lane in (self._scans, self._answers, self._writes):
            await lane.close()

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _commit(self, change: Callable[[sqlite3.Connection], T], *, durable: bool) -> T:
        """Run `change` in a write transaction; with `durable`, the WAL is fsynced when it commits."""
        return await self._writes.commit(change, durable=durable)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read for an answer: it sees every write committed before it starts."""
        return await self._answers.run(fn)

    async def _scan(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read of the process's own periodic scans, kept out of the answers' way."""
        return await self._scans.run(fn)

    # -- writes --

    async def create(self, record: JobRecord) -> None:
        """Record a job's intent. Written before submitting and fsynced, so it outlives a crash.

        An empty `history` is started with the record's own state. Raises ValueError if the id exists.
        """
        record = prepared(record)
        params = [_encode(name, getattr(record, name)) for name in RECORD_FIELDS]

        def change(db: sqlite3.Connection) -> None:
            try:
                db.execute(_INSERT, params)
            except sqlite3.IntegrityError:
                raise ValueError(f"a job with id {record.id!r} is already in the journal") from None

        await self._commit(change, durable=True)

    async def update(
        self, job_id: str, *, state: JobState | None = None, note: str = "", **fields: Any
    ) -> JobRecord:
        """Set any of the record's fields and return the new record; KeyError if no such job.

        A change of state is appended to `history` with `note`; entering a terminal state sets
        `finished_at` unless given. `logs` keeps its last LOG_LINES_KEPT lines.
        """
        fields = checked_update(fields, state)
        durable = not _DURABLE_FIELDS.isdisjoint(fields)

        def change(db: sqlite3.Connection) -> JobRecord:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(job_id)
            old = _decode(row)
            changes = changes_for(old, fields, state, note)
            new = replace(old, **changes)
            # Column names come from the dataclass's own fields, never from the caller's text.
            assignments = ", ".join(f"{name} = ?" for name in changes)
            db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?",  # noqa: S608
                [*(_encode(name, getattr(new, name)) for name in changes), job_id],
            )
            return new

        return await self._commit(change, durable=durable)

    # -- reads --

    async def get(self, job_id: str) -> JobRecord | None:
        def read(db: sqlite3.Connection) -> JobRecord | None:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return None if row is None else _decode(row)

        return await self._read(read)

    async def group(self, group_id: str) -> builtins.list[JobRecord]:
        """The jobs made by one request (several videos of one Oxen call), oldest first."""
        sql = "SELECT * FROM jobs WHERE group_id = ? ORDER BY created_at, rowid"
        return await self._read(lambda db: [_decode(r) for r in db.execute(sql, (group_id,))])

    async def find_duplicate(self, dedupe_key: str, since: float) -> JobRecord | None:
        """The newest job with this key created at or after `since` that an identical call should get."""
        return await self._read(lambda db: _duplicate(db, dedupe_key, since))

    async def list(
        self, *, states: Collection[str] | None = None, limit: int = 20, since: float | None = None
    ) -> builtins.list[JobRecord]:
        """Jobs newest first, optionally only those in `states` or created at or after `since`."""
        return await self._read(partial(_listing, states=states, limit=limit, since=since))

    async def overview(
        self,
        *,
        states: Collection[str] | None = None,
        limit: int = 20,
        days_since: float,
        budget_since: float,
    ) -> tuple[builtins.list[JobRecord], Spending]:
        def read(db: sqlite3.Connection) -> tuple[builtins.list[JobRecord], Spending]:
            db.execute("BEGIN")  # one snapshot: the totals agree with the jobs listed
            try:
                jobs = _listing(db, states=states, limit=limit, since=None)
                by_day = [
                    queries.spend_row(*row)
                    for row in db.execute(queries.spend_by_day(queries.SQLITE), (days_since,))
                ]
                certain, possible = _spent(db, budget_since)
            finally:
                db.execute("COMMIT")
            return jobs, Spending(by_day, certain, possible)

        return await self._read(read)

    async def unfinished(self, *, not_held_by: str | None = None) -> builtins.list[JobRecord]:
        sql = (
            "SELECT * FROM jobs WHERE state NOT IN ('completed', 'failed', 'cancelled')"
            " AND (? IS NULL OR lease_owner IS NULL OR lease_owner != ?) ORDER BY created_at, rowid"
        )
        return await self._scan(lambda db: [_decode(r) for r in db.execute(sql, (not_held_by, not_held_by))])

    # -- one submit per call --

    async def claim(
        self, intents: Sequence[JobRecord], *, since: float
    ) -> tuple[builtins.list[JobRecord], bool]:
        """Insert `intents` unless an identical call's job (same dedupe_key, since `since`) exists.

        One write transaction, so two processes making identical calls at once make one job: returns
        (the intents, True) when they were inserted, else (the earlier call's jobs, False).
        """
        keys = {intent.dedupe_key for intent in intents}
        if len(keys) != 1 or None in keys:
            raise ValueError("claim needs intents that share one dedupe_key")
        (key,) = keys
        rows = [prepared(intent) for intent in intents]

        def change(db: sqlite3.Connection) -> tuple[builtins.list[JobRecord], bool]:
            earlier = _duplicate(db, str(key), since)
            if earlier is not None:
                if earlier.group_id is None:
                    return [earlier], False
                sql = "SELECT * FROM jobs WHERE group_id = ? ORDER BY created_at, rowid"
                return [_decode(r) for r in db.execute(sql, (earlier.group_id,))], False
            for record in rows:
                db.execute(_INSERT, [_encode(name, getattr(record, name)) for name in RECORD_FIELDS])
            return rows, True

        return await self._commit(change, durable=True)

    # -- leases --

    async def take_lease(self, job_id: str, owner: str, seconds: float) -> JobRecord | None:
        """Hold the job for `owner` until now + `seconds` if nobody else holds it; its record, else None."""

        def change(db: sqlite3.Connection) -> JobRecord | None:
            now = time.time()
            taken = db.execute(
                "UPDATE jobs SET lease_owner = ?, lease_expires = ? WHERE id = ?"
                " AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires <= ?)",
                (owner, now + seconds, job_id, owner, now),
            ).rowcount
            if not taken:
                return None
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return _decode(row)

        return await self._commit(change, durable=False)

    async def renew_lease(self, job_id: str, owner: str, seconds: float) -> bool:
        """Extend `owner`'s lease to now + `seconds`; False when `owner` no longer holds it."""

        def change(db: sqlite3.Connection) -> bool:
            sql = "UPDATE jobs SET lease_expires = ? WHERE id = ? AND lease_owner = ?"
            params = (time.time() + seconds, job_id, owner)
            return db.execute(sql, params).rowcount > 0

        return await self._commit(change, durable=False)

    async def renew_leases(self, job_ids: Collection[str], owner: str, seconds: float) -> set[str]:
        """`renew_lease` for many jobs in one transaction; returns the ids `owner` still holds."""
        ids = list(job_ids)

        def change(db: sqlite3.Connection) -> set[str]:
            kept: set[str] = set()
            expires = time.time() + seconds
            for start in range(0, len(ids), _IDS_PER_STATEMENT):
                chunk = ids[start : start + _IDS_PER_STATEMENT]
                # Only "?" marks go into the text; the ids are bound.
                where = f"lease_owner = ? AND id IN ({', '.join('?' for _ in chunk)})"
                db.execute(f"UPDATE jobs SET lease_expires = ? WHERE {where}", [expires, owner, *chunk])  # noqa: S608
                rows = db.execute(f"SELECT id FROM jobs WHERE {where}", [owner, *chunk])  # noqa: S608
                kept.update(str(row[0]) for row in rows)
            return kept

        return await self._commit(change, durable=False)

    async def release_lease(self, job_id: str, owner: str) -> None:
        """Let the job go, if `owner` holds it."""

        def change(db: sqlite3.Connection) -> None:
            sql = "UPDATE jobs SET lease_owner = NULL, lease_expires = NULL WHERE id = ? AND lease_owner = ?"
            db.execute(sql, (job_id, owner))

        await self._commit(change, durable=False)

    async def takeable(
        self, owner: str, now: float | None = None, *, skipping: Collection[str] = ()
    ) -> builtins.list[JobRecord]:
        """A finished job with a failed save counts once its next try is due."""
        sql = (
            f"SELECT * FROM jobs WHERE {_NEEDS_FOLLOWER}"  # noqa: S608
            " AND (next_save_at IS NULL OR next_save_at <= ?)"
            " AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires <= ?)"
            " AND id NOT IN (SELECT value FROM json_each(?))"
            " ORDER BY created_at, rowid"
        )
        skipped = json.dumps(sorted(skipping))

        def read(db: sqlite3.Connection) -> builtins.list[JobRecord]:
            at = time.time() if now is None else now
            return [_decode(r) for r in db.execute(sql, (at, owner, at, skipped))]

        return await self._scan(read)

    async def next_lease_expiry(self, owner: str) -> float | None:
        """When the first live lease held by another process on a job that needs a follower lapses."""
        sql = (
            f"SELECT MIN(lease_expires) FROM jobs WHERE {_NEEDS_FOLLOWER}"  # noqa: S608
            " AND lease_owner IS NOT NULL AND lease_owner != ? AND lease_expires > ?"
        )

        def read(db: sqlite3.Connection) -> float | None:
            value = db.execute(sql, (owner, time.time())).fetchone()[0]
            return None if value is None else float(value)

        return await self._scan(read)

    # -- money --

    async def spent_since(self, since: float) -> tuple[float, float]:
        """Real (never simulated) spend of jobs created at or after `since`: (certain, possible)."""
        return await self._read(lambda db: _spent(db, since))

    async def reserve(
        self, usd: float, *, owner: str, budget_usd: float | None, since: float, ttl_seconds: float
    ) -> Reservation:
        """Hold `usd` against the budget for a request not yet in the journal, if it fits.

        In one write transaction with every other process's reservations: real spend since `since`
        (certain and possible) + live reservations + `usd` must stay within `budget_usd` (None: no
        budget, always granted). A granted reservation counts until `release` or `ttl_seconds`.
        """

        def change(db: sqlite3.Connection) -> Reservation:
            now = time.time()
            db.execute("DELETE FROM reservations WHERE expires_at <= ?", (now,))
            certain, possible = _spent(db, since)
            spent = round(certain + possible, 6)
            held = db.execute("SELECT COALESCE(SUM(usd), 0) FROM reservations").fetchone()[0]
            reserved = round(float(held), 6)
            if budget_usd is not None and spent + reserved + usd > budget_usd + 1e-9:
                return Reservation(id=None, granted=False, spent_usd=spent, reserved_usd=reserved)
            rid = "rsv_" + secrets.token_urlsafe(9)
            db.execute(
                "INSERT INTO reservations (id, owner, usd, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (rid, owner, usd, now, now + ttl_seconds),
            )
            return Reservation(id=rid, granted=True, spent_usd=spent, reserved_usd=reserved)

        return await self._commit(change, durable=False)

    async def release(self, reservation_id: str) -> None:
        """Drop a reservation: its job is in the journal now, or it will never be submitted."""

        def change(db: sqlite3.Connection) -> None:
            sql = "DELETE FROM reservations WHERE id = ?"
            db.execute(sql, (reservation_id,))

        await self._commit(change, durable=False)

    async def hold(self, held: HeldRequest, token_hash: str) -> None:
        """Keep a request for the person's confirmation, found later by `token_hash` only."""

        def change(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM held_requests WHERE expires_at < ? AND (taken_at IS NULL OR taken_at < ?)",
                (held.created_at - HELD_KEPT_SECONDS, held.created_at - HELD_KEPT_SECONDS),
            )
            db.execute(
                "INSERT INTO held_requests (id, token_hash, created_at, expires_at, request)"
                " VALUES (?, ?, ?, ?, ?)",
                (held.id, token_hash, held.created_at, held.expires_at, json.dumps(held.request)),
            )

        await self._commit(change, durable=False)

    async def take_held(
        self, token_hash: str, outcome: HeldOutcome, *, now: float
    ) -> tuple[HeldRequest | None, bool]:
        """Settle a held request once (see `JobJournal.take_held`); one write transaction."""

        def change(db: sqlite3.Connection) -> tuple[HeldRequest | None, bool]:
            took = db.execute(
                "UPDATE held_requests SET taken_at = ?, outcome = ? WHERE token_hash = ?"
                " AND taken_at IS NULL AND expires_at > ?",
                (now, outcome, token_hash, now),
            ).rowcount
            row = db.execute("SELECT * FROM held_requests WHERE token_hash = ?", (token_hash,)).fetchone()
            return (None if row is None else _held(row)), took == 1

        return await self._commit(change, durable=outcome == "generating")

    async def held_job(self, held_id: str, job_id: str) -> None:
        """Record the first job a confirmed request made, for a second card to follow."""

        def change(db: sqlite3.Connection) -> None:
            sql = "UPDATE held_requests SET job_id = ? WHERE id = ?"
            db.execute(sql, (job_id, held_id))

        await self._commit(change, durable=False)


def _held(row: sqlite3.Row) -> HeldRequest:
    return HeldRequest(
        id=row["id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        request=json.loads(row["request"]),
        taken_at=row["taken_at"],
        outcome=row["outcome"],
        job_id=row["job_id"],
    )


def _duplicate(db: sqlite3.Connection, dedupe_key: str, since: float) -> JobRecord | None:
    row = db.execute(queries.duplicate(queries.SQLITE), (dedupe_key, since)).fetchone()
    return None if row is None else _decode(row)


def _listing(
    db: sqlite3.Connection, *, states: Collection[str] | None, limit: int, since: float | None
) -> list[JobRecord]:
    sql, params = queries.listing(queries.SQLITE, states=states, limit=limit, since=since)
    return [_decode(r) for r in db.execute(sql, params)]


def _spent(db: sqlite3.Connection, since: float) -> tuple[float, float]:
    certain, possible = db.execute(queries.spent(queries.SQLITE), (since,)).fetchone()
    return round(float(certain), 6), round(float(possible), 6)


# --- worker-thread helpers -------------------------------------------------------------------


def _connect(path: Path, *, writes: bool) -> sqlite3.Connection:
    """The writer's connection (it makes the file and migrates it), or a reader's, opened after it
    with `query_only`, so that a slip cannot write there."""
    if writes:
        path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit mode: we open our own transactions. check_same_thread is off because the worker
    # thread may differ from call to call; the lane's limiter lets only one use it at a time.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not writes:
            db.execute("PRAGMA query_only = ON")
            # Reads scan the whole table (spend, unfinished jobs) and find a page in the OS's file
            # cache about as fast as in SQLite's own: a reader's cache of the default 2 MB held
            # ~1.6 MB more per connection once a thousand jobs were journaled, for no faster scan.
            db.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
            return db
        db.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a committed transaction is in the OS's hands once COMMIT returns, so it
        # survives the process being killed (SIGKILL, crash); only a power cut or OS crash can lose
        # the last transactions. Writes that record money (a new job, a request id) go further and
        # commit with synchronous=FULL (see `group_commit`), so even a power cut cannot lose those.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db
