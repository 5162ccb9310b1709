"""`list_jobs`: the journal's recent jobs, newest first, with state, cost and files."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from ..server.generation.drafts import when
from ..server.journal.spend_report import SpendDay, SpendReport, charged, jobs_and_spend, possibly_charged
from ..server.journal.sqlite import TERMINAL, JobRecord
from .job_card import GALLERY
from .results import JobStateName, ToolContext, app_state, inline_schema, tool_errors

NAME = "list_jobs"
TITLE = "List video jobs"
DESCRIPTION = """Recent video jobs, newest first, from any session: id, state, prompt, cost, saved file \
or error, and spend totals; filter by `state`. Free. Then check_status(job_id) to wait, cancel_job(job_id) \
to stop."""
ANNOTATIONS = ToolAnnotations(
    title=TITLE, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

META = GALLERY  # hosts with MCP Apps show the list as the gallery

PROMPT_EXCERPT_CHARS = 80


class JobSummary(BaseModel):
    """One job in a listing."""

    job_id: str
    state: JobStateName
    done: bool = Field(description="True when the job has ended (completed, failed or cancelled).")
    created: str = Field(description="When the job was made (ISO 8601, UTC).")
    tool: str
    mode: str
    tier: str
    provider: str
    simulated: bool
    prompt: str = Field(description=f"The prompt, cut to {PROMPT_EXCERPT_CHARS} characters.")
    estimated_cost_usd: float
    request_id: str | None = Field(
        default=None, description="The provider's request id (what its dashboard shows)."
    )
    video_path: str | None = None
    video_url: str | None = None
    error: str | None = None
    draft_expires_at: str | None = Field(default=None, description="A draft: finishable until (UTC).")
    finished_from: str | None = Field(default=None, description="The draft this job finished.")
    finished_as: list[str] = Field(default_factory=list, description="Listed jobs finishing this draft.")


class JobTotals(BaseModel):
    """Sums over the jobs listed (not the whole journal)."""

    listed: int
    by_state: dict[str, int] = Field(description="How many of the listed jobs are in each state.")
    estimated_cost_usd: float = Field(
        description=(
            "Estimated cost of the listed real (not simulated) jobs the provider accepted. An upper bound."
        )
    )
    possibly_charged_usd: float = Field(
        description="Estimated cost of the listed real jobs whose submit answer was lost (see the dashboard)."
    )


# Inlined rather than referenced: some hosts do not resolve $ref in tool schemas.
class JobList(BaseModel):
    jobs: Annotated[
        list[JobSummary], WithJsonSchema({"type": "array", "items": JobSummary.model_json_schema()})
    ]
    totals: Annotated[JobTotals, WithJsonSchema(JobTotals.model_json_schema())]
    spend: Annotated[SpendReport, WithJsonSchema(inline_schema(SpendReport))] = Field(
        description="Spend by day and provider over the journal's last 30 days (also seedance://spend)."
    )
    next_step: str


def excerpt(text: str, limit: int = PROMPT_EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def summarize(record: JobRecord, finished_as: list[str] | None = None) -> JobSummary:
    return JobSummary(
        job_id=record.id,
        state=record.state,
        done=record.state in TERMINAL,
        created=datetime.fromtimestamp(record.created_at, timezone.utc).isoformat(timespec="seconds"),
        tool=record.tool,
        mode=record.mode,
        tier=record.tier,
        provider=record.provider,
        simulated=record.simulated,
        prompt=excerpt(str(record.arguments.get("prompt", ""))),
        estimated_cost_usd=record.estimate_usd,
        request_id=record.request_id,
        video_path=record.video_path,
        video_url=record.result_url,
        error=record.error,
        draft_expires_at=when(record.draft_expires) if record.draft_expires is not None else None,
        finished_from=record.finished_from,
        finished_as=finished_as or [],
    )


def build_list(records: list[JobRecord], state: str | None, spend: SpendReport) -> JobList:
    finishes: dict[str, list[str]] = {}
    for record in records:
        if record.finished_from is not None:
            finishes.setdefault(record.finished_from, []).append(record.id)
    jobs = [summarize(r, finishes.get(r.id)) for r in records]
    by_state: dict[str, int] = {}
    for record in records:
        by_state[record.state] = by_state.get(record.state, 0) + 1
    cost = round(sum(r.estimate_usd for r in records if charged(r)), 4)
    possible = round(sum(r.estimate_usd for r in records if possibly_charged(r)), 4)
    unfinished = [j for j in jobs if not j.done]
    if not jobs:
        next_step = (
            f"No jobs in state {state!r}." if state else "No jobs yet: generate_video makes the first one."
        )
    elif unfinished:
        next_step = (
            f"{_jobs(len(unfinished))} still in progress; call check_status with a job_id to wait for "
            f"{'it' if len(unfinished) == 1 else 'one'}."
        )
    else:
        next_step = "Every listed job has ended; check_status(job_id) shows one in full with its preview."
    return JobList(
        jobs=jobs,
        totals=JobTotals(
            listed=len(jobs), by_state=by_state, estimated_cost_usd=cost, possibly_charged_usd=possible
        ),
        spend=spend,
        next_step=next_step,
    )


def listing_text(listing: JobList) -> str:
    if not listing.jobs:
        return listing.next_step
    lines = [f"{_jobs(listing.totals.listed)}, newest first:" if listing.totals.listed > 1 else "1 job:"]
    for job in listing.jobs:
        cost = (
            f"simulated, would cost ~${job.estimated_cost_usd:.2f}"
            if job.simulated
            else f"~${job.estimated_cost_usd:.2f}"
        )
        if job.state == "uncertain" and not job.simulated and job.request_id is None:
            cost = f"possibly charged {cost}"
        line = f"- {job.job_id} {job.state} {job.created} {job.tool} {cost} “{job.prompt}”"
        if job.video_path:
            line += f" → {job.video_path}"
        elif job.video_url:
            line += f" → {job.video_url}"
        if job.error:
            line += f" ({job.error})"
        if job.draft_expires_at:
            line += f" [draft, finishable until {job.draft_expires_at}]"
        if job.finished_from:
            line += f" [finished from {job.finished_from}]"
        line += "".join(f" [finished as {finish}]" for finish in job.finished_as)
        lines.append(line)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(listing.totals.by_state.items()))
    totals = f"Totals: {counts}; estimated cost of these charged: ${listing.totals.estimated_cost_usd:.2f}"
    if listing.totals.possibly_charged_usd:
        totals += f", possibly charged: ${listing.totals.possibly_charged_usd:.2f}"
    lines.append(totals + ".")
    days = [_day_text(d) for d in listing.spend.by_day[-7:]]
    if days:
        lines.append("Spend by day: " + "; ".join(days) + f". Last 24 h: ${listing.spend.last_24h_usd:.2f}.")
    lines.append(listing.next_step)
    return "\n".join(lines)


def _day_text(day: SpendDay) -> str:
    if day.simulated:
        return f"{day.day} simulated, would have cost ${day.usd + day.possible_usd:.2f} ({_jobs(day.jobs)})"
    possible = f" + ${day.possible_usd:.2f} possibly" if day.possible_usd else ""
    return f"{day.day} {day.provider} ${day.usd:.2f}{possible} ({_jobs(day.jobs)})"


def _jobs(count: int) -> str:
    return f"{count} job" if count == 1 else f"{count} jobs"


async def list_jobs(
    ctx: ToolContext,
    state: Annotated[
        JobStateName | None,
        Field(description="Only jobs in this state. Omit for all."),
    ] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="How many jobs to list (1-100). Default 20.")] = 20,
) -> Annotated[CallToolResult, JobList]:
    app = app_state(ctx)
    async with tool_errors():
        records, spend = await jobs_and_spend(
            app.jobs.journal, app.settings, states=[state] if state else None, limit=limit
        )
        listing = build_list(records, state, spend)
        return CallToolResult(
            content=[TextContent(type="text", text=listing_text(listing))],
            structured_content=listing.model_dump(mode="json"),
        )
