"""The bundle manifest cannot drift from the server, and every tool schema works in a strict host.

- manifest tools == `list_tools()`, manifest prompts == `list_prompts()` (names and arguments),
  manifest version == pyproject version == the installed package's version;
- every input and output schema is valid JSON Schema 2020-12 with no `$ref`/`$defs`, and every
  parameter says what it is (a type or enum) and what it is for (a description);
- `user_config` maps onto real settings, and what a host hands over for an untouched configuration
  (placeholders left in, `${HOME}` unexpanded) still starts with the documented defaults.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from seedance_mcp.server import __version__
from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import SETTINGS_DOC, Settings

ROOT = Path(__file__).resolve().parent.parent
MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))


def load_entry() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bundle_entry", ROOT / "bundle" / "entry.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def listed(settings: Settings) -> tuple[list[Any], list[Any]]:
    server = create_server(settings)
    return list(await server.list_tools()), list(await server.list_prompts())


# --- drift -----------------------------------------------------------------------------------------


def test_versions_agree() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject, re.MULTILINE)
    assert match is not None
    assert MANIFEST["version"] == match.group(1) == __version__


@pytest.mark.anyio
async def test_manifest_tools_are_the_server_tools(listed: tuple[list[Any], list[Any]]) -> None:
    tools, _ = listed
    # The manifest lists what the model may call; app-only tools (MCP Apps visibility ["app"]) are the card's.
    for_model = [t for t in tools if "model" in ((t.meta or {}).get("ui") or {}).get("visibility", ["model"])]
    assert sorted(t["name"] for t in MANIFEST["tools"]) == sorted(t.name for t in for_model)
    assert all(t.get("description") for t in MANIFEST["tools"])


@pytest.mark.anyio
async def test_manifest_prompts_are_the_server_prompts(listed: tuple[list[Any], list[Any]]) -> None:
    _, prompts = listed
    declared = {p["name"]: sorted(p.get("arguments", [])) for p in MANIFEST.get("prompts", [])}
    served = {p.name: sorted(a.name for a in p.arguments or []) for p in prompts}
    assert declared == served
    for prompt in MANIFEST.get("prompts", []):
        used = set(re.findall(r"\$\{arguments\.([^}]+)\}", prompt["text"]))
        assert used == set(prompt.get("arguments", [])), prompt["name"]


# --- portable schemas --------------------------------------------------------------------------------


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON document, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def is_typed(schema: Mapping[str, Any]) -> bool:
    if "type" in schema or "enum" in schema or "const" in schema:
        return True
    branches = schema.get("anyOf") or schema.get("oneOf")
    return bool(branches) and all(is_typed(b) for b in branches)


@pytest.mark.anyio
async def test_tool_schemas_are_portable(listed: tuple[list[Any], list[Any]]) -> None:
    tools, _ = listed
    assert tools
    for tool in tools:
        for kind, schema in (("input", tool.input_schema), ("output", tool.output_schema)):
            if schema is None:
                continue
            Draft202012Validator.check_schema(schema)
            keys = {key for key, _ in walk(schema)}
            assert "$ref" not in keys and "$defs" not in keys, f"{tool.name} {kind} schema needs resolving"
        params = tool.input_schema.get("properties", {})
        assert tool.input_schema.get("type") == "object"
        for name, prop in params.items():
            assert is_typed(prop), f"{tool.name}.{name} has no type or enum"
            assert prop.get("description", "").strip(), f"{tool.name}.{name} has no description"
        assert tool.description and len(tool.description) > 40, tool.name


def test_is_typed_can_fail() -> None:
    assert not is_typed({"description": "anything goes"})
    assert not is_typed({"anyOf": [{"type": "string"}, {}]})
    assert is_typed({"anyOf": [{"type": "string"}, {"type": "null"}]})


# --- configuration mapping ---------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\$\{user_config\.([^}]+)\}")


def test_user_config_maps_onto_settings() -> None:
    config = MANIFEST["server"]["mcp_config"]
    user_config = MANIFEST["user_config"]
    referenced = set(PLACEHOLDER.findall(json.dumps(config)))
    assert referenced == set(user_config), "every option is used, every placeholder is declared"
    for variable in config["env"]:
        assert variable in SETTINGS_DOC, f"{variable} is not a setting"
    expected = {
        "FAL_KEY",
        "OXEN_API_KEY",
        "SEEDANCE_PROVIDER",
        "SEEDANCE_DEFAULT_TIER",
        "SEEDANCE_OUTPUT_DIR",
        "SEEDANCE_MAX_COST_USD",
        "SEEDANCE_DAILY_BUDGET_USD",
        "SEEDANCE_CONFIRM_ABOVE_USD",
        "SEEDANCE_WAIT_SECONDS",
    }
    assert set(config["env"]) == expected
    # Folders may be several: only arguments expand a multi-select, so they travel as arguments.
    assert config["args"][-1] == "${user_config.allowed_dirs}"
    assert user_config["allowed_dirs"] == {
        **user_config["allowed_dirs"],
        "type": "directory",
        "multiple": True,
    }
    for key in ("fal_key", "oxen_api_key"):
        assert user_config[key]["sensitive"] is True
    assert user_config["wait_seconds"]["min"] == 0 and user_config["wait_seconds"]["max"] == 600
    assert user_config["wait_seconds"]["default"] == 45
    assert not any(option.get("required") for option in user_config.values()), "the simulator needs nothing"


def host_substitution(user_values: Mapping[str, Any], home: str) -> tuple[list[str], dict[str, str]]:
    """What a bundle host hands the server, following the reference implementation in the mcpb package:
    defaults first, then the user's values; a variable with no value stays as its placeholder; an array
    expands only as a whole argument; system folders are substituted before user values, so `${HOME}`
    inside a default arrives unexpanded."""
    config = MANIFEST["server"]["mcp_config"]
    values: dict[str, Any] = {k: v["default"] for k, v in MANIFEST["user_config"].items() if "default" in v}
    values.update(user_values)

    def one(text: str) -> str:
        text = text.replace("${__dirname}", str(ROOT)).replace("${HOME}", home)
        for key, value in values.items():
            if not isinstance(value, list):
                text = text.replace(f"${{user_config.{key}}}", str(value))
        return text

    args: list[str] = []
    for arg in config["args"]:
        whole = PLACEHOLDER.fullmatch(arg)
        value = values.get(whole.group(1)) if whole else None
        args += [str(v) for v in value] if isinstance(value, list) else [one(arg)]
    return args, {name: one(text) for name, text in config["env"].items()}


def test_untouched_configuration_starts_with_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("HOME", "USERPROFILE"):  # what Path.home() reads on POSIX and on Windows
        monkeypatch.setenv(variable, str(tmp_path))
    entry = load_entry()
    args, env = host_substitution({}, home=str(tmp_path))
    assert env["FAL_KEY"] == "" and env["SEEDANCE_MAX_COST_USD"] == "${user_config.max_cost_usd}"
    assert env["SEEDANCE_OUTPUT_DIR"] == "${HOME}/Videos/Seedance"
    entry.tidy_environment(env, args[4:])
    settings = Settings.from_env({**env, "SEEDANCE_HOME": str(tmp_path / "state")})
    assert settings.provider == "simulator"
    assert (
        settings.max_cost_usd is None
        and settings.daily_budget_usd is None
        and settings.confirm_above_usd is None
    )
    assert settings.wait_seconds == 45
    assert settings.default_tier == "fast"
    assert settings.output_dir == tmp_path / "Videos" / "Seedance"
    assert "SEEDANCE_ALLOWED_DIRS" not in env


def test_filled_configuration_reaches_settings(tmp_path: Path) -> None:
    entry = load_entry()
    folders = [str(tmp_path / "a"), str(tmp_path / "b c")]
    args, env = host_substitution(
        {
            "fal_key": "id:secret",
            "max_cost_usd": 2.5,
            "daily_budget_usd": 10,
            "confirm_above_usd": 1,
            "wait_seconds": 30,
            "default_tier": "standard",
            "allowed_dirs": folders,
            "output_dir": str(tmp_path / "out"),
        },
        home=str(tmp_path),
    )
    entry.tidy_environment(env, args[4:])
    settings = Settings.from_env({**env, "SEEDANCE_HOME": str(tmp_path / "state")})
    assert settings.provider == "fal"
    assert (settings.max_cost_usd, settings.daily_budget_usd, settings.confirm_above_usd) == (2.5, 10, 1)
    assert settings.wait_seconds == 30 and settings.default_tier == "standard"
    assert settings.allowed_dirs == tuple(Path(f) for f in folders)
    assert settings.output_dir == tmp_path / "out"


def test_entry_leaves_unrelated_variables_alone() -> None:
    entry = load_entry()
    env = {"PATH": "${user_config.x}", "SEEDANCE_PROVIDER": " ${user_config.provider} "}
    entry.tidy_environment(env, ["${user_config.allowed_dirs}"])
    assert env == {"PATH": "${user_config.x}"}


# --- bundle files ----------------------------------------------------------------------------------


def test_icon_is_a_512_png() -> None:
    from PIL import Image

    assert MANIFEST["icon"] == "icon.png"
    with Image.open(ROOT / "icon.png") as icon:
        assert icon.format == "PNG" and icon.size == (512, 512)


def test_entry_point_and_privacy() -> None:
    assert MANIFEST["manifest_version"] == "0.4"
    assert (ROOT / MANIFEST["server"]["entry_point"]).is_file()
    assert MANIFEST["privacy_policies"] == ["https://fal.ai/privacy", "https://www.oxen.ai/privacy"]
    ignore = (ROOT / ".mcpbignore").read_text(encoding="utf-8").splitlines()
    assert "!/bundle/entry.py" in ignore and "!/server" in ignore and "!/tools" in ignore
