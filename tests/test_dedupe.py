"""A re-sent tool call never pays twice, and a submit that may have landed is never repeated blindly.

Protocol 2026-07-28 has no stream resumption: a client whose stream broke sends the same request
again. The server answers an identical call (same tool, provider and arguments) made within
DEDUPE_WINDOW_SECONDS with the job the first call made.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx
import pytest
from mcp.client import Client
from mcp.types import CallToolResult

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.jobs.manager import DEDUPE_WINDOW_SECONDS, JobManager, fingerprint
from seedance_mcp.server.journal.sqlite import JobRecord, Journal, new_job_id
from seedance_mcp.server.providers.base import JobSpec, VideoOutput
from seedance_mcp.server.providers.fal import FalProvider
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.fal_on_simulator import fal_on_simulator
from tests.media_factory import make_image
from tests.media_server import serve

pytestmark = pytest.mark.anyio

KEY = "test-key-dedupe-4b8c1f"
ARGS = {"prompt": "A fox in fresh snow", "duration": "4", "resolution": "480p", "wait_seconds": 0}
FAST_TEXT = "bytedance/seedance-2.0/fast/text-to-video"  # the endpoint ARGS go to (the default tier)


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def fal_settings(url: str, tmp_path: Path) -> Settings:
    return fal_on_simulator(url, tmp_path, KEY)


@pytest.fixture
def sim() -> AsyncIterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.3, run_seconds=1.0, seed=11)) as simulator:
        yield simulator


def submits(sim: Simulator) -> list[dict[str, Any]]:
    return [e for e in sim.request_log() if e.get("kind") == "submit"]


async def test_a_resent_call_returns_the_first_job(sim: Simulator, tmp_path: Path) -> None:
    async with Client(create_server(fal_settings(sim.url, tmp_path))) as client:
        first = data(await client.call_tool("generate_video", ARGS))
        again = data(await client.call_tool("generate_video", ARGS))
        other_seed = data(await client.call_tool("generate_video", {**ARGS, "seed": 7}))
        other_tool = data(
            await client.call_tool(
                "reference_video",
                {k: v for k, v in ARGS.items() if k != "prompt"} | {"prompt": ARGS["prompt"]},
            )
        )
        log = submits(sim)
    assert again["job_id"] == first["job_id"]
    assert any("returning that job instead of paying twice" in w for w in again["warnings"])
    assert other_seed["job_id"] != first["job_id"] and not other_seed["warnings"]
    assert other_tool["job_id"] not in {first["job_id"], other_seed["job_id"]}
    assert len(log) == 3


async def test_a_resent_call_with_url_media_fetches_nothing_again(sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / "served").mkdir()
    make_image(tmp_path / "served" / "look.png", "png", 640, 640)
    with serve(tmp_path / "served") as media:
        arguments = {
            "prompt": "A fox in the style of @Image1",
            "image_urls": [f"{media.url}/look.png"],
            "duration": "4",
            "resolution": "480p",
            "wait_seconds": 0,
        }
        async with Client(create_server(fal_settings(sim.url, tmp_path))) as client:
            first = data(await client.call_tool("reference_video", arguments))
            probed = len(media.requests)
            again = data(await client.call_tool("reference_video", arguments))
    assert probed > 0, "the first call checks the image at its URL"
    assert again["job_id"] == first["job_id"]
    assert len(media.requests) == probed, "the re-sent call was answered without reading the URL again"
    assert len(submits(sim)) == 1


async def test_identical_calls_at_the_same_moment_make_one_job(sim: Simulator, tmp_path: Path) -> None:
    answers: list[dict[str, Any]] = []
    async with Client(create_server(fal_settings(sim.url, tmp_path))) as client:

        async def call() -> None:
            answers.append(data(await client.call_tool("generate_video", ARGS)))

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(call)
        listed = data(await client.call_tool("list_jobs", {}))
        log = submits(sim)
    assert len({a["job_id"] for a in answers}) == 1
    # All but the one call that paid are told why they got an existing job.
    told = [a for a in answers if any("instead of paying twice" in w for w in a["warnings"])]
    assert len(told) == len(answers) - 1
    assert len(listed["jobs"]) == 1
    assert len(log) == 1


async def test_failed_jobs_and_old_jobs_are_not_reused(sim: Simulator, tmp_path: Path) -> None:
    settings = fal_settings(sim.url, tmp_path)
    arguments = {k: v for k, v in ARGS.items() if k != "wait_seconds"} | {
        "aspect_ratio": "auto",
        "generate_audio": True,
    }
    key = fingerprint("generate_video", "fal", arguments, FAST_TEXT)
    async with await Journal.open(settings.home / "journal.sqlite3") as journal:
        # Identical calls made just outside the window, and inside it but failed: neither is reused.
        await journal.create(_record(key, created_at=time.time() - DEDUPE_WINDOW_SECONDS - 5, state="queued"))
        await journal.create(_record(key, created_at=time.time() - 5, state="failed"))
    async with Client(create_server(settings)) as client:
        fresh = data(await client.call_tool("generate_video", ARGS))
        log = submits(sim)
    assert not fresh["warnings"]
    assert len(log) == 1


async def test_the_fingerprint_matches_what_the_tool_records(sim: Simulator, tmp_path: Path) -> None:
    """Guards the test above: a journaled job with that fingerprint inside the window *is* reused."""
    settings = fal_settings(sim.url, tmp_path)
    arguments = {k: v for k, v in ARGS.items() if k != "wait_seconds"} | {
        "aspect_ratio": "auto",
        "generate_audio": True,
    }
    key = fingerprint("generate_video", "fal", arguments, FAST_TEXT)
    async with await Journal.open(settings.home / "journal.sqlite3") as journal:
        earlier = _record(key, created_at=time.time() - DEDUPE_WINDOW_SECONDS + 30, state="running")
        await journal.create(earlier)
    async with Client(create_server(settings)) as client:
        answer = data(await client.call_tool("generate_video", ARGS))
        log = submits(sim)
    assert answer["job_id"] == earlier.id and answer["state"] == "running"
    assert log == []


async def _drop_after_reading(listener: anyio.abc.SocketListener, seen: list[bytes]) -> None:
    """A provider that receives the whole request, then hangs up without answering."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            raw = b""
            while b"\r\n\r\n" not in raw:
                raw += await stream.receive()
            head, _, body = raw.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            while len(body) < length:
                body += await stream.receive()
            seen.append(head.split(b"\r\n")[0])

    await listener.serve(handle)


async def test_a_submit_that_may_have_landed_is_recorded_uncertain_and_repeated_only_when_asked(
    tmp_path: Path,
) -> None:
    seen: list[bytes] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(_drop_after_reading, listener, seen)
        async with Client(create_server(fal_settings(f"http://127.0.0.1:{port}", tmp_path))) as client:
            first = await client.call_tool("generate_video", ARGS)
            assert first.is_error
            message = first.content[0].text  # type: ignore[union-attr]
            sent_once = list(seen)
            listed = data(await client.call_tool("list_jobs", {}))
            # The user checked the dashboard and asks again: an identical call is submitted again.
            again = await client.call_tool("generate_video", ARGS)
        tg.cancel_scope.cancel()

    assert "may or may not have been received" in message and "uncertain" in message
    assert "possibly charged" in message and "call the tool again with the same arguments" in message
    assert "dashboard" in message and KEY not in message
    assert sent_once == [b"POST /bytedance/seedance-2.0/fast/text-to-video HTTP/1.1"]  # never retried blindly
    [job] = listed["jobs"]
    assert job["state"] == "uncertain" and job["job_id"] in message
    # Shown apart from certain spend.
    assert listed["totals"]["estimated_cost_usd"] == 0 and listed["totals"]["possibly_charged_usd"] > 0
    assert listed["spend"]["total_usd"] == 0 and listed["spend"]["possibly_charged_usd"] > 0
    assert again.is_error and len(seen) == 2


async def test_a_503_on_submit_is_possibly_charged_and_an_identical_call_goes_through(
    sim: Simulator, tmp_path: Path
) -> None:
    settings = fal_settings(sim.url, tmp_path)
    sim.set_faults("submit_5xx=1")
    async with Client(create_server(settings)) as client:
        refused = await client.call_tool("generate_video", ARGS)
        sim.set_faults("")
        again = data(await client.call_tool("generate_video", {**ARGS, "wait_seconds": 30}))
        listed = data(await client.call_tool("list_jobs", {}))
        spend = await client.read_resource("seedance://spend")
    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    assert "possibly charged" in text and "dashboard" in text
    assert again["state"] == "completed" and again["video_path"]
    assert [j["state"] for j in listed["jobs"]] == ["completed", "uncertain"]
    completed, uncertain = listed["jobs"]
    assert listed["totals"]["estimated_cost_usd"] == completed["estimated_cost_usd"]
    assert listed["totals"]["possibly_charged_usd"] == uncertain["estimated_cost_usd"]
    report = __import__("json").loads(spend.contents[0].text)  # type: ignore[union-attr]
    assert report["total_usd"] == listed["spend"]["total_usd"] == completed["estimated_cost_usd"]
    assert report["possibly_charged_usd"] == uncertain["estimated_cost_usd"]
    assert len(submits(sim)) == 2


async def test_identical_submits_at_the_job_layer_make_one_job_across_two_managers(
    sim: Simulator, tmp_path: Path
) -> None:
    """The journal's claim, not the guard in front, makes one job of identical calls: 2 managers (two
    connections to one journal file, as two processes would have) x 10 concurrent identical submits."""
    path = tmp_path / "journal.sqlite3"
    spec = JobSpec(tier="fast", mode="text-to-video", arguments={"prompt": "One fox", "duration": "4"})

    async def deliver(job: JobRecord, output: VideoOutput, before_commit: Any) -> dict[str, Any]:
        return {}

    async with (
        httpx.AsyncClient(verify=tls_context()) as http,
        await Journal.open(path) as one,
        await Journal.open(path) as two,
        anyio.create_task_group() as tg,
    ):
        provider = FalProvider(http, key=KEY, queue_url=sim.url, rest_url=sim.url, cdn_url=sim.url)
        managers = [
            JobManager(provider=provider, journal=journal, task_group=tg, deliver=deliver, simulated=False)
            for journal in (one, two)
        ]
        made: list[str] = []

        async def submit(jobs: JobManager) -> None:
            [record] = await jobs.submit(
                tool="generate_video",
                spec=spec,
                key=jobs.dedupe_key("generate_video", spec.endpoint, spec.arguments),
                estimate={},
                estimate_usd=1.0,
            )
            made.append(record.id)

        async with anyio.create_task_group() as callers:
            for i in range(20):
                callers.start_soon(submit, managers[i % 2])
        tg.cancel_scope.cancel()
    assert len(made) == 20 and len(set(made)) == 1
    assert len(submits(sim)) == 1


def _record(dedupe_key: str, *, created_at: float, state: Any) -> JobRecord:
    return JobRecord(
        id=new_job_id(),
        created_at=created_at,
        updated_at=created_at,
        provider="fal",
        simulated=False,
        tool="generate_video",
        tier="fast",
        mode="text-to-video",
        endpoint="bytedance/seedance-2.0/fast/text-to-video",
        arguments={"prompt": ARGS["prompt"]},
        estimate={"summary": "$0.97"},
        estimate_usd=0.97,
        state=state,
        dedupe_key=dedupe_key,
    )
