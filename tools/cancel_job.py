"""`cancel_job`: ask the provider to stop a job, and say honestly what that means for the bill.

A queued job is removed and costs nothing. A running job is only *asked* to stop: fal's runners may
finish it anyway, and then it is charged. So the answer names which of the two happened, and waits a
few seconds for a queued job's cancellation to show before saying "nothing charged".
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from ..server.journal.spend_report import charged, possibly_charged
from ..server.journal.sqlite import TERMINAL, JobRecord
from .results import JobStateName, ToolContext, app_state, tool_errors

NAME = "cancel_job"
TITLE = "Cancel a video job"
DESCRIPTION = """Cancel a job by job_id. Queued: removed, free. Running: asked to stop, but it may still \
finish and be charged (the video is saved; check_status tells). Safe to repeat."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
)

# A queued job's cancellation shows on its status stream within a second or two; wait that long
# (not the whole job) before answering, so "nothing charged" is seen rather than guessed.
SETTLE_SECONDS = 5.0

Outcome = Literal["cancelled", "stop_requested", "already_ended", "not_submitted", "refused"]


class CancelJobResult(BaseModel):
    job_id: str
    outcome: Outcome = Field(
        description=(
            "cancelled: removed while queued, nothing charged; stop_requested: the job was running and "
            "may still finish and be charged; already_ended: nothing to cancel; not_submitted: no request "
            "id to cancel; refused: the provider would not cancel it."
        )
    )
    state: JobStateName = Field(description="The job's state after the attempt.")
    may_be_charged: bool
    message: str
    next_step: str


def _ended(record: JobRecord, outcome: Outcome, message: str) -> CancelJobResult:
    charged = record.state == "completed" and not record.simulated
    return CancelJobResult(
        job_id=record.id,
        outcome=outcome,
        state=record.state,
        may_be_charged=charged,
        message=message,
        next_step="Nothing to do; check_status shows the job in full."
        if record.state == "completed"
        else "Nothing more will happen with this job.",
    )


async def cancel_job(
    ctx: ToolContext,
    job_id: Annotated[str, Field(min_length=1, description="The job_id a generating tool returned.")],
) -> Annotated[CallToolResult, CancelJobResult]:
    app = app_state(ctx)
    async with tool_errors():
        jobs = app.jobs
        before = await jobs.get(job_id)
        if before.state in TERMINAL:
            result = _ended(
                before, "already_ended", f"Job {job_id} already {before.state}; nothing to cancel."
            )
        elif not before.submission:
            result = _not_submitted(before)
        else:
            record, accepted = await jobs.cancel(job_id)
            if before.state == "queued" or not accepted:
                # The follower records what the provider did; give it a moment to hear.
                record = await jobs.wait(job_id, SETTLE_SECONDS)
            result = _after_cancel(record, accepted)
        if app.settings.simulated or before.simulated:
            result.message += " (Simulated job: nothing is ever charged.)"
        return CallToolResult(
            content=[TextContent(type="text", text=f"{result.message}\n{result.next_step}")],
            structured_content=result.model_dump(mode="json"),
        )


def _not_submitted(record: JobRecord) -> CancelJobResult:
    if record.state == "submitting":
        message = (
            f"Job {record.id} is being submitted right now and has no request id yet, so it cannot be "
            "cancelled yet."
        )
        step = "Call cancel_job again in a few seconds."
    else:
        message = (
            f"Job {record.id} has no provider request id (state {record.state}): its submit may or may not "
            "have reached the provider, so this server cannot cancel it."
        )
        step = (
            "Look for it on the provider's dashboard (fal: https://fal.ai/dashboard/requests) "
            "and cancel it there."
        )
    return CancelJobResult(
        job_id=record.id,
        outcome="not_submitted",
        state=record.state,
        may_be_charged=charged(record) or possibly_charged(record),
        message=message,
        next_step=step,
    )


def _after_cancel(record: JobRecord, accepted: bool) -> CancelJobResult:
    if record.state == "cancelled":
        return CancelJobResult(
            job_id=record.id,
            outcome="cancelled",
            state=record.state,
            may_be_charged=False,
            message=f"Job {record.id} was cancelled while queued: nothing charged.",
            next_step="Nothing more will happen with this job.",
        )
    if record.state in TERMINAL:
        return _ended(
            record,
            "already_ended",
            f"Job {record.id} had already {record.state} before the cancel reached the provider.",
        )
    if not accepted:
        return CancelJobResult(
            job_id=record.id,
            outcome="refused",
            state=record.state,
            may_be_charged=charged(record) or possibly_charged(record),
            message=(
                f"The provider would not cancel job {record.id} (it says the job has ended or is unknown); "
                "the server is still following it."
            ),
            next_step=f"Call check_status with job_id '{record.id}' to see how it ended.",
        )
    return CancelJobResult(
        job_id=record.id,
        outcome="stop_requested",
        state=record.state,
        may_be_charged=charged(record) or possibly_charged(record),
        message=(
            f"Asked the provider to stop job {record.id}, which was already running: it may still finish "
            "and be charged; check_status will tell. If it finishes, the video is saved as usual."
        ),
        next_step=f"Call check_status with job_id '{record.id}' to see how it ends.",
    )
