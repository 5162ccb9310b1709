"""The film tools' limits through a real MCP client: clips too large or claiming too long a duration are
refused from their headers (nothing decoded, nothing sent), and a start frame is scaled down while
it is decoded."""

from __future__ import annotations

import struct
from pathlib import Path

import anyio
import pytest
from mcp.client import Client
from PIL import Image

from seedance_mcp.server.app import create_server
from seedance_mcp.server.film.limits import MAX_CLIP_SECONDS, START_FRAME_BOX
from seedance_mcp.server.simulator import Simulator
from tests.media_factory import make_video
from tests.test_guard import fal_env, sent, settings_with, sim, text_of  # noqa: F401 - fixtures

pytestmark = pytest.mark.anyio


def claim_hours(source: Path, target: Path, hours: float) -> Path:
    """A copy of a short MP4 (version 0 boxes) whose headers claim `hours`: the sample durations (stts)
    and the movie, track and media durations are stretched; the frames are the same few."""
    data = bytearray(source.read_bytes())
    seconds = 1.0  # the clip given is the factory's 1 s one

    def u32(at: int) -> int:
        return int(struct.unpack(">I", data[at : at + 4])[0])

    def put(at: int, value: int) -> None:
        data[at : at + 4] = struct.pack(">I", value)

    factor = hours * 3600 / seconds
    stts = data.find(b"stts")
    for entry in range(u32(stts + 8)):
        delta_at = stts + 12 + 8 * entry + 4
        put(delta_at, int(u32(delta_at) * factor))
    for box, duration_at in ((b"mvhd", 20), (b"mdhd", 20), (b"tkhd", 24), (b"elst", 12)):
        found = data.find(box)
        put(found + duration_at, int(u32(found + duration_at) * factor))
    target.write_bytes(data)
    return target


async def refused(client: Client, tool: str, **arguments: object) -> str:
    with anyio.fail_after(60):
        result = await client.call_tool(tool, arguments)
    assert result.is_error, result.content
    return text_of(result)


async def test_clips_over_the_limits_are_refused_from_their_headers(
    fal_env: pytest.MonkeyPatch,  # noqa: F811
    sim: Simulator,  # noqa: F811
    isolated_env: Path,
) -> None:
    media = isolated_env / "media"
    good = make_video(media / "good.mp4", 320, 240, 1.0)
    wide = make_video(media / "wide.mp4", 4200, 240, 0.25)
    dense = make_video(media / "dense.mp4", 3000, 3000, 0.25)
    ten_hours = claim_hours(good, media / "ten-hours.mp4", 10)
    async with Client(create_server(settings_with(fal_env))) as client:
        for clip, says in ((wide, "4200x240"), (dense, "3000x3000"), (ten_hours, f"{MAX_CLIP_SECONDS:g} s")):
            text = await refused(client, "stitch_videos", clips=[str(good), str(clip)])
            assert "clips[1]" in text and says in text, text
            text = await refused(client, "generate_video", prompt="next", continue_from=str(clip))
            assert "continue_from" in text and says in text, text
    assert sent(sim) == []
    assert not list((isolated_env.parent / "videos").glob("*.mp4"))


async def test_a_start_frame_is_scaled_down_while_decoding(
    fal_env: pytest.MonkeyPatch,  # noqa: F811
    sim: Simulator,  # noqa: F811
    isolated_env: Path,
) -> None:
    big = make_video(isolated_env / "media" / "big.mp4", 3840, 2160, 0.25)
    async with Client(create_server(settings_with(fal_env))) as client:
        result = await client.call_tool(
            "generate_video",
            {"prompt": "next", "continue_from": str(big), "duration": "4", "wait_seconds": 0},
        )
    assert not result.is_error, text_of(result)
    (frame,) = (isolated_env.parent / "state" / "frames").glob("*.png")
    with Image.open(frame) as image:
        assert max(image.size) == max(START_FRAME_BOX) and image.size == (1920, 1080)
