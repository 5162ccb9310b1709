"""Concurrency: 200 jobs in flight in one server process; all must finish.

The server runs in this process behind a real MCP client; the simulator runs in its own process so
its rendering never counts here. 200 generate_video calls (distinct seeds) return at once with
their job ids, then 200 check_status calls wait on them together. Measured in this process while
they run: peak RSS, CPU seconds per job, and event-loop lag (a ticker task that asks to wake every
10 ms and records how late it woke).

The baseline is the same process idle: its RSS after the server started and the loop lag of the
ticker before any job was submitted.

Then the same 200 jobs again with the server in a process of its own, spoken to over stdio as a host
runs it: its peak RSS without the MCP client's share (the goal's figure stays the in-process one,
measured as when the goal was set).
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from _common import (
    LIGHT,
    PYTHON,
    ROOT,
    SimulatorProcess,
    bench_folder,
    figure,
    keyed_env,
    median,
    note,
    peak_rss_mb,
    percentile,
    proc_status_mb,
)
from _common import simulator_process as simulator

JOBS = 200
TICK = 0.010
PROMPT = "Benchmark: two hundred paper lanterns"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_child() -> int:
    """The pid of the stdio server this process started (the simulator is a child too)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"seedance_mcp.server" in argv and b"simulator" not in argv:
            return int(entry.name)
    raise RuntimeError("the stdio server process was not found")


async def run_jobs(client: Any) -> tuple[list[str], float]:
    """Submit JOBS jobs at once, then wait on all of them: their final states, and the seconds it
    took to submit them."""
    job_ids: list[str] = []
    states: list[str] = []
    started = time.monotonic()

    async def submit(seed: int) -> None:
        result = await client.call_tool(
            "generate_video", {"prompt": PROMPT, "seed": seed, "wait_seconds": 0, **LIGHT}
        )
        data: dict[str, Any] = result.structured_content or {}
        if result.is_error or "job_id" not in data:
            raise RuntimeError(f"submit failed: {result.content}")
        job_ids.append(data["job_id"])

    async def follow(job_id: str) -> None:
        while True:
            result = await client.call_tool("check_status", {"job_id": job_id, "wait_seconds": 30})
            data: dict[str, Any] = result.structured_content or {}
            if data.get("done"):
                states.append(str(data.get("state")))
                return

    with anyio.fail_after(240):
        async with anyio.create_task_group() as tg:
            for seed in range(1, JOBS + 1):
                tg.start_soon(submit, seed)
        submitted_after = time.monotonic() - started
        async with anyio.create_task_group() as tg:
            for job_id in job_ids:
                tg.start_soon(follow, job_id)
    return states, submitted_after


async def ticker(lags: list[float], stop: anyio.Event) -> None:
    while not stop.is_set():
        asked = time.perf_counter()
        await anyio.sleep(TICK)
        lags.append(time.perf_counter() - asked - TICK)


async def measure(sim: SimulatorProcess, home: Path) -> dict[str, Any]:
    from mcp.client import Client

    from seedance_mcp.server.app import create_server
    from seedance_mcp.server.config import Settings

    settings = Settings.from_env(keyed_env(home, sim.url))
    out: dict[str, Any] = {}
    async with Client(create_server(settings)) as client:
        idle_lags: list[float] = []
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker, idle_lags, stop)
            await anyio.sleep(1.0)
            stop.set()
        out["idle_rss"] = proc_status_mb("VmRSS")

        lags: list[float] = []
        stop = anyio.Event()
        cpu_before, started = cpu_seconds(), time.monotonic()
        async with anyio.create_task_group() as outer:
            outer.start_soon(ticker, lags, stop)
            states, out["submitted_after"] = await run_jobs(client)
            stop.set()
        out["seconds"] = time.monotonic() - started
        out["cpu"] = cpu_seconds() - cpu_before
        out["lags"], out["idle_lags"], out["states"] = lags, idle_lags, states
    out["peak_rss"] = peak_rss_mb()
    return out


async def measure_stdio(sim: SimulatorProcess, home: Path) -> dict[str, Any]:
    """The same jobs, the server in its own process over stdio: its idle and peak RSS, and the states."""
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    env = keyed_env(home, sim.url)
    params = StdioServerParameters(command=PYTHON, args=["-m", "seedance_mcp.server"], env=env, cwd=str(ROOT))
    async with Client(stdio_client(params, errlog=sys.stderr)) as client:
        pid = server_child()
        await anyio.sleep(1.0)
        idle = proc_status_mb("VmRSS", pid)
        states, _ = await run_jobs(client)
        peak = proc_status_mb("VmHWM", pid)
    return {"idle_rss": idle, "peak_rss": peak, "states": states}


def main() -> None:
    logging.disable(logging.WARNING)
    home = bench_folder("seedance-bench-concurrency-")
    # Long enough that all 200 are in flight at once: submitting them takes a few seconds here.
    with simulator(queue_seconds=3.0, run_seconds=12.0) as sim:
        out = anyio.run(measure, sim, home / "in-process")
        alone = anyio.run(measure_stdio, sim, home / "stdio")
    states = out["states"]
    completed = states.count("completed")
    note(f"{completed}/{JOBS} completed ({len(states)} ended) in {out['seconds']:.1f} s")
    note(f"all submitted after {out['submitted_after']:.1f} s; idle RSS {out['idle_rss']:.0f} MB")
    note(f"loop lag median {median(out['lags']) * 1000:.2f} ms over {len(out['lags'])} ticks")
    figure("concurrency_jobs_completed", completed, f"of {JOBS}", f"{JOBS}")
    figure("concurrency_peak_rss", out["peak_rss"], "MB", "< 130 MB (issue 26 goal 3)")
    figure("concurrency_idle_rss", out["idle_rss"], "MB", "baseline")
    figure("concurrency_cpu_per_job", out["cpu"] / JOBS, "CPU s/job")
    figure("concurrency_loop_lag_p99", percentile(out["lags"], 99) * 1000, "ms", "< 20 ms")
    figure("concurrency_loop_lag_idle_p99", percentile(out["idle_lags"], 99) * 1000, "ms", "baseline")
    note(f"over stdio: {alone['states'].count('completed')}/{JOBS} completed")
    figure("concurrency_stdio_server_peak_rss", alone["peak_rss"], "MB", "the server alone, as hosts run it")
    figure("concurrency_stdio_server_idle_rss", alone["idle_rss"], "MB", "baseline")


if __name__ == "__main__":
    sys.exit(main())
