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


def test_readme_commands_run_as_written() -> None:
    text = README.read_text()
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S))
    # The quickstart installs into .venv: every command uses that path, none a bare `seedance-mcp`.
    bare = [line for line in blocks.splitlines() if re.search(r"(^|[\s;&|(])seedance-mcp\s", line)]
    assert not bare, f"use .venv/bin/seedance-mcp: {bare}"
    assert "Node.js and npm" in text, "building the bundle needs them: say so"
    for word in ("--allowed-host", "SEEDANCE_HTTP_ALLOWED_HOSTS", "421"):
        assert word in text
    assert not re.search(r"\*\*(One|Two|Three|Four|Five|Six|Seven|Eight) tools\*\*", text), (
        "no tool count to rot"
    )


def test_registry_entry_agrees_with_the_package() -> None:
    import json

    from seedance_mcp import __version__

    server = json.loads((README.parent / "server.json").read_text())
    marker = re.search(r"<!-- mcp-name: (\S+) -->", README.read_text())
    assert marker is not None and marker.group(1) == server["name"]
    assert server["name"].startswith("io.github.") and len(server["description"]) <= 100
    assert server["$schema"].endswith("/server.schema.json")
    kinds = {package["registryType"]: package for package in server["packages"]}
    assert set(kinds) == {"pypi", "mcpb"}
    assert kinds["pypi"]["identifier"] == "seedance-mcp"
    assert kinds["mcpb"]["identifier"].endswith(f"/v{__version__}/seedance-mcp.mcpb")
    assert server["version"] == kinds["pypi"]["version"] == kinds["mcpb"]["version"] == __version__
    from seedance_mcp.server.config import SETTINGS_DOC

    for variable in kinds["pypi"]["environmentVariables"]:
        assert variable["name"] in SETTINGS_DOC, variable["name"]


def test_readme_parameter_table_is_generated_from_the_catalogue() -> None:
    from seedance_mcp.server.catalogue.tables import parameter_table_markdown

    table = re.search(
        r"<!-- parameter-table:start -->\n(.*?)\n<!-- parameter-table:end -->", README.read_text(), re.S
    )
    assert table is not None, "README.md lacks the parameter-table markers"
    assert table.group(1) == parameter_table_markdown(), "regenerate it from catalogue.tables"
