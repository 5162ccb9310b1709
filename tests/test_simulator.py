"""The simulator over real loopback HTTP: queue states, errors, cancel, storage, request log, faults, MP4s."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import aconnect_sse

from seedance_mcp.server.config import Settings
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

KEY = "sim-test-id:very-secret-value"
AUTH = {"Authorization": f"Key {KEY}"}
T2V = "/bytedance/seedance-2.0/fast/text-to-video"
ORDER = {"IN_QUEUE": 0, "IN_PROGRESS": 1, "COMPLETED": 2}
LIGHT = {"duration": "4", "resolution": "480p"}  # the cheapest render, to keep the file fast


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.15, run_seconds=0.3)) as running:
        yield running


@pytest.fixture
async def client(sim: Simulator) -> Any:
    async with httpx.AsyncClient(verify=tls_context(), base_url=sim.url, headers=AUTH, timeout=20) as c:
        yield c


async def submit(client: httpx.AsyncClient, body: dict[str, Any], endpoint: str = T2V) -> dict[str, Any]:
    r = await client.post(endpoint, json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def wait_status(client: httpx.AsyncClient, status_url: str, want: str, **params: Any) -> httpx.Response:
    with anyio.fail_after(60):
        while True:
            r = await client.get(status_url, params=params)
            if r.json()["status"] == want:
                return r
            await anyio.sleep(0.03)


# --- queue ----------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_submit_then_status_moves_through_queue_progress_completed() -> None:
    # Its own simulator with phases long enough that a loaded machine's polls still see each one.
    with Simulator(SimulatorOptions(queue_seconds=1.0, run_seconds=2.0)) as slow:
        async with httpx.AsyncClient(
            verify=tls_context(), base_url=slow.url, headers=AUTH, timeout=20
        ) as client:
            await _walk_through_the_states(client)


async def _walk_through_the_states(client: httpx.AsyncClient) -> None:
    job = await submit(
        client, {"prompt": "a red kite over dunes", "duration": "4", "resolution": "480p", "seed": 7}
    )
    assert job["status"] == "IN_QUEUE" and isinstance(job["queue_position"], int)
    base = f"{client.base_url}".rstrip("/") + f"/bytedance/seedance-2.0/requests/{job['request_id']}"
    assert (job["response_url"], job["status_url"], job["cancel_url"]) == (
        base,
        base + "/status",
        base + "/cancel",
    )

    seen: list[httpx.Response] = []
    with anyio.fail_after(60):
        while not seen or seen[-1].json()["status"] != "COMPLETED":
            seen.append(await client.get(job["status_url"], params={"logs": "1"}))
            await anyio.sleep(0.03)
    bodies = [r.json() for r in seen]
    states = [b["status"] for b in bodies]
    assert states == sorted(states, key=ORDER.__getitem__), states
    assert {"IN_QUEUE", "IN_PROGRESS", "COMPLETED"} <= set(states)
    for r, b in zip(seen, bodies, strict=True):
        assert r.status_code == (200 if b["status"] == "COMPLETED" else 202)
        assert "logs" in b
    queued = [b for b in bodies if b["status"] == "IN_QUEUE"]
    positions = [b["queue_position"] for b in queued]
    assert positions == sorted(positions, reverse=True) and positions[-1] >= 0
    assert all(b["logs"] is None for b in queued)
    running = [b for b in bodies if b["status"] == "IN_PROGRESS"]
    assert all(isinstance(b["logs"], list) for b in running)
    counts = [len(b["logs"]) for b in running]
    assert counts == sorted(counts)
    done = bodies[-1]
    assert done["metrics"]["inference_time"] > 0 and "error" not in done
    assert len(done["logs"]) > max(counts)
    line = done["logs"][0]
    assert set(line) == {"message", "level", "source", "timestamp"} and line["source"] == "USER"
    assert (await client.get(job["status_url"])).json()["logs"] is None  # not asked for

    result = await client.get(job["response_url"])
    assert result.status_code == 200
    assert result.headers["x-seedance-simulated"] == "true"
    body = result.json()
    assert body["seed"] == 7
    video = body["video"]
    assert video["content_type"] == "video/mp4" and "simulated" in video["file_name"]
    download = await client.get(video["url"])
    assert download.status_code == 200 and len(download.content) == video["file_size"]
    assert download.headers["content-type"] == "video/mp4"


@pytest.mark.anyio
async def test_result_before_completion_is_refused(client: httpx.AsyncClient) -> None:
    job = await submit(client, {"prompt": "still cooking", **LIGHT})
    r = await client.get(job["response_url"])
    assert r.status_code == 400 and r.json() == {"detail": "Request is still in progress"}


@pytest.mark.anyio
async def test_random_seed_is_reported_when_none_given(client: httpx.AsyncClient) -> None:
    job = await submit(client, {"prompt": "no seed", **LIGHT})
    await wait_status(client, job["status_url"], "COMPLETED")
    seed = (await client.get(job["response_url"])).json()["seed"]
    assert isinstance(seed, int) and not isinstance(seed, bool)


@pytest.mark.anyio
async def test_status_stream_sends_each_change_in_order_and_closes(client: httpx.AsyncClient) -> None:
    job = await submit(client, {"prompt": "stream me", **LIGHT})
    events: list[dict[str, Any]] = []
    with anyio.fail_after(60):
        async with aconnect_sse(client, "GET", job["status_url"] + "/stream", params={"logs": "1"}) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            async for event in source.aiter_sse():
                events.append(event.json())
    states = [e["status"] for e in events]
    assert states[-1] == "COMPLETED" and states.count("COMPLETED") == 1
    assert states == sorted(states, key=ORDER.__getitem__)
    assert "IN_PROGRESS" in states
    assert all(a != b for a, b in itertools.pairwise(events))  # only changes are sent
    logs = [len(e["logs"]) for e in events if e["status"] == "IN_PROGRESS"]
    assert logs == sorted(logs) and len(logs) >= 2


@pytest.mark.anyio
async def test_a_hold_keeps_every_job_from_ending_until_its_moment() -> None:
    """The benchmarks' hook: with a hold, a finished job reads as running until the hold's moment,
    then ends at that moment; lifting the hold gives back the scheduled end."""
    with Simulator(SimulatorOptions(queue_seconds=0.1, run_seconds=0.2)) as own:
        async with httpx.AsyncClient(
            verify=tls_context(), base_url=own.url, headers=AUTH, timeout=20
        ) as client:
            job = await submit(client, {"prompt": "hold me", **LIGHT})
            await wait_status(client, job["status_url"], "COMPLETED")
            until = time.time() + 3600
            assert (await client.put("/_simulator/hold", json={"until": until})).status_code == 204
            assert (await client.get(job["status_url"])).json()["status"] == "IN_PROGRESS"
            held = own.engine.get(job["request_id"])
            assert held is not None
            assert own.engine.next_change(held, time.time()) == until
            ended = own.engine.view(held, until + 1)
            assert ended.phase == "done" and ended.completed_at == until
            assert (await client.put("/_simulator/hold", json={"until": None})).status_code == 204
            assert (await client.get(job["status_url"])).json()["status"] == "COMPLETED"


@pytest.mark.anyio
async def test_status_stream_pings_while_nothing_changes() -> None:
    async with (
        Simulator(SimulatorOptions(queue_seconds=30, run_seconds=1, ping_seconds=0.05)) as sim,
        httpx.AsyncClient(verify=tls_context(), base_url=sim.url, headers=AUTH) as client,
    ):
        job = await submit(client, {"prompt": "waiting", **LIGHT})
        lines: list[str] = []
        with anyio.fail_after(60):
            async with client.stream("GET", job["status_url"] + "/stream") as response:
                async for line in response.aiter_lines():
                    lines.append(line)
                    if lines.count(": ping") >= 2:
                        break
    assert lines[0].startswith("data: ") and json.loads(lines[0][6:])["status"] == "IN_QUEUE"
    assert lines.count(": ping") == 2


@pytest.mark.anyio
async def test_keys_are_checked(client: httpx.AsyncClient) -> None:
    body = {"prompt": "x", **LIGHT}
    assert (await client.post(T2V, json=body, headers={"Authorization": ""})).status_code == 401
    r = await client.post(T2V, json=body, headers={"Authorization": "Key sim-invalid:nope"})
    assert r.status_code == 401 and r.json() == {"detail": "No user found for Key ID and Secret"}
    r = await client.post(T2V, json=body, headers={"Authorization": "Key abc-sim-locked"})
    assert r.status_code == 403 and r.json()["detail"].startswith(
        "User is locked. Reason: Exhausted balance."
    )
    r = await client.post(T2V, json=body, headers={"Authorization": "Bearer token"})
    assert r.status_code == 401 and "Invalid Key Authorization header format" in r.json()["detail"]
    job = await submit(client, body)
    assert (
        await client.get(job["status_url"], headers={"Authorization": "Key sim-invalid"})
    ).status_code == 401


@pytest.mark.anyio
async def test_unknown_endpoints_and_requests_are_404(client: httpx.AsyncClient) -> None:
    assert (
        await client.post("/bytedance/seedance-2.0/text-to-image", json={"prompt": "x"})
    ).status_code == 404
    assert (await client.post("/fal-ai/flux/dev", json={"prompt": "x"})).status_code == 404
    job = await submit(client, {"prompt": "x", **LIGHT})
    # Status URLs carry owner/app only; with the endpoint's sub-path they do not exist.
    wrong = f"/bytedance/seedance-2.0/fast/text-to-video/requests/{job['request_id']}/status"
    assert (await client.get(wrong)).status_code == 404
    missing = "/bytedance/seedance-2.0/requests/00000000-0000-0000-0000-000000000000"
    assert (await client.get(missing + "/status")).status_code == 404
    assert (await client.get(missing)).status_code == 404


R2V = "/bytedance/seedance-2.0/reference-to-video"
BAD_INPUTS: list[tuple[str, dict[str, Any], list[Any], str]] = [
    (T2V, {"prompt": "x", "duration": "20"}, ["body", "duration"], "literal_error"),
    (T2V, {"prompt": "x", "duration": 5}, ["body", "duration"], "literal_error"),
    (T2V, {"prompt": "x", "resolution": "1080p"}, ["body", "resolution"], "literal_error"),
    (T2V, {"prompt": "x", "aspect_ratio": "2:1"}, ["body", "aspect_ratio"], "literal_error"),
    (T2V, {"prompt": "x", "generate_audio": "maybe"}, ["body", "generate_audio"], "bool_type"),
    (T2V, {"duration": "5"}, ["body", "prompt"], "missing"),
    ("/bytedance/seedance-2.0/image-to-video", {"prompt": "x"}, ["body", "image_url"], "missing"),
    (
        "/bytedance/seedance-2.0/fast/image-to-video",
        {"prompt": "x", "image_url": "{base}/files/nope/missing.png"},
        ["body", "image_url"],
        "file_download_error",
    ),
    (
        R2V,
        {"prompt": "x", "image_urls": [f"https://e.com/{i}.png" for i in range(10)]},
        ["body", "image_urls"],
        "too_long",
    ),
    (R2V, {"prompt": "x", "audio_urls": ["https://e.com/a.mp3"]}, ["body", "audio_urls"], "value_error"),
    (T2V, {"prompt": "something [sim:content_policy]"}, ["body", "prompt"], "content_policy_violation"),
    (T2V, {"prompt": "x [sim:detail=no_media_generated]"}, ["body", "prompt"], "no_media_generated"),
]


@pytest.mark.anyio
async def test_bad_input_is_accepted_then_fails_with_422(client: httpx.AsyncClient) -> None:
    base = f"{client.base_url}".rstrip("/")
    jobs = []
    for endpoint, body, _, _ in BAD_INPUTS:  # all at once: they fail in parallel
        body = {k: v.replace("{base}", base) if isinstance(v, str) else v for k, v in body.items()}
        jobs.append(await submit(client, body, endpoint))
    for job, (_, _, loc, kind) in zip(jobs, BAD_INPUTS, strict=True):
        done = (await wait_status(client, job["status_url"], "COMPLETED")).json()
        assert done["error"] and done["error_type"] == kind
        r = await client.get(job["response_url"])
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert detail[0]["loc"] == loc and detail[0]["type"] == kind and detail[0]["msg"]
        if kind == "value_error":
            assert (
                detail[0]["msg"] == "If audio is provided, at least one reference image or video is required."
            )


INFRA = [("runner_server_error", 500), ("request_timeout", 504), ("runner_scheduling_failure", 503)]


@pytest.mark.anyio
async def test_infrastructure_error_markers(client: httpx.AsyncClient) -> None:
    jobs = [await submit(client, {"prompt": f"boom [sim:error={kind}]"}) for kind, _ in INFRA]
    for job, (error_type, status) in zip(jobs, INFRA, strict=True):
        done = (await wait_status(client, job["status_url"], "COMPLETED")).json()
        assert done["error_type"] == error_type and done["error"]
        r = await client.get(job["response_url"])
        assert r.status_code == status
        assert r.headers["x-fal-error-type"] == error_type
        assert r.json()["error_type"] == error_type and isinstance(r.json()["detail"], str)


# --- cancel ---------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_cancel_while_queued_removes_the_job() -> None:
    async with (
        Simulator(SimulatorOptions(queue_seconds=60, run_seconds=1)) as sim,
        httpx.AsyncClient(verify=tls_context(), base_url=sim.url, headers=AUTH) as client,
    ):
        job = await submit(client, {"prompt": "never mind", **LIGHT})
        r = await client.put(job["cancel_url"])
        assert r.status_code == 202 and r.json() == {"status": "CANCELLATION_REQUESTED"}
        done = await client.get(job["status_url"])
        assert done.status_code == 200
        assert done.json()["status"] == "COMPLETED" and done.json()["error_type"] == "client_cancelled"
        result = await client.get(job["response_url"])
        assert result.status_code == 499 and result.json()["error_type"] == "client_cancelled"
        again = await client.put(job["cancel_url"])
        assert again.status_code == 400 and again.json() == {"status": "ALREADY_COMPLETED"}
        missing = await client.put("/bytedance/seedance-2.0/requests/nope/cancel")
        assert missing.status_code == 404 and missing.json() == {"status": "NOT_FOUND"}


@pytest.mark.anyio
async def test_cancel_while_running_is_acknowledged_but_the_job_finishes() -> None:
    async with (
        Simulator(SimulatorOptions(queue_seconds=0, run_seconds=1.0)) as sim,
        httpx.AsyncClient(verify=tls_context(), base_url=sim.url, headers=AUTH) as client,
    ):
        job = await submit(client, {"prompt": "too late", **LIGHT})
        await wait_status(client, job["status_url"], "IN_PROGRESS")
        r = await client.put(job["cancel_url"])
        assert r.status_code == 202
        done = (await wait_status(client, job["status_url"], "COMPLETED", logs="true")).json()
        assert "error" not in done
        assert any(line["level"] == "WARN" and "Cancel" in line["message"] for line in done["logs"])
        assert (await client.get(job["response_url"])).status_code == 200


# --- storage --------------------------------------------------------------------------------------
async def cdn_token(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post("/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={})
    assert r.status_code == 200
    data: dict[str, Any] = r.json()
    assert data["token_type"] == "Bearer" and data["base_url"] == f"{client.base_url}".rstrip("/")
    return data


@pytest.mark.anyio
async def test_single_upload_is_served_back_identically(client: httpx.AsyncClient) -> None:
    token = await cdn_token(client)
    payload = bytes(range(256)) * 4000
    bearer = {"Authorization": f"Bearer {token['token']}"}
    r = await client.post(
        "/files/upload",
        content=payload,
        headers={**bearer, "Content-Type": "image/png", "X-Fal-File-Name": "my photo.png"},
    )
    assert r.status_code == 200
    url = r.json()["access_url"]
    assert url.startswith(token["base_url"] + "/files/") and url.endswith("/my_photo.png")
    got = await client.get(url, headers={"Authorization": ""})
    assert got.content == payload and got.headers["content-type"] == "image/png"
    assert int(got.headers["content-length"]) == len(payload)
    head = await client.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(payload)
    part = await client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == payload[10:20]
    denied = await client.post("/files/upload", content=b"x", headers={"Authorization": "Bearer wrong"})
    assert denied.status_code == 401


@pytest.mark.anyio
async def test_multipart_upload_is_assembled_in_part_order(client: httpx.AsyncClient) -> None:
    token = await cdn_token(client)
    bearer = {"Authorization": f"Bearer {token['token']}"}
    chunks = [bytes([n]) * (100_000 + n) for n in range(3)]
    r = await client.post(
        token["base_url"] + "/files/upload/multipart",
        headers={**bearer, "Content-Type": "video/mp4", "X-Fal-File-Name": "clip.mp4"},
    )
    assert r.status_code == 200
    access_url, upload_id = r.json()["access_url"], r.json()["uploadId"]
    parts = []
    for n in (3, 1, 2):  # any order, as fal_client uploads parts concurrently
        put = await client.put(
            f"{access_url}/multipart/{upload_id}/{n}", content=chunks[n - 1], headers=bearer
        )
        assert put.status_code == 200 and put.headers["etag"]
        parts.append({"partNumber": n, "etag": put.headers["etag"]})
    bad = await client.post(
        f"{access_url}/multipart/{upload_id}/complete",
        json={"parts": [{"partNumber": 1, "etag": '"nope"'}]},
        headers=bearer,
    )
    assert bad.status_code == 400
    assert (await client.get(access_url)).status_code == 404  # not there until complete
    done = await client.post(
        f"{access_url}/multipart/{upload_id}/complete", json={"parts": parts}, headers=bearer
    )
    assert done.status_code == 200
    got = await client.get(access_url)
    assert got.content == b"".join(chunks) and got.headers["content-type"] == "video/mp4"


@pytest.mark.anyio
async def test_gcs_fallback_upload(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/storage/upload/initiate",
        params={"storage_type": "gcs"},
        json={"file_name": "voice.mp3", "content_type": "audio/mpeg"},
    )
    assert r.status_code == 200
    upload_url, file_url = r.json()["upload_url"], r.json()["file_url"]
    payload = b"ID3" + b"\x00" * 5000
    async with httpx.AsyncClient(verify=tls_context()) as bare:  # a signed URL needs no key
        put = await bare.put(upload_url, content=payload, headers={"Content-Type": "audio/mpeg"})
        assert put.status_code == 200
        got = await bare.get(file_url)
    assert got.content == payload and got.headers["content-type"] == "audio/mpeg"
    assert (await client.put(upload_url, content=b"again")).status_code == 404  # one use


@pytest.mark.anyio
async def test_uploaded_media_is_accepted_as_input(client: httpx.AsyncClient) -> None:
    token = await cdn_token(client)
    r = await client.post(
        "/files/upload",
        content=b"\x89PNG fake",
        headers={"Authorization": f"Bearer {token['token']}", "Content-Type": "image/png"},
    )
    body = {"prompt": "x", "image_url": r.json()["access_url"], **LIGHT}
    job = await submit(client, body, "/bytedance/seedance-2.0/fast/image-to-video")
    await wait_status(client, job["status_url"], "COMPLETED")
    assert (await client.get(job["response_url"])).status_code == 200


# --- request log ----------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_request_log_records_requests_but_never_the_key(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    assert (await client.delete("/_simulator/requests")).status_code == 204
    job = await submit(client, {"prompt": "logged", "image_url": "https://example.com/a.png", **LIGHT}, T2V)
    await client.get(job["status_url"], params={"logs": "1"})
    await client.put(job["cancel_url"])
    token = await cdn_token(client)
    await client.post("/files/upload", content=b"abc", headers={"Authorization": f"Bearer {token['token']}"})

    entries = (await client.get("/_simulator/requests")).json()
    assert entries == sim.request_log()
    kinds = [e["kind"] for e in entries]
    assert kinds == ["submit", "status", "cancel", "token", "upload"]
    first = entries[0]
    assert first["method"] == "POST" and first["path"] == T2V and first["status"] == 200
    assert first["endpoint"] == T2V.lstrip("/") and first["request_id"] == job["request_id"]
    assert first["input"] == {"prompt": "logged", "image_url": "https://example.com/a.png", **LIGHT}
    assert entries[1]["query"] == {"logs": "1"} and entries[1]["request_id"] == job["request_id"]
    assert all(isinstance(e["time"], float) for e in entries)
    text = json.dumps(entries).lower()
    assert KEY.lower() not in text and "very-secret" not in text and "authorization" not in text
    assert token["token"].lower() not in text


# --- faults ---------------------------------------------------------------------------------------
async def _fault_run(faults: str, seed: int) -> list[tuple[str, str | None, int]]:
    async with Simulator(
        SimulatorOptions(queue_seconds=0.1, run_seconds=0.2, faults=faults, seed=seed)
    ) as sim:
        async with httpx.AsyncClient(verify=tls_context(), base_url=sim.url, headers=AUTH) as client:
            for _ in range(12):
                r = await client.post(T2V, json={"prompt": "x", **LIGHT})
                if r.status_code == 429:
                    assert r.headers["retry-after"] == "1"
                    continue
                url = r.json()["status_url"]
                await client.get(url)
                await client.get(url.removesuffix("/status"))
                await client.put(url.replace("/status", "/cancel"))
        return [(e["kind"], e.get("fault"), e["status"]) for e in sim.request_log()]


@pytest.mark.anyio
async def test_faults_repeat_under_a_seed() -> None:
    mix = "status_5xx=0.3,result_5xx=0.3,submit_429=0.3,cancel_5xx=0.3"
    first = await _fault_run(mix, seed=11)
    assert first == await _fault_run(mix, seed=11)
    faults = {f for _, f, _ in first if f}
    assert {"submit_429", "status_5xx", "result_5xx", "cancel_5xx"} <= faults
    for kind, fault, status in first:
        if fault == "submit_429":
            assert (kind, status) == ("submit", 429)
        elif fault:
            assert status == 503
    # A refused submit creates no job: every non-429 submit has a request id, no 429 has one.
    assert sum(1 for k, f, _ in first if k == "submit" and f is None) == sum(
        1 for k, _, _ in first if k == "status"
    )


@pytest.mark.anyio
async def test_stream_drop_closes_before_completed() -> None:
    options = SimulatorOptions(queue_seconds=0.1, run_seconds=0.3, faults="stream_drop=1")
    async with (
        Simulator(options) as sim,
        httpx.AsyncClient(verify=tls_context(), base_url=sim.url, headers=AUTH) as client,
    ):
        job = await submit(client, {"prompt": "x", **LIGHT})
        with anyio.fail_after(60):
            async with aconnect_sse(client, "GET", job["status_url"] + "/stream") as source:
                states = [event.json()["status"] async for event in source.aiter_sse()]
        assert states and "COMPLETED" not in states
        assert sim.request_log()[-1]["fault"] == "stream_drop"


@pytest.mark.anyio
async def test_faults_can_change_while_running() -> None:
    async with (
        Simulator(SimulatorOptions(faults="status_5xx=1")) as sim,
        httpx.AsyncClient(verify=tls_context(), base_url=sim.url, headers=AUTH) as client,
    ):
        job = await submit(client, {"prompt": "outage", **LIGHT})
        assert (await client.get(job["status_url"])).status_code == 503
        sim.set_faults("")  # the outage ends
        assert (await client.get(job["status_url"])).status_code == 202
        with pytest.raises(ValueError, match="valid faults"):
            sim.set_faults("nonsense=1")


def test_unknown_fault_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid faults: status_5xx, result_5xx"):
        SimulatorOptions(faults="status_5xx=0.1,explode=0.5")
    with pytest.raises(ValueError, match="between 0 and 1"):
        SimulatorOptions(faults="slow=2")


def test_options_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        output_dir=tmp_path,
        allowed_dirs=(tmp_path,),
        sim_queue_seconds=0.5,
        sim_run_seconds=1.5,
        sim_faults="slow=0.1",
        sim_seed=3,
    )
    assert SimulatorOptions.from_settings(settings) == SimulatorOptions(
        queue_seconds=0.5, run_seconds=1.5, faults="slow=0.1", seed=3
    )


# --- rendered MP4s --------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "size", "seconds", "audio"),
    [
        (
            {"resolution": "480p", "aspect_ratio": "9:16", "duration": "4", "generate_audio": False},
            (496, 864),
            4,
            False,
        ),
        ({"resolution": "720p", "aspect_ratio": "21:9", "duration": "4"}, (1470, 630), 4, True),
        ({"resolution": "480p"}, (864, 496), 5, True),  # auto -> 16:9, 5 s
    ],
)
async def test_rendered_mp4_matches_the_request(
    client: httpx.AsyncClient,
    tmp_path: Path,
    body: dict[str, Any],
    size: tuple[int, int],
    seconds: int,
    audio: bool,
) -> None:
    import av

    job = await submit(client, {"prompt": f"probe {size}", **body})
    await wait_status(client, job["status_url"], "COMPLETED")
    video = (await client.get(job["response_url"])).json()["video"]
    path = tmp_path / "out.mp4"
    path.write_bytes((await client.get(video["url"])).content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == size
        assert stream.codec_context.name == "h264"
        assert container.duration is not None
        assert abs(container.duration / 1_000_000 - seconds) < 0.1
        assert stream.frames == seconds * 24
        assert len(container.streams.audio) == (1 if audio else 0)


# --- lifecycle ------------------------------------------------------------------------------------
def test_stop_removes_the_simulators_files() -> None:
    sim = Simulator(SimulatorOptions()).start()
    root = sim.engine.root
    assert root.is_dir()
    sim.stop()
    assert not root.exists()
    with pytest.raises(RuntimeError, match="not running"):
        _ = sim.url


def test_run_forever_serves_in_the_foreground_until_terminated() -> None:
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (
        "from server.simulator import SimulatorOptions, run_forever; "
        f"run_forever({port}, SimulatorOptions(queue_seconds=0.1, run_seconds=0.1))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                r = httpx.post(
                    f"http://127.0.0.1:{port}{T2V}",
                    json={"prompt": "cli", **LIGHT},
                    headers=AUTH,
                    verify=tls_context(),
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "simulator did not come up"
                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["status_url"].startswith(f"http://127.0.0.1:{port}/")
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
