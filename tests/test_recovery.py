"""Never lose a paid job: the server is killed with jobs in flight and picks every one up again.

The simulator runs in the test process, so it outlives the server; the server runs as a real
subprocess over stdio with `SEEDANCE_PROVIDER=fal` pointed at it, so nothing is simulated in-process.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import anyio
import anyio.abc
import httpx
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.jobs.manager import JobManager
from seedance_mcp.server.journal.sqlite import JobRecord, Journal, new_job_id
from seedance_mcp.server.providers._http import RetryPolicy
from seedance_mcp.server.providers.base import JobSpec, Submission, VideoOutput
from seedance_mcp.server.providers.fal import FalProvider
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

pytestmark = pytest.mark.anyio

KEY = "test-key-recovery-0d9f3e7a51"
JOBS = 10
REPO = Path(__file__).resolve().parent.parent
# Writes its pid where the test can read it, then becomes the server (exec keeps the pid).
LAUNCH = (
    "import os, sys; open(sys.argv[1], 'w').write(str(os.getpid())); "
    "os.execv(sys.executable, [sys.executable, '-m', 'seedance_mcp.server'])"
)


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def server_env(sim_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SEEDANCE_PROVIDER": "fal",
        "FAL_KEY": KEY,
        "SEEDANCE_FAL_QUEUE_URL": sim_url,
        "SEEDANCE_FAL_REST_URL": sim_url,
        "SEEDANCE_FAL_CDN_URL": sim_url,
        "SEEDANCE_HOME": str(tmp_path / "state"),
        "SEEDANCE_OUTPUT_DIR": str(tmp_path / "videos"),
        "SEEDANCE_ALLOWED_DIRS": str(tmp_path / "home"),
        "SEEDANCE_LOG_LEVEL": "DEBUG",
    }


def launch(env: dict[str, str], pidfile: Path, errlog: TextIO) -> Client:
    params = StdioServerParameters(
        command=sys.executable, args=["-c", LAUNCH, str(pidfile)], env=env, cwd=str(REPO)
    )
    return Client(stdio_client(params, errlog=errlog))


def submits(sim: Simulator) -> list[dict[str, Any]]:
    return [e for e in sim.request_log() if e.get("kind") == "submit" and e["status"] == 200]


@pytest.mark.slow
async def test_sigkill_with_ten_jobs_in_flight_loses_none_and_submits_none_twice(tmp_path: Path) -> None:
    # Long runs keep every job in flight when the server dies; one prompt means one cached render.
    options = SimulatorOptions(queue_seconds=1.0, run_seconds=6.0, seed=4)
    env_log = tmp_path / "stderr.log"
    with Simulator(options) as sim, env_log.open("w") as errlog:
        env = server_env(sim.url, tmp_path)
        pidfile = tmp_path / "server.pid"

        async with launch(env, pidfile, errlog) as client:
            started = []
            for seed in range(JOBS):  # a different seed each: none is a duplicate of another
                started.append(
                    data(
                        await client.call_tool(
                            "generate_video",
                            {
                                "prompt": "A lighthouse keeper climbs the stairs",
                                "duration": "4",
                                "resolution": "480p",
                                "seed": seed,
                                "wait_seconds": 0,
                            },
                        )
                    )
                )
            # Every job is at the provider and none has finished: all ten are in flight.
            assert len(submits(sim)) == JOBS
            for entry in submits(sim):
                job = sim.engine.get(entry["request_id"])
                assert job is not None and sim.engine.view(job).phase != "done"
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
            # The client notices the dead server when it closes; nothing else to say to it.

        ids = [job["job_id"] for job in started]
        assert len(set(ids)) == JOBS
        with anyio.fail_after(60):
            async with launch(env, pidfile, errlog) as client:
                listed = data(await client.call_tool("list_jobs", {"limit": 100}))
                assert {j["job_id"] for j in listed["jobs"]} == set(ids)
                assert all(j["request_id"] for j in listed["jobs"])

                finished: dict[str, dict[str, Any]] = {}

                async def finish(job_id: str) -> None:
                    while True:
                        job = data(
                            await client.call_tool("check_status", {"job_id": job_id, "wait_seconds": 20})
                        )
                        if job["done"]:
                            finished[job_id] = job
                            return

                async with anyio.create_task_group() as tg:
                    for job_id in ids:
                        tg.start_soon(finish, job_id)

                completed = data(await client.call_tool("list_jobs", {"state": "completed", "limit": 100}))
        entries = sim.request_log()

    assert {job_id: job["state"] for job_id, job in finished.items()} == dict.fromkeys(ids, "completed")
    for job in finished.values():
        assert Path(job["video_path"]).is_file()
        assert not job["simulated"]
    assert {j["job_id"] for j in completed["jobs"]} == set(ids)

    # Exactly one submit per job, ever: the restarted server followed, it did not resubmit.
    accepted = [e for e in entries if e.get("kind") == "submit"]
    assert len(accepted) == JOBS and all(e["status"] == 200 for e in accepted)
    assert len({e["request_id"] for e in accepted}) == JOBS

    stderr = env_log.read_text()
    # Taken over at start, or once the killed server's leases lapsed.
    taken = [int(n) for n in re.findall(r"following (\d+) unfinished job\(s\)", stderr)]
    assert sum(taken) == JOBS
    assert KEY not in stderr


async def test_a_job_killed_mid_submit_is_reported_uncertain_and_never_resubmitted(tmp_path: Path) -> None:
    options = SimulatorOptions(queue_seconds=0.2, run_seconds=0.5, seed=5)
    with Simulator(options) as sim:
        settings = Settings.from_env(server_env(sim.url, tmp_path))
        # What a kill between "intent journaled" and "request id journaled" leaves behind.
        async with await Journal.open(settings.home / "journal.sqlite3") as journal:
            orphan = _record(state="submitting")
            await journal.create(orphan)

        async with Client(create_server(settings)) as client:
            job = data(await client.call_tool("check_status", {"job_id": orphan.id, "wait_seconds": 0}))
            listed = data(await client.call_tool("list_jobs", {"state": "uncertain"}))
        accepted = submits(sim)

    assert job["state"] == "uncertain" and job["done"] is False
    assert "may or may not exist" in job["error"] and "dashboard" in job["next_step"]
    assert [j["job_id"] for j in listed["jobs"]] == [orphan.id]
    assert accepted == []


async def test_a_job_killed_mid_submit_reads_uncertain_as_soon_as_the_restarted_server_answers(
    tmp_path: Path,
) -> None:
    # The provider takes the submit and never answers: the server is killed while it waits. Its lease
    # is long (600 s), so only knowing its process is gone can free the job at once.
    journal_file = tmp_path / "state" / "journal.sqlite3"
    pidfile = tmp_path / "server.pid"

    async def hold(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                while True:
                    await stream.receive()

    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as listener,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(listener.serve, hold)
        silent = f"http://127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}"
        env = {**server_env(silent, tmp_path), "SEEDANCE_LEASE_SECONDS": "600"}
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with launch(env, pidfile, errlog) as client, anyio.create_task_group() as calls:

                async def submit() -> None:
                    with contextlib.suppress(Exception):  # the server dies under this call
                        await client.call_tool(
                            "generate_video", {"prompt": "A lighthouse", "wait_seconds": 0}
                        )

                calls.start_soon(submit)
                with anyio.fail_after(60):
                    while not (submitting := _rows(journal_file, "submitting")):  # noqa: ASYNC110
                        await anyio.sleep(0.05)
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
                calls.cancel_scope.cancel()
            async with launch(env, pidfile, errlog) as client:
                [job_id] = submitting
                job = data(await client.call_tool("check_status", {"job_id": job_id, "wait_seconds": 0}))
        tg.cancel_scope.cancel()
    assert job["state"] == "uncertain" and "may or may not exist" in job["error"]


def _rows(journal_file: Path, state: str) -> list[str]:
    """Ids of the jobs in `state`, read from the SQLite journal another process writes."""
    if not journal_file.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{journal_file}?mode=ro", uri=True)) as db:
        try:
            return [row[0] for row in db.execute("SELECT id FROM jobs WHERE state = ?", (state,))]
        except sqlite3.OperationalError:  # not created yet
            return []


async def test_a_real_job_is_not_followed_by_a_server_running_the_simulator(settings: Settings) -> None:
    """A paid fal job from a run with a key must not be marked failed by a later keyless run."""
    with Simulator(SimulatorOptions(seed=6)) as elsewhere:  # stands in for fal.ai, which knows the job
        status_url = f"{elsewhere.url}/bytedance/seedance-2.0/requests/req-123/status"
        async with await Journal.open(settings.home / "journal.sqlite3") as journal:
            paid = _record(
                state="running",
                request_id="req-123",
                submission=Submission(
                    provider="fal",
                    request_id="req-123",
                    endpoint="bytedance/seedance-2.0/fast/text-to-video",
                    status_url=status_url,
                ).to_json(),
            )
            await journal.create(paid)

        assert settings.simulated
        async with Client(create_server(settings)) as client:
            job = data(await client.call_tool("check_status", {"job_id": paid.id, "wait_seconds": 0.5}))
        asked = [e for e in elsewhere.request_log() if "req-123" in e["path"]]
    assert job["state"] == "running"
    assert asked == []  # the simulator's key never went to the real provider's URLs
    async with await Journal.open(settings.home / "journal.sqlite3") as journal:
        kept = await journal.get(paid.id)
    assert kept is not None and kept.state == "running" and kept.error is None


async def test_an_outage_longer_than_the_retries_does_not_fail_a_paid_job(tmp_path: Path) -> None:
    options = SimulatorOptions(queue_seconds=0.1, run_seconds=0.3, faults="result_5xx=1", seed=8)
    quick = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, retry_after_cap=0.02, deadline=2.0)
    delivered: list[str] = []

    async def deliver(job: JobRecord, output: VideoOutput, before_commit: Any) -> dict[str, Any]:
        delivered.append(output.url)
        return {}

    with Simulator(options) as sim:

        def refused_results() -> int:
            return sum(1 for e in sim.request_log() if e.get("kind") == "result" and e["status"] == 503)

        url = sim.url
        async with (
            httpx.AsyncClient(verify=tls_context()) as http,
            await Journal.open(tmp_path / "journal.sqlite3") as journal,
            anyio.create_task_group() as tg,
        ):
            provider = FalProvider(http, key=KEY, queue_url=url, rest_url=url, cdn_url=url, retry=quick)
            jobs = JobManager(
                provider=provider,
                journal=journal,
                task_group=tg,
                deliver=deliver,
                simulated=False,
                follow_retry=(0.2, 0.4),
            )
            spec = JobSpec(
                tier="fast", mode="text-to-video", arguments={"prompt": "A storm", "duration": "4"}
            )
            [job] = await jobs.submit(
                tool="generate_video", spec=spec, key="", estimate={}, estimate_usd=0.97
            )
            with anyio.fail_after(60):
                # Two rounds of the provider's own retries have run out against the outage...
                while refused_results() < 4:  # noqa: ASYNC110 (the simulator thread has no event to await)
                    await anyio.sleep(0.05)
            during = await journal.get(job.id)
            sim.engine.faults.mix.pop("result_5xx")  # ...and then the outage ends.
            with anyio.fail_after(60):
                after = await jobs.wait(job.id, 20)
            tg.cancel_scope.cancel()

    assert during is not None and during.state == "running" and during.error is None
    assert after.state == "completed" and len(delivered) == 1


def _record(**fields: Any) -> JobRecord:
    now = time.time()
    values: dict[str, Any] = {
        "id": new_job_id(),
        "created_at": now,
        "updated_at": now,
        "provider": "fal",
        "simulated": False,
        "tool": "generate_video",
        "tier": "fast",
        "mode": "text-to-video",
        "endpoint": "bytedance/seedance-2.0/fast/text-to-video",
        "arguments": {"prompt": "A lighthouse", "duration": "4", "resolution": "480p"},
        "estimate": {"summary": "$0.97"},
        "estimate_usd": 0.97,
    }
    values.update(fields)
    return JobRecord(**values)


async def test_simulated_jobs_survive_a_restart_of_the_server(settings: Settings) -> None:
    """A host that starts one process per call can follow a simulated job to the end."""
    assert settings.simulated
    async with Client(create_server(settings)) as client:
        started = data(
            await client.call_tool("generate_video", {"prompt": "A paper boat", "wait_seconds": 0})
        )
    assert not started["done"]
    # A new process, a new embedded simulator on another port, the same SEEDANCE_HOME.
    async with Client(create_server(settings)) as client:
        with anyio.fail_after(60):
            done = data(
                await client.call_tool("check_status", {"job_id": started["job_id"], "wait_seconds": 40})
            )
    assert done["state"] == "completed" and done["saved"] is True and done["error"] is None
    assert Path(done["video_path"]).is_file() and done["simulated"]


async def test_a_folder_that_cannot_be_written_keeps_the_truth_and_is_tried_again(
    settings: Settings, tmp_path: Path
) -> None:
    # A file where the output folder should be: every save fails with an OS error, even for root.
    blocker = settings.output_dir
    blocker.write_text("not a folder")
    async with Client(create_server(settings)) as client:
        job = data(await client.call_tool("generate_video", {"prompt": "A kite", "wait_seconds": 40}))
        assert job["state"] == "completed" and job["saved"] is False and job["video_path"] is None
        assert "SEEDANCE_OUTPUT_DIR" in job["save_error"] and job["video_url"]
        assert "Done" not in job["next_step"] and "not saved" in job["next_step"]
        still = data(await client.call_tool("check_status", {"job_id": job["job_id"], "wait_seconds": 0}))
        assert still["saved"] is False  # asking again tries again, and fails again: still the truth

        blocker.unlink()  # the user fixes the folder
        saved = data(await client.call_tool("check_status", {"job_id": job["job_id"], "wait_seconds": 0}))
    assert saved["saved"] is True and Path(saved["video_path"]).is_file()
    assert saved["next_step"].startswith("Done. Show the user the saved file")


async def test_an_unsaved_video_is_saved_by_the_next_server_without_being_asked(
    settings: Settings, tmp_path: Path
) -> None:
    blocker = settings.output_dir
    blocker.write_text("not a folder")
    async with Client(create_server(settings)) as client:
        job = data(await client.call_tool("generate_video", {"prompt": "A lantern", "wait_seconds": 40}))
    assert job["saved"] is False
    blocker.unlink()
    async with (
        Client(create_server(settings)),
        await Journal.open(settings.home / "journal.sqlite3") as journal,
    ):
        with anyio.fail_after(60):  # the next try is due a few seconds after the failure
            while not (record := await journal.get(job["job_id"])) or not record.saved:  # noqa: ASYNC110
                await anyio.sleep(0.2)
    assert record.video_path is not None and Path(record.video_path).is_file()
    assert record.save_attempts >= 2  # the failed one, then the next server's


async def test_at_start_partial_files_of_owners_gone_are_removed_and_live_ones_kept(
    settings: Settings,
) -> None:
    now = time.time()
    gone = _record(state="running", request_id="r1", lease_owner="p1-00000000", lease_expires=now - 1)
    live = _record(state="running", request_id="r2", lease_owner="p2-11111111", lease_expires=now + 600)
    async with await Journal.open(settings.home / "journal.sqlite3") as journal:
        await journal.create(gone)
        await journal.create(live)
    folder = settings.output_dir
    folder.mkdir(parents=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    parts = {
        "gone": folder / f".{stamp}_{gone.id}_a-lighthouse.mp4.p1-00000000.0123456789ab.part",
        "live": folder / f".{stamp}_{live.id}_a-lighthouse.mp4.p2-11111111.0123456789ab.part",
        "stale owner of a live job": folder
        / f".{stamp}_{live.id}_a-lighthouse.mp4.p3-22222222.0123456789ab.part",
        "unknown job": folder / f".{stamp}_sd_000000000000_x.mp4.p4-33333333.0123456789ab.part",
        "not ours": folder / ".someone-elses.part",
    }
    for path in parts.values():
        path.write_bytes(b"half a video")
    async with Client(create_server(settings)) as client:
        await client.call_tool("list_jobs", {})
    left = {name for name, path in parts.items() if path.exists()}
    assert left == {"live", "not ours"}


@pytest.mark.slow
async def test_three_kills_with_downloads_in_progress_leave_no_partial_file_once_all_are_done(
    tmp_path: Path,
) -> None:
    # Slow downloads (the simulator spreads each body over 3 s): every kill lands while files are half
    # written. Each restart finds the killed owner gone (same machine, no such process) and sweeps its
    # files; once every job is done, not one `.part` file is left and each job has its one video.
    options = SimulatorOptions(queue_seconds=0.3, run_seconds=1.0, download_seconds=3.0, seed=8)
    videos = tmp_path / "videos"

    def partial_files() -> list[Path]:
        return sorted(videos.glob(".*.part")) if videos.is_dir() else []

    with Simulator(options) as sim, (tmp_path / "stderr.log").open("w") as errlog:
        env = server_env(sim.url, tmp_path)
        pidfile = tmp_path / "server.pid"
        ids: list[str] = []
        for kill in range(3):
            async with launch(env, pidfile, errlog) as client:
                if not ids:
                    for seed in range(4):
                        arguments = {"prompt": "A kite over dunes", "duration": "4", "resolution": "480p"}
                        started = await client.call_tool(
                            "generate_video", arguments | {"seed": seed, "wait_seconds": 0}
                        )
                        ids.append(data(started)["job_id"])
                with anyio.fail_after(60):
                    while not partial_files():  # noqa: ASYNC110 - the files are the event
                        await anyio.sleep(0.05)
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            assert partial_files(), f"kill {kill + 1} left its half-written downloads behind"

        with anyio.fail_after(120):
            async with launch(env, pidfile, errlog) as client:
                for job_id in ids:
                    while not (job := data(await client.call_tool("check_status", {"job_id": job_id}))).get(
                        "done"
                    ):
                        pass
                    assert job["state"] == "completed" and Path(job["video_path"]).is_file()
    assert partial_files() == []
    assert len(list(videos.glob("*.mp4"))) == len(ids)
