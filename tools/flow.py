"""The path every generating call takes: check, price, de-duplicate, upload, submit, wait, answer.

Everything that can refuse a request (limits, prices) runs before anything is uploaded or submitted,
so a refused call costs nothing.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from seedance_mcp.server.errors import InputError
from seedance_mcp.server.inputs import CheckedInputs, release, upload_inputs
from seedance_mcp.server.journal import JobRecord
from seedance_mcp.server.model_facts import OXEN_ONLY_PARAMS, Mode, Tier
from seedance_mcp.server.pricing import Estimate, Rate
from seedance_mcp.server.providers.base import JobSpec
from seedance_mcp.server.state import AppState
from seedance_mcp.tools.guard import SpendApproval, spending
from seedance_mcp.tools.host_cancel import host_cancelled
from seedance_mcp.tools.results import ToolContext, render, to_result

# Field names the inputs module reports ("image_urls[2]") mapped back into the arguments.
_LIST_FIELD = ("image_urls", "video_urls", "audio_urls")


def model_arguments(**values: Any) -> dict[str, Any]:
    """The provider arguments in the seeds' names, leaving out what was not given (None or empty)."""
    return {
        name: list(value) if isinstance(value, list) else value
        for name, value in values.items()
        if value is not None and value != [] and value != ""
    }


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
    count: int = 1,
    approval: SpendApproval | None = None,
) -> CallToolResult:
    warnings = list(checked.warnings)
    jobs = state.jobs
    estimate, note = await provider_estimate(state, estimate, tier=tier, mode=mode, arguments=arguments)
    if note:
        warnings.append(note)

    duplicate = await jobs.find_duplicate(tool, arguments)
    started_here = duplicate is None
    if duplicate is not None:
        warnings.append(_same_request(duplicate))
        records = await _group_of(state, duplicate)
        release(checked)  # nothing will be uploaded: drop the temp copies of data: URIs now
    else:
        # Caps and the user's answer, before any upload; a duplicate above costs nothing, so it skips them.
        async with spending(state, estimate, approval, count=count) as notes:
            warnings.extend(notes)
            asked_at = time.time()
            urls = await upload_inputs(checked, state.jobs.provider.upload)
            spec = JobSpec(tier=tier, mode=mode, arguments=apply_uploaded(arguments, urls), count=count)
            records = await jobs.submit(
                tool=tool,
                spec=spec,
                dedupe_arguments=arguments,
                estimate=estimate.as_dict(),
                estimate_usd=estimate.max_usd,
            )
            if records[0].created_at < asked_at:  # an identical call got there first: its job is ours
                warnings.append(_same_request(records[0]))
                started_here = False
    if len(records) > 1:
        return await _grouped_answer(ctx, state, records, wait_seconds, warnings, started_here)
    record = await wait(ctx, state, records[0].id, wait_seconds, started_here=started_here)
    if record.state == "failed":
        raise ToolError(f"Job {record.id} failed: {record.error}")
    return render(to_result(record, state, warnings=tuple(warnings)), state)


def _same_request(earlier: JobRecord) -> str:
    ago = max(0.0, time.time() - earlier.created_at)
    return (
        f"An identical request was made {ago:.0f} s ago (job {earlier.id}); returning that job instead "
        "of paying twice. For another take, pass a different seed."
    )


async def wait(
    ctx: ToolContext, state: AppState, job_id: str, wait_seconds: float, *, started_here: bool = False
) -> JobRecord:
    """Wait a bounded time with progress. Only the call that started the job (`started_here`), when
    the host cancels it explicitly, cancels the job, and only while it is still queued."""

    async def progress(value: float, total: float, message: str) -> None:
        await ctx.report_progress(value, total, message)

    try:
        return await state.jobs.wait(job_id, wait_seconds, progress)
    except anyio.get_cancelled_exc_class():
        if started_here and host_cancelled(ctx):
            with anyio.CancelScope(shield=True):
                await state.jobs.cancel_if_queued(job_id)
        raise


def oxen_only(provider: str, **values: Any) -> dict[str, Any]:
    """The Oxen-only arguments that were given, refused with a clear error on any other provider."""
    given = {name: value for name, value in values.items() if value is not None and name in OXEN_ONLY_PARAMS}
    given = {k: v for k, v in given.items() if not (k == "num_generations" and v == 1)}
    if given and provider != "oxen":
        name = next(iter(given))
        raise InputError(
            name,
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} Oxen.ai-only, and this server uses "
            f"{provider}. Drop {'it' if len(given) == 1 else 'them'}, or set SEEDANCE_PROVIDER=oxen "
            "(with OXEN_API_KEY).",
        )
    if given.get("response_format") and given.get("num_generations", 1) > 1:
        raise InputError(
            "response_format",
            "Oxen's blocking endpoint makes one video per call; drop response_format to use the queue "
            "for num_generations > 1",
        )
    return given


async def provider_estimate(
    state: AppState, estimate: Estimate, *, tier: Tier, mode: Mode, arguments: dict[str, Any]
) -> tuple[Estimate, str | None]:
    """The estimate from the provider's own price list where it has one (Oxen's model pricing)."""
    price_of = getattr(state.jobs.provider, "price", None)
    if price_of is None:
        return estimate, None
    price = await price_of(
        tier,
        mode,
        resolution=str(arguments.get("resolution", "720p")),
        generate_audio=bool(arguments.get("generate_audio", True)),
    )
    if price is None:
        return estimate, (
            "Oxen.ai publishes no per-second price for this model that we understand; the estimate uses "
            "fal.ai's rate table, which may differ from what Oxen charges."
        )
    low, high = estimate.output_seconds
    rate = Rate(
        tier=tier,
        usd_per_1k_tokens=estimate.rate.usd_per_1k_tokens,
        quoted_usd_per_second_720p=price.usd_per_second,
        source=price.source,
    )
    return (
        dataclasses.replace(
            estimate,
            min_usd=round(price.usd_per_second * low, 4),
            max_usd=round(price.usd_per_second * high, 4),
            multiplier=1.0,
            rate=rate,
        ),
        None,
    )


async def _group_of(state: AppState, record: JobRecord) -> list[JobRecord]:
    """Every job made by the same request as `record` (itself alone when it was made alone)."""
    if record.group_id is None:
        return [record]
    return await state.jobs.journal.group(record.group_id) or [record]


async def _grouped_answer(
    ctx: ToolContext,
    state: AppState,
    records: list[JobRecord],
    wait_seconds: float,
    warnings: list[str],
    started_here: bool,
) -> CallToolResult:
    """One answer for num_generations > 1: the first job's result with every job listed under `group`."""
    done = await wait_group(ctx, state, [r.id for r in records], wait_seconds, started_here=started_here)
    if all(r.state == "failed" for r in done):
        raise ToolError("All generations failed: " + "; ".join(f"job {r.id}: {r.error}" for r in done))
    total = sum(r.estimate_usd for r in done)
    warnings.append(
        f"{len(done)} generations, each its own job and charged separately (estimate up to ${total:.4f} "
        f"in all): {', '.join(r.id for r in done)}."
    )
    results = [to_result(r, state) for r in done]
    answer = render(to_result(done[0], state, warnings=tuple(warnings)), state)
    for result in results[1:]:
        answer.content.extend(render(result, state).content)
    structured = dict(answer.structured_content or {})
    structured["group"] = [r.model_dump(mode="json") for r in results]
    return CallToolResult(content=answer.content, structured_content=structured)


async def wait_group(
    ctx: ToolContext, state: AppState, job_ids: list[str], wait_seconds: float, *, started_here: bool = False
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
        if started_here and host_cancelled(ctx):
            with anyio.CancelScope(shield=True):
                for job_id in job_ids:
                    await state.jobs.cancel_if_queued(job_id)
        raise
    return records
