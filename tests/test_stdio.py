"""The server as hosts run it: a subprocess speaking MCP over stdio."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import StdioServerParameters
from mcp.client import Client

from seedance_mcp.server.config import SETTING_FIX

pytestmark = pytest.mark.anyio


def server_params() -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k.startswith(("SEEDANCE_", "PATH", "HOME", "LANG"))}
    return StdioServerParameters(command=sys.executable, args=["-m", "seedance_mcp.server"], env=env)


async def test_stdio_server_lists_tools_and_generates_a_video() -> None:
    updates: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        updates.append(value)

    with anyio.fail_after(90):
        async with Client(server_params()) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"generate_video", "reference_video", "check_status", "estimate_cost"} <= names
            result = await client.call_tool(
                "generate_video",
                {
                    "prompt": "Waves on a pebble beach",
                    "duration": "4",
                    "resolution": "480p",
                    "wait_seconds": 60,
                },
                progress_callback=on_progress,
            )
    assert not result.is_error, result.content
    data = result.structured_content or {}
    assert data["state"] == "completed" and data["simulated"]
    assert Path(data["video_path"]).stat().st_size > 1000
    assert len(updates) >= 3 and updates == sorted(updates)


async def test_tools_are_listed_before_the_journal_opens_and_calls_say_why_it_cannot(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("SEEDANCE_HOME points at this file, so the journal cannot be made")
    params = server_params()
    params.env = {**(params.env or {}), "SEEDANCE_HOME": str(blocker)}
    with anyio.fail_after(60):
        async with Client(params) as client:
            assert len((await client.list_tools()).tools) >= 6  # answered: nothing slow stands in the way
            result = await client.call_tool("list_jobs", {})
            again = await client.call_tool("estimate_cost", {"duration": "5"})
    for answer in (result, again):
        assert answer.is_error
        text = answer.content[0].text  # type: ignore[union-attr]
        assert "could not start" in text and "seedance-mcp doctor" in text


@pytest.mark.slow
def test_the_official_inspector_lists_and_calls_every_tool_over_stdio(isolated_env: Path) -> None:
    from PIL import Image

    from tests.inspector_cli import TOOL_CALLS, call_every_tool

    image = isolated_env / "media" / "lighthouse.png"
    Image.new("RGB", (640, 480), (30, 60, 90)).save(image)
    params = server_params()
    # The Inspector hands a stdio server only a default environment plus what -e names.
    settings = [
        arg for k, v in (params.env or {}).items() if k.startswith("SEEDANCE_") for arg in ("-e", f"{k}={v}")
    ]
    called = call_every_tool([params.command, *params.args], image, *settings)
    assert called == set(TOOL_CALLS)


async def test_a_bad_setting_reaches_the_host_every_call_answers_it_with_the_fix() -> None:
    params = server_params()
    params.env = {**(params.env or {}), "SEEDANCE_PROVIDER": "falx"}
    with anyio.fail_after(60):
        async with Client(params) as client:
            tools = (await client.list_tools()).tools
            assert {"generate_video", "estimate_cost", "list_jobs", "check_status"} <= {t.name for t in tools}
            answers = {
                tool.name: await client.call_tool(tool.name, minimal_arguments(tool.input_schema))
                for tool in tools
            }
            unknown = await client.call_tool("generate_vidoe", {"prompt": "x"})
    for name, answer in answers.items():
        assert answer.is_error, name
        words = answer.content[0].text  # type: ignore[union-attr]
        assert "SEEDANCE_PROVIDER" in words and "'falx'" in words, (name, words)
        assert "To fix: correct the variable it names" in words and "restart the server" in words, name
    assert unknown.is_error and "generate_video" in unknown.content[0].text  # type: ignore[union-attr]
    # The doctor names the same setting with the same fix.
    doctor = await anyio.run_process([params.command, *params.args, "doctor"], env=params.env, check=False)
    out = doctor.stdout.decode()
    assert doctor.returncode == 1 and "SEEDANCE_PROVIDER" in out and "'falx'" in out
    assert f"fix: {SETTING_FIX}" in out


def minimal_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Values for a tool's required arguments that pass its schema."""
    samples = {"string": "sd_x", "number": 1, "integer": 1, "boolean": True, "array": ["sd_x"]}
    arguments: dict[str, Any] = {}
    for name in schema.get("required", []):
        spec = schema["properties"][name]
        arguments[name] = spec["enum"][0] if "enum" in spec else samples[spec.get("type", "string")]
    return arguments
