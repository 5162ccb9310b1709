"""The argument contract through a real MCP client: refused with the field named, and nothing sent.

The server uses a simulator started here as its fal.ai, and reads URL media from a real HTTP server
on loopback; the simulator's request log shows every upload and submit. REFUSED is the table of
the issue's cases (tool, arguments -> refused field, a fragment of the message): a new case is one
line. ACCEPTED holds the lossless spellings that must work.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.media_factory import make_audio, make_image, make_text, make_video
from tests.media_server import Served, serve

pytestmark = pytest.mark.anyio
KEY = "contract-test-key-93ab"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.1, run_seconds=0.3, seed=7)) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("web")
    make_image(root / "cat.png", "png", 320, 240, noise=True)
    make_text(root / "login.png", "<!doctype html><html><title>Sign in</title></html>\n")
    make_video(root / "twenty.mp4", 640, 640, 20.0, fps=2)
    make_video(root / "three.mp4", 640, 640, 3.0, fps=4)
    make_audio(root / "beat.wav", "wav", 2.0)
    with serve(root) as server:
        yield server


@pytest.fixture
def settings(sim: Simulator, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SEEDANCE_PROVIDER", "fal")
    monkeypatch.setenv("FAL_KEY", KEY)
    for name in ("QUEUE", "REST", "CDN"):
        monkeypatch.setenv(f"SEEDANCE_FAL_{name}_URL", sim.url)
    return Settings.from_env()


def sent(sim: Simulator) -> list[dict[str, Any]]:
    """Uploads and submits: what costs money or leaves the machine."""
    return [e for e in sim.request_log() if e["method"] in ("POST", "PUT")]


def web(served: Served, name: str) -> str:
    return f"{served.url}/{name}"


# (tool, arguments; "WEB/" is replaced by the media server's address) -> refused field, message fragment
GEN, REF, EST = "generate_video", "reference_video", "estimate_cost"
REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    (GEN, {"prompt": "cat", "durration": "15"}, "durration", "Did you mean `duration`?"),
    (GEN, {"prompt": "cat", "image_urls": ["WEB/cat.png"]}, "image_urls", "Its arguments are: prompt"),
    (REF, {"prompt": "cat", "image_url": "WEB/cat.png"}, "image_url", "Did you mean `image_urls`?"),
    (EST, {"duraton": "5"}, "duraton", "Did you mean `duration`?"),
    (GEN, {"prompt": "cat", "seed": 18446744073709551616}, "seed", "at most 2147483647"),
    (GEN, {"prompt": "cat", "seed": -5}, "seed", "at least 0"),
    (GEN, {"prompt": " \n\t "}, "prompt", "only whitespace"),
    (GEN, {"prompt": "cat", "duration": 5.5}, "duration", "'15'"),
    (GEN, {"prompt": "cat", "duration": 16}, "duration", "'15'"),
    (REF, {"prompt": "@Video1", "video_urls": ["WEB/twenty.mp4"]}, "video_urls", "between 2 and 15 s"),
    (REF, {"prompt": "@Image1", "image_urls": ["WEB/login.png"]}, "image_urls[0]", "web page"),
    (REF, {"prompt": "@Image1", "image_urls": ["WEB/gone.png"]}, "image_urls[0]", "404"),
    (REF, {"prompt": "@Image" + "9" * 5000, "image_urls": ["WEB/cat.png"]}, "prompt", "at most 9"),
    (REF, {"prompt": "x", "image_urls": ["/tmp/a\x00.png"]}, "image_urls[0]", "NUL"),
    (REF, {"prompt": "x", "image_urls": ["~nosuchuser7q/a.png"]}, "image_urls[0]", "no user named"),
    (REF, {"prompt": "x", "image_urls": ["https://u:pw@cdn.example/a.png"]}, "image_urls[0]", "user:pass"),
    (GEN, {"prompt": "x", "image_url": "WEB/login.png"}, "image_url", "web page"),
    (EST, {"input_video_seconds": 1, "video_urls": ["WEB/three.mp4"]}, "input_video_seconds", "at least 2"),
    (EST, {"input_video_seconds": 16}, "input_video_seconds", "at most 15"),
    (EST, {"image_urls": ["WEB/cat.png"] * 10}, "image_urls", "limit is 9"),
    (EST, {"audio_urls": ["WEB/beat.wav"]}, "audio_urls", "requires at least one image or video"),
    (EST, {"video_urls": ["WEB/twenty.mp4"]}, "video_urls", "between 2 and 15 s"),
    (EST, {"image_urls": ["WEB/login.png"]}, "image_urls[0]", "web page"),
    (EST, {"image_url": "WEB/cat.png", "image_urls": ["WEB/cat.png"]}, "image_url", "no single call"),
    (EST, {"end_image_url": "WEB/cat.png"}, "end_image_url", "needs a start frame"),
]  # fmt: skip


def _fill(value: Any, served: Served) -> Any:
    if isinstance(value, str):
        return value.replace("WEB/", served.url + "/")
    if isinstance(value, list):
        return [_fill(v, served) for v in value]
    return value


@pytest.mark.parametrize(
    ("tool", "arguments", "field", "says"), REFUSED, ids=[f"{r[0]}:{r[2]}" for r in REFUSED]
)
async def test_refused_naming_the_field_and_nothing_is_sent(
    settings: Settings,
    sim: Simulator,
    served: Served,
    tool: str,
    arguments: dict[str, Any],
    field: str,
    says: str,
) -> None:
    before = len(sent(sim))
    with anyio.fail_after(60):
        async with Client(create_server(settings)) as client:
            result = await client.call_tool(tool, {k: _fill(v, served) for k, v in arguments.items()})
    text = " ".join(getattr(block, "text", "") for block in result.content)
    assert result.is_error, text
    assert field in text and says in text, text
    assert len(sent(sim)) == before


async def test_schemas_refuse_unknown_arguments_and_bound_the_seed(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        assert tool.input_schema.get("additionalProperties") is False, tool.name
        seed = tool.input_schema["properties"].get("seed")
        if seed is not None:
            bounds = seed.get("anyOf", [seed])[0]  # the listing writes an optional field as its type alone
            assert (bounds["minimum"], bounds["maximum"]) == (0, 2**31 - 1)


async def test_an_unknown_argument_is_answered_with_this_providers_arguments(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        refused = await client.call_tool("generate_video", {"prompt": "a cat", "lenght": "5"})
    text = refused.content[0].text  # type: ignore[union-attr]
    assert refused.is_error and "lenght" in text and "duration" in text
    for oxen_only in ("num_generations", "response_format", "target_namespace"):
        assert oxen_only not in text, oxen_only  # this server is not on Oxen.ai: it would refuse them


async def test_lossless_spellings_are_accepted(settings: Settings, sim: Simulator, served: Served) -> None:
    async with Client(create_server(settings)) as client:
        # duration as a number, seed and wait_seconds as strings: submitted and made as asked
        done = await client.call_tool(
            "generate_video",
            {"prompt": "a cat", "duration": 5, "seed": "42", "wait_seconds": "60", "resolution": "480p"},
        )
        assert not done.is_error, done.content
        data = done.structured_content or {}
        assert data["state"] == "completed" and data["video"]["duration"] == pytest.approx(5.0, abs=0.2)
        # one URL where a list is expected
        price = await client.call_tool(
            "estimate_cost", {"video_urls": web(served, "three.mp4"), "duration": 4}
        )
        assert not price.is_error, price.content
        # the probed 3 s of the URL video are priced, not the 2-15 s range
        assert (price.structured_content or {})["input_video_seconds"] == [
            pytest.approx(3.0, abs=0.2),
            pytest.approx(3.0, abs=0.2),
        ]


async def test_data_uri_copies_are_gone_when_the_call_ends(
    settings: Settings, sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "clip.mp4", 640, 640, 3.0, fps=4)
    video = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    image = (
        "data:image/png;base64,"
        + base64.b64encode(make_image(tmp_path / "a.png", "png").read_bytes()).decode()
    )

    def copies() -> list[Path]:
        # this process's private folder for decoded data: URIs (see server/inputs/data_uris.py)
        return sorted(Path(tempfile.gettempdir()).glob(f"seedance-inputs-{os.getpid()}-*/*"))

    monkeypatch.setenv("SEEDANCE_MAX_COST_USD", "0.05")  # every generation is over this cap
    capped = Settings.from_env()
    before = len(sent(sim))
    async with Client(create_server(capped)) as client:
        price = await client.call_tool("estimate_cost", {"video_urls": [video], "duration": "4"})
        assert not price.is_error and (price.structured_content or {})["input_video_seconds"][
            0
        ] == pytest.approx(3.0)
        assert copies() == []
        refused = await client.call_tool(
            "reference_video", {"prompt": "@Image1 in @Video1", "image_urls": [image], "video_urls": [video]}
        )
        assert refused.is_error and "SEEDANCE_MAX_COST_USD" in str(refused.content)
        assert copies() == []
    assert len(sent(sim)) == before
