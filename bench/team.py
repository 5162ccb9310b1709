"""Team mode: 3 replicas (`seedance-mcp serve --transport http`) on one PostgreSQL server behind a
round-robin proxy, JOBS jobs through the proxy, the simulator as fal.ai. The simulator, the proxy and
each replica run in processes of their own; the MCP clients in this one.

Run twice in one go: with completion webhooks (`SEEDANCE_PUBLIC_URL` = the proxy, so webhooks land
on any replica) and, as the baseline, without (status streams). Figures per mode: jobs completed,
wall time, requests per job at the simulator (by kind), peak RSS of each replica, and the wake-up
latency: the simulator marks the job completed (its "Done in" log line; the webhook leaves then)
→ the waiting `check_status` call returns through the proxy, on whichever replica it landed.
Only calls that were already waiting when the job completed count. Every job ends in the same
instant: the simulator holds them until all are in (its `/_simulator/hold`), then lets them end
together, so both modes meet the same burst however long submitting took.

    .venv/bin/python bench/team.py [--jobs 200] [--one-at-a-time]

`--one-at-a-time` sends each job only once the previous one has returned: the wake-up path alone,
without the queueing of a dozen jobs finishing in the same instant on the same CPUs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
from _common import (
    BENCH_KEY,
    ENDPOINT,
    LIGHT,
    SimulatorProcess,
    completed_at,
    figure,
    keyed_env,
    median,
    note,
    percentile,
    proc_status_mb,
    simulator_process,
)

from tests.postgres_server import PostgresServer, find_bindir
from tests.replicas import free_port, proxy_process, start_replica, stop_replica

REPLICAS = 3
CLIENTS = 8  # MCP clients sending the jobs (each also carries its jobs' waiting calls)
SECRET = "bench-team-secret-0123456789abcdef"
PROMPT = "team bench job"
QUEUE_SECONDS = 1.0


def hold(sim: SimulatorProcess, until: float | None) -> None:
    """No job ends at the simulator before `until` (None: as scheduled)."""
    body = json.dumps({"until": until}).encode()
    request = urllib.request.Request(f"{sim.url}/_simulator/hold", data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=30):
        pass


def render_once(sim: SimulatorProcess) -> None:
    """Have the simulator render the benchmark's clip before either mode runs, as fal's GPUs would be
    ready: a job ends when its clip is rendered, and on a busy machine the first mode's render could
    outlast the jobs' run time and end them all in one instant, a harsher burst than the second
    mode's (the cache serves it), so the two modes would not be compared on the same load."""
    body = json.dumps({**LIGHT, "prompt": PROMPT}).encode()
    headers = {"Authorization": f"Key {BENCH_KEY}", "Content-Type": "application/json"}
    submit = urllib.request.Request(f"{sim.url}/{ENDPOINT}", data=body, headers=headers)
    with urllib.request.urlopen(submit, timeout=30) as answer:
        status_url = json.loads(answer.read())["status_url"]
    while True:
        with urllib.request.urlopen(
            urllib.request.Request(status_url, headers=headers), timeout=30
        ) as answer:
            if json.loads(answer.read())["status"] == "COMPLETED":
                return
        time.sleep(0.5)


async def run_mode(
    mode: str,
    jobs: int,
    sim: SimulatorProcess,
    pg: PostgresServer,
    folder: Path,
    one_at_a_time: bool,
    run_seconds: float,
) -> dict[str, Any]:
    dsn = pg.create_database()
    ports = [free_port() for _ in range(REPLICAS)]
    backends = [f"http://127.0.0.1:{p}" for p in ports]
    async with proxy_process(backends, folder / f"{mode}-proxy.log") as proxy:
        return await _run_mode(mode, jobs, sim, dsn, ports, proxy, folder, one_at_a_time, run_seconds)


async def _run_mode(
    mode: str,
    jobs: int,
    sim: SimulatorProcess,
    dsn: str,
    ports: list[int],
    proxy: str,
    folder: Path,
    one_at_a_time: bool,
    run_seconds: float,
) -> dict[str, Any]:
    from mcp.client import Client

    extra = {"SEEDANCE_DATABASE_URL": dsn, "SEEDANCE_TEAM_SECRET": SECRET, "SEEDANCE_LOG_LEVEL": "INFO"}
    if mode == "webhooks":
        extra["SEEDANCE_PUBLIC_URL"] = proxy
    team = []
    try:
        for i, port in enumerate(ports):
            env = keyed_env(folder / f"{mode}-{i}", sim.url, **extra)
            env["SEEDANCE_OUTPUT_DIR"] = str(folder / f"{mode}-videos")  # one shared folder
            team.append(await start_replica(env, port, folder / f"{mode}-replica-{i}.log"))
        sim.clear()
        if not one_at_a_time:
            hold(sim, time.time() + 3600)  # lifted once every job is in: see `sender`
        returned: dict[str, tuple[float, float]] = {}  # job id -> (last call started, returned)
        states: Counter[str] = Counter()
        numbers = iter(range(jobs))
        submitting = [CLIENTS]
        started = time.time()

        async def wait_for(client: Client, job_id: str) -> None:
            while True:
                began = time.time()
                result = await client.call_tool("check_status", {"job_id": job_id, "wait_seconds": 50})
                answer = result.structured_content or {}
                if answer.get("done"):
                    returned[job_id] = (began, time.time())
                    states[str(answer.get("state"))] += 1
                    return

        async def sender() -> None:
            async with Client(f"{proxy}/mcp") as client, anyio.create_task_group() as waiters:
                for i in numbers:
                    # One prompt, a seed per job: each is a job of its own (own request, download,
                    # preview), while the simulator renders the clip once, as fal's GPUs would, off
                    # the CPUs the replicas are measured on.
                    arguments = {**LIGHT, "prompt": PROMPT, "seed": i + 1, "wait_seconds": 0}
                    result = await client.call_tool("generate_video", arguments)
                    if result.is_error or not result.structured_content:
                        states["refused"] += 1
                        continue
                    job_id = result.structured_content["job_id"]
                    if one_at_a_time:  # the path alone: no other job's work to queue behind
                        await wait_for(client, job_id)
                    else:
                        waiters.start_soon(wait_for, client, job_id)
                submitting[0] -= 1
                if not submitting[0] and not one_at_a_time:
                    # Every job ends in the same instant, the last one's own end: submitting them
                    # takes each mode a different time (a stream per job costs more), and spread
                    # endings would spare one mode the burst this measures.
                    hold(sim, time.time() + QUEUE_SECONDS + run_seconds)

        async with anyio.create_task_group() as tg:
            for _ in range(1 if one_at_a_time else CLIENTS):
                tg.start_soon(sender)
        wall = time.time() - started
        rss = [proc_status_mb("VmHWM", r.process.pid) for r in team]
    finally:
        hold(sim, None)
        with anyio.CancelScope(shield=True):
            for replica in team:
                await stop_replica(replica)

    log = sim.requests()
    request_ids = [e["request_id"] for e in log if e.get("kind") == "submit" and "request_id" in e]
    # fal's webhook keys are read once per replica (and cached), not per job: counted apart.
    kinds = Counter(e.get("kind", "?") for e in log if e.get("kind") != "keys")
    key_reads = sum(1 for e in log if e.get("kind") == "keys")
    import psycopg

    with psycopg.connect(dsn) as db:
        rows = db.execute("SELECT request_id, id, history FROM jobs WHERE request_id IS NOT NULL").fetchall()
    by_request = {rid: (job_id, history) for rid, job_id, history in rows}
    latencies, notices, hops = [], [], []
    for request_id in request_ids:
        job_id, history = by_request.get(request_id, (None, []))
        if job_id not in returned:
            continue
        began, back = returned[job_id]
        done = completed_at(sim, request_id)
        if began >= done:
            continue  # the call was not yet waiting when the job completed
        latencies.append((back - done) * 1000)
        download = next(
            e["time"] for e in log if e.get("kind") == "download" and e.get("file_id") == request_id
        )
        journaled = next(t for state, t, _ in history if state == "completed")
        hops.append(((download - done) * 1000, (back - journaled) * 1000))
        # Without the saving itself (download, poster frame, contact sheet), as completion.py does.
        notices.append((back - done - (journaled - download)) * 1000)
        # A webhook that carried the video (signed by fal) spares the result read.
        result_read = next(
            (e["time"] for e in log if e.get("kind") == "result" and e.get("request_id") == request_id), None
        )
        read = (
            "no result read"
            if result_read is None
            else f"result read at {1000 * (result_read - done):.0f} ms"
        )
        note(
            f"{mode} {job_id}: done→download {1000 * (download - done):.0f} ms ({read}), →journaled "
            f"{1000 * (journaled - download):.0f} ms, →call returned {1000 * (back - journaled):.0f} ms"
        )
    return {
        "completed": states.get("completed", 0),
        "states": dict(states),
        "wall": wall,
        "requests_per_job": {k: v / max(1, len(request_ids)) for k, v in sorted(kinds.items())},
        "key_reads": key_reads,
        "rss": rss,
        "latencies": latencies,
        "notices": notices,
        "hops": hops,
    }


def report(mode: str, jobs: int, found: dict[str, Any]) -> None:
    figure(f"team_{mode}_jobs_completed", found["completed"], f"of {jobs}", str(jobs))
    figure(f"team_{mode}_wall", found["wall"], "s")
    per_job = found["requests_per_job"]
    goal = "≤ 3" if mode == "webhooks" else ""
    figure(f"team_{mode}_requests_per_job", sum(per_job.values()), "requests", goal)
    note(f"{mode}: requests per job by kind: " + ", ".join(f"{k} {v:.2f}" for k, v in per_job.items()))
    if found["key_reads"]:
        note(f"{mode}: fal's webhook keys read {found['key_reads']} times in all (once per replica)")
    if mode == "webhooks" and per_job.get("status"):
        note("webhooks: status reads: some webhooks were refused or lost (the fallback check found the jobs)")
    for i, rss in enumerate(found["rss"]):
        figure(f"team_{mode}_peak_rss_replica_{i}", rss, "MB")
    lat = found["latencies"]
    if lat:
        figure(f"team_{mode}_completion_to_return_median", median(lat), "ms")
        figure(f"team_{mode}_completion_to_return_p95", percentile(lat, 95), "ms")
        figure(f"team_{mode}_wakeup_median", median(found["notices"]), "ms")
        figure(f"team_{mode}_wakeup_p95", percentile(found["notices"], 95), "ms")
        note(f"{mode}: {len(lat)} calls were waiting when their job completed; states {found['states']}")
        to_download, to_return = (median([hop[i] for hop in found["hops"]]) for i in (0, 1))
        note(
            f"{mode}: medians: done→download {to_download:.0f} ms, journaled→call returned {to_return:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--run-seconds", type=float, default=15.0)
    parser.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="one client, each job sent once the previous one returned",
    )
    args = parser.parse_args()
    bindir = find_bindir()
    if bindir is None:
        sys.exit("PostgreSQL server binaries not found (apt-get install postgresql)")
    pg = PostgresServer(bindir)
    pg.start()
    try:
        with simulator_process(QUEUE_SECONDS, args.run_seconds) as sim, tempfile.TemporaryDirectory() as tmp:
            render_once(sim)
            results = {}
            for mode in ("webhooks", "streams"):
                results[mode] = anyio.run(
                    run_mode, mode, args.jobs, sim, pg, Path(tmp), args.one_at_a_time, args.run_seconds
                )
                report(mode, args.jobs, results[mode])
            hooks, streams = results["webhooks"], results["streams"]
            if hooks["latencies"] and streams["latencies"]:
                figure(
                    "team_wakeup_ratio",
                    median(hooks["notices"]) / median(streams["notices"]),
                    "× streams",
                    "≤ 1.2",
                )
            figure(
                "team_requests_ratio",
                sum(hooks["requests_per_job"].values()) / sum(streams["requests_per_job"].values()),
                "× streams",
            )
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
