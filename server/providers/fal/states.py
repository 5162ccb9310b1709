"""fal.ai's job status objects (from polling or the status stream) as neutral queue states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import ProviderError
from ..base import Finished, LogLine, Queued, QueueState, Running
from ..redaction import one_line, provider_says

Says = Callable[[str], str]


def fal_says(text: str) -> str:
    """fal's words with no key of ours to remove (every key shape still is)."""
    return provider_says("fal.ai", text)


def parse_status(data: Any, says: Says = fal_says) -> QueueState:
    """One status object as a queue state. fal has no FAILED status: failure is COMPLETED + `error`.
    Every text fal supplies (log lines, the error) passes through `says` (redacted, one line, quoted)."""
    if not isinstance(data, dict):
        raise ProviderError(f"fal.ai sent a status that is not an object: {says(str(data)[:2000])}")
    status = data.get("status")
    if status == "IN_QUEUE":
        position = data.get("queue_position")
        return Queued(position=position if isinstance(position, int) else None)
    if status == "IN_PROGRESS":
        return Running(logs=_parse_logs(data.get("logs"), says))
    if status == "COMPLETED":
        error = data.get("error")
        error_type = data.get("error_type")
        metrics = data.get("metrics")
        error_text = says(str(error)) if error else None
        kind = one_line(str(error_type), 80) if error_type else None
        return Finished(
            error=error_text,
            error_type=kind,
            cancelled=kind == "client_cancelled",
            metrics=dict(metrics) if isinstance(metrics, dict) else {},
        )
    raise ProviderError(
        f"fal.ai sent an unknown job status ({says(str(status))}); "
        "expected IN_QUEUE, IN_PROGRESS or COMPLETED"
    )


def _parse_logs(raw: Any, says: Says) -> tuple[LogLine, ...]:
    if not isinstance(raw, list):  # null when logs were not asked for
        return ()
    lines: list[LogLine] = []
    for entry in raw:
        if isinstance(entry, dict):
            lines.append(
                LogLine(
                    message=says(str(entry.get("message", ""))),
                    level=one_line(str(entry.get("level") or "INFO"), 16),
                    timestamp=one_line(str(entry["timestamp"]), 40) if entry.get("timestamp") else None,
                )
            )
        elif isinstance(entry, str):
            lines.append(LogLine(message=says(entry)))
    return tuple(lines)
