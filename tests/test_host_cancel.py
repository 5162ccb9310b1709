"""A host that cancels a waiting tool call (notifications/cancelled) cancels a job still in the queue."""

from __future__ import annotations

from collections.abc import Iterator

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


async def test_cancelling_the_call_cancels_the_queued_job(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDANCE_PROVIDER", "fal")
    monkeypatch.setenv("FAL_KEY", "host-cancel-key")
    for name in ("QUEUE", "REST", "CDN"):
        monkeypatch.setenv(f"SEEDANCE_FAL_{name}_URL", sim.url)
    queued = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message and message.startswith("Queued"):
            queued.set()

    async with Client(create_server(Settings.from_env())) as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool(
                    "generate_video",
                    {"prompt": "A queue that never moves", "wait_seconds": 120},
                    progress_callback=on_progress,
                )

            tg.start_soon(call)
            with anyio.fail_after(20):
                await queued.wait()
            tg.cancel_scope.cancel()
        with anyio.fail_after(20):  # the simulator lives in another thread: its log is polled
            while not [e for e in sim.request_log() if e.get("kind") == "cancel"]:  # noqa: ASYNC110
                await anyio.sleep(0.05)
        jobs = await client.call_tool("list_jobs", {})
    cancels = [e for e in sim.request_log() if e.get("kind") == "cancel"]
    submits = [e for e in sim.request_log() if e.get("kind") == "submit"]
    assert len(submits) == 1 and len(cancels) == 1
    assert cancels[0]["request_id"] == submits[0]["request_id"]
    assert not jobs.is_error
