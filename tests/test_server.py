"""The server through a real MCP client, in process, on the embedded simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.catalogue.facts import ASPECT_RATIOS, DURATIONS, OUTPUT_SIZE, RESOLUTIONS
from seedance_mcp.server.config import Settings
from seedance_mcp.server.http_pool import tls_context

pytestmark = pytest.mark.anyio

TOOLS = {"generate_video", "reference_video", "check_status", "estimate_cost"}


async def test_tools_are_listed_with_documented_enums_and_defaults(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) >= TOOLS
    for name in ("generate_video", "reference_video"):
        props = tools[name].input_schema["properties"]
        # Every value some model takes (2.5: up to 30 s); each endpoint's own are checked per call.
        assert props["duration"]["enum"] == [*DURATIONS, *(str(s) for s in range(16, 31))]
        assert props["duration"]["default"] == "auto"
        assert props["resolution"]["enum"] == [*RESOLUTIONS, "1080p"]
        assert props["resolution"]["default"] == "720p"
        assert props["aspect_ratio"]["enum"] == list(ASPECT_RATIOS)
        assert props["aspect_ratio"]["default"] == "auto"
        assert props["generate_audio"]["default"] is True
        assert tools[name].input_schema["required"] == ["prompt"]
        assert tools[name].output_schema is not None
        assert tools[name].annotations is not None and tools[name].annotations.open_world_hint
    ref = tools["reference_video"].input_schema["properties"]
    assert "Up to 9" in ref["image_urls"]["description"] or "up to 9" in ref["image_urls"]["description"]
    assert tools["check_status"].annotations is not None and tools["check_status"].annotations.read_only_hint


def probe(path: Path) -> tuple[int, int, float, bool]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(container.duration or 0) / 1_000_000
        return stream.width, stream.height, duration, bool(container.streams.audio)


@pytest.mark.parametrize(
    ("resolution", "aspect_ratio", "duration", "audio"),
    [("720p", "16:9", "4", True), ("480p", "9:16", "5", False)],
)
async def test_generate_video_returns_a_real_mp4_of_the_documented_size(
    settings: Settings, tmp_path: Path, resolution: str, aspect_ratio: str, duration: str, audio: bool
) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        updates.append((value, total, message))

    downloaded = tmp_path / "from-url.mp4"
    async with Client(create_server(settings)) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(
                "generate_video",
                {
                    "prompt": "A lighthouse in a storm",
                    "resolution": resolution,
                    "aspect_ratio": aspect_ratio,
                    "duration": duration,
                    "generate_audio": audio,
                    "wait_seconds": 60,
                },
                progress_callback=on_progress,
            )
        assert not result.is_error, result.content
        data: dict[str, Any] = result.structured_content or {}
        async with httpx.AsyncClient(
            verify=tls_context()
        ) as http:  # the URL serves the video while the server runs
            response = await http.get(data["video_url"])
            response.raise_for_status()
            downloaded.write_bytes(response.content)
    assert data["state"] == "completed" and data["done"] and data["simulated"]
    assert "SIMULATED" in result.content[0].text  # type: ignore[union-attr]

    width, height, seconds, has_audio = probe(downloaded)
    assert (width, height) == OUTPUT_SIZE[resolution][aspect_ratio]
    assert abs(seconds - int(duration)) < 0.2
    assert has_audio is audio
    saved = Path(data["video_path"])
    assert saved.parent == settings.output_dir.resolve()
    assert saved.read_bytes() == downloaded.read_bytes()

    values = [value for value, _, _ in updates]
    assert len(updates) >= 3
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(total == 100 for _, total, _ in updates)
    assert any("Queued" in (message or "") for _, _, message in updates)
    assert any("Generating" in (message or "") for _, _, message in updates)


async def test_a_job_outlasting_the_wait_comes_back_as_a_job_id_that_check_status_finishes(
    settings: Settings,
) -> None:
    async with Client(create_server(settings)) as client:
        first = await client.call_tool(
            "generate_video", {"prompt": "A slow sunrise", "duration": "4", "wait_seconds": 0}
        )
        assert not first.is_error, first.content
        data = first.structured_content or {}
        assert data["state"] in {"queued", "running"} and not data["done"]
        assert "check_status" in data["next_step"]
        with anyio.fail_after(60):
            while not data["done"]:
                answer = await client.call_tool(
                    "check_status", {"job_id": data["job_id"], "wait_seconds": 30}
                )
                assert not answer.is_error, answer.content
                data = answer.structured_content or {}
    assert data["state"] == "completed"
    assert Path(data["video_path"]).is_file()


async def test_a_provider_422_becomes_a_clear_error(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(
                "generate_video",
                {"prompt": "A protest sign [sim:content_policy]", "duration": "4", "wait_seconds": 60},
            )
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "failed" in text and "content" in text.lower()
    assert "prompt" in text.lower()


async def test_bad_arguments_name_the_field_and_the_allowed_values(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "x", "duration": "20"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "duration" in text and "'15'" in text and "'20'" in text
    assert "pydantic" not in text


async def test_unknown_job_id_is_a_clear_error(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("check_status", {"job_id": "sd_nope", "wait_seconds": 0})
    assert result.is_error
    assert "list_jobs" in result.content[0].text  # type: ignore[union-attr]
