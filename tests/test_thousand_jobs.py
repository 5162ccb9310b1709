"""A thousand jobs in flight in one process, finishing together: every video is saved, each downloaded
once. Our HTTP client (`server.http_pool`, as the server opens it), the fal provider, the SQLite
journal and the deliverer, against the simulator in its own process over loopback.

With one shared connection pool for status streams and everything else, 1,000 jobs ending together
left the event loop rescanning the pool for minutes and saved none of them. This test checks the
outcome, not how long it took (the `thousand_jobs` benchmark measures that). The videos are saved
without their previews: those are CPU work done one at a time by design (about 0.1 s each here),
and would only make this test a minute longer.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import httpx
import pytest

from seedance_mcp.server.delivery.download import Deliverer
from seedance_mcp.server.http_pool import shared_client
from seedance_mcp.server.jobs.manager import JobManager
from seedance_mcp.server.journal.sqlite import Journal
from seedance_mcp.server.outbound import AddressPolicy
from seedance_mcp.server.providers.base import JobSpec
from seedance_mcp.server.providers.fal import FalProvider
from tests.simulator_process import SimulatorProcess

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

JOBS = 1000
SUBMITS_AT_ONCE = 100
KEY = "thousand-key-id:thousand-key-secret"


async def test_a_thousand_jobs_finishing_together_are_all_saved_each_downloaded_once(tmp_path: Path) -> None:
    # Queued long enough that most are submitted before the first finishes; then they end in a burst.
    with SimulatorProcess(tmp_path / "sim", queue_seconds=4.0, run_seconds=1.0) as sim:
        url = sim.url
        async with (
            shared_client(headers={}, timeout=httpx.Timeout(30.0, connect=10.0)) as http,
            await Journal.open(tmp_path / "journal.sqlite3") as journal,
            anyio.create_task_group() as tg,
        ):
            provider = FalProvider(http, key=KEY, queue_url=url, rest_url=url, cdn_url=url)
            # The simulator runs on this machine: its result URLs are loopback, as a user's would be.
            local = AddressPolicy(allow_loopback=True)
            deliverer = Deliverer(
                http, policy=local, output_dir=tmp_path / "videos", preview_dir=tmp_path / "previews"
            )
            jobs = JobManager(
                provider=provider,
                journal=journal,
                task_group=tg,
                deliver=deliverer.save_video,
                simulated=False,
            )
            slots = anyio.CapacityLimiter(SUBMITS_AT_ONCE)
            ids: list[str] = []

            async def submit(seed: int) -> None:
                # One prompt (one render at the simulator), a seed each: a thousand distinct jobs.
                arguments = {
                    "prompt": "A thousand lanterns",
                    "duration": "4",
                    "resolution": "480p",
                    "seed": seed,
                }
                spec = JobSpec(tier="fast", mode="text-to-video", arguments=arguments)
                async with slots:
                    [job] = await jobs.submit(
                        tool="generate_video",
                        spec=spec,
                        key=f"thousand-{seed}",
                        estimate={},
                        estimate_usd=0,
                    )
                ids.append(job.id)

            with anyio.fail_after(600):  # a safety net on a loaded machine, not a timing
                async with anyio.create_task_group() as submits:
                    for seed in range(JOBS):
                        submits.start_soon(submit, seed)
                # One waiting call at a time: most have ended by the time their turn comes.
                records = [await jobs.wait(job_id, 600) for job_id in ids]
            tg.cancel_scope.cancel()
        log = sim.requests()

    assert len(set(ids)) == JOBS
    assert all(r.state == "completed" and r.saved for r in records), Counter(
        (r.state, r.saved) for r in records
    )
    saved = {Path(r.video_path) for r in records if r.video_path}
    assert len(saved) == JOBS and all(p.is_file() and p.stat().st_size > 0 for p in saved)

    def per_job(kind: str) -> Counter[str]:
        return Counter(str(e.get("request_id")) for e in log if e.get("kind") == kind)

    request_ids = {r.request_id for r in records}
    assert per_job("submit").keys() == request_ids and set(per_job("submit").values()) == {1}
    assert per_job("result").keys() == request_ids and set(per_job("result").values()) == {1}
    downloads = Counter(e["path"] for e in log if e.get("kind") == "download")
    wanted = {httpx.URL(r.result_url).path for r in records if r.result_url}
    assert len(wanted) == JOBS
    assert downloads.keys() == wanted and set(downloads.values()) == {1}, "each video downloaded once"
