"""What a finished job looks like to the assistant, end to end through an MCP client on the simulator."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import anyio
import httpx
import jsonschema
import pytest
from mcp.client import Client
from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent

from seedance_mcp.server.app import create_server
from seedance_mcp.server.catalogue.facts import OUTPUT_SIZE
from seedance_mcp.server.config import Settings
from seedance_mcp.server.delivery.previews import POSTER_MAX_WIDTH, SHEET_THUMB_WIDTH
from seedance_mcp.server.http_pool import tls_context

pytestmark = pytest.mark.anyio


def jpeg_size(block: ImageContent) -> tuple[tuple[int, int], int]:
    """The decoded JPEG's (width, height) and its byte count; fails if it is not a JPEG."""
    from PIL import Image

    data = base64.b64decode(block.data)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        image.load()
        return image.size, len(data)


async def generate(client: Client, arguments: dict[str, Any]) -> CallToolResult:
    with anyio.fail_after(60):
        return await client.call_tool("generate_video", {"wait_seconds": 60, **arguments})


async def test_a_finished_video_is_saved_shown_and_described(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        result = await generate(
            client,
            {"prompt": "A lighthouse in a storm, slow dolly in", "duration": "4", "aspect_ratio": "16:9"},
        )
        assert not result.is_error, result.content
        data: dict[str, Any] = result.structured_content or {}
        async with httpx.AsyncClient(
            verify=tls_context()
        ) as http:  # what the provider serves, while the server runs
            served = (await http.get(data["video_url"])).raise_for_status().content

    # The structured result is exactly what the tool promised.
    schema = tools["generate_video"].output_schema
    assert schema is not None
    assert {"job_id", "state", "next_step"} <= set(schema["properties"])  # the listing's outline
    jsonschema.validate(data, schema)
    assert data["state"] == "completed" and data["simulated"]

    # The saved file: in the output folder, byte for byte what was served, with the hash recorded.
    saved = Path(data["video_path"])
    assert saved.is_file() and saved.parent == settings.output_dir.resolve()
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(served).hexdigest() == data["video_sha256"]

    # Facts read from the file itself.
    width, height = OUTPUT_SIZE["720p"]["16:9"]
    video = data["video"]
    assert (video["width"], video["height"], video["has_audio"]) == (width, height, True)
    assert video["bytes"] == saved.stat().st_size
    assert abs(video["duration"] - 4.0) < 0.2 and video["fps"] > 0

    # Content: a summary, links to the file and to the URL, a poster and a contact sheet.
    text = [block for block in result.content if isinstance(block, TextContent)]
    links = [block for block in result.content if isinstance(block, ResourceLink)]
    images = [block for block in result.content if isinstance(block, ImageContent)]
    summary = text[0].text
    for expected in (
        "SIMULATED",
        str(saved),
        data["video_url"],
        f"Seed: {data['seed']}",
        "Cost:",
        "Provider:",
    ):
        assert expected in summary, expected
    assert f"4.0 s, {width}x{height}" in summary and "with audio" in summary
    assert {str(link.uri) for link in links} == {saved.as_uri(), data["video_url"]}
    assert all(link.mime_type == "video/mp4" for link in links)

    assert len(images) == 2 and all(image.mime_type == "image/jpeg" for image in images)
    (poster_size, poster_bytes), (sheet_size, sheet_bytes) = (jpeg_size(image) for image in images)
    assert poster_size == (POSTER_MAX_WIDTH, POSTER_MAX_WIDTH * height // width)
    thumb_h = SHEET_THUMB_WIDTH * height // width
    assert sheet_size == (3 * SHEET_THUMB_WIDTH + 2 * 4, 2 * thumb_h + 4)  # six frames, three across
    assert poster_bytes < 100_000 and sheet_bytes < 100_000  # a few tens of KB, not a frame dump


async def test_check_status_shows_a_finished_job_the_same_way(settings: Settings) -> None:
    # A connection with a handshake (stdio hosts) is one host: it is sent the images once.
    server = create_server(settings)
    async with Client(server, mode="legacy") as client:
        first = await generate(client, {"prompt": "Rain on a window", "duration": "4", "resolution": "480p"})
        again = await client.call_tool("check_status", {"job_id": first.structured_content["job_id"]})  # type: ignore[index]
        polled = await client.call_tool("check_status", {"job_id": first.structured_content["job_id"]})  # type: ignore[index]
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    # Another host (or a stateless request, which names none) is shown them again.
    async with Client(server) as other:
        elsewhere = await other.call_tool("check_status", {"job_id": first.structured_content["job_id"]})  # type: ignore[index]
    assert sum(isinstance(block, ImageContent) for block in elsewhere.content) == 2
    assert not again.is_error, again.content
    data = again.structured_content or {}
    schema = tools["check_status"].output_schema
    assert schema is not None
    jsonschema.validate(data, schema)
    assert data["video"] == (first.structured_content or {})["video"]
    assert sum(isinstance(block, ImageContent) for block in again.content) == 2
    # Asked again: the same facts, without sending the two images once more.
    assert polled.structured_content == data | {
        "elapsed_seconds": polled.structured_content["elapsed_seconds"]
    }  # type: ignore[index]
    assert not any(isinstance(block, ImageContent) for block in polled.content)
    assert "went with an earlier answer" in polled.content[-1].text  # type: ignore[union-attr]


async def test_a_video_that_cannot_be_saved_still_returns_its_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the output folder should be")
    monkeypatch.setenv("SEEDANCE_OUTPUT_DIR", str(blocker / "videos"))
    settings = Settings.from_env()
    async with Client(create_server(settings)) as client:
        result = await generate(client, {"prompt": "A red kite", "duration": "4", "resolution": "480p"})
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert not result.is_error, result.content
        data = result.structured_content or {}
        async with httpx.AsyncClient(verify=tls_context()) as http:
            assert (await http.get(data["video_url"])).status_code == 200
    schema = tools["generate_video"].output_schema
    assert schema is not None
    jsonschema.validate(data, schema)
    assert data["state"] == "completed" and data["video_path"] is None and data["video"] is None
    assert data["saved"] is False and "SEEDANCE_OUTPUT_DIR" in data["save_error"] and data["error"] is None
    assert "Done" not in data["next_step"] and "not saved" in data["next_step"]
    summary = result.content[0].text  # type: ignore[union-attr]
    assert data["video_url"] in summary and "SEEDANCE_OUTPUT_DIR" in summary
    assert [str(b.uri) for b in result.content if isinstance(b, ResourceLink)] == [data["video_url"]]
    assert not list(tmp_path.rglob("*.mp4"))


async def test_a_finished_auto_length_video_is_priced_at_its_own_size_and_length(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        result = await generate(client, {"prompt": "Fog over a harbour", "resolution": "480p"})
    data = result.structured_content or {}
    assert data["state"] == "completed" and data["estimate_is_range"]
    video = data["video"]
    tokens = video["width"] * video["height"] * round(video["duration"]) * 24 / 1024
    assert data["made_cost_usd"] == pytest.approx(tokens / 1000 * 0.0112, abs=1e-4)
    assert data["made_cost_usd"] < data["estimated_cost_usd"]  # the upper bound stays what limits counted
    assert data["cost_note"].startswith(
        f"${data['made_cost_usd']:.4f} for the {video['width']}x{video['height']}"
    )
