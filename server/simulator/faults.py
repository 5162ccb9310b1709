"""The simulator's fault mix: named faults, each a probability per request, drawn from one seeded RNG.

    status_5xx   status, stream and event-stream requests answer 503 (state unchanged)
    result_5xx   result requests answer 503 (state unchanged)
    upload_5xx   storage requests (token, upload, multipart, GCS) answer 503 (nothing stored)
    cancel_5xx   cancel requests answer 503 (nothing cancelled)
    submit_429   submits answer 429 with Retry-After: 1 (no job created)
    submit_5xx   submits answer 503 without a request id, like a flaky ingress (no job created)
    stream_drop  a status stream closes before its COMPLETED event; Oxen's event stream closes
                 instead of sending its next completion (that event is lost)
    slow         any request's answer is delayed 0.5–1.5 s

With a seed, the same sequence of requests meets the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FAULTS: dict[str, str] = {
    "status_5xx": "status, stream and event-stream requests answer 503",
    "result_5xx": "result requests answer 503",
    "upload_5xx": "storage requests answer 503",
    "cancel_5xx": "cancel requests answer 503",
    "submit_429": "submits answer 429 with Retry-After: 1",
    "submit_5xx": "submits answer 503 without a request id",
    "stream_drop": "status streams close before COMPLETED; event streams before a completion",
    "slow": "answers are delayed 0.5-1.5 s",
}

# Which faults each request kind can meet (besides `slow`, which every kind can); the last drawn wins.
_BY_KIND: dict[str, tuple[str, ...]] = {
    "submit": ("submit_429", "submit_5xx"),
    "status": ("status_5xx",),
    "stream": ("status_5xx",),
    "events": ("status_5xx",),
    "result": ("result_5xx",),
    "cancel": ("cancel_5xx",),
    "token": ("upload_5xx",),
    "upload": ("upload_5xx",),
}


def parse_faults(text: str) -> dict[str, float]:
    """`"status_5xx=0.3,slow=0.1"` -> `{"status_5xx": 0.3, "slow": 0.1}`; ValueError names valid faults."""
    mix: dict[str, float] = {}
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if name not in FAULTS:
            raise ValueError(f"unknown simulator fault {name!r}; valid faults: {', '.join(FAULTS)}")
        try:
            probability = float(value) if sep else 1.0
        except ValueError:
            raise ValueError(f"simulator fault {name}: probability must be a number; got {value!r}") from None
        if not 0.0 <= probability <= 1.0:
            raise ValueError(
                f"simulator fault {name}: probability must be between 0 and 1; got {probability}"
            )
        mix[name] = probability
    return mix


@dataclass
class Draw:
    """The faults one request meets."""

    fault: str | None = None  # the kind-specific fault, if drawn
    delay: float = 0.0  # seconds of `slow`


@dataclass
class FaultPlan:
    """Draws faults per request. Not thread-safe: used only on the simulator's event loop."""

    mix: dict[str, float]
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def draw(self, kind: str) -> Draw:
        # Always the same number of draws per configured fault, so one seed gives one sequence.
        out = Draw()
        streams = kind in ("stream", "events")
        if streams and "stream_drop" in self.mix and self._rng.random() < self.mix["stream_drop"]:
            out.fault = "stream_drop"
        for name in _BY_KIND.get(kind, ()):
            if name in self.mix and self._rng.random() < self.mix[name]:
                out.fault = name  # a refused stream beats a dropped one
        if "slow" in self.mix and self._rng.random() < self.mix["slow"]:
            out.delay = self._rng.uniform(0.5, 1.5)
        return out
