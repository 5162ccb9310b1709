"""Docs that cannot drift: the README's settings table and tool list come from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings, settings_markdown

README = Path(__file__).parent.parent / "README.md"


def test_readme_settings_table_is_generated_from_the_code() -> None:
    text = README.read_text()
    table = re.search(r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", text, re.S)
    assert table is not None
    assert table.group(1) == settings_markdown(), "regenerate it from server.config.settings_markdown()"


@pytest.mark.anyio
async def test_readme_lists_every_tool(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    listed = set(re.findall(r"^\| `(\w+)` \|", README.read_text(), re.M))
    assert names <= listed
