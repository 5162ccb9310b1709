"""Two server processes on one SEEDANCE_HOME: one submit per call, one follower per job, and how soon
a job moves on when its follower is killed.

Each server is a real stdio process (`python -m seedance_mcp.server`) driven by its own MCP client,
both with a fal key pointed at the simulator in its own process. Figures:

- identical pairs: 20 identical `generate_video` calls sent to both processes at once; submits the
  simulator received (goal 20), and the median time a pair takes next to the same 20 pairs sent
  to one process (baseline, same run);
- downloads per job: 10 jobs started in one process, a second process started while they run;
  fetches and downloads per job at the simulator (goal 1 each);
- takeover: a job's follower is SIGKILLed mid-run; seconds until the other process holds its
  lease (goal: within one lease period, `jobs.LEASE_SECONDS`), and until the job is saved.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from _common import LIGHT, PYTHON, ROOT, SimulatorProcess, figure, keyed_env, median, note, simulator_process

from seedance_mcp.server.jobs.claiming import LEASE_SECONDS

PAIRS = 20
JOBS = 10


@asynccontextmanager
async def server(env: dict[str, str]) -> AsyncIterator[Any]:
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=PYTHON, args=["-m", "seedance_mcp.server"], env=env, cwd=str(ROOT))
    with open(os.devnull, "w") as errlog:  # noqa: ASYNC230 (opening /dev/null does not block)
        async with Client(stdio_client(params, errlog=errlog)) as client:
            yield client


def arguments(prompt: str, seed: int) -> dict[str, Any]:
    return {"prompt": prompt, "seed": seed, "wait_seconds": 0, **LIGHT}


async def job_id(client: Any, args: dict[str, Any]) -> str:
    result = await client.call_tool("generate_video", args)
    if result.is_error:
        raise RuntimeError(f"generate_video failed: {result.content}")
    return str(result.structured_content["job_id"])


async def pairs(clients: tuple[Any, Any], prompt: str) -> tuple[list[float], bool]:
    """PAIRS identical pairs, all at once; each pair's time, and whether each pair got one job."""
    times: list[float] = []
    same = True

    async def pair(n: int) -> None:
        nonlocal same
        ids: list[str] = []
        start = time.perf_counter()

        async def call(client: Any) -> None:
            ids.append(await job_id(client, arguments(prompt, n)))

        async with anyio.create_task_group() as both:
            for client in clients:
                both.start_soon(call, client)
        times.append(time.perf_counter() - start)
        same = same and len(set(ids)) == 1

    async with anyio.create_task_group() as tg:
        for n in range(PAIRS):
            tg.start_soon(pair, n)
    return times, same


async def bench_pairs(sim: SimulatorProcess, home: Path) -> None:
    env = keyed_env(home, sim.url)
    async with server(env) as one, server(env) as two:
        sim.clear()
        baseline, _ = await pairs((one, one), "Benchmark pairs: one process")
        single_submits = len([e for e in sim.requests() if e.get("kind") == "submit"])
        sim.clear()
        timed, same = await pairs((one, two), "Benchmark pairs: two processes")
        submits = len([e for e in sim.requests() if e.get("kind") == "submit"])
    note(f"one process: {single_submits} submits for {PAIRS} pairs; two processes: each pair one job: {same}")
    figure("processes_identical_pairs_submits", submits, f"submits for {PAIRS} pairs", f"{PAIRS}")
    figure("processes_pair_median_ms", median(timed) * 1000, "ms")
    figure("processes_pair_median_one_process_ms", median(baseline) * 1000, "ms", "baseline")


async def bench_followers(sim: SimulatorProcess, home: Path) -> None:
    env = keyed_env(home, sim.url)
    sim.clear()
    async with server(env) as first:
        ids = [await job_id(first, arguments("Benchmark followers", n)) for n in range(JOBS)]
        async with server(env) as second:
            with anyio.fail_after(180):
                for i, jid in enumerate(ids):
                    client = (first, second)[i % 2]
                    while True:
                        result = await client.call_tool("check_status", {"job_id": jid, "wait_seconds": 30})
                        if result.structured_content["done"]:
                            break
    rows = journal(home)
    log = sim.requests()
    request_ids = [r["request_id"] for r in rows if r["id"] in ids]
    fetches = [
        sum(1 for e in log if e.get("kind") == "result" and e.get("request_id") == r) for r in request_ids
    ]
    downloads = [
        sum(1 for e in log if e.get("kind") == "download" and e.get("file_id") == r and e["method"] == "GET")
        for r in request_ids
    ]
    lost = [r for r in rows if r["id"] in ids and r["state"] != "completed"]
    note(f"fetches per job {fetches}; downloads per job {downloads}; not completed: {len(lost)}")
    figure("processes_downloads_per_job", max(downloads), f"at most, over {JOBS} jobs", "1")
    figure("processes_fetches_per_job", max(fetches), f"at most, over {JOBS} jobs", "1")
    figure("processes_jobs_lost", len(lost), f"of {JOBS}", "0")


async def bench_takeover(sim: SimulatorProcess, home: Path) -> None:
    env = keyed_env(home, sim.url)
    async with server(env) as first:
        jid = await job_id(first, arguments("Benchmark takeover", 0))
        row = await wait_for(home, jid, lambda r: r["state"] == "running" and r["lease_owner"])
        owner = str(row["lease_owner"])
        pid = int(owner[1:].split("-", 1)[0])  # owners are "p<pid>-<random>"
        async with server(env) as second:
            await second.call_tool("list_jobs", {})  # the second process is up and watching
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            await wait_for(
                home, jid, lambda r: r["lease_owner"] not in (None, owner), seconds=4 * LEASE_SECONDS
            )
            taken = time.monotonic() - killed
            await wait_for(home, jid, lambda r: r["saved"] == 1, seconds=120)
            saved = time.monotonic() - killed
    figure("processes_takeover_after_sigkill", taken, "s", f"≤ {LEASE_SECONDS:g} s (one lease period)")
    figure("processes_saved_after_sigkill", saved, "s")


def journal(home: Path) -> list[dict[str, Any]]:
    path = home / "state" / "journal.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM jobs ORDER BY created_at")]
    db.close()
    return rows


async def wait_for(home: Path, jid: str, ready: Any, seconds: float = 60) -> dict[str, Any]:
    with anyio.fail_after(seconds):
        while True:
            row = next((r for r in journal(home) if r["id"] == jid), None)
            if row is not None and ready(row):
                return row
            await anyio.sleep(0.02)


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="seedance-bench-processes-") as tmp:
        with simulator_process(queue_seconds=1.0, run_seconds=8.0) as sim:
            await bench_pairs(sim, Path(tmp) / "pairs")
            await bench_followers(sim, Path(tmp) / "followers")
        with simulator_process(queue_seconds=0.5, run_seconds=30.0) as sim:
            await bench_takeover(sim, Path(tmp) / "takeover")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    anyio.run(main)
