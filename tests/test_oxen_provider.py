"""The Oxen.ai provider against the simulator's Oxen API over loopback: schema translation, queue states,
errors in both shapes, expiry, pricing and uploads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from seedance_mcp.server.catalogue.endpoints import endpoint
from seedance_mcp.server.errors import ConfigError, JobFailed, ProviderHTTPError
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.providers.base import Finished, JobSpec, QueueState, Submission
from seedance_mcp.server.providers.oxen import (
    SEED_PROPERTIES,
    ModelInfo,
    OxenProvider,
    parse_error,
    translate,
)
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.media_factory import make_image, make_video

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=0.5)) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=tls_context()) as client:
        yield client


def provider(http: httpx.AsyncClient, sim: Simulator, **kwargs: object) -> OxenProvider:
    return OxenProvider(http, key="oxen-secret", base_url=sim.url, poll_first=0.1, poll_max=0.3, **kwargs)  # type: ignore[arg-type]


async def follow(oxen: OxenProvider, submission: Submission) -> list[QueueState]:
    states: list[QueueState] = []
    with anyio.fail_after(60):
        async for state in oxen.watch(submission):
            states.append(state)
    return states


def spec(**arguments: object) -> JobSpec:
    return JobSpec(tier="fast", mode="text-to-video", arguments={"prompt": "A kite", **arguments})


async def test_the_live_schema_is_read_once_and_drift_is_translated(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    oxen = provider(http, sim)
    info = await oxen.model_info("bytedance-seedance-2-0-fast-text-to-video")
    await oxen.model_info("bytedance-seedance-2-0-fast-text-to-video")
    assert info.live and info.properties["duration"]["type"] == "integer"
    assert len([e for e in sim.request_log() if e.get("kind") == "model"]) == 1
    body = translate(spec(duration="auto", aspect_ratio="auto", generate_audio=True, end_user_id="u1"), info)
    assert body["duration"] == -1 and body["aspect_ratio"] == "adaptive" and body["generate_audio"] is True
    assert "end_user_id" not in body  # fal-only, not in Oxen's schema


def test_the_seeds_shape_is_the_fallback() -> None:
    info = ModelInfo("bytedance-seedance-2-0-reference-to-video", SEED_PROPERTIES, None, live=False)
    arguments = {
        "prompt": "@Image1",
        "duration": "auto",
        "aspect_ratio": "auto",
        "image_urls": ["https://x/a.png"],
    }
    body = translate(JobSpec(tier="standard", mode="reference-to-video", arguments=arguments), info)
    assert body["duration"] == "auto" and body["aspect_ratio"] == "auto"
    assert body["input_images"] == ["https://x/a.png"] and "image_urls" not in body


async def test_a_generation_is_queued_run_and_downloaded_with_the_key_on_oxen_only(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    oxen = provider(http, sim)
    [submission] = await oxen.submit(spec(duration="4"))
    states = await follow(oxen, submission)
    assert isinstance(states[-1], Finished) and states[-1].error is None
    output = await oxen.result(submission)
    assert output.url.startswith(sim.url + "/api/ai/results/")
    assert oxen.auth_headers_for(output.url) == {"Authorization": "Bearer oxen-secret"}
    assert oxen.auth_headers_for("https://cdn.example.com/v.mp4") == {}
    response = await http.get(output.url, headers=oxen.auth_headers_for(output.url))
    assert response.status_code == 200 and response.content[4:8] == b"ftyp"
    assert "oxen-secret" not in str(sim.request_log())


async def test_num_generations_gives_one_submission_each(http: httpx.AsyncClient, sim: Simulator) -> None:
    oxen = provider(http, sim)
    submissions = await oxen.submit(
        JobSpec(tier="fast", mode="text-to-video", arguments={"prompt": "x"}, count=3)
    )
    assert len({s.request_id for s in submissions}) == 3
    listed = (await http.get(f"{sim.url}/api/ai/queue", headers={"Authorization": "Bearer k"})).json()
    assert listed["count"] == 3


async def test_bad_num_generations_is_refused_in_the_short_error_shape(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    oxen = provider(http, sim)
    with pytest.raises(ProviderHTTPError) as caught:
        await oxen.submit(JobSpec(tier="fast", mode="text-to-video", arguments={"prompt": "x"}, count=5))
    assert "num_generations must be an integer between 1 and 4" in str(caught.value)
    assert "fix: num_generations must be 1, 2, 3 or 4" in str(caught.value)


async def test_a_bad_parameter_fails_the_generation_with_the_documented_fix(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    oxen = provider(http, sim)
    [submission] = await oxen.submit(spec(duration="3"))
    states = await follow(oxen, submission)
    assert isinstance(states[-1], Finished) and states[-1].error
    with pytest.raises(JobFailed) as caught:
        await oxen.result(submission)
    assert "Invalid duration" in str(caught.value) and '"4" through "15"' in str(caught.value)


async def test_insufficient_credits_says_what_to_do(http: httpx.AsyncClient, sim: Simulator) -> None:
    oxen = provider(http, sim)
    [submission] = await oxen.submit(spec(prompt="x [sim:error=insufficient_credits]", duration="4"))
    await follow(oxen, submission)
    with pytest.raises(JobFailed) as caught:
        await oxen.result(submission)
    assert caught.value.error_type == "insufficient_credits" and "credits" in str(caught.value)


async def test_a_404_for_a_known_generation_means_expired(http: httpx.AsyncClient, sim: Simulator) -> None:
    oxen = provider(http, sim)
    [submission] = await oxen.submit(spec(prompt="x [sim:expire]", duration="4"))
    states = await follow(oxen, submission)
    assert isinstance(states[-1], Finished) and states[-1].error_type == "expired"
    with pytest.raises(JobFailed, match="no longer knows"):
        await oxen.result(submission)


async def test_cancel_with_delete(http: httpx.AsyncClient, sim: Simulator) -> None:
    oxen = provider(http, sim)
    [submission] = await oxen.submit(spec(duration="4"))
    assert await oxen.cancel(submission)
    states = await follow(oxen, submission)
    assert isinstance(states[-1], Finished) and states[-1].cancelled
    assert any(e["method"] == "DELETE" for e in sim.request_log())


async def test_a_bad_key_is_a_401_in_the_full_error_shape(http: httpx.AsyncClient, sim: Simulator) -> None:
    oxen = OxenProvider(http, key="sim-invalid", base_url=sim.url)
    with pytest.raises(ProviderHTTPError) as caught:
        await oxen.submit(spec())
    assert caught.value.status == 401 and "OXEN_API_KEY" in str(caught.value)
    assert "sim-invalid" not in str(caught.value)


async def test_both_error_shapes_parse() -> None:
    request = httpx.Request("GET", "https://hub.oxen.ai/x")
    full = httpx.Response(
        400,
        json={
            "error": {"type": "invalid_params", "title": "Bad", "detail": "Invalid resolution"},
            "status": "error",
        },
        request=request,
    )
    short = httpx.Response(400, json={"error": {"message": "Too many input files"}}, request=request)
    assert parse_error(full) == ("invalid_params", "Invalid resolution")
    assert parse_error(short) == (None, "Too many input files")


async def test_pricing_comes_from_the_model(http: httpx.AsyncClient, sim: Simulator) -> None:
    oxen = provider(http, sim)
    fast_text = endpoint("2.0", "fast", "text-to-video")
    assert fast_text is not None
    high = await oxen.price(fast_text, {"resolution": "720p", "generate_audio": True})
    low = await oxen.price(fast_text, {"resolution": "480p", "generate_audio": False})
    assert high is not None and low is not None and high.usd_per_second > low.usd_per_second
    assert "Oxen.ai pricing" in high.source


async def test_uploads_inline_small_images_and_put_videos_in_the_repository(
    http: httpx.AsyncClient, sim: Simulator, isolated_env: Path
) -> None:
    image = make_image(isolated_env / "media" / "a.png", "png")
    video = make_video(isolated_env / "media" / "b.mp4", seconds=2.0)
    bare = provider(http, sim)
    assert (await bare.upload(image, "image/png")).startswith("data:image/png;base64,")
    with pytest.raises(ConfigError, match="SEEDANCE_OXEN_UPLOAD_REPO"):
        await bare.upload(video, "video/mp4")
    oxen = provider(http, sim, upload_repo="me/inputs/dev")
    url = await oxen.upload(video, "video/mp4")
    assert url.startswith(f"{sim.url}/api/repos/me/inputs/file/dev/seedance-inputs/")
    fetched = await http.get(url)
    assert fetched.status_code == 200 and fetched.content == video.read_bytes()


async def test_the_blocking_endpoint_answers_a_url(http: httpx.AsyncClient, sim: Simulator) -> None:
    oxen = provider(http, sim)
    [submission] = await oxen.submit(spec(duration="4", response_format="url"))
    states = await follow(oxen, submission)
    assert isinstance(states[-1], Finished) and states[-1].error is None
    assert (await oxen.result(submission)).url.startswith(sim.url)
    assert not await oxen.cancel(submission)


@pytest.mark.parametrize("name", ["café 🎬.mp4", "two\nlines.mp4", "日本語.mp4"])
async def test_any_file_name_uploads_to_the_repository_under_an_ascii_name(
    http: httpx.AsyncClient, sim: Simulator, isolated_env: Path, name: str
) -> None:
    video = make_video(isolated_env / "media" / name, seconds=1.0)
    oxen = provider(http, sim, upload_repo="me/inputs")
    url = await oxen.upload(video, "video/mp4")
    assert url.isascii() and url.endswith(".mp4")
    fetched = await http.get(url)
    assert fetched.status_code == 200 and fetched.content == video.read_bytes()
    [upload] = [e for e in sim.request_log() if e.get("upload") == "oxen_repo"]
    assert upload["sent_name"].isascii() and upload["sent_name"].isprintable()
    assert upload["sent_name"].endswith(".mp4") and upload["status"] == 200
    assert video.name == name  # the user's file keeps its name


async def test_the_blocking_call_is_sent_once_and_lives_with_the_job_not_the_provider(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    oxen = provider(http, sim)
    [submission] = await oxen.submit(spec(duration="4", response_format="url"))
    assert "response_format" not in submission.to_json()  # the request body is never journaled
    await follow(oxen, submission)
    again = await follow(oxen, submission)  # a second follower reads the outcome, sends nothing
    assert isinstance(again[-1], Finished) and again[-1].error is None
    generates = [e for e in sim.request_log() if e["path"] == "/api/ai/videos/generate"]
    assert len(generates) == 1
    # Another provider object serves the same job handle: nothing about the job was kept in the first.
    other = provider(http, sim)
    assert (await other.result(submission)).url.startswith(sim.url)
    # The handle as read back from the journal after a restart: the call is gone, and that is said.
    restored = Submission.from_json(submission.to_json())
    with pytest.raises(JobFailed, match="lost when the server restarted"):
        await other.result(restored)


async def test_a_field_refused_by_a_changed_schema_says_how_to_check(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    # Oxen drops 480p from the model's schema (injected through the simulator): the server's facts still
    # allow it, so the refusal points at the live check.
    model = "bytedance-seedance-2-0-fast-text-to-video"
    patch = {"request_schema": {"properties": {"resolution": {"enum": ["720p"]}}}}
    assert (
        await http.patch(f"{sim.url}/_simulator/descriptions/oxen/{model}", json=patch)
    ).status_code == 204
    oxen = provider(http, sim)
    [submission] = await oxen.submit(spec(resolution="480p"))
    await follow(oxen, submission)
    with pytest.raises(JobFailed) as caught:
        await oxen.result(submission)
    assert "Invalid resolution" in str(caught.value)
    assert "schema may have changed" in str(caught.value) and "seedance-mcp doctor --models" in str(
        caught.value
    )
