"""What every job journal offers (SQLite and PostgreSQL): the one interface the job manager,
the spending guard and the spend report use. See `journal.Journal` for the SQLite implementation.

The rules that make several processes on one journal safe live here, in the contract:

- `claim` makes the duplicate check and the insert one atomic step, so identical calls to two
  processes make one job;
- a job is followed by the holder of its lease (`take_lease`/`renew_lease`/`release_lease`); another
  process takes it over only once the lease has lapsed;
- `reserve` checks a daily budget against every process's spend and reservations in one step.
"""

from __future__ import annotations

import builtins
import dataclasses
import secrets
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, get_args

__all__ = [
    "JOB_STATES",
    "TERMINAL",
    "HeldRequest",
    "JobJournal",
    "JobRecord",
    "JobState",
    "Reservation",
    "SpendRow",
    "Spending",
    "new_job_id",
]

JobState = Literal["submitting", "uncertain", "queued", "running", "completed", "failed", "cancelled"]
JOB_STATES: frozenset[str] = frozenset(get_args(JobState))
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


def new_job_id() -> str:
    """A fresh job id: "sd_" and 12 URL-safe characters (72 random bits)."""
    return "sd_" + secrets.token_urlsafe(9)


@dataclass(frozen=True)
class JobRecord:
    """One job as the journal holds it. Build one for `create`/`claim`; read them back from queries."""

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
    # The process following the job, and until when (see `JobJournal.take_lease`).
    lease_owner: str | None = None
    lease_expires: float | None = None
    # None: no video yet; True: saved at `video_path`; False: finished but not saved (`save_error`).
    saved: bool | None = None
    save_error: str | None = None
    save_attempts: int = 0
    next_save_at: float | None = None  # when a failed save is tried again; None when none is due
    # A draft (Seedance 2.5): the provider's id to finish it by, and until when it can be finished;
    # the rest of what a finish needs (provider, endpoint, duration, framing) is this row's request.
    draft_id: str | None = None
    draft_expires: float | None = None
    finished_from: str | None = None  # the draft job this job finishes


SpendRow = dict[str, Any]  # {"day", "provider", "simulated", "usd", "possible_usd", "jobs"}


@dataclass(frozen=True)
class Spending:
    """What the spend report reads: spend by UTC day and provider since one moment (simulated rows
    apart), and real spend since another, surely and possibly charged (what the daily budget counts)."""

    by_day: list[SpendRow]
    certain: float
    possible: float


HeldOutcome = Literal["generating", "dropped"]
# A held request settled or expired this long ago is deleted when another is held: long enough for a
# second card to learn what became of it.
HELD_KEPT_SECONDS = 86_400.0


@dataclass(frozen=True)
class HeldRequest:
    """A paid request waiting for the person's yes in the job card (`tools/confirm_spend.py`).

    Found only by the hash of its one-time token; `take_held` settles it once, for every process."""

    id: str
    created_at: float
    expires_at: float
    request: dict[str, Any]  # what will be submitted, in the form the tools layer wrote
    taken_at: float | None = None
    outcome: HeldOutcome | None = None  # None while it waits
    job_id: str | None = None  # the first job made, once submitted


@dataclass(frozen=True)
class Reservation:
    """The answer to `reserve`: granted with an id to `release` later, or refused with the numbers."""

    id: str | None
    granted: bool
    spent_usd: float  # real spend in the window, certain plus possibly charged
    reserved_usd: float  # other requests' live reservations in the window


# --- rules every journal keeps the same way ---------------------------------------------------

LOG_LINES_KEPT = 50  # enough to show what the provider was doing; a row stays small
RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(JobRecord))
JSON_FIELDS = frozenset({"arguments", "estimate", "logs", "history"})
# `update` may set these; the id is the key, history/updated_at are kept by the journal itself, and
# the lease changes only through the lease methods (they are atomic against other processes).
UPDATABLE_FIELDS = frozenset(RECORD_FIELDS) - {
    "id",
    "history",
    "updated_at",
    "state",
    "lease_owner",
    "lease_expires",
}


def check_state(state: str) -> None:
    if state not in JOB_STATES:
        raise ValueError(f"unknown job state {state!r}; expected one of {', '.join(sorted(JOB_STATES))}")


def prepared(record: JobRecord) -> JobRecord:
    """A new record as journals store it: a known state, its first history entry, its last log lines."""
    check_state(record.state)
    if not record.history:
        record = replace(record, history=[(record.state, record.created_at, "created")])
    if len(record.logs) > LOG_LINES_KEPT:
        record = replace(record, logs=record.logs[-LOG_LINES_KEPT:])
    return record


def checked_update(fields: dict[str, Any], state: str | None) -> dict[str, Any]:
    """`update`'s fields, refused when not updatable or the state is unknown, `logs` cut to the last
    LOG_LINES_KEPT lines."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"JobRecord fields that cannot be updated: {', '.join(sorted(unknown))}")
    if state is not None:
        check_state(state)
    if "logs" in fields:
        fields = dict(fields, logs=list(fields["logs"])[-LOG_LINES_KEPT:])
    return fields


def changes_for(
    old: JobRecord, fields: dict[str, Any], state: str | None, note: str | None
) -> dict[str, Any]:
    """The columns an update writes: `fields`, the time, and on a new state its history entry (and
    `finished_at` when the state is terminal and none was given). Shared by every journal."""
    now = time.time()
    changes: dict[str, Any] = dict(fields, updated_at=now)
    if state is not None and state != old.state:
        changes["state"] = state
        changes["history"] = [*old.history, (state, now, note)]
        if state in TERMINAL and "finished_at" not in fields and old.finished_at is None:
            changes["finished_at"] = now
    return changes


class JobJournal(Protocol):
    async def close(self) -> None: ...

    # -- jobs --
    async def create(self, record: JobRecord) -> None: ...

    async def update(
        self, job_id: str, *, state: JobState | None = None, note: str = "", **fields: Any
    ) -> JobRecord: ...

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def list(
        self, *, states: Collection[str] | None = None, limit: int = 20, since: float | None = None
    ) -> builtins.list[JobRecord]: ...

    async def group(self, group_id: str) -> builtins.list[JobRecord]: ...

    async def unfinished(self, *, not_held_by: str | None = None) -> builtins.list[JobRecord]:
        """Jobs not in a terminal state, oldest first; with `not_held_by`, those it holds a lease on
        left out (in the query: a process following a thousand jobs scans them every few seconds)."""
        ...

    # -- one submit per call --
    async def claim(
        self, intents: Sequence[JobRecord], *, since: float
    ) -> tuple[builtins.list[JobRecord], bool]: ...

    async def find_duplicate(self, dedupe_key: str, since: float) -> JobRecord | None: ...

    # -- leases --
    async def take_lease(self, job_id: str, owner: str, seconds: float) -> JobRecord | None: ...

    async def renew_lease(self, job_id: str, owner: str, seconds: float) -> bool: ...

    async def renew_leases(self, job_ids: Collection[str], owner: str, seconds: float) -> set[str]:
        """`renew_lease` for many jobs in one write; returns the ids `owner` still holds."""
        ...

    async def release_lease(self, job_id: str, owner: str) -> None: ...

    async def takeable(
        self, owner: str, now: float | None = None, *, skipping: Collection[str] = ()
    ) -> builtins.list[JobRecord]:
        """Jobs that need a follower and that `owner` may take (lease free, lapsed or its own), oldest
        first, but for the ids in `skipping` (the jobs `owner` works on now), left out in the query."""
        ...

    async def next_lease_expiry(self, owner: str) -> float | None: ...

    async def overview(
        self,
        *,
        states: Collection[str] | None = None,
        limit: int = 20,
        days_since: float,
        budget_since: float,
    ) -> tuple[builtins.list[JobRecord], Spending]:
        """`list(states=..., limit=...)` and the spend report's reads, from one snapshot in one trip
        (what `list_jobs` answers with, while thousands of writes may queue): `Spending.by_day` of jobs
        created at or after `days_since`, its certain and possible of those at or after `budget_since`.

        Each day: {"day": "2026-11-21", "provider": "fal", "simulated": False, "usd": 1.23 (surely
        charged), "possible_usd": 0.5 (possibly charged), "jobs": 3}, oldest day first; simulated jobs
        come under the provider "simulator" with what they would have cost, never money."""
        ...

    # -- money --

    async def spent_since(self, since: float) -> tuple[float, float]: ...

    async def reserve(
        self, usd: float, *, owner: str, budget_usd: float | None, since: float, ttl_seconds: float
    ) -> Reservation: ...

    async def release(self, reservation_id: str) -> None: ...

    # -- requests held for the person's confirmation --
    async def hold(self, held: HeldRequest, token_hash: str) -> None: ...

    async def take_held(
        self, token_hash: str, outcome: HeldOutcome, *, now: float
    ) -> tuple[HeldRequest | None, bool]:
        """Settle the held request once: (it, True) when this call took it (waiting, not expired);
        else (it or None, False), as it stands."""
        ...

    async def held_job(self, held_id: str, job_id: str) -> None: ...
