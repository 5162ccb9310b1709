"""The tool list kept between starts: the same list, read back only for the same code and provider."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.types import Tool

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.tool_list_cache import ToolCatalogue

pytestmark = pytest.mark.anyio

MARK = " [read from the catalogue]"


def wire(tools: list[Tool]) -> list[dict[str, Any]]:
    return [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in tools]


async def test_a_later_start_lists_from_the_catalogue_and_calls_the_built_tools(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        first = wire((await client.list_tools()).tools)
    [kept] = (settings.home / "cache").glob("tools-simulator-*.json")
    async with Client(create_server(settings)) as client:
        assert wire((await client.list_tools()).tools) == first

    # Mark the kept list: the next start must answer with the mark, so the list came from the file.
    listed = json.loads(kept.read_text())
    listed[0]["description"] += MARK
    kept.write_text(json.dumps(listed))
    async with Client(create_server(settings)) as client:
        marked = wire((await client.list_tools()).tools)
        assert marked[0]["description"].endswith(MARK)
        assert marked[1:] == first[1:]
        # Calls run on the tools built from the code, whatever the list said.
        result = await client.call_tool("estimate_cost", {"duration": "5", "resolution": "720p"})
        assert not result.is_error, result.content
        # Once built, the tools are listed from the code again, and the catalogue is written anew.
        assert wire((await client.list_tools()).tools) == first
    assert MARK not in kept.read_text()


async def test_an_unreadable_catalogue_is_built_again(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        first = wire((await client.list_tools()).tools)
    [kept] = (settings.home / "cache").glob("tools-simulator-*.json")
    kept.write_text('[{"name": ')
    async with Client(create_server(settings)) as client:
        assert wire((await client.list_tools()).tools) == first
    assert json.loads(kept.read_text())[0]["name"] == first[0]["name"]


def catalogue(tmp_path: Path, provider: str = "fal") -> ToolCatalogue:
    return ToolCatalogue(tmp_path / "cache", provider, [tmp_path / "code"])


def test_the_kept_list_belongs_to_its_code_and_provider(tmp_path: Path) -> None:
    source = tmp_path / "code" / "tool.py"
    source.parent.mkdir()
    source.write_text("NAME = 'a'\n")
    tool = Tool(name="a", description="A tool.", input_schema={"type": "object"})

    catalogue(tmp_path).save([tool])
    assert catalogue(tmp_path).load() == [tool]
    assert catalogue(tmp_path, "oxen").load() is None, "another provider lists other parameters"

    # Changed code (a new size or modification time) is other code: its list is built anew, and
    # saving it replaces the old one.
    source.write_text("NAME = 'b'\n")
    os.utime(source, ns=(1, 1))
    assert catalogue(tmp_path).load() is None
    catalogue(tmp_path).save([tool.model_copy(update={"name": "b"})])
    assert [t.name for t in catalogue(tmp_path).load() or []] == ["b"]
    assert len(list((tmp_path / "cache").glob("tools-fal-*.json"))) == 1


def test_a_catalogue_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "cache").write_text("a file where the folder should be")
    tool = Tool(name="a", input_schema={"type": "object"})
    catalogue(tmp_path).save([tool])
    assert catalogue(tmp_path).load() is None
