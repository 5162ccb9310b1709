"""Resources: `seedance://jobs/{job_id}` reads one journal record as JSON; `seedance://spend` the spend.

A host can attach a job to a conversation, or re-read it later, without calling a tool. The view is
the journal's record minus plumbing (the submission's URLs, the dedupe fingerprint); it never holds a
secret, because the journal never does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError

from ..server.journal.api import TERMINAL, JobRecord
from ..server.journal.spend_report import REPORT_DAYS, SPEND_URI, spend_report
from ..server.state import AppState

JOB_URI_TEMPLATE = "seedance://jobs/{job_id}"


def job_uri(job_id: str) -> str:
    return JOB_URI_TEMPLATE.format(job_id=job_id)


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


def job_view(record: JobRecord) -> dict[str, Any]:
    """The public JSON shape of one job."""
    return {
        "job_id": record.id,
        "uri": job_uri(record.id),
        "state": record.state,
        "done": record.state in TERMINAL,
        "created": _iso(record.created_at),
        "updated": _iso(record.updated_at),
        "finished": _iso(record.finished_at),
        "tool": record.tool,
        "provider": record.provider,
        "simulated": record.simulated,
        "endpoint": record.endpoint,
        "mode": record.mode,
        "tier": record.tier,
        "request_id": record.request_id,
        "arguments": record.arguments,
        "estimate": record.estimate,
        "estimated_cost_usd": record.estimate_usd,
        "queue_position": record.queue_position if record.state == "queued" else None,
        "video_url": record.result_url,
        "video_path": record.video_path,
        "video_sha256": record.video_sha256,
        "video_bytes": record.video_bytes,
        "seed": record.seed,
        "error": record.error,
        "error_type": record.error_type,
        "group_id": record.group_id,
        "logs": record.logs,
        "history": [{"state": s, "at": _iso(t), "note": n} for s, t, n in record.history],
    }


async def read_job(job_id: str, ctx: Context[AppState, Any]) -> str:
    """A video job from the journal (this session or earlier ones): state, cost, files, logs, history."""
    state = ctx.request_context.lifespan_context
    record = await state.jobs.journal.get(job_id)
    if record is None:
        raise ResourceError(f"No job with id {job_id!r}; call list_jobs to see recent jobs.")
    return json.dumps(job_view(record), ensure_ascii=False, indent=2)


def register_resources(server: MCPServer[AppState]) -> None:
    server.resource(
        JOB_URI_TEMPLATE,
        name="job",
        title="Video job",
        description=(
            "One video job from the journal as JSON: state, estimated cost, provider request id, "
            "saved file and URL, error, logs and state history. Job ids come from the generating "
            "tools and list_jobs."
        ),
        mime_type="application/json",
    )(read_job)


def register_spend_resource(server: MCPServer[Any], running: Callable[[], AppState]) -> None:
    """Add `seedance://spend` to `server`: spend by day and provider, as JSON. A static resource is read
    without a request context: `running` gives the running server's state (once open), so the report
    comes from the journal in use, SQLite or a team's PostgreSQL."""

    @server.resource(
        SPEND_URI,
        name="spend",
        title="Seedance spend by day and provider",
        description=(
            f"Estimated spend of the last {REPORT_DAYS} days by UTC day and provider, the rolling 24 h "
            "the daily budget counts, and the spending limits in force."
        ),
        mime_type="application/json",
    )
    async def spend() -> str:
        state = running()
        report = await spend_report(state.jobs.journal, state.settings)
        return report.model_dump_json(indent=2)
