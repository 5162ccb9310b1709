"""A thousand jobs in flight in one server process, finishing together (the issue's goal 1).

The server runs in this process behind a real MCP client, on SQLite, with a fal key pointed at the
simulator, which runs in its own process (one prompt with a seed each: one render there, a thousand
jobs here, each with its own request, status stream, result read, download and preview). The jobs
are submitted as fast as the server takes them; the simulator's queue time is longer than that, so
all are in flight at once and they finish within the span they were submitted in.

Measured here: peak RSS (VmHWM), the event loop's lag (a ticker asking to wake every 10 ms), and a
prober calling `list_jobs` and `check_status` (a random job, not waiting) one after the other for
the whole run; "while they finish" is from the first result read until every video is saved. Then
the simulator's request log: downloads per job. Baseline in the same run: the same prober and ticker
with the server idle, before the first submit.

    .venv/bin/python bench/thousand_jobs.py            # 1,000 jobs
    .venv/bin/python bench/thousand_jobs.py --jobs 300 # a reduced run on a busy machine
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from _common import (
    LIGHT,
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

TICK = 0.010
PROMPT = "Benchmark: a thousand paper lanterns"
CALLS_AT_ONCE = 20  # submits in flight, as several assistants might make
GIVE_UP_SECONDS = 900.0  # the saving is reported as it stands after this long


async def ticker(lags: list[tuple[float, float]], stop: anyio.Event) -> None:
    while not stop.is_set():
        asked = time.perf_counter()
        await anyio.sleep(TICK)
        lags.append((asked, time.perf_counter() - asked - TICK))


async def prober(
    client: Any, job_ids: list[str], answers: list[tuple[float, str, float]], stop: anyio.Event
) -> None:
    """list_jobs, then check_status of a random job, again and again: (when, tool, seconds)."""
    while not stop.is_set():
        for tool, arguments in (
            ("list_jobs", {"limit": 20}),
            ("check_status", {"job_id": random.choice(job_ids), "wait_seconds": 0} if job_ids else None),
        ):
            if arguments is None:
                continue
            began = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            answers.append((began, tool, time.perf_counter() - began))
            if result.is_error:
                raise RuntimeError(f"{tool} failed: {result.content}")
        await anyio.sleep(0.05)


def journal_counts(path: Path) -> tuple[int, int]:
    """(jobs whose result was read, jobs saved), read-only beside the server's own connection.

    Closed explicitly: `with sqlite3.connect()` only commits, and a Python 3.11 connection is in a
    reference cycle (its statement cache), so each one, with its page cache, waited for a full garbage
    collection. Polled four times a second in this process, they inflated the peak RSS measured here."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        row = db.execute(
            "SELECT count(result_url), coalesce(sum(saved = 1), 0) FROM jobs WHERE state != 'failed'"
        ).fetchone()
    return int(row[0]), int(row[1])


async def measure(sim: SimulatorProcess, home: Path, jobs: int) -> dict[str, Any]:
    from mcp.client import Client

    from seedance_mcp.server.app import create_server
    from seedance_mcp.server.config import Settings

    settings = Settings.from_env(keyed_env(home, sim.url))
    journal = settings.home / "journal.sqlite3"
    out: dict[str, Any] = {}
    async with Client(create_server(settings)) as client:
        job_ids: list[str] = []
        await client.call_tool("list_jobs", {})  # the first call waits for the journal and the provider
        note(f"server open: RSS {proc_status_mb('VmRSS'):.0f} MB")
        # Baseline: the idle server, probed the same way (list_jobs only: there is no job yet).
        idle_lags: list[tuple[float, float]] = []
        idle_answers: list[tuple[float, str, float]] = []
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker, idle_lags, stop)
            tg.start_soon(prober, client, job_ids, idle_answers, stop)
            await anyio.sleep(3.0)
            stop.set()

        lags: list[tuple[float, float]] = []
        answers: list[tuple[float, str, float]] = []
        stop = anyio.Event()
        started = time.perf_counter()
        first_result: float | None = None
        slots = anyio.CapacityLimiter(CALLS_AT_ONCE)

        async def submit(seed: int) -> None:
            async with slots:
                result = await client.call_tool(
                    "generate_video", {"prompt": PROMPT, "seed": seed, "wait_seconds": 0, **LIGHT}
                )
            data: dict[str, Any] = result.structured_content or {}
            if result.is_error or "job_id" not in data:
                raise RuntimeError(f"submit failed: {result.content}")
            job_ids.append(data["job_id"])

        async with anyio.create_task_group() as outer:
            outer.start_soon(ticker, lags, stop)
            outer.start_soon(prober, client, job_ids, answers, stop)
            async with anyio.create_task_group() as tg:
                for seed in range(1, jobs + 1):
                    tg.start_soon(submit, seed)
            out["submitted_after"] = time.perf_counter() - started
            note(
                f"{jobs} submitted in {out['submitted_after']:.1f} s; RSS {proc_status_mb('VmRSS'):.0f} MB"
                f" (peak {peak_rss_mb():.0f}); load {os.getloadavg()[0]:.1f}"
            )
            saved = 0
            with anyio.move_on_after(GIVE_UP_SECONDS):
                while saved < jobs:
                    await anyio.sleep(0.25)
                    read, saved = await anyio.to_thread.run_sync(journal_counts, journal)
                    if first_result is None and read:
                        first_result = time.perf_counter()
                        note(
                            f"first result read at {first_result - started:.1f} s;"
                            f" RSS {proc_status_mb('VmRSS'):.0f} MB"
                        )
            all_saved = time.perf_counter()
            stop.set()
        note(f"{saved} saved at {all_saved - started:.1f} s; load {os.getloadavg()[0]:.1f}")
        first_result = first_result or all_saved
        out.update(
            saved=saved,
            first_result=first_result,
            seconds=all_saved - started,
            drain_seconds=all_saved - first_result,
            lags=[lag for when, lag in lags if first_result <= when <= all_saved],
            answers=[a for a in answers if first_result <= a[0] <= all_saved],
            idle_lags=[lag for _, lag in idle_lags],
            idle_answers=idle_answers,
        )
    out["peak_rss"] = peak_rss_mb()
    out["log"] = sim.requests()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--queue-seconds", type=float, default=40.0, help="longer than submitting takes")
    parser.add_argument("--run-seconds", type=float, default=5.0)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    jobs = args.jobs
    home = bench_folder("seedance-bench-thousand-")
    note(f"load average at start {os.getloadavg()[0]:.1f}")
    with simulator(queue_seconds=args.queue_seconds, run_seconds=args.run_seconds) as sim:
        out = anyio.run(measure, sim, home, jobs)
    log = out["log"]
    downloads = Counter(e["path"] for e in log if e.get("kind") == "download")
    submits = [e for e in log if e.get("kind") == "submit"]
    once = sum(1 for n in downloads.values() if n == 1)
    answers = out["answers"]
    times = {tool: [s for _, t, s in answers if t == tool] for tool in ("list_jobs", "check_status")}
    idle = [s for _, _, s in out["idle_answers"]]
    note(f"{len(answers)} answers while finishing, over {out['drain_seconds']:.1f} s")
    if answers:
        when, tool, slowest = max(answers, key=lambda a: a[2])
        note(
            f"slowest: {tool} {slowest * 1000:.0f} ms,"
            f" {when - out['first_result']:.1f} s after the first result read"
        )
    for tool, seconds in times.items():
        if seconds:
            note(f"{tool}: median {median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.0f} ms")
    both = [s for _, _, s in answers] or [float("nan")]
    p = f"{jobs}_jobs"
    figure(f"{p}_saved", out["saved"], f"of {jobs}", f"{jobs}")
    figure(f"{p}_downloaded_once", once, f"of {jobs} ({len(submits)} submits)", f"{jobs}")
    figure(f"{p}_peak_rss", out["peak_rss"], "MB", "< 200 MB")
    figure(f"{p}_answer_max_while_finishing", max(both) * 1000, "ms", "< 250 ms")
    figure(f"{p}_answer_p99_while_finishing", percentile(both, 99) * 1000, "ms", "< 50 ms")
    figure(f"{p}_answer_p99_idle", percentile(idle, 99) * 1000, "ms", "baseline")
    figure(f"{p}_loop_lag_p99_while_finishing", percentile(out["lags"], 99) * 1000, "ms", "< 20 ms")
    figure(f"{p}_loop_lag_p99_idle", percentile(out["idle_lags"], 99) * 1000, "ms", "baseline")
    figure(f"{p}_drain", out["drain_seconds"], "s (first result read → all saved)")


if __name__ == "__main__":
    sys.exit(main())
