"""The same end-to-end tests for fal.ai and Oxen.ai: the server in process, talking to a `Simulator` the
test starts, with a provider key set and every URL setting pointed at it (as with real hosts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.media_factory import make_image, make_video

pytestmark = pytest.mark.anyio

SUBMIT_PATH = {"fal": "/bytedance/seedance-2.0/fast/", "oxen": "/api/ai/queue"}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorOptions(queue_seconds=0.3, run_seconds=1.0)) as simulator:
        yield simulator


def provider_settings(
    provider: str, sim: Simulator, monkeypatch: pytest.MonkeyPatch, key: str = "k1"
) -> Settings:
    monkeypatch.setenv("SEEDANCE_PROVIDER", provider)
    if provider == "fal":
        monkeypatch.setenv("FAL_KEY", f"fal-{key}")
        for name in ("QUEUE", "REST", "CDN"):
            monkeypatch.setenv(f"SEEDANCE_FAL_{name}_URL", sim.url)
    else:
        monkeypatch.setenv("OXEN_API_KEY", f"oxen-{key}")
        monkeypatch.setenv("SEEDANCE_OXEN_URL", sim.url)
        monkeypatch.setenv("SEEDANCE_OXEN_UPLOAD_REPO", "me/seedance-inputs")
    return Settings.from_env()


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def submits(sim: Simulator, provider: str) -> list[dict[str, Any]]:
    return [
        e for e in sim.request_log() if e["method"] == "POST" and e["path"].startswith(SUBMIT_PATH[provider])
    ]


PROVIDERS = pytest.mark.parametrize("provider", ["fal", "oxen"])


@PROVIDERS
async def test_generate_saves_a_video_with_progress(
    provider: str, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = provider_settings(provider, sim, monkeypatch)
    messages: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with Client(create_server(settings)) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(
                "generate_video",
                {
                    "prompt": "A red kite over dunes",
                    "duration": "4",
                    "aspect_ratio": "1:1",
                    "wait_seconds": 60,
                },
                progress_callback=on_progress,
            )
    assert not result.is_error, text_of(result)
    data = result.structured_content or {}
    assert data["state"] == "completed" and data["provider"] == provider and not data["simulated"]
    assert Path(data["video_path"]).is_file()
    assert any("Queued" in m for m in messages)
    if provider == "fal":  # Oxen's render is followed by its completion event: no read sees it running
        assert any("Generating" in m for m in messages)
    assert len(submits(sim, provider)) == 1
    if provider == "oxen":
        # Translated to the live schema the simulator serves: integer duration, audio stated explicitly.
        body = submits(sim, provider)[0]["input"]
        assert body["duration"] == 4 and body["aspect_ratio"] == "1:1" and body["generate_audio"] is True
        assert body["model"] == "bytedance-seedance-2-0-fast-text-to-video"


@PROVIDERS
async def test_reference_video_uploads_local_files(
    provider: str, sim: Simulator, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    settings = provider_settings(provider, sim, monkeypatch)
    image = make_image(isolated_env / "media" / "cat.png", "png")
    video = make_video(isolated_env / "media" / "dance.mp4", seconds=2.0)
    async with Client(create_server(settings)) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(
                "reference_video",
                {
                    "prompt": "@Image1 dances like @Video1",
                    "image_urls": [str(image)],
                    "video_urls": [str(video)],
                    "duration": "4",
                    "aspect_ratio": "16:9",
                    "wait_seconds": 60,
                },
            )
    assert not result.is_error, text_of(result)
    assert (result.structured_content or {})["state"] == "completed"
    uploads = [e for e in sim.request_log() if e.get("kind") == "upload"]
    assert uploads, "the local video was uploaded"
    if provider == "oxen":
        # The small image went inline; the video into the named repository.
        assert [e["path"].split("/file/")[0] for e in uploads] == ["/api/repos/me/seedance-inputs"]


@PROVIDERS
async def test_bounded_wait_then_check_status(
    provider: str, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = provider_settings(provider, sim, monkeypatch)
    async with Client(create_server(settings)) as client:
        first = await client.call_tool(
            "generate_video", {"prompt": "Slow tide", "duration": "4", "wait_seconds": 0}
        )
        assert not first.is_error, text_of(first)
        data = first.structured_content or {}
        assert not data["done"] and "check_status" in data["next_step"]
        with anyio.fail_after(60):
            while not data["done"]:
                answer = await client.call_tool(
                    "check_status", {"job_id": data["job_id"], "wait_seconds": 30}
                )
                assert not answer.is_error, text_of(answer)
                data = answer.structured_content or {}
    assert data["state"] == "completed" and Path(data["video_path"]).is_file()


@PROVIDERS
async def test_cancel_a_queued_job(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Simulator(SimulatorOptions(queue_seconds=30, run_seconds=1.0)) as sim:
        settings = provider_settings(provider, sim, monkeypatch)
        async with Client(create_server(settings)) as client:
            first = await client.call_tool("generate_video", {"prompt": "Never mind", "wait_seconds": 0})
            job_id = (first.structured_content or {})["job_id"]
            with anyio.fail_after(60):
                answer = await client.call_tool("cancel_job", {"job_id": job_id})
                assert not answer.is_error, text_of(answer)
                status = await client.call_tool("check_status", {"job_id": job_id, "wait_seconds": 10})
        assert (status.structured_content or {})["state"] == "cancelled"
        method = "PUT" if provider == "fal" else "DELETE"
        assert any(e["method"] == method and e.get("kind") == "cancel" for e in sim.request_log())


@PROVIDERS
async def test_a_failed_job_is_a_clear_error(
    provider: str, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = provider_settings(provider, sim, monkeypatch)
    async with Client(create_server(settings)) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(
                "generate_video",
                {"prompt": "A sign [sim:content_policy]", "duration": "4", "wait_seconds": 60},
            )
    assert result.is_error
    assert "failed" in text_of(result) and "content" in text_of(result).lower()


@PROVIDERS
async def test_a_bad_key_is_named(provider: str, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = provider_settings(provider, sim, monkeypatch, key="sim-invalid")
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "x", "duration": "4", "wait_seconds": 5})
    assert result.is_error
    text = text_of(result)
    assert "401" in text and ("FAL_KEY" if provider == "fal" else "OXEN_API_KEY") in text
    assert "sim-invalid" not in text


async def test_fal_refuses_the_oxen_only_parameters(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = provider_settings("fal", sim, monkeypatch)
    async with Client(create_server(settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for name in ("generate_video", "reference_video"):
            props = tools[name].input_schema["properties"]
            # Listed only while Oxen is active; still refused by name when sent anyway.
            assert not {"num_generations", "response_format", "target_namespace"} & set(props)
        result = await client.call_tool("generate_video", {"prompt": "x", "num_generations": 2})
    assert result.is_error
    assert "num_generations" in text_of(result) and "SEEDANCE_PROVIDER=oxen" in text_of(result)
    assert submits(sim, "fal") == []


async def test_three_generations_make_three_jobs_and_one_answer(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = provider_settings("oxen", sim, monkeypatch)
    async with Client(create_server(settings)) as client:
        with anyio.fail_after(90):
            result = await client.call_tool(
                "generate_video",
                {
                    "prompt": "Three takes of a comet",
                    "duration": "4",
                    "num_generations": 3,
                    "wait_seconds": 90,
                },
            )
        listed = await client.call_tool("list_jobs", {})
    assert not result.is_error, text_of(result)
    group = (result.structured_content or {})["group"]
    assert len(group) == 3 and all(g["state"] == "completed" for g in group)
    paths = {g["video_path"] for g in group}
    assert len(paths) == 3 and all(Path(p).is_file() for p in paths)
    assert len(submits(sim, "oxen")) == 1 and submits(sim, "oxen")[0]["input"]["num_generations"] == 3
    assert all(g["job_id"] in text_of(listed) for g in group)  # three rows in the journal


async def test_blocking_generate_with_b64_json_is_saved(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = provider_settings("oxen", sim, monkeypatch)
    async with Client(create_server(settings)) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(
                "generate_video",
                {
                    "prompt": "Inline bytes",
                    "duration": "4",
                    "response_format": "b64_json",
                    "wait_seconds": 60,
                },
            )
    assert not result.is_error, text_of(result)
    data = result.structured_content or {}
    assert data["state"] == "completed" and data["video_url"] is None
    saved = Path(data["video_path"]).read_bytes()
    assert saved[4:8] == b"ftyp"
    assert any(e["path"] == "/api/ai/videos/generate" for e in sim.request_log())


async def test_oxen_without_an_upload_place_names_the_setting(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    settings = provider_settings("oxen", sim, monkeypatch)
    settings = settings.model_copy(update={"oxen_upload_repo": None})
    video = make_video(isolated_env / "media" / "clip.mp4", seconds=2.0)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(
            "reference_video", {"prompt": "Like @Video1", "video_urls": [str(video)], "wait_seconds": 5}
        )
    assert result.is_error
    assert "SEEDANCE_OXEN_UPLOAD_REPO" in text_of(result)
    assert submits(sim, "oxen") == []
