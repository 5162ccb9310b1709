"""Push completion by fal webhooks: the simulator sends them like fal (retrying), the server's route
takes them with a per-job token and fal's signature, and a verified delivery's payload is the job's
result (no read back); a forged one is refused and a replayed one changes nothing. End to end: a real
server process, a real MCP client over HTTP, the simulator posting to the server over loopback."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from mcp.client import Client

from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from seedance_mcp.server.simulator.webhooks import sign
from seedance_mcp.server.web.webhooks import NOTIFY_MAX_BYTES, Wake, Wakeups, WebhookTokens, publish_message
from tests.replicas import free_port, replicas, sim_fal_env

pytestmark = pytest.mark.anyio
SECRET = "team-secret-for-tests-0123456789"


async def test_wakeups_remember_early_webhooks() -> None:
    wakeups = Wakeups()
    wakeups.wake("early", Wake())
    assert await wakeups.wait("early", 0) == Wake()
    assert await wakeups.wait("early", 0.01) is None  # consumed
    async with anyio.create_task_group() as tg:
        woken: list[Wake | None] = []

        async def waiter() -> None:
            woken.append(await wakeups.wait("late", 10))

        tg.start_soon(waiter)
        await anyio.sleep(0.05)
        wakeups.wake("late", Wake())
    assert woken == [Wake()]


async def test_a_notified_wake_up_carries_the_signed_video_when_it_fits() -> None:
    """What one replica passes on by NOTIFY is what the follower's replica hears: the video when the
    payload held one and fits PostgreSQL's limit, else the request id alone (the follower reads back)."""
    wakeups = Wakeups()
    payload = {"video": {"url": "https://v3.fal.media/files/a.mp4", "file_size": 12}, "seed": 7}
    wakeups.heard(publish_message("req-a", payload))
    woken = await wakeups.wait("req-a", 0)
    assert woken is not None and woken.video is not None
    assert (woken.video.url, woken.video.file_size, woken.video.seed) == (payload["video"]["url"], 12, 7)

    huge = {"video": {"url": "https://v3.fal.media/files/" + "b" * NOTIFY_MAX_BYTES + ".mp4"}}
    assert publish_message("req-b", huge) == "req-b"
    for message in (publish_message("req-b", huge), "req-c\n{not json", 'req-d\n{"video": 3}'):
        wakeups.heard(message)
    for request_id in ("req-b", "req-c", "req-d"):
        assert await wakeups.wait(request_id, 0) == Wake(), request_id  # woken, to read back
    wakeups.heard("")  # the listening connection came back: nothing to wake
    assert await wakeups.wait("", 0) is None


async def test_simulator_retries_a_failing_webhook_receiver() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    received: list[dict[str, Any]] = []
    accepted = threading.Event()

    async def hook(request: Request) -> JSONResponse:
        received.append(await request.json())
        if len(received) < 3:
            return JSONResponse({}, status_code=500)
        accepted.set()
        return JSONResponse({})

    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook/{t}", hook, methods=["POST"])]), port=port, log_level="error"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        async with Simulator(SimulatorOptions(queue_seconds=0.1, run_seconds=0.3)) as sim:
            async with httpx.AsyncClient(verify=tls_context()) as client:
                answer = await client.post(
                    f"{sim.url}/bytedance/seedance-2.0/fast/text-to-video",
                    params={"fal_webhook": f"http://127.0.0.1:{port}/hook/secret-token"},
                    json={"prompt": "a fox", "duration": "4", "resolution": "480p"},
                    headers={"Authorization": "Key sim-k"},
                )
            request_id = answer.json()["request_id"]
            assert await anyio.to_thread.run_sync(accepted.wait, 30)
            deliveries = sim.engine.webhook_deliveries
            log = sim.request_log()
            sim_url = sim.url
    finally:
        server.should_exit = True
        thread.join(10)
    assert [d["answer"] for d in deliveries] == [500, 500, 200]
    first = received[0]
    assert first["request_id"] == request_id and first["gateway_request_id"] == request_id
    assert first["status"] == "OK" and first["payload"]["video"]["url"].startswith(sim_url)
    assert received[0] == received[2]  # the same delivery, retried
    # The receiver's token is a secret: the simulator's request log never shows the webhook URL.
    assert "secret-token" not in repr(log) and log[0].get("webhook") is True


def kinds_for(log: list[dict[str, Any]], request_id: str, video_path: str) -> list[str]:
    return [
        e.get("kind", "?")
        for e in log
        if e.get("request_id") == request_id or (e.get("kind") == "download" and e["path"] == video_path)
    ]


@pytest.mark.slow
async def test_a_60_second_job_with_webhooks_costs_two_requests(tmp_path: Path) -> None:
    """Submit, download: no status stream, no polling, no result read (fal's signed webhook carries the
    result). A forged webhook for another running job (valid token, real request id) is refused."""
    async with Simulator(SimulatorOptions(queue_seconds=1.0, run_seconds=60.0)) as sim:
        port = free_port()
        env = {
            **sim_fal_env(sim.url),
            "_PORT": str(port),
            "SEEDANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SEEDANCE_TEAM_SECRET": SECRET,
            "SEEDANCE_WAIT_SECONDS": "2",
        }
        async with replicas([env], tmp_path) as [server], Client(server.url) as client:
            calls = {}
            for name in ("clean", "forged"):
                result = await client.call_tool(
                    "generate_video",
                    {"prompt": f"a lighthouse at dawn, {name}", "duration": "4", "resolution": "480p"},
                )
                assert not result.is_error, result.content
                calls[name] = result.structured_content
            request_ids = {name: _request_id(sim, f"a lighthouse at dawn, {name}") for name in calls}

            # A forged webhook: the job's own token and the real request id, but no signature of fal's.
            async with httpx.AsyncClient(verify=tls_context()) as raw:
                token = WebhookTokens(SECRET.encode()).new(calls["forged"]["job_id"])
                url = f"{server.base}/webhooks/fal/{token}"
                forged = {
                    "request_id": request_ids["forged"],
                    "status": "OK",
                    "payload": {"video": {"url": "x"}},
                }
                assert (await raw.post(url, json=forged)).status_code == 401
                bad = await raw.post(f"{server.base}/webhooks/fal/not-a-token", json=forged)
                assert bad.status_code == 404
            await anyio.sleep(1.0)
            still = await client.call_tool(
                "check_status", {"job_id": calls["forged"]["job_id"], "wait_seconds": 0}
            )
            assert still.structured_content["state"] in {"queued", "running"}, still.structured_content

            finals = {}
            for name, call in calls.items():
                with anyio.fail_after(120):
                    while True:
                        status = await client.call_tool(
                            "check_status", {"job_id": call["job_id"], "wait_seconds": 50}
                        )
                        if status.structured_content["state"] == "completed":
                            break
                finals[name] = status.structured_content
        log = sim.request_log()

    def video_path(final: dict[str, Any]) -> str:
        return httpx.URL(final["video_url"]).path

    assert kinds_for(log, request_ids["clean"], video_path(finals["clean"])) == ["submit", "download"]
    forged_kinds = kinds_for(log, request_ids["forged"], video_path(finals["forged"]))
    # The forged wake-up was refused before any read: the job cost what the clean one did.
    assert forged_kinds == ["submit", "download"], forged_kinds
    assert not [e for e in log if e.get("kind") == "stream"]
    for final in finals.values():
        assert Path(final["video_path"]).is_file()


def _request_id(sim: Simulator, prompt: str) -> str:
    """The fal request id of the job submitted with `prompt` (from the simulator's log)."""
    found = [
        e["request_id"]
        for e in sim.request_log()
        if e.get("kind") == "submit" and e["input"]["prompt"] == prompt
    ]
    assert len(found) == 1, found
    return str(found[0])


@pytest.mark.slow
async def test_a_webhook_on_the_other_replica_wakes_the_follower(postgres_dsn: str, tmp_path: Path) -> None:
    """Two replicas on one PostgreSQL database. The job is submitted and followed by replica A, whose
    public URL is replica B's address, so fal's webhook lands on B: B passes it on by NOTIFY, with the
    video it carries, and A saves it. The simulator sees submit and download: no status stream, no
    polling, no result read. Replaying the webhook afterwards changes nothing."""
    import psycopg

    async with Simulator(SimulatorOptions(queue_seconds=0.5, run_seconds=3.0)) as sim:
        ports = [free_port(), free_port()]
        envs = [
            {
                **sim_fal_env(sim.url),
                "_PORT": str(port),
                "SEEDANCE_DATABASE_URL": postgres_dsn,
                "SEEDANCE_PUBLIC_URL": f"http://127.0.0.1:{ports[1]}",  # every webhook reaches B
                "SEEDANCE_TEAM_SECRET": SECRET,
                "SEEDANCE_HOME": str(tmp_path / f"home-{i}"),
                "SEEDANCE_OUTPUT_DIR": str(tmp_path / "videos"),
            }
            for i, port in enumerate(ports)
        ]
        async with replicas(envs, tmp_path) as [a, b]:
            async with Client(a.url) as on_a:
                started = await on_a.call_tool(
                    "generate_video",
                    {
                        "prompt": "a heron over a pond",
                        "duration": "4",
                        "resolution": "480p",
                        "wait_seconds": 0,
                    },
                )
            assert not started.is_error, started.content
            job_id = started.structured_content["job_id"]
            with psycopg.connect(postgres_dsn) as db:
                row = db.execute(
                    "SELECT request_id, lease_owner FROM jobs WHERE id = %s", (job_id,)
                ).fetchone()
            assert row is not None
            request_id, follower = row
            assert str(follower).startswith(f"p{a.process.pid}-"), follower  # A follows the job

            async with Client(b.url) as on_b:  # the waiting call on B too: woken by A's journal notice
                with anyio.fail_after(60):  # well inside the 90 s fallback status check
                    while True:
                        status = await on_b.call_tool("check_status", {"job_id": job_id, "wait_seconds": 30})
                        if status.structured_content["state"] in {"completed", "failed"}:
                            break
            final = status.structured_content
            assert final["state"] == "completed", final
            deliveries = [d for d in sim.engine.webhook_deliveries if d["request_id"] == request_id]
            assert [d["answer"] for d in deliveries] == [200]

            # A replay of a genuine delivery, after the job ended: accepted, and nothing more is asked of fal.
            async with httpx.AsyncClient(verify=tls_context()) as raw:
                body = json.dumps({"request_id": request_id, "status": "OK", "payload": {}}).encode()
                url = f"{b.base}/webhooks/fal/{WebhookTokens(SECRET.encode()).new(job_id)}"
                headers = sign(sim.engine.webhook_key, request_id, "u", body, time.time())
                assert (await raw.post(url, content=body, headers=headers)).status_code == 200
            await anyio.sleep(1.0)
            async with Client(a.url) as on_a:
                again = await on_a.call_tool("check_status", {"job_id": job_id, "wait_seconds": 0})
            assert again.structured_content["state"] == "completed"
            assert again.structured_content["video_path"] == final["video_path"]
        log = sim.request_log()

    assert kinds_for(log, request_id, httpx.URL(final["video_url"]).path) == ["submit", "download"]
    assert not [e for e in log if e.get("kind") in {"stream", "status", "result"}]
    assert Path(final["video_path"]).is_file()
