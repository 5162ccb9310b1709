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
from seedance_mcp.server.tool_list_cache import KEPT_PER_PROVIDER, SHIPPED, ToolListCache

pytestmark = pytest.mark.anyio

MARK = " [read from the kept list]"


def wire(tools: list[Tool]) -> list[dict[str, Any]]:
    return [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in tools]


async def test_a_later_start_lists_from_the_kept_list_and_calls_the_built_tools(settings: Settings) -> None:
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
        # Once built, the tools are listed from the code again, and the list is written anew.
        assert wire((await client.list_tools()).tools) == first
    assert MARK not in kept.read_text()


async def test_an_unreadable_kept_list_is_built_again(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        first = wire((await client.list_tools()).tools)
    [kept] = (settings.home / "cache").glob("tools-simulator-*.json")
    kept.write_text('[{"name": ')
    async with Client(create_server(settings)) as client:
        assert wire((await client.list_tools()).tools) == first
    assert json.loads(kept.read_text())[0]["name"] == first[0]["name"]


def cache(tmp_path: Path, provider: str = "fal") -> ToolListCache:
    return ToolListCache(tmp_path / "cache", provider, [tmp_path / "code"])


def test_the_kept_list_belongs_to_its_code_and_provider(tmp_path: Path) -> None:
    source = tmp_path / "code" / "tool.py"
    source.parent.mkdir()
    source.write_text("NAME = 'a'\n")
    tool = Tool(name="a", description="A tool.", input_schema={"type": "object"})

    cache(tmp_path).save([tool])
    assert cache(tmp_path).load() == [tool]
    assert cache(tmp_path, "oxen").load() is None, "another provider lists other parameters"

    # An edit of the same size with the old modification time kept (`cp -p`, `rsync -a`, a re-extracted
    # bundle) is other code all the same: its list is built anew.
    stat = source.stat()
    source.write_text("NAME = 'b'\n")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size and source.stat().st_mtime_ns == stat.st_mtime_ns
    assert cache(tmp_path).load() is None
    cache(tmp_path).save([tool.model_copy(update={"name": "b"})])
    assert [t.name for t in cache(tmp_path).load() or []] == ["b"]


def test_lists_of_other_code_are_kept_a_few_per_provider(tmp_path: Path) -> None:
    # Two installs sharing one SEEDANCE_HOME (the bundle and a clone) must not undo each other's list.
    source = tmp_path / "code" / "tool.py"
    source.parent.mkdir()
    tool = Tool(name="a", input_schema={"type": "object"})
    versions = KEPT_PER_PROVIDER + 3
    for version in range(versions):
        source.write_text(f"VERSION = {version}\n")
        cache(tmp_path).save([tool.model_copy(update={"name": f"v{version}"})])
        os.utime(cache(tmp_path).path, (version, version))  # saved in this order
    kept = sorted((tmp_path / "cache").glob("tools-fal-*.json"))
    assert len(kept) == KEPT_PER_PROVIDER
    source.write_text("VERSION = 0\n")
    assert cache(tmp_path).load() is None, "the oldest lists were dropped"
    source.write_text(f"VERSION = {versions - 2}\n")
    assert [t.name for t in cache(tmp_path).load() or []] == [f"v{versions - 2}"]


SETTINGS_THAT_MUST_NOT_SHAPE_THE_LIST = {
    "SEEDANCE_DEFAULT_TIER": "standard",
    "SEEDANCE_WAIT_SECONDS": "7",
    "SEEDANCE_MAX_COST_USD": "1.5",
    "SEEDANCE_DAILY_BUDGET_USD": "3",
    "SEEDANCE_CONFIRM_ABOVE_USD": "0.5",
    "SEEDANCE_SAVE_VIDEOS": "false",
}


@pytest.mark.parametrize("provider", ["simulator", "fal", "oxen"])
async def test_the_list_depends_on_the_provider_only(
    provider: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kept list is keyed by code and provider: any setting that changed the list would be served
    # a stale one. Built without a kept list each time, under plain and unusual settings.
    monkeypatch.setenv("SEEDANCE_PROVIDER", provider)
    monkeypatch.setenv("FAL_KEY", "list-key-id:list-key-secret")
    monkeypatch.setenv("OXEN_API_KEY", "list-oxen-key")
    lists = []
    for index, extra in enumerate(({}, SETTINGS_THAT_MUST_NOT_SHAPE_THE_LIST)):
        for name, value in extra.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SEEDANCE_HOME", str(tmp_path / f"home{index}"))
        async with Client(create_server(Settings.from_env())) as client:
            lists.append(wire((await client.list_tools()).tools))
    assert lists[0] and lists[0] == lists[1]


def test_a_list_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "cache").write_text("a file where the folder should be")
    tool = Tool(name="a", input_schema={"type": "object"})
    cache(tmp_path).save([tool])
    assert cache(tmp_path).load() is None


@pytest.mark.parametrize("provider", ["simulator", "fal", "oxen"])
async def test_the_shipped_lists_are_the_lists_the_code_builds(
    provider: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first start after an install answers tools/list from the list shipped for this code. After a
    # change to the code, write them again: WRITE_TOOL_LISTS=1 pytest tests/test_tool_list_cache.py
    monkeypatch.setenv("SEEDANCE_PROVIDER", provider)
    monkeypatch.setenv("FAL_KEY", "list-key-id:list-key-secret")
    monkeypatch.setenv("OXEN_API_KEY", "list-oxen-key")
    server = create_server(Settings.from_env())
    server.build_tools()
    built = wire(await server.list_tools())  # from the code: the tools are built
    assert server.list_cache is not None
    shipped = SHIPPED / server.list_cache.path.name
    if os.environ.get("WRITE_TOOL_LISTS"):
        for old in SHIPPED.glob(f"tools-{provider}-*.json"):
            old.unlink()
        shipped.write_text(json.dumps(built, indent=1) + "\n")
    assert shipped.exists(), "the code changed: write the shipped tool lists again (see this test)"
    assert json.loads(shipped.read_text()) == built
    assert len(list(SHIPPED.glob(f"tools-{provider}-*.json"))) == 1


async def test_a_first_start_lists_from_the_shipped_list(settings: Settings, tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    server = create_server(settings)
    assert server.list_cache is not None and not server.list_cache.path.exists()
    marked = [{"name": "shipped_marker", "inputSchema": {"type": "object"}}]
    (shipped / server.list_cache.path.name).write_text(json.dumps(marked))
    server.list_cache.shipped = shipped
    async with Client(server) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["shipped_marker"]
    assert json.loads(server.list_cache.path.read_text())[0]["name"] == "shipped_marker"  # kept as well
