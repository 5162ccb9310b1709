"""FalProvider against the simulator over loopback: the real wire, no patched HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from seedance_mcp.server.errors import JobFailed, ProviderHTTPError, SubmitUncertain
from seedance_mcp.server.http_pool import shared_client, tls_context
from seedance_mcp.server.providers._http import RetryPolicy, parse_retry_after
from seedance_mcp.server.providers.base import (
    Finished,
    JobSpec,
    Queued,
    QueueState,
    Running,
    Submission,
)
from seedance_mcp.server.providers.fal import (
    MODES,
    FalProvider,
    endpoint_for,
    parse_status,
    render_detail_list,
)
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

KEY = "test-key-5f0c9e-secret"
# Short waits: tests must stay fast, and the behaviour under test is the same.
FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.05, max_delay=0.2, retry_after_cap=0.2, deadline=10.0)


def _options(**overrides: Any) -> SimulatorOptions:
    values: dict[str, Any] = {"queue_seconds": 0.2, "run_seconds": 0.4, "seed": 1}
    values.update(overrides)
    return SimulatorOptions(**values)


def _provider(client: httpx.AsyncClient, url: str, *, key: str = KEY, **kwargs: Any) -> FalProvider:
    kwargs.setdefault("retry", FAST_RETRY)
    return FalProvider(client, key=key, queue_url=url, rest_url=url, cdn_url=url, **kwargs)


def _spec(prompt: str = "a red fox runs through fresh snow", **arguments: Any) -> JobSpec:
    return JobSpec(
        tier="fast",
        mode="text-to-video",
        arguments={"prompt": prompt, "duration": "4", "resolution": "480p", **arguments},
    )


async def _states(provider: FalProvider, submission: Any) -> list[QueueState]:
    states: list[QueueState] = []
    with anyio.fail_after(60):
        async for state in provider.watch(submission):
            states.append(state)
    return states


def _assert_no_key(sim: Simulator, *texts: str) -> None:
    assert KEY not in repr(sim.request_log())
    for text in texts:
        assert KEY not in text


# -- pure parsing ----------------------------------------------------------------------------------


def test_endpoint_ids() -> None:
    assert endpoint_for("fast", "text-to-video") == "bytedance/seedance-2.0/fast/text-to-video"
    assert endpoint_for("standard", "reference-to-video") == "bytedance/seedance-2.0/reference-to-video"
    tiers: tuple[str, ...] = ("fast", "standard")
    ids = {endpoint_for(t, m) for t in tiers for m in MODES}
    assert len(ids) == 6 and all(i.startswith("bytedance/seedance-2.0/") for i in ids)


def test_parse_status_closed_set() -> None:
    assert parse_status({"status": "IN_QUEUE", "queue_position": 2, "logs": None}) == Queued(position=2)
    running = parse_status(
        {
            "status": "IN_PROGRESS",
            "logs": [{"message": "step 1", "level": "INFO", "timestamp": "2025-01-01T00:00:00Z"}],
        }
    )
    assert isinstance(running, Running) and running.logs[0].message == "fal.ai says: “step 1”"
    assert parse_status({"status": "IN_PROGRESS", "logs": None}) == Running()
    done = parse_status({"status": "COMPLETED", "logs": None, "metrics": {"inference_time": 1.5}})
    assert done == Finished(metrics={"inference_time": 1.5})
    failed = parse_status(
        {"status": "COMPLETED", "error": "boom", "error_type": "client_cancelled", "logs": []}
    )
    assert isinstance(failed, Finished) and failed.cancelled and failed.error == "fal.ai says: “boom”"


def test_detail_list_is_readable() -> None:
    text = render_detail_list(
        [{"loc": ["body", "duration"], "msg": "Input should be 'auto' or '4'", "type": "literal_error"}]
    )
    assert text == "duration: “Input should be 'auto' or '4'” (fix: use one of the documented values)"


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    policy = RetryPolicy(retry_after_cap=5)
    assert policy.delay(1, retry_after=100) == 5
    assert all(policy.delay(n) <= policy.max_delay for n in range(1, 20))


# -- the queue over the wire -----------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=tls_context(), timeout=10.0) as http:
        yield http


@pytest.mark.anyio
async def test_submit_watch_result_uses_one_stream(client: httpx.AsyncClient) -> None:
    async with Simulator(_options()) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec())
        assert submission.provider == "fal" and submission.request_id
        assert submission.endpoint == "bytedance/seedance-2.0/fast/text-to-video"
        assert "/requests/" in submission.status_url and "/fast/" not in submission.status_url

        states = await _states(fal, submission)
        kinds = [type(s).__name__ for s in states]
        assert kinds[-1] == "Finished" and kinds.count("Finished") == 1
        # States only move forward: queued, then running, then finished.
        order = {"Queued": 0, "Running": 1, "Finished": 2}
        assert [order[k] for k in kinds] == sorted(order[k] for k in kinds)
        assert "Running" in kinds
        final = states[-1]
        assert isinstance(final, Finished) and final.error is None

        video = await fal.result(submission)
        assert video.url.startswith("http")
        response = await client.get(video.url)
        assert response.status_code == 200 and response.content[4:8] == b"ftyp"

        log = [e for e in sim.request_log() if e.get("request_id") == submission.request_id]
        streams = [e for e in log if str(e["path"]).endswith("/status/stream")]
        polls = [e for e in log if str(e["path"]).endswith("/status")]
        assert len(streams) == 1
        assert len(polls) <= 1
        _assert_no_key(sim)


@pytest.mark.anyio
async def test_watch_falls_back_to_polling_when_stream_drops(client: httpx.AsyncClient) -> None:
    async with Simulator(_options(faults="stream_drop=1.0")) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec())
        states = await _states(fal, submission)
        assert isinstance(states[-1], Finished) and states[-1].error is None
        paths = [str(e["path"]) for e in sim.request_log() if e.get("request_id") == submission.request_id]
        assert any(p.endswith("/status") for p in paths)  # it polled
        video = await fal.result(submission)
        assert video.url


@pytest.mark.anyio
async def test_watch_survives_status_errors(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with Simulator(_options(faults="stream_drop=1.0,status_5xx=0.5")) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec())
        states = await _states(fal, submission)
        assert isinstance(states[-1], Finished)
        assert any(e.get("fault") == "status_5xx" for e in sim.request_log())
    assert caplog.text and KEY not in caplog.text


@pytest.mark.anyio
async def test_cancel_queued_job(client: httpx.AsyncClient) -> None:
    async with Simulator(_options(queue_seconds=5.0)) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec())
        assert isinstance(await fal.status(submission), Queued)
        assert await fal.cancel(submission) is True
        state = await fal.status(submission)
        assert isinstance(state, Finished) and state.error_type is not None
        with pytest.raises(JobFailed):
            await fal.result(submission)


@pytest.mark.anyio
async def test_bad_key_is_a_sentence(client: httpx.AsyncClient) -> None:
    async with Simulator(_options()) as sim:
        key = "sim-invalid-0f3a9c"
        fal = _provider(client, sim.url, key=key)
        with pytest.raises(ProviderHTTPError) as info:
            await fal.submit(_spec())
        assert info.value.status == 401
        assert "FAL_KEY" in str(info.value) and key not in str(info.value)
        assert key not in repr(sim.request_log())


@pytest.mark.anyio
async def test_locked_account_points_to_billing(client: httpx.AsyncClient) -> None:
    async with Simulator(_options()) as sim:
        key = "sim-locked-77aa"
        fal = _provider(client, sim.url, key=key)
        with pytest.raises(ProviderHTTPError) as info:
            await fal.submit(_spec())
        assert info.value.status == 403
        assert "https://fal.ai/dashboard/billing" in str(info.value) and key not in str(info.value)


@pytest.mark.anyio
async def test_invalid_input_names_field_and_fix(client: httpx.AsyncClient) -> None:
    # fal accepts a bad input at submit and fails it at the result, as 422 with a detail list.
    async with Simulator(_options()) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec(duration="20"))
        states = await _states(fal, submission)
        assert isinstance(states[-1], Finished) and states[-1].error
        with pytest.raises(JobFailed) as info:
            await fal.result(submission)
        message = str(info.value)
        assert message.startswith("fal.ai rejected the input")
        assert "duration: “Input should be" in message
        assert "(fix: use one of the documented values)" in message
        _assert_no_key(sim, message)


@pytest.mark.anyio
async def test_content_policy_says_rephrase(client: httpx.AsyncClient) -> None:
    async with Simulator(_options()) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec("a scene [sim:content_policy]"))
        await _states(fal, submission)
        with pytest.raises(JobFailed) as info:
            await fal.result(submission)
        assert info.value.error_type == "content_policy_violation"
        assert "rephrase" in str(info.value)


@pytest.mark.anyio
async def test_infrastructure_error_type(client: httpx.AsyncClient) -> None:
    async with Simulator(_options()) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec("a scene [sim:error=runner_disconnected]"))
        states = await _states(fal, submission)
        assert isinstance(states[-1], Finished) and states[-1].error_type == "runner_disconnected"
        with pytest.raises(JobFailed) as info:
            await fal.result(submission)
        assert info.value.error_type == "runner_disconnected"
        assert "disconnected" in str(info.value) and "try again" in str(info.value)
        # A 5xx carrying an error_type is the job's final answer: asked for once, not retried.
        results = [
            e
            for e in sim.request_log()
            if e.get("request_id") == submission.request_id
            and e["method"] == "GET"
            and str(e["path"]).endswith(submission.request_id)
        ]
        assert len(results) == 1


@pytest.mark.anyio
async def test_submit_429_is_retried_without_duplicates(client: httpx.AsyncClient) -> None:
    async with Simulator(_options(faults="submit_429=0.5", seed=3)) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec())
        submits = [e for e in sim.request_log() if e["method"] == "POST" and "seedance-2.0" in str(e["path"])]
        assert [e["status"] for e in submits].count(429) >= 1
        accepted = [e for e in submits if e["status"] == 200]
        assert len(accepted) == 1 and accepted[0]["request_id"] == submission.request_id


@pytest.mark.anyio
async def test_submit_after_send_is_uncertain_not_retried() -> None:
    # A read timeout means the request went out: the job may exist, so the submit must not repeat.
    async with Simulator(_options(faults="slow=1.0")) as sim:
        async with httpx.AsyncClient(
            verify=tls_context(), timeout=httpx.Timeout(5.0, read=0.05)
        ) as impatient:
            with pytest.raises(SubmitUncertain) as info:
                await _provider(impatient, sim.url).submit(_spec())
        assert "resubmit" in str(info.value) and KEY not in str(info.value)
        submits = [e for e in sim.request_log() if e.get("kind") == "submit"]
        assert len(submits) == 1


@pytest.mark.anyio
async def test_unreachable_submit_is_safe_to_retry(client: httpx.AsyncClient) -> None:
    with anyio.fail_after(10):
        # Nothing listens here: the connection is refused, so nothing can have been queued.
        fal = _provider(client, "http://127.0.0.1:9")
        with pytest.raises(Exception) as info:
            await fal.submit(_spec())
        assert not isinstance(info.value, SubmitUncertain)
        assert "nothing was submitted" in str(info.value)


# -- uploads ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_upload_small_file_round_trips(client: httpx.AsyncClient, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "ref.png"
    path.write_bytes(data)
    async with Simulator(_options()) as sim:
        fal = _provider(client, sim.url)
        url = await fal.upload(path, "image/png")
        response = await client.get(url)
        assert response.status_code == 200 and response.content == data
        # The token is cached: a second upload asks for no new one.
        await fal.upload(path, "image/png")
        tokens = [e for e in sim.request_log() if "auth/token" in str(e["path"])]
        assert len(tokens) == 1
        _assert_no_key(sim, url)


@pytest.mark.anyio
async def test_upload_multipart_round_trips(client: httpx.AsyncClient, tmp_path: Path) -> None:
    data = os.urandom(2_500_000)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    async with Simulator(_options()) as sim:
        fal = _provider(client, sim.url, multipart_threshold=1_000_000, part_size=1_000_000)
        url = await fal.upload(path, "video/mp4")
        response = await client.get(url)
        assert hashlib.sha256(response.content).digest() == hashlib.sha256(data).digest()
        parts = [e for e in sim.request_log() if e["method"] == "PUT" and "/multipart/" in str(e["path"])]
        assert len(parts) == 3


@pytest.mark.anyio
async def test_upload_falls_back_to_gcs_when_token_service_fails(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    from seedance_mcp.server.simulator.faults import FaultPlan

    # A seed whose first storage request (the token) meets a 503 and the next two (GCS start, PUT) do not.
    mix = {"upload_5xx": 0.5}
    seed = next(s for s in range(1000) if _draws_ok(FaultPlan(mix, s)))
    data = os.urandom(70_000)
    path = tmp_path / "voice.mp3"
    path.write_bytes(data)
    async with Simulator(_options(faults="upload_5xx=0.5", seed=seed)) as sim:
        one_try = RetryPolicy(max_attempts=1)
        fal = _provider(client, sim.url, retry=one_try)
        url = await fal.upload(path, "audio/mpeg")
        assert (await client.get(url)).content == data
        kinds = [
            e.get("upload") or e.get("kind")
            for e in sim.request_log()
            if e.get("kind") in ("token", "upload")
        ]
        assert kinds == ["token", "gcs_initiate", "gcs_put"]
        put = [e for e in sim.request_log() if e.get("upload") == "gcs_put"]
        assert put and put[0]["status"] == 200
        _assert_no_key(sim, url)


def _draws_ok(plan: Any) -> bool:
    token, start, put = plan.draw("token"), plan.draw("upload"), plan.draw("upload")
    return bool(token.fault == "upload_5xx" and start.fault is None and put.fault is None)


@pytest.mark.anyio
async def test_upload_streams_from_disk(client: httpx.AsyncClient, tmp_path: Path) -> None:
    import tracemalloc

    size = 50 * 1024 * 1024
    path = tmp_path / "big.mp4"
    with path.open("wb") as handle:
        chunk = os.urandom(1024 * 1024)
        for _ in range(50):
            handle.write(chunk)
    async with Simulator(_options()) as sim:
        fal = _provider(client, sim.url)
        tracemalloc.start()
        try:
            url = await fal.upload(path, "video/mp4")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # Reading the file whole would peak above 50 MB; streamed, a few MB at most (both ends of the wire).
        assert peak < 16 * 1024 * 1024, peak
        head = await client.head(url)
        assert int(head.headers["content-length"]) == size


@pytest.mark.anyio
async def test_result_retries_gateway_errors(client: httpx.AsyncClient) -> None:
    from seedance_mcp.server.simulator.faults import FaultPlan

    def first_fails_then_ok(seed: int) -> bool:
        plan = FaultPlan({"result_5xx": 0.5}, seed)
        return plan.draw("result").fault == "result_5xx" and plan.draw("result").fault is None

    seed = next(s for s in range(1000) if first_fails_then_ok(s))
    async with Simulator(_options(faults="result_5xx=0.5", seed=seed)) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec())
        await _states(fal, submission)
        video = await fal.result(submission)
        assert video.url
        answers = [e["status"] for e in sim.request_log() if e.get("kind") == "result"]
        assert answers == [503, 200]


@pytest.mark.anyio
async def test_urls_rebuilt_when_submission_lacks_them(client: httpx.AsyncClient) -> None:
    async with Simulator(_options()) as sim:
        fal = _provider(client, sim.url)
        [submission] = await fal.submit(_spec())
        bare = Submission(provider="fal", request_id=submission.request_id, endpoint=submission.endpoint)
        states = await _states(fal, bare)
        assert isinstance(states[-1], Finished)
        assert (await fal.result(bare)).url
        paths = {str(e["path"]) for e in sim.request_log() if e.get("request_id") == submission.request_id}
        assert f"/bytedance/seedance-2.0/requests/{submission.request_id}" in paths


@pytest.mark.anyio
async def test_revoked_upload_token_is_renewed_once(client: httpx.AsyncClient, tmp_path: Path) -> None:
    path = tmp_path / "still.jpg"
    path.write_bytes(b"\xff\xd8\xff" + os.urandom(5000))
    async with Simulator(_options()) as sim:
        fal = _provider(client, sim.url)
        await fal.upload(path, "image/jpeg")  # caches a token
        # The CDN stops honouring it (revoked, or expired ahead of its stated time).
        assert (await client.delete(f"{sim.url}/_simulator/upload-tokens")).status_code == 204
        await client.delete(f"{sim.url}/_simulator/requests")
        url = await fal.upload(path, "image/jpeg")
        assert (await client.get(url)).content == path.read_bytes()
        answers = [
            (e.get("kind"), e["status"]) for e in sim.request_log() if e.get("kind") in ("token", "upload")
        ]
        assert answers == [("upload", 401), ("token", 200), ("upload", 200)]


# -- file names ------------------------------------------------------------------------------------

ODD_NAMES = ["café 🎬.png", "two\nlines.png", "日本語.png"]


@pytest.mark.anyio
@pytest.mark.parametrize("name", ODD_NAMES)
@pytest.mark.parametrize("route", ["single", "multipart", "gcs"])
async def test_any_file_name_uploads_under_an_ascii_name(
    client: httpx.AsyncClient, tmp_path: Path, route: str, name: str
) -> None:
    data = os.urandom(1_500_000)
    path = tmp_path / name
    path.write_bytes(data)
    options = _options()
    retry = FAST_RETRY
    if route == "gcs":
        from seedance_mcp.server.simulator.faults import FaultPlan

        seed = next(s for s in range(1000) if _draws_ok(FaultPlan({"upload_5xx": 0.5}, s)))
        options, retry = _options(faults="upload_5xx=0.5", seed=seed), RetryPolicy(max_attempts=1)
    threshold = 1_000_000 if route == "multipart" else 100_000_000
    async with Simulator(options) as sim:
        fal = _provider(client, sim.url, retry=retry, multipart_threshold=threshold, part_size=1_000_000)
        url = await fal.upload(path, "image/png")
        assert (await client.get(url)).content == data
        sent = [e["sent_name"] for e in sim.request_log() if "sent_name" in e]
    assert len(sent) == 1
    assert sent[0].isascii() and sent[0].isprintable() and sent[0].endswith(".png")
    assert url.isascii() and url.endswith(".png")
    assert path.name == name  # the user's file keeps its name


@pytest.mark.anyio
async def test_an_image_named_with_emoji_uploads_and_the_job_completes(isolated_env: Path) -> None:
    from mcp.client import Client

    from seedance_mcp.server.app import create_server
    from seedance_mcp.server.config import Settings
    from tests.media_factory import make_image

    image = make_image(isolated_env / "media" / "café 🎬.png", "png", 640, 480)
    async with Client(create_server(Settings.from_env())) as client:
        with anyio.fail_after(60):
            done = await client.call_tool(
                "generate_video",
                {"prompt": "Animate this", "image_url": str(image), "duration": "4", "wait_seconds": 50},
            )
    assert not done.is_error, done.content
    assert (done.structured_content or {})["state"] == "completed"


@pytest.mark.anyio
async def test_a_field_refused_by_a_changed_schema_says_how_to_check(client: httpx.AsyncClient) -> None:
    # fal drops 480p from the endpoint's schema (injected through the simulator): our facts still allow
    # it, so the refusal says the schema may have changed and how to compare; a policy refusal does not.
    async with Simulator(_options()) as sim:
        endpoint = "bytedance/seedance-2.0/fast/text-to-video"
        document = (
            await client.get(f"{sim.url}/api/openapi/queue/openapi.json", params={"endpoint_id": endpoint})
        ).json()
        ref = document["paths"][f"/{endpoint}"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]
        name = ref["$ref"].rsplit("/", 1)[1]
        patch = {
            "openapi": {"components": {"schemas": {name: {"properties": {"resolution": {"enum": ["720p"]}}}}}}
        }
        assert (
            await client.patch(f"{sim.url}/_simulator/descriptions/fal/{endpoint}", json=patch)
        ).status_code == 204
        fal = _provider(client, sim.url)
        refused, policy = (
            await fal.submit(_spec()),
            await fal.submit(_spec("x [sim:content_policy]", resolution="720p")),
        )
        for [submission] in (refused, policy):
            await _states(fal, submission)
        with pytest.raises(JobFailed) as info:
            await fal.result(refused[0])
        assert "resolution: “Input should be '720p'" in str(info.value)
        assert "schema for this endpoint may have changed" in str(info.value)
        assert "run `seedance-mcp doctor --models`" in str(info.value)
        with pytest.raises(JobFailed) as info:
            await fal.result(policy[0])
        assert "doctor --models" not in str(info.value)


@pytest.mark.anyio
async def test_the_status_stream_is_closed_before_the_finished_state_is_handed_over() -> None:
    """The follower saves the video (a download, a preview queued behind other jobs) while it holds
    the `Finished` state: a stream still open then holds its connection for all that time."""
    closed = anyio.Event()

    async def status_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request's head
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
        writer.write(b'data: {"status": "COMPLETED", "request_id": "r1"}\r\n\r\n')
        await writer.drain()
        await reader.read()  # kept open, as fal's stream is, until the client goes
        closed.set()
        writer.close()

    server = await asyncio.start_server(status_stream, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server, shared_client(headers={}, timeout=httpx.Timeout(10.0)) as client:
        provider = _provider(client, url)
        submission = Submission(
            provider="fal",
            request_id="r1",
            endpoint=endpoint_for("fast", "text-to-video"),
            status_url=f"{url}/bytedance/seedance-2.0/requests/r1/status",
        )
        with anyio.fail_after(30):  # a safety net, not a timing: a stream left open never closes
            async for state in provider.watch(submission):
                assert isinstance(state, Finished) and state.error is None
                await closed.wait()  # while the state is held, as the follower holds it
