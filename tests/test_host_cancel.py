"""Cancel means the user's cancel: a host's explicit `notifications/cancelled` for the call that
started a job cancels the job while it is queued; a cancelled `check_status` wait, or a call that
ends without that notification (2026-07-28's structural cancel, a dropped stream), never does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

pytestmark = pytest.mark.anyio


@pytest.fixture
def sim() -> Iterator[Simulator]:
    # A long queue: the call is cancelled while the job is still waiting in it.
    with Simulator(SimulatorOptions(queue_seconds=30, run_seconds=1, seed=5)) as simulator:
        yield simulator


@pytest.fixture
def settings(sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Settings:
    monkeypatch.setenv("SEEDANCE_PROVIDER", "fal")
    monkeypatch.setenv("FAL_KEY", "host-cancel-key")
    monkeypatch.setenv("SEEDANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEEDANCE_OUTPUT_DIR", str(tmp_path / "videos"))
    for name in ("QUEUE", "REST", "CDN"):
        monkeypatch.setenv(f"SEEDANCE_FAL_{name}_URL", sim.url)
    return Settings.from_env()


def kinds(sim: Simulator, kind: str) -> list[dict[str, Any]]:
    return [e for e in sim.request_log() if e.get("kind") == kind]


async def call_then_cancel(client: Client, tool: str, arguments: dict[str, Any]) -> None:
    """Start a waiting call, and cancel it once the job is reported queued."""
    queued = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message and message.startswith("Queued"):
            queued.set()

    async with anyio.create_task_group() as tg:

        async def call() -> None:
            await client.call_tool(tool, arguments, progress_callback=on_progress)

        tg.start_soon(call)
        with anyio.fail_after(60):
            await queued.wait()
        tg.cancel_scope.cancel()


async def test_the_hosts_cancel_of_the_starting_call_cancels_the_queued_job(
    sim: Simulator, settings: Settings
) -> None:
    # The handshake protocol: abandoning a call sends notifications/cancelled.
    async with Client(create_server(settings), mode="legacy") as client:
        await call_then_cancel(
            client, "generate_video", {"prompt": "A queue that never moves", "wait_seconds": 120}
        )
        with anyio.fail_after(60):  # the simulator lives in another thread: its log is polled
            while not kinds(sim, "cancel"):  # noqa: ASYNC110
                await anyio.sleep(0.05)
        jobs = await client.call_tool("list_jobs", {})
    [cancel], [submit] = kinds(sim, "cancel"), kinds(sim, "submit")
    assert cancel["request_id"] == submit["request_id"]
    assert not jobs.is_error


async def test_a_cancelled_check_status_never_cancels_the_job(sim: Simulator, settings: Settings) -> None:
    async with Client(create_server(settings), mode="legacy") as client:
        started = await client.call_tool("generate_video", {"prompt": "A long queue", "wait_seconds": 0})
        assert started.structured_content is not None
        job_id = started.structured_content["job_id"]
        await call_then_cancel(client, "check_status", {"job_id": job_id, "wait_seconds": 120})
        await anyio.sleep(1.0)  # a cancel, had one been sent, would be in the log by now
        status = await client.call_tool("check_status", {"job_id": job_id, "wait_seconds": 0})
    assert kinds(sim, "cancel") == []
    assert status.structured_content is not None and status.structured_content["state"] == "queued"


async def test_a_call_ended_without_notifications_cancelled_never_cancels_the_job(
    sim: Simulator, settings: Settings
) -> None:
    # 2026-07-28 in process: the call's scope is cancelled structurally, as when a response stream
    # drops; nothing says the user asked, so the paid job stays.
    async with Client(create_server(settings)) as client:
        await call_then_cancel(
            client, "generate_video", {"prompt": "A stream that drops", "wait_seconds": 120}
        )
        await anyio.sleep(1.0)
        listed = await client.call_tool("list_jobs", {})
    assert kinds(sim, "cancel") == [] and len(kinds(sim, "submit")) == 1
    assert listed.structured_content is not None
    assert [j["state"] for j in listed.structured_content["jobs"]] == ["queued"]
