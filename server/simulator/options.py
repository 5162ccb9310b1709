"""The simulator's knobs: timing, fault mix and seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .faults import parse_faults

if TYPE_CHECKING:
    from ..config import Settings


@dataclass(frozen=True)
class SimulatorOptions:
    """How the fake behaves. Unknown fault names raise ValueError at construction."""

    queue_seconds: float = 2.0  # time a job waits IN_QUEUE
    run_seconds: float = 4.0  # time a job runs IN_PROGRESS (longer if its render is not ready)
    faults: str = ""  # e.g. "status_5xx=0.3,stream_drop=0.2"; see server.simulator.faults
    seed: int | None = None  # makes faults (and random result seeds) repeatable
    ping_seconds: float = 15.0  # keep-alive comment interval on status streams and Oxen's event stream
    oxen_events: bool = True  # serve Oxen's `GET /api/events`; False answers 404, as a host without it
    draft_seconds: float = 7 * 86400  # at most this long a draft can be finished (tests shorten it)

    def __post_init__(self) -> None:
        if self.queue_seconds < 0 or self.run_seconds < 0:
            raise ValueError("simulator queue_seconds and run_seconds must not be negative")
        if self.draft_seconds < 0:
            raise ValueError("simulator draft_seconds must not be negative")
        if self.ping_seconds <= 0:
            raise ValueError("simulator ping_seconds must be positive")
        parse_faults(self.faults)

    @property
    def fault_mix(self) -> dict[str, float]:
        return parse_faults(self.faults)

    @classmethod
    def from_settings(cls, settings: Settings) -> SimulatorOptions:
        return cls(
            queue_seconds=settings.sim_queue_seconds,
            run_seconds=settings.sim_run_seconds,
            faults=settings.sim_faults,
            seed=settings.sim_seed,
        )
