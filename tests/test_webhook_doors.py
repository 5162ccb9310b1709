"""The webhook route's checks on the wire: a real server process, the simulator as fal (its JWKS as
fal's key set), deliveries posted over loopback. A forged, replayed, oversized or cross-job delivery
is refused before anything is read from fal; a genuine one is taken."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client

from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from seedance_mcp.server.simulator.webhooks import sign
from seedance_mcp.server.web.webhooks import MAX_WEBHOOK_BYTES, WebhookTokens
from tests.replicas import free_port, replicas, sim_fal_env

pytestmark = pytest.mark.anyio
SECRET = "team-secret-for-tests-0123456789"


def test_tokens_name_their_job() -> None:
    tokens = WebhookTokens(b"k" * 32)
    a, b = tokens.new("sd_aaaaaaaaaaaa"), tokens.new("sd_bbbbbbbbbbbb")
    assert tokens.job_of(a) == "sd_aaaaaaaaaaaa" and tokens.job_of(b) == "sd_bbbbbbbbbbbb"
    job, _, mac = a.rpartition(".")
    assert tokens.job_of(f"sd_bbbbbbbbbbbb.{mac}") is None  # a job's mac does not fit another job
    assert tokens.job_of(f"{job}.{mac[:-1]}{'1' if mac[-1] == '0' else '0'}") is None
    assert tokens.job_of(job) is None and tokens.job_of("") is None
    assert WebhookTokens(b"other" * 8).job_of(a) is None  # another team's key


def _body(request_id: str) -> bytes:
    return json.dumps({"request_id": request_id, "status": "OK", "payload": {}}).encode()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Simulator, Any, dict[str, str], dict[str, str]]]:
    """A server with webhooks and two long jobs on the simulator: (sim, server, job ids, request ids)."""
    async with Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=120.0)) as sim:
        port = free_port()
        env = {
            **sim_fal_env(sim.url),
            "_PORT": str(port),
            "SEEDANCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SEEDANCE_TEAM_SECRET": SECRET,
            "SEEDANCE_FAL_JWKS_URL": f"{sim.url}/.well-known/jwks.json",
        }
        async with replicas([env], tmp_path) as [server], Client(server.url) as client:
            jobs = {}
            for name in ("a", "b"):
                result = await client.call_tool(
                    "generate_video",
                    {
                        "prompt": f"a lighthouse, {name}",
                        "duration": "4",
                        "resolution": "480p",
                        "wait_seconds": 0,
                    },
                )
                assert not result.is_error, result.content
                jobs[name] = result.structured_content["job_id"]  # type: ignore[index]
            requests = {
                name: next(
                    e["request_id"]
                    for e in sim.request_log()
                    if e.get("kind") == "submit" and e["input"]["prompt"] == f"a lighthouse, {name}"
                )
                for name in jobs
            }
            yield sim, server, jobs, requests


async def test_only_a_signed_delivery_for_the_tokens_own_job_is_read(
    running: tuple[Simulator, Any, dict[str, str], dict[str, str]],
) -> None:
    sim, server, jobs, requests = running
    tokens = WebhookTokens(SECRET.encode())
    url_a = f"{server.base}/webhooks/fal/{tokens.new(jobs['a'])}"
    key = sim.engine.webhook_key
    reads_before = [e for e in sim.request_log() if e.get("kind") in ("status", "result")]

    def signed(request_id: str, body: bytes, at: float | None = None) -> dict[str, str]:
        return {**sign(key, request_id, "u", body, at or time.time()), "Content-Type": "application/json"}

    async with httpx.AsyncClient(verify=tls_context()) as raw:
        body_a, body_b = _body(requests["a"]), _body(requests["b"])
        unsigned = await raw.post(url_a, content=body_a, headers={"Content-Type": "application/json"})
        assert unsigned.status_code == 401
        stale = await raw.post(
            url_a, content=body_a, headers=signed(requests["a"], body_a, time.time() - 900)
        )
        assert stale.status_code == 401
        other_key = await raw.post(
            url_a,
            content=body_a,
            headers={**signed(requests["a"], body_a), "X-Fal-Webhook-Signature": "00" * 64},
        )
        assert other_key.status_code == 401
        cross_job = await raw.post(url_a, content=body_b, headers=signed(requests["b"], body_b))
        assert cross_job.status_code == 404  # a's token, b's genuine delivery
        swapped = await raw.post(url_a, content=body_b, headers=signed(requests["a"], body_a))
        assert swapped.status_code == 401  # the signature covers the body
        mismatch = await raw.post(url_a, content=body_b, headers=signed(requests["a"], body_b))
        assert mismatch.status_code == 400  # signed as a's, but the body names b
        made_up = await raw.post(f"{server.base}/webhooks/fal/not-a-token", content=body_a)
        assert made_up.status_code == 404

        huge = await raw.post(
            url_a, content=b"x" * (64 * 1024 * 1024), headers={"Content-Type": "application/json"}
        )
        assert huge.status_code == 413

        async def trickle() -> AsyncIterator[bytes]:  # no Content-Length: the cap counts what arrives
            for _ in range(MAX_WEBHOOK_BYTES // 65536 + 4):
                yield b"y" * 65536

        chunked = await raw.post(url_a, content=trickle())
        assert chunked.status_code == 413
        reads = [e for e in sim.request_log() if e.get("kind") in ("status", "result")]
        assert reads == reads_before, "nothing refused cost a read from fal"

        genuine = await raw.post(url_a, content=body_a, headers=signed(requests["a"], body_a))
        assert genuine.status_code == 200

    # Genuine, but its payload holds no video (as fal's may not): a wake-up only, so the follower asks
    # fal itself, and finds the job still running.
    def asked_fal() -> bool:
        return any(
            e.get("kind") in ("status", "result") and e.get("request_id") == requests["a"]
            for e in sim.request_log()
        )

    with anyio.fail_after(30):
        while not asked_fal():  # noqa: ASYNC110 (the simulator's log has no event to await)
            await anyio.sleep(0.05)
    assert not [e for e in sim.request_log() if e.get("kind") == "download"]


async def test_fals_keys_are_cached_at_most_a_day_and_refetched_for_an_unknown_key() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from seedance_mcp.server.web.webhook_signatures import BadSignature, FalSignatures

    now = [time.time()]
    async with Simulator(SimulatorOptions()) as sim:
        checker = FalSignatures(f"{sim.url}/.well-known/jwks.json", clock=lambda: now[0])

        def fetches() -> int:
            return len([e for e in sim.request_log() if e["path"] == "/.well-known/jwks.json"])

        async def check(key: Ed25519PrivateKey) -> str:
            body = _body("req-1")
            return await checker.verify(sign(key, "req-1", "u", body, now[0]), body)

        assert await check(sim.engine.webhook_key) == "req-1"
        assert await check(sim.engine.webhook_key) == "req-1"
        assert fetches() == 1  # cached
        stranger = Ed25519PrivateKey.generate()
        for _ in range(3):  # an unknown key: one fetch again, then none for a minute
            now[0] += 61 if _ == 0 else 1
            with pytest.raises(BadSignature):
                await check(stranger)
        assert fetches() == 2
        now[0] += 25 * 3600  # past a day: fetched again before trusting anything
        assert await check(sim.engine.webhook_key) == "req-1"
        assert fetches() == 3
