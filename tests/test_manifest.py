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
import os
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
from seedance_mcp.server.errors import ConfigError

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


# --- context cost ------------------------------------------------------------------------------------

# Every conversation in every host carries `tools/list`: all tools together, as compact JSON, stay under
# this many characters, on every provider (Oxen lists three parameters more).
TOOL_LIST_BUDGET = 15_000
OXEN_ONLY = {"num_generations", "response_format", "target_namespace"}


async def listed_over_the_wire(env: dict[str, str]) -> list[dict[str, Any]]:
    from mcp.client import Client

    async with Client(create_server(Settings.from_env({**os.environ, **env}))) as client:
        tools = (await client.list_tools()).tools
    return [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in tools]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "env",
    [{}, {"FAL_KEY": "id:secret"}, {"OXEN_API_KEY": "oxen-key"}],
    ids=["simulator", "fal", "oxen"],
)
async def test_tool_list_fits_the_context_budget(env: dict[str, str]) -> None:
    tools = await listed_over_the_wire(env)
    size = len(json.dumps({"tools": tools}, separators=(",", ":"), ensure_ascii=False))
    assert size <= TOOL_LIST_BUDGET, f"tools/list is {size} characters; the budget is {TOOL_LIST_BUDGET}"
    for tool in tools:
        text = tool["description"]
        if not tool.get("annotations", {}).get("readOnlyHint"):
            continue
        assert "Free" in text or "free" in text, f"{tool['name']} should say it costs nothing"
    by_name = {tool["name"]: tool for tool in tools}
    for name in ("generate_video", "reference_video"):
        text = by_name[name]["description"]
        assert "$" in text and "min" in text and "check_status" in text, "cost, duration, what next"
        listed = set(by_name[name]["inputSchema"]["properties"])
        if "OXEN_API_KEY" in env:
            assert listed >= OXEN_ONLY
        else:
            assert not listed & OXEN_ONLY, "Oxen-only parameters are listed only on Oxen"


@pytest.mark.anyio
async def test_hidden_parameters_are_still_refused_by_name() -> None:
    from mcp.client import Client

    async with Client(create_server(Settings.from_env())) as client:
        result = await client.call_tool("generate_video", {"prompt": "a boat", "num_generations": 2})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "num_generations" in text and "Oxen" in text


def test_compact_listing_keeps_what_validates() -> None:
    from seedance_mcp.server.tool_listing import compact_schema, outline_schema

    full = {
        "title": "Args",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string", "description": "a field called title"},
            "tier": {"anyOf": [{"enum": ["a", "b"], "type": "string"}, {"type": "null"}], "default": None},
            "n": {"type": "integer", "default": 1, "x-provider": "oxen"},
        },
        "required": ["title", "n"],
    }
    assert compact_schema(full, "fal") == {
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "a field called title"},
            "tier": {"anyOf": [{"enum": ["a", "b"], "type": "string"}, {"type": "null"}]},
        },
        "required": ["title"],
    }
    assert compact_schema(full, "oxen", inputs=True)["properties"]["tier"] == {
        "enum": ["a", "b"],
        "type": "string",
    }
    assert compact_schema(full, "oxen", inputs=True)["properties"]["n"] == {"type": "integer", "default": 1}
    outline = outline_schema(full)
    Draft202012Validator(outline).validate({"title": "x", "tier": None, "n": 3})
    assert not Draft202012Validator(outline).is_valid({"title": 3})


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
        "SEEDANCE_CONFIRM_POLICY",
        "SEEDANCE_OXEN_UPLOAD_REPO",
        "SEEDANCE_HOME",
        "SEEDANCE_FAL_STORE_IO",
        "SEEDANCE_FAL_OBJECT_EXPIRY_SECONDS",
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


# Settings a message may name that a bundle user has no reason to change, each with why.
NOT_FOR_BUNDLE_USERS = {
    "SEEDANCE_HTTP_TOKEN": "HTTP transport only; the bundle speaks stdio",
    "SEEDANCE_HTTP_ALLOWED_HOSTS": "HTTP transport only",
    "SEEDANCE_DATABASE_URL": "team servers over HTTP only; one user's bundle keeps SQLite",
    "SEEDANCE_PUBLIC_URL": "team servers over HTTP only (webhooks need a public address)",
    "SEEDANCE_TEAM_SECRET": "team servers over HTTP only",
    "SEEDANCE_EXIT_AFTER_UNHEALTHY_SECONDS": "team servers over HTTP only (a replica on PostgreSQL)",
    "SEEDANCE_LEASE_SECONDS": "team servers (how long a replica holds a job without renewing)",
    "SEEDANCE_SAVE_VIDEOS": "team servers without a shared disk",
    "SEEDANCE_LOG_LEVEL": "the host keeps the server's stderr log; debugging only",
    "SEEDANCE_FAL_QUEUE_URL": "test endpoints (the simulator)",
    "SEEDANCE_FAL_REST_URL": "test endpoints",
    "SEEDANCE_FAL_CDN_URL": "test endpoints",
    "SEEDANCE_OXEN_URL": "test endpoints",
    "SEEDANCE_SIM_QUEUE_SECONDS": "simulator tuning",
    "SEEDANCE_SIM_RUN_SECONDS": "simulator tuning",
    "SEEDANCE_SIM_FAULTS": "simulator tuning",
    "SEEDANCE_SIM_SEED": "simulator tuning",
    "SEEDANCE_ALLOWED_DIRS": "set from the 'Folders for input files' option, passed as arguments",
    "FAL_KEY_ID": "FAL_KEY covers it",
    "FAL_KEY_SECRET": "FAL_KEY covers it",
}
# What the assistant and the user read: tool modules and the machinery that words their errors.
MESSAGE_SOURCES = [
    *sorted((ROOT / "tools").glob("*.py")),
    *(p for p in sorted((ROOT / "server").rglob("*.py")) if "simulator" not in p.relative_to(ROOT).parts),
]
ONE_OF = re.compile(r"One of: ([^.]+)\.")


def test_every_setting_a_message_names_is_a_bundle_option() -> None:
    bundle = set(MANIFEST["server"]["mcp_config"]["env"])
    named: dict[str, set[str]] = {}
    for path in MESSAGE_SOURCES:
        if path.name in {"config.py", "__main__.py", "doctor.py", "http.py"}:
            continue  # the CLI's and the doctor's own words, for people at a terminal
        for variable in re.findall(
            r"\b(SEEDANCE_[A-Z_]+[A-Z]|FAL_KEY(?:_ID|_SECRET)?|OXEN_API_KEY)\b", path.read_text()
        ):
            named.setdefault(variable, set()).add(path.name)
    assert "SEEDANCE_CONFIRM_POLICY" in named and "SEEDANCE_OXEN_UPLOAD_REPO" in named  # the scan sees them
    missing = {
        v: sorted(where) for v, where in named.items() if v not in bundle and v not in NOT_FOR_BUNDLE_USERS
    }
    assert not missing, f"messages ask for settings the bundle cannot set: {missing}"


def test_readme_manifest_and_settings_model_agree() -> None:
    from typing import Literal, get_args, get_origin

    from seedance_mcp.server.config import FIELD_OF_VARIABLE
    from seedance_mcp.server.config import Settings as Model

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, re.MULTILINE))
    assert documented == set(SETTINGS_DOC), "README settings table == SETTINGS_DOC"
    # Every field of the model is read from a documented variable.
    assembled = {
        "fal_key",
        "oxen_api_key",
        "http_token",
        "home",
        "output_dir",
        "allowed_dirs",
        "http_allowed_hosts",
        "database_url",  # secrets, read apart like the keys
        "team_secret",
    }
    assert set(FIELD_OF_VARIABLE) <= set(SETTINGS_DOC)
    assert set(Model.model_fields) == set(FIELD_OF_VARIABLE.values()) | assembled
    # Every bundle option feeds a documented variable, and the values it lists are the model's.
    enums = []
    for variable, template in MANIFEST["server"]["mcp_config"]["env"].items():
        assert variable in SETTINGS_DOC, variable
        key = PLACEHOLDER.fullmatch(template).group(1)  # type: ignore[union-attr]
        listed = ONE_OF.search(MANIFEST["user_config"][key]["description"])
        field = FIELD_OF_VARIABLE.get(variable)
        annotation = Model.model_fields[field].annotation if field else None
        choices = get_args(annotation) if get_origin(annotation) is Literal else ()
        if choices:
            assert listed, f"{key}: say the allowed values ('One of: ...')"
            words = re.findall(r"\b([a-z]+)\b(?! \()", re.sub(r"\([^)]*\)", "", listed.group(1)))
            assert set(words) - {"or"} == set(choices), key
            assert MANIFEST["user_config"][key]["default"] in choices
            enums.append(key)
    assert sorted(enums) == ["confirm_policy", "default_tier", "provider"]
    # The numbers the bundle accepts are the numbers the server accepts.
    for key in ("max_cost_usd", "daily_budget_usd", "confirm_above_usd"):
        assert MANIFEST["user_config"][key]["min"] == 0
        variable = next(v for v, t in MANIFEST["server"]["mcp_config"]["env"].items() if key in t)
        with pytest.raises(ConfigError, match=variable):
            Settings.from_env({variable: "-1"})


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
