"""Completion notice: from the simulator marking a job completed to the tool call returning.

Our server (in process, through a real MCP client, fal key pointed at a simulator in its own
process) against fal's own Python client polling the status endpoint at its default interval
(0.1 s), job by job, interleaved.

The start is the simulator's completion time (the timestamp of the job's closing "Done in" log
line, which is exactly when its status turns COMPLETED). The saving of the video is left out: the
time from the simulator receiving the download request to the journal recording the job completed
(download plus poster frame) is subtracted. Before the jobs the client lists the tools and makes one
call, as a host does when it connects, so the client's own start-up is not charged to the first job.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from _common import (
    BENCH_KEY,
    ENDPOINT,
    LIGHT,
    SimulatorProcess,
    bench_folder,
    completed_at,
    figure,
    journal_rows,
    keyed_env,
    median,
    note,
    percentile,
    simulator_process,
)

JOBS = 20
PROMPT = "Benchmark: a red kite over a green hill"


async def ours(sim: SimulatorProcess, home: Path, seeds: list[int], returned: dict[int, float]) -> None:
    from mcp.client import Client

    from seedance_mcp.server.app import create_server
    from seedance_mcp.server.config import Settings

    settings = Settings.from_env(keyed_env(home, sim.url))
    async with Client(create_server(settings)) as client:
        # A host lists the tools before calling one, and its client loads its result validator
        # (jsonschema) once; the SDK's client does both at its first call's result instead, which put
        # 80-130 ms of the client's own start-up on the first job.
        await client.list_tools()
        await client.call_tool("list_jobs", {})
        for seed in seeds:
            with anyio.fail_after(60):
                result = await client.call_tool(
                    "generate_video", {"prompt": PROMPT, "seed": seed, "wait_seconds": 60, **LIGHT}
                )
            returned[seed] = time.time()
            data: dict[str, Any] = result.structured_content or {}
            if result.is_error or data.get("state") != "completed":
                raise RuntimeError(f"job did not complete: {result.content}")
            await anyio.sleep(0.3)  # let the simulator breathe between jobs, like the baseline


async def baseline(sim: SimulatorProcess, seeds: list[int]) -> list[float]:
    import fal_client
    import fal_client.client as fal_impl
    import httpx

    fal_impl.QUEUE_URL_FORMAT = sim.url + "/"
    fal_impl.REST_URL = sim.url
    fal_impl.CDN_URL = sim.url
    client = fal_client.AsyncClient(key=BENCH_KEY)
    latencies = []
    try:
        for seed in seeds:
            handle = await client.submit(ENDPOINT, arguments={"prompt": PROMPT, "seed": seed, **LIGHT})
            with anyio.fail_after(60):
                await handle.get()  # fal_client's default poll interval, 0.1 s
            got = time.time()
            completed = await anyio.to_thread.run_sync(completed_at, sim, handle.request_id)
            latencies.append(got - completed)
            await anyio.sleep(0.3)
    finally:
        http: httpx.AsyncClient = await client._client
        await http.aclose()
    return latencies


async def measure(sim: SimulatorProcess, home: Path) -> tuple[list[float], list[float], list[float]]:
    seeds = list(range(1, JOBS + 1))
    returned: dict[int, float] = {}
    base: list[float] = []
    # Alternate halves so both sides see the same machine noise; the simulator serves both at once.
    half = JOBS // 2
    base += await baseline(sim, [1000 + s for s in seeds[:half]])
    await ours(sim, home, seeds, returned)
    base += await baseline(sim, [1000 + s for s in seeds[half:]])

    log = sim.requests()
    latencies, saving = [], []
    for row in journal_rows(home):
        request_id = row["request_id"]
        seed = row["seed"]
        done_at = completed_at(sim, request_id)
        journal_done = next(t for state, t, _ in row["history"] if state == "completed")
        download = next(
            e["time"] for e in log if e.get("kind") == "download" and e.get("file_id") == request_id
        )
        saved = journal_done - download
        saving.append(saved)
        latencies.append(returned[seed] - done_at - saved)
    return latencies, base, saving


def main() -> None:
    logging.disable(logging.INFO)  # the SDK and httpx log every request at INFO; figures only
    home = bench_folder("seedance-bench-notice-")
    with simulator_process(queue_seconds=0.2, run_seconds=0.6) as sim:
        latencies, base, saving = anyio.run(measure, sim, home)
    note(f"ours (ms): {sorted(round(v * 1000, 1) for v in latencies)}")
    note(f"fal_client polling (ms): {sorted(round(v * 1000, 1) for v in base)}")
    note(f"saving the video, left out (ms): median {median(saving) * 1000:.0f}")
    p95, base_p95 = percentile(latencies, 95), percentile(base, 95)
    figure("completion_notice_median", median(latencies) * 1000, "ms", "<= 15 ms")
    figure("completion_notice_p95", p95 * 1000, "ms", "<= 25 ms")
    figure("completion_notice_polling_0.1s_median", median(base) * 1000, "ms", "baseline")
    figure("completion_notice_polling_0.1s_p95", base_p95 * 1000, "ms", "baseline")
    figure("completion_notice_ratio", median(latencies) / median(base), "x polling", "< 1")
    figure("completion_notice_p95_ratio", p95 / base_p95, "x polling p95", "<= 0.5")


if __name__ == "__main__":
    sys.exit(main())
