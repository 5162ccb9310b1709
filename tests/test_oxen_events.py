"""Oxen.ai's event stream (`GET /api/events`): the simulator serves it like Oxen, and the provider follows
generations through one shared subscription, reading the status only when woken, polling when the
stream is missing or down. Everything over loopback against the simulator; counts from its request log."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import aconnect_sse
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.providers.base import Finished, JobSpec, QueueState, Submission
from seedance_mcp.server.providers.oxen import OxenProvider
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

pytestmark = pytest.mark.anyio

MODEL = "bytedance-seedance-2-0-fast-text-to-video"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=tls_context()) as client:
        yield client


def provider(http: httpx.AsyncClient, sim: Simulator) -> OxenProvider:
    return OxenProvider(http, key="oxen-secret", base_url=sim.url, poll_first=0.1, poll_max=0.3)


def spec(prompt: str = "A kite", duration: str = "4", count: int = 1) -> JobSpec:
    return JobSpec(
        tier="fast", mode="text-to-video", arguments={"prompt": prompt, "duration": duration}, count=count
    )


async def follow(oxen: OxenProvider, submission: Submission) -> list[QueueState]:
    with anyio.fail_after(60):
        return [state async for state in oxen.watch(submission)]


def of_kind(sim: Simulator, kind: str) -> list[dict[str, Any]]:
    return [e for e in sim.request_log() if e.get("kind") == kind]


def reads_of(sim: Simulator, generation_id: str) -> int:
    """GETs of one generation's status (the result comes from the same URL)."""
    path = f"/api/ai/queue/{generation_id}"
    return sum(1 for e in sim.request_log() if e["method"] == "GET" and e["path"] == path)


async def enqueue(http: httpx.AsyncClient, sim: Simulator, key: str, prompt: str, **extra: Any) -> str:
    answer = await http.post(
        f"{sim.url}/api/ai/queue",
        json={"model": MODEL, "prompt": prompt, **extra},
        headers={"Authorization": f"Bearer {key}"},
    )
    return str(answer.json()["generations"][0]["generation_id"])


# --- the simulator ----------------------------------------------------------------------------------
async def test_the_simulator_tells_an_account_its_completions_in_the_documented_shape(
    http: httpx.AsyncClient,
) -> None:
    options = SimulatorOptions(queue_seconds=0.2, run_seconds=0.6, ping_seconds=0.2)
    async with Simulator(options) as sim:
        refused = await http.get(f"{sim.url}/api/events")
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "unauthenticated"
        headers = {"Authorization": "Bearer key-a"}
        before = await enqueue(http, sim, "key-a", "ends before the stream opens", duration=4)
        status_url = f"{sim.url}/api/ai/queue/{before}"
        with anyio.fail_after(60):
            while (await http.get(status_url, headers=headers)).json()["status"] != "succeeded":  # noqa: ASYNC110
                await anyio.sleep(0.1)

        told: list[dict[str, Any]] = []
        comments = 0
        async with aconnect_sse(http, "GET", f"{sim.url}/api/events", headers=headers) as source:
            assert source.response.status_code == 200
            ok = await enqueue(http, sim, "key-a", "a kite", duration=4)
            bad = await enqueue(http, sim, "key-a", "a kite", duration=3)  # fails when run, as on Oxen
            cancelled = await enqueue(http, sim, "key-a", "a kite", duration=4)
            await enqueue(http, sim, "key-b", "another account's", duration=4)
            await http.delete(f"{sim.url}/api/ai/queue/{cancelled}", headers=headers)
            with anyio.fail_after(60):
                async for line in source.response.aiter_lines():
                    comments += line.startswith(":")
                    if line.startswith("data:"):
                        told.append(json.loads(line.removeprefix("data:")))
                    if len(told) == 3 and comments:
                        break
        by_id = {t["generation_id"]: t for t in told}
        assert set(by_id) == {ok, bad, cancelled}  # not the one over before, not key-b's
        assert set(by_id[ok]) == {"generation_id", "status", "media_type", "model", "url"}
        assert by_id[ok]["status"] == "succeeded" and by_id[ok]["model"] == MODEL
        assert by_id[ok]["url"].startswith(f"{sim.url}/api/ai/results/")
        assert set(by_id[bad]) == {"generation_id", "status", "media_type", "model", "error"}
        assert by_id[bad]["status"] == "failed" and by_id[bad]["error"] == "Invalid duration"
        assert by_id[cancelled]["status"] == "cancelled" and "url" not in by_id[cancelled]
        assert comments >= 1  # the keep-alive
        logged = of_kind(sim, "events")
        assert [e["status"] for e in logged] == [401, 200]
        assert "key-a" not in str(sim.request_log())


async def test_the_simulator_can_leave_the_event_stream_out(http: httpx.AsyncClient) -> None:
    async with Simulator(SimulatorOptions(oxen_events=False)) as sim:
        answer = await http.get(f"{sim.url}/api/events", headers={"Authorization": "Bearer k"})
        assert answer.status_code == 404 and answer.json()["error"]["type"] == "resource_not_found"


# --- the provider -----------------------------------------------------------------------------------
async def test_a_generation_is_read_when_its_event_comes_and_polled_far_less(
    http: httpx.AsyncClient,
) -> None:
    options = SimulatorOptions(queue_seconds=0.2, run_seconds=4.0)
    async with (
        Simulator(options) as with_events,
        Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=4.0, oxen_events=False)) as without,
    ):
        outcomes: dict[str, tuple[list[QueueState], str]] = {}

        async def run(sim: Simulator) -> None:
            oxen = provider(http, sim)
            [submission] = await oxen.submit(spec())
            states = await follow(oxen, submission)
            outcomes[sim.url] = states, (await oxen.result(submission)).url

        async with anyio.create_task_group() as group:
            group.start_soon(run, with_events)
            group.start_soon(run, without)

        for sim in (with_events, without):
            states, url = outcomes[sim.url]
            assert isinstance(states[-1], Finished) and states[-1].error is None
            assert url.startswith(sim.url + "/api/ai/results/")
        [generation] = of_kind(with_events, "submit")[0]["generations"]
        [polled] = of_kind(without, "submit")[0]["generations"]
        # One read at the start, one when the completion event came; the result is that second read.
        assert reads_of(with_events, generation) == 2
        assert reads_of(without, polled) >= 3 * reads_of(with_events, generation)
        assert len(of_kind(with_events, "events")) == 1 and of_kind(with_events, "events")[0]["status"] == 200
        assert [e["status"] for e in of_kind(without, "events")] == [404]


async def test_concurrent_generations_share_one_subscription(http: httpx.AsyncClient) -> None:
    async with Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=1.0)) as sim:
        oxen = provider(http, sim)
        submissions = await oxen.submit(spec(count=3)) + await oxen.submit(spec(prompt="A boat"))
        finals: list[QueueState] = []

        async def watch(submission: Submission) -> None:
            finals.append((await follow(oxen, submission))[-1])

        async with anyio.create_task_group() as group:
            for submission in submissions:
                group.start_soon(watch, submission)
        assert len(finals) == 4 and all(isinstance(f, Finished) and f.error is None for f in finals)
        assert len(of_kind(sim, "events")) == 1
        assert all(reads_of(sim, s.request_id) == 2 for s in submissions)


async def test_a_dropped_stream_is_opened_again_and_loses_no_generation(http: httpx.AsyncClient) -> None:
    options = SimulatorOptions(queue_seconds=0.2, run_seconds=3.0, faults="stream_drop=1")
    async with Simulator(options) as sim:
        oxen = provider(http, sim)
        [short] = await oxen.submit(spec(duration="3"))  # a bad duration: fails 0.5 s into its run
        [long] = await oxen.submit(spec())
        finals: dict[str, QueueState] = {}

        async def watch(submission: Submission) -> None:
            finals[submission.request_id] = (await follow(oxen, submission))[-1]

        async with anyio.create_task_group() as group:
            group.start_soon(watch, short)
            group.start_soon(watch, long)
            with anyio.fail_after(60):
                while not of_kind(sim, "events"):  # noqa: ASYNC110 (the simulator thread has no event to await)
                    await anyio.sleep(0.02)
            sim.set_faults("")  # the first stream still drops at the first completion; the next ones hold
        assert (
            isinstance(finals[short.request_id], Finished) and finals[short.request_id].error_type == "failed"
        )
        assert isinstance(finals[long.request_id], Finished) and finals[long.request_id].error is None
        streams = of_kind(sim, "events")
        assert streams[0]["fault"] == "stream_drop" and len(streams) >= 2
        assert all("fault" not in e for e in streams[1:])


async def test_a_host_without_the_stream_is_polled_and_said_so_once(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="seedance_mcp.server.providers.oxen")
    options = SimulatorOptions(queue_seconds=0.2, run_seconds=0.8, oxen_events=False)
    async with Simulator(options) as sim:
        oxen = provider(http, sim)
        for _ in range(2):
            [submission] = await oxen.submit(spec())
            states = await follow(oxen, submission)
            assert isinstance(states[-1], Finished) and states[-1].error is None
            assert reads_of(sim, submission.request_id) >= 4  # polled
        said = [r for r in caplog.records if "refused its event stream" in r.getMessage()]
        assert [r.levelno for r in said] == [logging.INFO]
        assert [e["status"] for e in of_kind(sim, "events")] == [404]  # not asked again for the next job


async def test_an_event_stream_that_answers_503_leaves_polling_in_charge(http: httpx.AsyncClient) -> None:
    options = SimulatorOptions(queue_seconds=0.2, run_seconds=0.8, faults="status_5xx=1")
    async with Simulator(options) as sim:
        oxen = provider(http, sim)
        [submission] = await oxen.submit(spec())
        states = await follow(oxen, submission)
        assert isinstance(states[-1], Finished) and states[-1].error is None
        assert all(e["status"] == 503 for e in of_kind(sim, "events"))


# --- through the MCP server -------------------------------------------------------------------------
def oxen_settings(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SEEDANCE_PROVIDER", "oxen")
    monkeypatch.setenv("OXEN_API_KEY", "oxen-k1")
    monkeypatch.setenv("SEEDANCE_OXEN_URL", sim.url)
    return Settings.from_env()


@pytest.mark.slow
async def test_a_job_through_the_server_is_enqueue_events_two_reads_and_a_download(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Simulator(SimulatorOptions(queue_seconds=0.3, run_seconds=3.0)) as sim:
        async with Client(create_server(oxen_settings(sim, monkeypatch))) as client:
            with anyio.fail_after(60):
                result = await client.call_tool(
                    "generate_video",
                    {"prompt": "Three kites", "duration": "4", "num_generations": 3, "wait_seconds": 60},
                )
        assert not result.is_error
        group = (result.structured_content or {})["group"]
        assert len(group) == 3 and all(Path(g["video_path"]).is_file() for g in group)
        log = sim.request_log()
        kinds = [e.get("kind") for e in log]
        assert kinds.count("submit") == 1 and kinds.count("events") == 1 and kinds.count("download") == 3
        [submit] = [e for e in log if e.get("kind") == "submit"]
        for generation in submit["generations"]:
            # One read at the start, one when the completion event came (the result is that read).
            assert reads_of(sim, generation) == 2
        assert kinds.count("status") == 6


async def test_an_event_that_never_comes_is_covered_by_the_safety_read(http: httpx.AsyncClient) -> None:
    async with Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=1.0)) as sim:
        # Enqueued with another key: our stream (up the whole time) never hears of its completion.
        generation = await enqueue(http, sim, "another-account", "A kite", duration=4)
        oxen = OxenProvider(http, key="oxen-secret", base_url=sim.url, poll_first=0.1, safety_poll=0.5)
        submission = Submission(
            provider="oxen",
            request_id=generation,
            endpoint=MODEL,
            status_url=f"{sim.url}/api/ai/queue/{generation}",
            cancel_url=f"{sim.url}/api/ai/queue/{generation}",
        )
        states = await follow(oxen, submission)
        assert isinstance(states[-1], Finished) and states[-1].error is None
        assert [e["status"] for e in of_kind(sim, "events")] == [200]


async def test_a_generation_over_before_its_watch_takes_one_read_for_state_and_result(
    http: httpx.AsyncClient,
) -> None:
    async with Simulator(SimulatorOptions(queue_seconds=0.1, run_seconds=0.3)) as sim:
        oxen = provider(http, sim)
        [submission] = await oxen.submit(spec())
        with anyio.fail_after(60):
            while await oxen.status(submission) != Finished():  # noqa: ASYNC110
                await anyio.sleep(0.1)
        before = reads_of(sim, submission.request_id)
        states = await follow(oxen, submission)  # as after a restart: the completion event is long gone
        output = await oxen.result(submission)
        assert states == [Finished()] and output.url.startswith(sim.url + "/api/ai/results/")
        assert reads_of(sim, submission.request_id) - before == 1
