"""The local-path door through a real MCP client: every tool's path fields meet the same refusals.

The server runs against a simulator treated as fal (a key, every URL pointed at it), so the tests
also show that nothing was uploaded or submitted for any refused path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.simulator import Simulator
from tests.media_factory import make_image, make_video
from tests.test_guard import fal_env, sent, settings_with, sim, text_of  # noqa: F401 - fixtures

pytestmark = pytest.mark.anyio
PASSWORD = "hunter2-Sup3rSecret"


def cases(media: Path, outside: Path) -> dict[str, tuple[str, str]]:
    """name -> (the value given, a fragment the refusal must hold)."""
    link = media / "hard.mp4"
    os.link(outside / "clip.mp4", link)
    (media / "out.mp4").symlink_to(outside / "clip.mp4")
    os.mkfifo(media / "pipe.mp4")
    (media / "folder.mp4").mkdir()
    return {
        "hard link": (str(link), "hard links"),
        "symlink out": (str(media / "out.mp4"), "outside the folders"),
        "fifo": (str(media / "pipe.mp4"), "not a regular file"),
        "folder": (str(media / "folder.mp4"), "is a folder"),
        "NUL": (f"{media}/a\x00b.mp4", "NUL character"),
        "NUL in file URL": (f"file://{media}/a%00b.mp4", "NUL character"),
        "no such user": ("~nosuchuser7q/x.mp4", "no user named"),
        "5000 characters": ("/" + "a" * 5000 + ".mp4", "too long"),
        "long name": (f"{media}/{'b' * 300}.mp4", "too long"),
        "missing": (f"{media}/missing.mp4", "no file at"),
    }


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    with anyio.fail_after(60):
        result = await client.call_tool(tool, arguments)
    text = text_of(result)
    assert result.is_error, text
    assert text.strip() != f"Error executing tool {tool}" and "Traceback" not in text, text  # never bare
    return text


@pytest.fixture
def folders(isolated_env: Path) -> tuple[Path, Path, Path]:
    media = isolated_env / "media"
    outside = isolated_env.parent / "outside"
    outside.mkdir()
    make_video(outside / "clip.mp4", 320, 320, 1.0)
    good = make_video(media / "good.mp4", 320, 320, 1.0)
    make_image(media / "still.png", "png", 400, 300)
    return media, outside, good


async def test_every_path_field_refuses_the_same_way_and_nothing_is_sent(
    fal_env: pytest.MonkeyPatch,  # noqa: F811
    sim: Simulator,  # noqa: F811
    folders: tuple[Path, Path, Path],
) -> None:
    media, outside, good = folders
    table = cases(media, outside)
    settings = settings_with(fal_env)
    async with Client(create_server(settings)) as client:
        for name, (value, says) in table.items():
            # Files that exist keep their name: the door refuses them before their content is looked at.
            image_value = (
                value
                if name in ("hard link", "symlink out", "fifo", "folder")
                else value.replace(".mp4", ".png")
            )
            calls = [
                ("stitch_videos", {"clips": [str(good), value]}, "clips[1]"),
                ("generate_video", {"prompt": "next", "continue_from": value}, "continue_from"),
                ("reference_video", {"prompt": "@Image1", "image_urls": [image_value]}, "image_urls[0]"),
                ("generate_video", {"prompt": "a still", "image_url": image_value}, "image_url"),
            ]
            for tool, arguments, field in calls:
                text = await refused(client, tool, **arguments)
                assert field in text, (name, tool, text)
                assert says in text, (name, tool, text)
    assert sent(sim) == []


async def test_a_clip_url_with_a_password_is_never_echoed(
    fal_env: pytest.MonkeyPatch,  # noqa: F811
    sim: Simulator,  # noqa: F811
    folders: tuple[Path, Path, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, _, good = folders
    url = f"https://user:{PASSWORD}@videos.example.com/shot.mp4"
    async with Client(create_server(settings_with(fal_env))) as client:
        text = await refused(client, "stitch_videos", clips=[str(good), url])
        assert "clips[1]" in text and "not a URL" in text
        text = await refused(client, "generate_video", prompt="next", continue_from=url)
        assert "continue_from" in text
    assert PASSWORD not in text and PASSWORD not in caplog.text
    assert sent(sim) == []


async def test_a_link_at_the_films_name_is_refused_not_reported_as_stitched(
    fal_env: pytest.MonkeyPatch,  # noqa: F811
    sim: Simulator,  # noqa: F811
    folders: tuple[Path, Path, Path],
    isolated_env: Path,
) -> None:
    media, outside, good = folders
    other = make_video(media / "other.mp4", 320, 320, 1.0)
    async with Client(create_server(settings_with(fal_env))) as client:
        first = await client.call_tool("stitch_videos", {"clips": [str(good), str(other)], "title": "one"})
        assert not first.is_error, text_of(first)
        film = Path(first.structured_content["film_path"])  # type: ignore[index]
        film.unlink()
        film.symlink_to(outside / "clip.mp4")
        text = await refused(client, "stitch_videos", clips=[str(good), str(other)], title="one")
        assert "title" in text and "link" in text and "already stitched" not in text
    assert film.is_symlink()  # left as it was: not previewed, not replaced
