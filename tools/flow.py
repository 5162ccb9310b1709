"""The path every generating call takes: check, price, de-duplicate, upload, submit, wait, answer.

Everything that can refuse a request (limits, prices) runs before anything is uploaded or submitted,
so a refused call costs nothing.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from server.journal import JobRecord
from server.providers.base import JobSpec, Mode, Tier
from server.state import AppState
from tools.inputs import CheckedInputs, upload_inputs
from tools.pricing import Estimate
from tools.results import ToolContext, render, to_result

# Field names the inputs module reports ("image_urls[2]") mapped back into the arguments.
_LIST_FIELD = ("image_urls", "video_urls", "audio_urls")


def apply_uploaded(arguments: dict[str, Any], urls: dict[str, str]) -> dict[str, Any]:
    """The arguments with every local file or data URI replaced by the URL it was uploaded to."""
    out = {k: list(v) if isinstance(v, list) else v for k, v in arguments.items()}
    for field, url in urls.items():
        name, _, index = field.partition("[")
        if index and name in _LIST_FIELD:
            out[name][int(index.rstrip("]"))] = url
        else:
            out[name] = url
    return out


async def generate(
    ctx: ToolContext,
    state: AppState,
    *,
    tool: str,
    mode: Mode,
    tier: Tier,
    arguments: dict[str, Any],
    checked: CheckedInputs,
    estimate: Estimate,
    wait_seconds: float,
) -> CallToolResult:
    warnings = list(checked.warnings)
    jobs = state.jobs

    duplicate = await jobs.find_duplicate(tool, arguments)
    if duplicate is not None:
        ago = time.time() - duplicate.created_at
        warnings.append(
            f"An identical request was made {ago:.0f} s ago (job {duplicate.id}); returning that job instead "
            "of paying twice. For another take, pass a different seed."
        )
        record = duplicate
    else:
        urls = await upload_inputs(checked, state.jobs.provider.upload)
        spec = JobSpec(tier=tier, mode=mode, arguments=apply_uploaded(arguments, urls))
        records = await jobs.submit(
            tool=tool,
            spec=spec,
            dedupe_arguments=arguments,
            estimate=estimate.as_dict(),
            estimate_usd=estimate.max_usd,
        )
        record = records[0]
    record = await wait(ctx, state, record.id, wait_seconds)
    if record.state == "failed":
        raise ToolError(f"Job {record.id} failed: {record.error}")
    return render(to_result(record, state, warnings=tuple(warnings)), state)


async def wait(ctx: ToolContext, state: AppState, job_id: str, wait_seconds: float) -> JobRecord:
    """Wait a bounded time with progress; a host that cancels the call cancels a job still queued."""

    async def progress(value: float, total: float, message: str) -> None:
        await ctx.report_progress(value, total, message)

    try:
        return await state.jobs.wait(job_id, wait_seconds, progress)
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True):
            await state.jobs.cancel_if_queued(job_id)
        raise
