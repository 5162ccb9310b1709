"""fal.ai's job status objects (from polling or the status stream) as neutral queue states."""

from __future__ import annotations

from typing import Any

from ...errors import ProviderError
from ..base import Finished, LogLine, Queued, QueueState, Running


def parse_status(data: Any) -> QueueState:
    """One status object as a queue state. fal has no FAILED status: failure is COMPLETED + `error`."""
    if not isinstance(data, dict):
        raise ProviderError(f"fal.ai sent a status that is not an object: {str(data)[:200]}")
    status = data.get("status")
    if status == "IN_QUEUE":
        position = data.get("queue_position")
        return Queued(position=position if isinstance(position, int) else None)
    if status == "IN_PROGRESS":
        return Running(logs=_parse_logs(data.get("logs")))
    if status == "COMPLETED":
        error = data.get("error")
        error_type = data.get("error_type")
        metrics = data.get("metrics")
        error_text = str(error) if error else None
        kind = str(error_type) if error_type else None
        return Finished(
            error=error_text,
            error_type=kind,
            cancelled=kind == "client_cancelled",
            metrics=dict(metrics) if isinstance(metrics, dict) else {},
        )
    raise ProviderError(
        f"fal.ai sent an unknown job status {status!r}; expected IN_QUEUE, IN_PROGRESS or COMPLETED"
    )


def _parse_logs(raw: Any) -> tuple[LogLine, ...]:
    if not isinstance(raw, list):  # null when logs were not asked for
        return ()
    lines: list[LogLine] = []
    for entry in raw:
        if isinstance(entry, dict):
            lines.append(
                LogLine(
                    message=str(entry.get("message", "")),
                    level=str(entry.get("level") or "INFO"),
                    timestamp=str(entry["timestamp"]) if entry.get("timestamp") else None,
                )
            )
        elif isinstance(entry, str):
            lines.append(LogLine(message=entry))
    return tuple(lines)
