"""The small interface every hosted API sits behind, and the neutral types it speaks.

A provider is given the process's one `httpx.AsyncClient`; it holds no job state of its own.
The job manager owns jobs: it records a `Submission` in the journal the moment `submit` returns,
then follows it with `watch`, reads it with `result`, and may `cancel` it. A `Submission` is plain
data (`to_json`/`from_json`) so a job can be followed again after a restart; the one exception is a
`PendingCall` riding along with it, which lives only as long as the process (see there).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from ..catalogue.declaration import Endpoint
from ..catalogue.endpoints import endpoint
from ..errors import JobFailed


@dataclass(frozen=True)
class JobSpec:
    """What to generate on which catalogue endpoint, in the seeds' parameter names (media already as
    public URLs)."""

    tier: str
    mode: str
    arguments: dict[str, Any]
    count: int = 1  # jobs to make in one request (Oxen only); fal always makes one
    family: str = "2.0"
    job_ids: tuple[str, ...] = ()  # our ids of the jobs this submit makes (a webhook URL names its job)

    @property
    def endpoint(self) -> Endpoint:
        entry = endpoint(self.family, self.tier, self.mode)
        if entry is None:
            raise ValueError(f"no Seedance {self.family} {self.tier} {self.mode} endpoint")
        return entry


@dataclass
class PendingCall:
    """A request that `watch` sends rather than `submit` (Oxen's blocking endpoint holds the answer for
    minutes), and its outcome once sent. It travels with the job's `Submission`, so the provider keeps
    nothing; it is never journaled, so a restart loses it (the provider then says so)."""

    body: dict[str, Any] = field(repr=False)
    sent: bool = False  # set before sending: a paid request goes out once, whatever happens after
    outcome: VideoOutput | JobFailed | None = None


@dataclass(frozen=True)
class Submission:
    """The provider's handle on one job: enough to follow, read and cancel it after a restart."""

    provider: str
    request_id: str
    endpoint: str
    status_url: str = ""
    response_url: str = ""
    cancel_url: str = ""
    pending: PendingCall | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pending"}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Submission:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class LogLine:
    message: str
    level: str = "INFO"
    timestamp: str | None = None


@dataclass(frozen=True)
class Queued:
    position: int | None = None


@dataclass(frozen=True)
class Running:
    logs: tuple[LogLine, ...] = ()


@dataclass(frozen=True)
class Finished:
    """The provider is done with the job. fal has no FAILED state: failure shows as `error`."""

    error: str | None = None
    error_type: str | None = None
    cancelled: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)


QueueState = Queued | Running | Finished


@dataclass(frozen=True)
class VideoOutput:
    url: str
    seed: int | None = None
    content_type: str = "video/mp4"
    file_name: str | None = None
    file_size: int | None = None
    # Oxen's synchronous b64_json answer carries the bytes instead of a URL.
    data: bytes | None = field(default=None, repr=False)
    # A draft's id to finish it by, and until when (epoch seconds).
    draft_id: str | None = None
    draft_expires: float | None = None


class Provider(Protocol):
    name: str

    async def submit(self, spec: JobSpec) -> list[Submission]:
        """Enqueue a paid job. Never retried blindly: see `errors.SubmitUncertain`."""
        ...

    async def status(self, submission: Submission) -> QueueState: ...

    def watch(self, submission: Submission) -> AsyncIterator[QueueState]:
        """Yield each state change until (and including) `Finished`; streams where the API can."""
        ...

    async def result(self, submission: Submission) -> VideoOutput:
        """The finished video; raises `JobFailed` for a job that ended in an error."""
        ...

    async def cancel(self, submission: Submission) -> bool:
        """Ask the provider to cancel; True when it accepted. A running job may still finish."""
        ...

    async def upload(self, path: Path, content_type: str) -> str:
        """Upload a local file to the provider's storage and return its public URL."""
        ...
