"""Waiting for jobs inside a tool call: a bounded wait with progress notifications, then the answer.

The jobs are followed by the server whatever the call does; a call only watches them for a while. A
host that cancels the call that started a job with `notifications/cancelled` cancels that job while it
is still queued; no other end of a call does (see `host_cancel`).
"""

from __future__ import annotations

import time

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from ..server.generation.service import Submitted
from ..server.journal.sqlite import JobRecord
from ..server.state import AppState
from .host_cancel import host_cancelled
from .results import ToolContext, answer, ensure_preview, render, to_result


async def answer_submitted(
    ctx: ToolContext, state: AppState, submitted: Submitted, wait_seconds: float
) -> CallToolResult:
    """Wait for the jobs a generating call made and render the answer (one job, or a group)."""
    records, notes = submitted.records, submitted.notes
    if len(records) > 1:
        return await _grouped_answer(ctx, state, records, wait_seconds, notes, submitted.started_here)
    record = await wait(ctx, state, records[0].id, wait_seconds, cancel_queued=submitted.started_here)
    if record.state == "failed":
        raise ToolError(f"Job {record.id} failed: {record.error}")
    return await answer(record, state, warnings=tuple(notes))


async def wait(
    ctx: ToolContext, state: AppState, job_id: str, wait_seconds: float, *, cancel_queued: bool = False
) -> JobRecord:
    """Wait a bounded time with progress. With `cancel_queued` (the call that started the job), a host
    that cancels the call explicitly (`notifications/cancelled`) cancels the job while it is queued."""

    async def progress(value: float, total: float, message: str) -> None:
        await ctx.report_progress(value, total, message)

    try:
        return await state.jobs.wait(job_id, wait_seconds, progress)
    except anyio.get_cancelled_exc_class():
        if cancel_queued:
            with anyio.CancelScope(shield=True):
                if await host_cancelled(ctx):
                    await state.jobs.cancel_if_queued(job_id)
        raise


async def _grouped_answer(
    ctx: ToolContext,
    state: AppState,
    records: list[JobRecord],
    wait_seconds: float,
    notes: list[str],
    cancel_queued: bool,
) -> CallToolResult:
    """One answer for a call that made several videos: the first job's result, every job under `group`."""
    done = await _wait_group(ctx, state, [r.id for r in records], wait_seconds, cancel_queued)
    if all(r.state == "failed" for r in done):
        raise ToolError("All generations failed: " + "; ".join(f"job {r.id}: {r.error}" for r in done))
    total = sum(r.estimate_usd for r in done)
    notes.append(
        f"{len(done)} generations, each its own job and charged separately (estimate up to ${total:.4f} "
        f"in all): {', '.join(r.id for r in done)}."
    )
    for record in done:
        await ensure_preview(record, state)
    results = [to_result(r, state) for r in done]
    answer = render(to_result(done[0], state, warnings=tuple(notes)), state)
    for result in results[1:]:
        answer.content.extend(render(result, state).content)
    structured = dict(answer.structured_content or {})
    structured["group"] = [r.model_dump(mode="json") for r in results]
    return CallToolResult(content=answer.content, structured_content=structured)


async def _wait_group(
    ctx: ToolContext, state: AppState, job_ids: list[str], wait_seconds: float, cancel_queued: bool
) -> list[JobRecord]:
    """Wait for several jobs within one deadline; progress runs once from 0 to the total over all."""
    count = len(job_ids)
    last = 0.0
    deadline = time.monotonic() + wait_seconds
    records: list[JobRecord] = []
    try:
        for index, job_id in enumerate(job_ids):

            async def progress(value: float, total: float, message: str, index: int = index) -> None:
                nonlocal last
                overall = round((index * total + value) / count, 2)
                if overall > last:
                    last = overall
                    await ctx.report_progress(overall, total, f"Video {index + 1} of {count}: {message}")

            remaining = max(0.0, deadline - time.monotonic())
            records.append(await state.jobs.wait(job_id, remaining, progress))
    except anyio.get_cancelled_exc_class():
        if cancel_queued:
            with anyio.CancelScope(shield=True):
                if await host_cancelled(ctx):
                    for job_id in job_ids:
                        await state.jobs.cancel_if_queued(job_id)
        raise
    return records
