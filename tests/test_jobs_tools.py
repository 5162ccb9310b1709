"""list_jobs, cancel_job and the seedance://jobs/{id} resource, through a real MCP client on the simulator."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings

pytestmark = pytest.mark.anyio


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def text(result: CallToolResult) -> str:
    return result.content[0].text  # type: ignore[union-attr]


async def start(client: Client, prompt: str, **extra: Any) -> dict[str, Any]:
    arguments = {"prompt": prompt, "duration": "4", "resolution": "480p", "wait_seconds": 0, **extra}
    return data(await client.call_tool("generate_video", arguments))


async def wait_until(client: Client, job_id: str, states: set[str]) -> dict[str, Any]:
    """check_status in short bounded waits until the job reaches one of `states`."""
    with anyio.fail_after(60):
        while True:
            job = data(await client.call_tool("check_status", {"job_id": job_id, "wait_seconds": 0.2}))
            if job["state"] in states:
                return job


async def test_tools_are_listed_with_honest_annotations(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    listing, cancel = tools["list_jobs"], tools["cancel_job"]
    assert listing.annotations is not None and listing.annotations.read_only_hint
    assert cancel.annotations is not None
    assert cancel.annotations.read_only_hint is False and cancel.annotations.destructive_hint is True
    props = listing.input_schema["properties"]
    assert props["limit"]["default"] == 20
    assert (props["limit"]["minimum"], props["limit"]["maximum"]) == (1, 100)
    assert "running" in json.dumps(props["state"]) and "uncertain" in json.dumps(props["state"])
    assert cancel.input_schema["required"] == ["job_id"]
    assert listing.output_schema is not None and cancel.output_schema is not None


async def test_list_jobs_shows_recent_jobs_newest_first_with_filters_and_totals(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        empty = data(await client.call_tool("list_jobs", {}))
        assert empty["jobs"] == [] and empty["totals"]["listed"] == 0
        assert "No jobs yet" in empty["next_step"]

        with anyio.fail_after(60):
            done = data(
                await client.call_tool(
                    "generate_video",
                    {
                        "prompt": "A kite over dunes",
                        "duration": "4",
                        "resolution": "480p",
                        "wait_seconds": 30,
                    },
                )
            )
        assert done["state"] == "completed"
        failed = await client.call_tool(
            "generate_video",
            {
                "prompt": "A mural [sim:content_policy]",
                "duration": "4",
                "resolution": "480p",
                "wait_seconds": 30,
            },
        )
        assert failed.is_error
        later = await start(client, "A long tracking shot of a night train " * 4)

        everything = data(await client.call_tool("list_jobs", {}))
        jobs = everything["jobs"]
        assert [j["state"] for j in jobs[1:]] == ["failed", "completed"]
        assert jobs[0]["job_id"] == later["job_id"] and jobs[2]["job_id"] == done["job_id"]
        assert jobs[2]["video_path"] == done["video_path"] and jobs[2]["video_url"] == done["video_url"]
        assert "content" in jobs[1]["error"].lower()
        assert len(jobs[0]["prompt"]) <= 80 and jobs[0]["prompt"].endswith("…")
        assert all(j["simulated"] and j["tool"] == "generate_video" for j in jobs)
        assert everything["totals"]["listed"] == 3
        assert everything["totals"]["by_state"]["completed"] == 1
        assert everything["totals"]["estimated_cost_usd"] == 0  # simulated: nothing charged
        assert done["job_id"] in text(await client.call_tool("list_jobs", {}))

        only = data(await client.call_tool("list_jobs", {"state": "completed"}))
        assert [j["job_id"] for j in only["jobs"]] == [done["job_id"]]
        one = text(await client.call_tool("list_jobs", {"state": "completed"}))
        assert one.startswith("1 job:") and "job(s)" not in one and "(1 jobs)" not in one
        assert "(3 jobs)" in text(await client.call_tool("list_jobs", {}))
        assert len(data(await client.call_tool("list_jobs", {"limit": 1}))["jobs"]) == 1

        bad = await client.call_tool("list_jobs", {"limit": 101})
        assert bad.is_error and "limit" in text(bad)
        bad = await client.call_tool("list_jobs", {"state": "lost"})
        assert bad.is_error and "state" in text(bad) and "running" in text(bad)
        await wait_until(client, later["job_id"], {"completed"})


async def test_cancel_a_queued_job_costs_nothing(settings: Settings) -> None:
    slow_queue = settings.model_copy(update={"sim_queue_seconds": 20.0})
    async with Client(create_server(slow_queue)) as client:
        job = await start(client, "A queue that never moves")
        assert job["state"] == "queued"
        answer = await client.call_tool("cancel_job", {"job_id": job["job_id"]})
        result = data(answer)
        assert result["outcome"] == "cancelled" and result["state"] == "cancelled"
        assert result["may_be_charged"] is False
        assert "cancelled while queued: nothing charged" in text(answer)
        status = data(await client.call_tool("check_status", {"job_id": job["job_id"], "wait_seconds": 0}))
        assert status["state"] == "cancelled" and status["done"]
        again = data(await client.call_tool("cancel_job", {"job_id": job["job_id"]}))
        assert again["outcome"] == "already_ended"


async def test_cancel_a_running_job_says_it_may_still_finish(settings: Settings) -> None:
    long_run = settings.model_copy(update={"sim_run_seconds": 3.0})
    async with Client(create_server(long_run)) as client:
        job = await start(client, "A runner that will not stop")
        await wait_until(client, job["job_id"], {"running"})
        answer = await client.call_tool("cancel_job", {"job_id": job["job_id"]})
        result = data(answer)
        assert result["outcome"] == "stop_requested" and result["state"] == "running"
        assert "may still finish and be charged; check_status will tell" in text(answer)
        # The simulator, like fal's runners, finishes the job anyway: the server still saves it.
        finished = await wait_until(client, job["job_id"], {"completed", "cancelled", "failed"})
        assert finished["state"] == "completed" and finished["video_path"]


async def test_cancel_unknown_and_finished_jobs(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        unknown = await client.call_tool("cancel_job", {"job_id": "sd_missing"})
        assert unknown.is_error and "list_jobs" in text(unknown)
        job = await start(client, "A short clip")
        await wait_until(client, job["job_id"], {"completed"})
        result = data(await client.call_tool("cancel_job", {"job_id": job["job_id"]}))
        assert result["outcome"] == "already_ended" and result["state"] == "completed"


async def test_jobs_are_resources(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["seedance://jobs/{job_id}"]
        assert templates[0].mime_type == "application/json"

        job = await start(client, "A resource-shaped clip")
        await wait_until(client, job["job_id"], {"completed"})
        read = await client.read_resource(f"seedance://jobs/{job['job_id']}")
        content = read.contents[0]
        assert content.mime_type == "application/json"
        view = json.loads(content.text)  # type: ignore[union-attr]
        assert view["job_id"] == job["job_id"] and view["state"] == "completed"
        assert (
            view["request_id"]
            and view["video_path"]
            and view["arguments"]["prompt"] == "A resource-shaped clip"
        )
        assert view["history"][0]["state"] == "submitting"
        assert view["history"][-1]["state"] == "completed"
        assert "submission" not in view and "dedupe_key" not in view
        # The provider resends its whole log with every status: each line is journaled once, in order.
        logs = view["logs"]
        steps = [line for line in logs if "Denoising step" in line]
        assert len(logs) == len(set(logs)) >= 8, logs
        assert "Runner picked up" in logs[0] and "Encoding MP4" in logs[-1], logs
        assert [s[s.index("step") :].split("/")[0] for s in steps] == [f"step {n}" for n in (10, 20, 30, 40)]

        with pytest.raises(MCPError) as missing:
            await client.read_resource("seedance://jobs/sd_missing")
        assert "list_jobs" in str(missing.value)


@pytest.mark.anyio
async def test_list_jobs_sums_spend_by_day_and_provider(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        made = await client.call_tool(
            "generate_video",
            {"prompt": "Spend me", "duration": "4", "aspect_ratio": "1:1", "wait_seconds": 0},
        )
        assert not made.is_error, made.content
        listing = await client.call_tool("list_jobs", {})
    assert not listing.is_error, listing.content
    spend = (listing.structured_content or {})["spend"]
    # 960×960×4×24/1024 = 86,400 tokens × $0.0112/1k (the default fast tier)
    assert [(d["provider"], d["jobs"], d["usd"]) for d in spend["by_day"]] == [("simulator", 1, 0.9677)]
    assert spend["total_usd"] == 0  # simulated jobs cost nothing
    assert "Spend by day" in listing.content[0].text  # type: ignore[union-attr]
