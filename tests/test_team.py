"""Team mode for real: three `seedance-mcp serve --transport http` processes on one PostgreSQL server,
behind a round-robin proxy, sharing one simulator (as fal.ai) and one output folder. One replica is
SIGKILLed mid-run; every job still finishes, submitted once and downloaded once, and every replica
answers for every job."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client

from seedance_mcp.server.http_pool import tls_context
from tests.replicas import (
    Replica,
    RoundRobinProxy,
    replicas,
    sim_fal_env,
    simulator_process,
    simulator_requests,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
JOBS = 60
WORKERS = 6  # concurrent MCP clients
# One prompt (one render at the simulator), a seed each: sixty distinct jobs, as in test_thousand_jobs.
PROMPT = "team job: a paper boat"


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[str]:
    # Long enough that the kill lands while every job is still running, before any download.
    async with simulator_process(tmp_path, queue_seconds=1.0, run_seconds=30.0) as url:
        yield url


def team_env(sim: str, dsn: str, home: Path, videos: Path) -> dict[str, str]:
    return {
        **sim_fal_env(sim),
        "SEEDANCE_DATABASE_URL": dsn,
        "SEEDANCE_HOME": str(home),
        "SEEDANCE_OUTPUT_DIR": str(videos),
        "SEEDANCE_LOG_LEVEL": "INFO",
    }


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_three_replicas_sixty_jobs_one_killed(sim: str, postgres_dsn: str, tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    envs = [team_env(sim, postgres_dsn, tmp_path / f"home-{i}", videos) for i in range(3)]
    async with replicas(envs, tmp_path) as team:
        async with httpx.AsyncClient(verify=tls_context()) as raw:
            for replica in team:
                health = (await raw.get(replica.base + "/healthz")).json()
                assert health["status"] == "ok" and health["journal"] == "postgresql"
        proxy = RoundRobinProxy([r.base for r in team]).start()
        try:
            job_ids = await _submit_all(proxy.url)
            victim = team[0]
            followed_by_victim = await _leased_by(postgres_dsn, victim)
            assert followed_by_victim, "the replica to kill follows no job: nothing would be taken over"
            victim.kill()
            await victim.process.wait()
            finals = await _wait_all(proxy.url, job_ids)
            survivors = team[1:]
            await _every_replica_answers(survivors, job_ids, finals)
        finally:
            proxy.stop()
        assert all(proxy.sent[r.base] > 0 for r in team), proxy.sent  # the requests really were spread

    log = await simulator_requests(sim)
    submits = Counter(e["input"]["seed"] for e in log if e.get("kind") == "submit")
    assert sorted(submits) == list(range(JOBS)) and set(submits.values()) == {1}, "each job submitted once"
    downloads = Counter(e["path"] for e in log if e.get("kind") == "download")
    wanted = {httpx.URL(f["video_url"]).path for f in finals.values()}
    assert set(downloads) == wanted and set(downloads.values()) == {1}, "each video downloaded exactly once"
    saved = {Path(f["video_path"]) for f in finals.values()}
    assert len(saved) == JOBS and all(p.is_file() and p.parent == videos for p in saved)
    # Previews are kept in the shared folder: each made once, by the replica that saved the video.
    assert len(list((videos / ".previews").glob("*-poster.jpg"))) == JOBS
    assert not any((tmp_path / f"home-{i}" / "previews").exists() for i in range(3))
    # The killed replica's jobs were finished by the others.
    assert all(finals[job_id]["state"] == "completed" for job_id in followed_by_victim)


async def _submit_all(url: str) -> list[str]:
    """Submit the jobs through the proxy from a few clients (each request lands on the next replica)."""
    job_ids: list[str] = []
    numbers = iter(range(JOBS))

    async def worker() -> None:
        async with Client(url) as client:
            for i in numbers:
                arguments = {"prompt": PROMPT, "seed": i, "duration": "4", "resolution": "480p"}
                answer = await call(client, "generate_video", {**arguments, "wait_seconds": 0})
                assert answer["state"] in {"queued", "running"}, answer
                job_ids.append(answer["job_id"])

    with anyio.fail_after(600):  # a safety net on a loaded machine, not a timing
        async with anyio.create_task_group() as tg:
            for _ in range(WORKERS):
                tg.start_soon(worker)
    assert len(set(job_ids)) == JOBS
    return job_ids


async def _wait_all(url: str, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    finals: dict[str, dict[str, Any]] = {}
    pending = iter(job_ids)

    async def worker() -> None:
        async with Client(url) as client:
            for job_id in pending:
                while True:
                    answer = await call(client, "check_status", {"job_id": job_id, "wait_seconds": 20})
                    if answer["done"]:
                        assert answer["state"] == "completed", answer
                        finals[job_id] = answer
                        break

    with anyio.fail_after(900):
        async with anyio.create_task_group() as tg:
            for _ in range(WORKERS):
                tg.start_soon(worker)
    return finals


async def _every_replica_answers(
    survivors: list[Replica], job_ids: list[str], finals: dict[str, dict[str, Any]]
) -> None:
    for replica in survivors:
        async with Client(replica.url) as client:
            for job_id in job_ids:
                result = await client.call_tool("check_status", {"job_id": job_id, "wait_seconds": 0})
                answer = result.structured_content or {}
                assert answer["state"] == "completed" and answer["video_path"] == finals[job_id]["video_path"]
                # Whichever replica saved it into the shared folder, this one shows its poster and sheet.
                assert [c.type for c in result.content].count("image") == 2, (replica.base, job_id)
                assert answer["video"] is not None
            listed = await client.call_tool("list_jobs", {"limit": 100})
            assert not listed.is_error
            assert len(listed.structured_content["jobs"]) == JOBS  # type: ignore[index]


async def _leased_by(dsn: str, replica: Replica) -> list[str]:
    """Jobs whose lease the replica holds (lease owners are named after the process id)."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn) as db:
        cur = await db.execute(
            "SELECT id FROM jobs WHERE lease_owner LIKE %s", (f"p{replica.process.pid}-%",)
        )
        return [str(row[0]) for row in await cur.fetchall()]
