"""Two server processes on one SEEDANCE_HOME, as hosts make them (two windows, a restart while the
old process lingers, one process per call): one submit per call, one follower per job.

Everything is real: the standalone simulator (`seedance-mcp simulator`) in its own process, two stdio
servers pointed at it with a fal key, and an MCP client for each.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from tests.simulator_process import SimulatorProcess

pytestmark = pytest.mark.anyio

KEY = "test-key-processes-5e1d"
REPO = Path(__file__).resolve().parent.parent


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorProcess]:
    with SimulatorProcess(tmp_path / "sim-home", queue_seconds=1.0, run_seconds=6.0) as simulator:
        yield simulator


def server_env(sim: SimulatorProcess, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "SEEDANCE_PROVIDER": "fal",
        "FAL_KEY": KEY,
        "SEEDANCE_FAL_QUEUE_URL": sim.url,
        "SEEDANCE_FAL_REST_URL": sim.url,
        "SEEDANCE_FAL_CDN_URL": sim.url,
        "SEEDANCE_HOME": str(tmp_path / "state"),
        "SEEDANCE_OUTPUT_DIR": str(tmp_path / "videos"),
        "SEEDANCE_ALLOWED_DIRS": str(tmp_path),
    }


def server(env: dict[str, str], errlog: Any) -> Client:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "seedance_mcp.server"], env=env, cwd=str(REPO)
    )
    return Client(stdio_client(params, errlog=errlog))


@pytest.fixture
async def two_servers(sim: SimulatorProcess, tmp_path: Path) -> AsyncIterator[tuple[Client, Client]]:
    env = server_env(sim, tmp_path)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with AsyncExitStack() as stack:
            one = await stack.enter_async_context(server(env, errlog))
            two = await stack.enter_async_context(server(env, errlog))
            yield one, two


def generate(prompt: str, seed: int) -> dict[str, Any]:
    light = {"duration": "4", "resolution": "480p", "aspect_ratio": "16:9", "generate_audio": False}
    return {"prompt": prompt, "seed": seed, "wait_seconds": 0, **light}


async def test_identical_calls_to_two_processes_at_once_make_one_job(
    sim: SimulatorProcess, two_servers: tuple[Client, Client]
) -> None:
    one, two = two_servers
    answers: dict[int, list[str]] = {}

    async def pair(n: int) -> None:
        arguments = generate("A heron lifts off the lake", seed=n)
        ids: list[str] = []

        async def call(client: Client) -> None:
            ids.append(data(await client.call_tool("generate_video", arguments))["job_id"])

        async with anyio.create_task_group() as both:  # the same call to both processes at once
            both.start_soon(call, one)
            both.start_soon(call, two)
        answers[n] = ids

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(pair, n)
    assert all(len(set(ids)) == 1 for ids in answers.values()), answers
    assert len({ids[0] for ids in answers.values()}) == 20
    assert len(sim.kind("submit")) == 20


@pytest.fixture
def slow_sim(tmp_path: Path) -> Iterator[SimulatorProcess]:
    with SimulatorProcess(tmp_path / "sim-home", queue_seconds=1.0, run_seconds=20.0) as simulator:
        yield simulator


@pytest.mark.slow
async def test_jobs_of_a_running_process_are_not_taken_over_by_a_second_one(
    slow_sim: SimulatorProcess, tmp_path: Path
) -> None:
    sim = slow_sim
    env = server_env(sim, tmp_path)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with server(env, errlog) as first:
            started = [
                data(await first.call_tool("generate_video", generate("A lighthouse at dusk", seed=n)))[
                    "job_id"
                ]
                for n in range(10)
            ]
            # A second process starts on the same home while the first still follows all ten.
            async with server(env, errlog) as second:
                listed = data(await second.call_tool("list_jobs", {"limit": 100}))
                assert {j["job_id"] for j in listed["jobs"]} == set(started)
                assert all(not j["done"] for j in listed["jobs"])
                finished: dict[str, dict[str, Any]] = {}

                async def finish(client: Client, job_id: str) -> None:
                    # Either process answers; the one that does not follow reads the journal.
                    while not (
                        job := data(
                            await client.call_tool("check_status", {"job_id": job_id, "wait_seconds": 20})
                        )
                    )["done"]:
                        pass
                    finished[job_id] = job

                with anyio.fail_after(120):
                    async with anyio.create_task_group() as tg:
                        for i, job_id in enumerate(started):
                            tg.start_soon(finish, (first, second)[i % 2], job_id)
    assert {job_id: job["state"] for job_id, job in finished.items()} == dict.fromkeys(started, "completed")
    assert all(
        job["saved"] and Path(job["video_path"]).is_file() and not job["error"] for job in finished.values()
    )
    log = sim.requests()
    submitted = {e["request_id"] for e in log if e.get("kind") == "submit"}
    assert len(submitted) == 10
    for request_id in submitted:  # each fetched and downloaded exactly once, by one follower
        assert len([e for e in log if e.get("kind") == "result" and e.get("request_id") == request_id]) == 1
        downloads = [e for e in log if e.get("kind") == "download" and e.get("file_id") == request_id]
        assert len([e for e in downloads if e["method"] == "GET"]) == 1
    assert not [p for p in (tmp_path / "videos").iterdir() if p.name.endswith(".part")]
