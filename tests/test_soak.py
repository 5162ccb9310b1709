"""Soak: 100 jobs through one server while the simulator injects the issue's fault mix.

Every job must reach the state its prompt asks for, every request id must be journaled, and the
simulator must have accepted exactly one submit per job (a 429 refusal creates no job).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp.types import CallToolResult

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator.faults import FaultPlan, parse_faults

pytestmark = pytest.mark.anyio

FAULTS = "status_5xx=0.3,stream_drop=0.2,result_5xx=0.2,submit_429=0.1,slow=0.1"
JOBS = 100
CONCURRENT_CALLS = 20  # calls in flight at once, as several assistants might make


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def plan(n: int) -> tuple[str, str]:
    """Job n's prompt and the state it must end in: mostly successes, some of each kind of failure."""
    if n % 10 == 3:
        return "A glacier calving [sim:error=runner_server_error]", "failed"
    if n % 10 == 7:
        return "A protest banner [sim:content_policy]", "failed"
    return "A paper boat on a rainy street", "completed"


@pytest.mark.slow
async def test_hundred_jobs_under_faults_all_end_right_with_one_submit_each(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDANCE_SIM_FAULTS", FAULTS)
    monkeypatch.setenv("SEEDANCE_SIM_SEED", "2024")
    settings = Settings.from_env()
    assert settings.sim_faults == FAULTS and settings.sim_seed == 2024

    started: dict[int, dict[str, Any]] = {}
    ended: dict[int, dict[str, Any]] = {}
    limiter = anyio.CapacityLimiter(CONCURRENT_CALLS)
    async with Client(create_server(settings)) as client:

        async def run(n: int) -> None:
            prompt, _ = plan(n)
            async with limiter:
                started[n] = data(
                    await client.call_tool(
                        "generate_video",
                        {
                            "prompt": prompt,
                            "duration": "4",
                            "resolution": "480p",
                            "seed": n,
                            "wait_seconds": 0,
                        },
                    )
                )
            while True:
                job = data(
                    await client.call_tool(
                        "check_status", {"job_id": started[n]["job_id"], "wait_seconds": 30}
                    )
                )
                if job["done"]:
                    ended[n] = job
                    return

        with anyio.fail_after(600):  # a safety net on a loaded machine, not a timing
            async with anyio.create_task_group() as tg:
                for n in range(JOBS):
                    tg.start_soon(run, n)

        video_url = next(job["video_url"] for job in ended.values() if job["video_url"])
        origin = httpx.URL(video_url).copy_with(path="/", query=None)
        async with httpx.AsyncClient(verify=tls_context()) as http:
            log = (await http.get(str(origin.join("/_simulator/requests")))).json()

    # Every job ended as planned.
    assert len(ended) == JOBS
    wrong = {n: (job["state"], job["error"]) for n, job in ended.items() if job["state"] != plan(n)[1]}
    assert wrong == {}
    assert all(job["video_path"] for n, job in ended.items() if plan(n)[1] == "completed")

    # The faults really happened, and every kind of them.
    faults = {e.get("fault") for e in log} | {"slow" for e in log if e.get("delay")}
    assert {"status_5xx", "stream_drop", "result_5xx", "submit_429", "slow"} <= faults

    # Exactly one accepted submit per job; refusals created nothing; no request id was lost.
    accepted = [e for e in log if e.get("kind") == "submit" and e["status"] == 200]
    refused = [e for e in log if e.get("kind") == "submit" and e["status"] == 429]
    assert len(accepted) == JOBS and refused
    assert all("request_id" not in e for e in refused)
    with sqlite3.connect(settings.home / "journal.sqlite3") as db:
        journaled = dict(db.execute("SELECT id, request_id FROM jobs"))
    assert set(journaled) == {job["job_id"] for job in started.values()}
    assert None not in journaled.values()
    assert sorted(journaled.values()) == sorted(e["request_id"] for e in accepted)


def test_the_fault_mix_is_repeatable_under_a_seed() -> None:
    kinds = ["submit", "status", "stream", "result", "cancel", "token", "upload"] * 50

    def draws(seed: int | None) -> list[tuple[str | None, float]]:
        faults = FaultPlan(parse_faults(FAULTS), seed)
        return [(d.fault, d.delay) for d in (faults.draw(kind) for kind in kinds)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert any(fault for fault, _ in draws(7))
    with pytest.raises(ValueError, match="valid faults"):
        parse_faults("status_500=0.3")
