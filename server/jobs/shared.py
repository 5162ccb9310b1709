"""What every concern of the job manager shares: the state it works on, how it saves (`SaveVideo`) and
finds half-written files (`Leftovers`), and what this process knows of a job beyond the journal.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from ..errors import JobNotFound
from ..journal.api import JobJournal, JobRecord
from ..providers.base import Provider, Submission, VideoOutput
from .owners import owner_gone
from .partial_files import PartialFile


class LeaseLost(Exception):
    """Raised before a saved video is committed when this process no longer holds the job."""


class SaveVideo(Protocol):
    """Turns a finished provider output into a saved file; fills `video_path` & co. on the record.
    Awaits `before_commit` just before the file takes its final name.

    Raises a `SeedanceError` or `OSError` when it cannot; `lasting(exc)` tells whether trying again
    could help."""

    async def __call__(
        self, job: JobRecord, output: VideoOutput, before_commit: Callable[[], Awaitable[None]]
    ) -> dict[str, Any]: ...


class Leftovers(Protocol):
    """Where half-written files are found and removed (`partial_files.PartialFiles`)."""

    async def partial_files(self) -> list[PartialFile]: ...

    async def remove_partial(self, path: Path) -> None: ...


@dataclass
class _Live:
    """What this process's follower knows beyond the journal: the wake-up event and phase timing."""

    changed: anyio.Event = field(default_factory=anyio.Event)
    phase: str = "queued"
    phase_started: float = field(default_factory=time.monotonic)
    message: str = ""
    logs: list[str] = field(default_factory=list)  # the provider's log lines journaled so far
    # The job's final record as this process journaled it: a waiter it wakes answers with it, unread.
    settled: JobRecord | None = None

    def notify(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    @classmethod
    def seen_in(cls, record: JobRecord) -> _Live:
        """The phase timing of a job followed elsewhere, from its journaled history."""
        started = next((t for s, t, _ in reversed(record.history) if s == record.state), record.created_at)
        phase = "running" if record.state == "running" else "queued"
        return cls(phase=phase, phase_started=time.monotonic() - max(0.0, time.time() - started))


@dataclass(eq=False)
class _Held:
    """Jobs whose leases a block of work holds: where to say, and what to stop, if one is lost."""

    job_ids: tuple[str, ...]
    lost: anyio.Event
    scope: anyio.CancelScope


class JobsBase:
    """The state the concerns of `JobManager` (claiming, following, saving) work on; set by its
    `__init__`."""

    provider: Provider
    journal: JobJournal
    simulated: bool
    owner: str
    lease_seconds: float
    _tg: TaskGroup
    _deliver: SaveVideo
    _leftovers: Leftovers | None
    _lasting: Callable[[BaseException], bool]
    _live: dict[str, _Live]
    _busy: set[str]  # jobs this process is working on (submitting, following, saving)
    _not_ours: set[str]
    _gone_owners: set[str]
    _held: set[_Held]  # leases to keep renewed, by the one renewer task
    _renewer_running: bool
    _follow_retry: tuple[float, float]
    _save_retry: tuple[float, float]

    @property
    def provider_label(self) -> str:
        """What the journal calls this run's provider: "simulator" when the embedded simulator serves it."""
        return "simulator" if self.simulated else self.provider.name

    async def get(self, job_id: str) -> JobRecord:
        record = await self.journal.get(job_id)
        if record is None:
            raise JobNotFound(
                f"No job with id {job_id!r}. Call list_jobs to see recent jobs; ids look like 'sd_…'."
            )
        return record

    async def _end(self, job_id: str, **changes: Any) -> JobRecord:
        """Journal a job's final state and wake its waiters with the record itself, so a waiting call
        answers without reading it back (behind the lease release and other jobs' journal work)."""
        record = await self.journal.update(job_id, **changes)
        live = self._live.get(job_id)
        if live is not None:
            live.settled = record
            live.notify()
        return record

    def _gone(self, owner: str) -> bool:
        if owner in self._gone_owners:
            return True
        if owner != self.owner and owner_gone(owner):
            self._gone_owners.add(owner)
            return True
        return False


def uncertain_advice(job_id: str) -> str:
    """What to do about a job that is possibly charged: how to check, and how to submit again."""
    return (
        f"Job {job_id} is recorded as 'uncertain' (possibly charged, shown apart from certain spend). "
        "Check the provider's dashboard for a new request; if there is none, call the tool again with "
        "the same arguments to submit it again (an uncertain job does not block an identical call)."
    )


def _submission_of(record: JobRecord) -> Submission:
    assert record.submission is not None
    submission = Submission.from_json(record.submission)
    if record.simulated:
        # The embedded simulator that answered may have been another process's, on another port: reach
        # the job through this process's simulator, which reads the same state under SEEDANCE_HOME.
        return Submission(
            provider=submission.provider, request_id=submission.request_id, endpoint=submission.endpoint
        )
    return submission
