"""Requests per job: what our server sends the provider for one 60-second job, from the simulator's log.

Three 60-second jobs run at the same time on one simulator (its own process): ours (through a real
MCP client, the server in process), and fal's own Python client polling at 0.1 s (its default) and
at 0.5 s (the JS client's). Counted per job: every request the simulator logged for its request id,
plus the download of its video (ours saves it; the polling clients do not even fetch it).

At the same time, one 60-second job each on Oxen through our server, against two simulators in this
process: one serving Oxen's event stream, one without it (so the server polls). Each simulator sees
only its job, so every request it logged counts, but the model schema read (once per process).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import anyio
from _common import (
    BENCH_KEY,
    ENDPOINT,
    LIGHT,
    SimulatorProcess,
    bench_folder,
    clean_env,
    figure,
    job_requests,
    journal_rows,
    keyed_env,
    note,
    simulator_process,
)

QUEUE_SECONDS, RUN_SECONDS = 5.0, 55.0  # one 60-second job
PROMPT = "Benchmark: a slow tide over sixty seconds"


async def ours(sim: SimulatorProcess, home: Path) -> None:
    from mcp.client import Client

    from seedance_mcp.server.app import create_server
    from seedance_mcp.server.config import Settings

    settings = Settings.from_env(keyed_env(home, sim.url))
    async with Client(create_server(settings)) as client:
        with anyio.fail_after(120):
            result = await client.call_tool(
                "generate_video", {"prompt": PROMPT, "seed": 7, "wait_seconds": 90, **LIGHT}
            )
        data: dict[str, Any] = result.structured_content or {}
        if result.is_error or data.get("state") != "completed":
            raise RuntimeError(f"job did not complete: {result.content}")


async def ours_on_oxen(events: bool, found: dict[str, list[dict[str, Any]]]) -> None:
    from mcp.client import Client

    from seedance_mcp.server.app import create_server
    from seedance_mcp.server.config import Settings
    from seedance_mcp.server.simulator import Simulator, SimulatorOptions

    home = bench_folder("seedance-bench-oxen-")
    options = SimulatorOptions(queue_seconds=QUEUE_SECONDS, run_seconds=RUN_SECONDS, oxen_events=events)
    async with Simulator(options) as sim:
        env = clean_env(home, SEEDANCE_PROVIDER="oxen", OXEN_API_KEY=BENCH_KEY, SEEDANCE_OXEN_URL=sim.url)
        async with Client(create_server(Settings.from_env(env))) as client:
            with anyio.fail_after(120):
                result = await client.call_tool(
                    "generate_video", {"prompt": PROMPT, "seed": 7, "wait_seconds": 90, **LIGHT}
                )
        if result.is_error or (result.structured_content or {}).get("state") != "completed":
            raise RuntimeError(f"Oxen job did not complete: {result.content}")
        found["oxen" if events else "oxen_polling"] = [
            e for e in sim.request_log() if e.get("kind") != "model"
        ]


async def polling(sim: SimulatorProcess, interval: float, ids: dict[str, str]) -> None:
    import fal_client
    import fal_client.client as fal_impl
    import httpx

    fal_impl.QUEUE_URL_FORMAT = sim.url + "/"
    fal_impl.REST_URL = sim.url
    fal_impl.CDN_URL = sim.url
    client = fal_client.AsyncClient(key=BENCH_KEY)
    try:
        handle = await client.submit(
            ENDPOINT, arguments={"prompt": PROMPT, "seed": int(interval * 10), **LIGHT}
        )
        ids[f"{interval}"] = handle.request_id
        with anyio.fail_after(120):
            await handle.get(interval=interval)
    finally:
        http: httpx.AsyncClient = await client._client
        await http.aclose()


async def measure(sim: SimulatorProcess, home: Path) -> dict[str, list[dict[str, Any]]]:
    ids: dict[str, str] = {}
    oxen: dict[str, list[dict[str, Any]]] = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(ours, sim, home)
        tg.start_soon(polling, sim, 0.1, ids)
        tg.start_soon(polling, sim, 0.5, ids)
        tg.start_soon(ours_on_oxen, True, oxen)
        tg.start_soon(ours_on_oxen, False, oxen)
    log = sim.requests()
    (row,) = journal_rows(home)
    return {
        "ours": job_requests(log, row["request_id"]),
        "0.1": job_requests(log, ids["0.1"]),
        "0.5": job_requests(log, ids["0.5"]),
        **oxen,
    }


def main() -> None:
    logging.disable(logging.INFO)
    home = bench_folder("seedance-bench-requests-")
    with simulator_process(QUEUE_SECONDS, RUN_SECONDS) as sim:
        found = anyio.run(measure, sim, home)
    for name, entries in found.items():
        kinds: dict[str, int] = {}
        for entry in entries:
            kinds[entry.get("kind", "?")] = kinds.get(entry.get("kind", "?"), 0) + 1
        note(f"{name}: {kinds}")
    figure("requests_per_60s_job", len(found["ours"]), "requests", "<= 4 plus uploads")
    figure("requests_per_60s_job_polling_0.1s", len(found["0.1"]), "requests", "baseline")
    figure("requests_per_60s_job_polling_0.5s", len(found["0.5"]), "requests", "baseline")
    figure("oxen_requests_per_60s_job", len(found["oxen"]), "requests", "well under polling")
    figure("oxen_requests_per_60s_job_polling", len(found["oxen_polling"]), "requests", "baseline")


if __name__ == "__main__":
    sys.exit(main())
