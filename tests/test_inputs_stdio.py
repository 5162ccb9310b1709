"""The argument contract as a host meets it: the server as a subprocess over stdio, a simulator as fal.ai.

What the server sent is read from the simulator's own request log (`GET /_simulator/requests`);
URL media come from a real HTTP server on loopback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import StdioServerParameters
from mcp.client import Client

from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.media_factory import make_text, make_video
from tests.media_server import Served, serve

pytestmark = pytest.mark.anyio


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=0.5, seed=11)) as simulator:
        yield simulator


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    make_video(tmp_path / "twenty.mp4", 640, 640, 20.0, fps=2)
    make_text(tmp_path / "photo.png", "<!DOCTYPE html>\n<html><body>Please sign in</body></html>\n")
    with serve(tmp_path) as server:
        yield server


def server_params(sim: Simulator) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k.startswith(("SEEDANCE_", "PATH", "HOME", "LANG"))}
    env |= {"SEEDANCE_PROVIDER": "fal", "FAL_KEY": "stdio-contract-key-0f3e"}
    env |= {f"SEEDANCE_FAL_{name}_URL": sim.url for name in ("QUEUE", "REST", "CDN")}
    return StdioServerParameters(command=sys.executable, args=["-m", "seedance_mcp.server"], env=env)


def posts_and_puts(sim: Simulator) -> list[dict[str, Any]]:
    log = httpx.get(f"{sim.url}/_simulator/requests", verify=tls_context()).json()
    return [e for e in log if e["method"] in ("POST", "PUT")]


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_the_contract_over_stdio(sim: Simulator, served: Served) -> None:
    with anyio.fail_after(120):
        async with Client(server_params(sim)) as client:

            async def refused(tool: str, arguments: dict[str, Any], *fragments: str) -> None:
                result = await client.call_tool(tool, arguments)
                text = text_of(result)
                assert result.is_error, text
                for fragment in fragments:
                    assert fragment in text, text
                assert posts_and_puts(sim) == []

            await refused("generate_video", {"durration": "15", "prompt": "a cat"}, "durration", "`duration`")
            await refused("generate_video", {"prompt": "a cat", "seed": 18446744073709551616}, "seed")
            await refused(
                "reference_video",
                {"prompt": "like @Video1", "video_urls": [f"{served.url}/twenty.mp4"]},
                "video_urls",
                "20.0 s",
                "15 s",
            )
            await refused(
                "reference_video",
                {"prompt": "@Image1 waves", "image_urls": [f"{served.url}/photo.png"]},
                "image_urls[0]",
                "HTML",
            )
            await refused("estimate_cost", {"input_video_seconds": 1}, "input_video_seconds", "at least 2")

            done = await client.call_tool(
                "generate_video", {"prompt": "a cat", "duration": 5, "resolution": "480p", "wait_seconds": 60}
            )
    assert not done.is_error, text_of(done)
    data = done.structured_content or {}
    assert data["state"] == "completed" and data["video"]["duration"] == pytest.approx(5.0, abs=0.2)
    assert [e.get("kind") for e in posts_and_puts(sim)] == ["submit"]
