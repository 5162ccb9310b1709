"""The prompts and the seedance://models resource, read through a real MCP client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp.types import TextContent, TextResourceContents

from seedance_mcp.server.app import create_server
from seedance_mcp.server.catalogue.facts import (
    ASPECT_RATIOS,
    DURATIONS,
    MAX_FILES,
    MAX_IMAGES,
    OUTPUT_SIZE,
    RESOLUTIONS,
)
from seedance_mcp.server.catalogue.pricing import RATES, TIER_ENDPOINTS, price_table
from seedance_mcp.server.config import Settings
from seedance_mcp.server.providers.fal import endpoint_for
from seedance_mcp.tools.models_resource import models_document

pytestmark = pytest.mark.anyio


async def prompt_text(client: Client, name: str, arguments: dict[str, str]) -> str:
    result = await client.get_prompt(name, arguments)
    assert len(result.messages) == 1 and result.messages[0].role == "user"
    content = result.messages[0].content
    assert isinstance(content, TextContent)
    return content.text


async def test_prompts_are_listed_with_their_arguments(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) >= {"storyboard", "use_my_reference_files"}
    args = {name: {a.name: a.required for a in prompts[name].arguments or []} for name in prompts}
    assert args["storyboard"] == {"idea": True}
    assert args["use_my_reference_files"] == {"folder": True, "idea": True}
    assert all(prompts[name].description for name in ("storyboard", "use_my_reference_files"))


async def test_storyboard_carries_the_seeds_advice(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        text = await prompt_text(client, "storyboard", {"idea": "A fox steals a lantern"})
    assert "A fox steals a lantern" in text
    assert "double quotes" in text and "lip-sync" in text  # dialogue
    assert "dolly" in text and "camera" in text.lower()  # camera moves
    assert "@Image1" in text  # labelling references
    assert 'duration "5"' in text and "480p" in text  # cheap drafts first
    assert "estimate_cost" in text and "check_status" in text and "generate_video" in text


async def test_use_my_reference_files_names_labels_and_limits(settings: Settings) -> None:
    files = "~/Pictures/me.jpg\n~/Music/beat.mp3, https://example.com/dance.mp4"
    async with Client(create_server(settings)) as client:
        text = await prompt_text(client, "use_my_reference_files", {"folder": files, "idea": "Me dancing"})
    assert "Me dancing" in text and files in text
    for label in ("@Image1", "@Image2", "@Video1", "@Audio1"):
        assert label in text
    assert f"at most {MAX_IMAGES} images" in text and f"{MAX_FILES} in all" in text
    assert "reference_video" in text and "estimate_cost" in text and "0.6x" in text


async def test_a_missing_prompt_argument_is_refused(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        with pytest.raises(MCPError):  # the SDK words it "Internal server error"; the log names `idea`
            await client.get_prompt("use_my_reference_files", {"folder": "~/media"})


async def test_the_models_resource_states_endpoints_limits_and_prices(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        assert listed["seedance://models"].mime_type == "application/json"
        result = await client.read_resource("seedance://models")
    (contents,) = result.contents
    assert isinstance(contents, TextResourceContents)
    doc: dict[str, Any] = json.loads(contents.text)

    assert doc["provider"] == "simulator" and doc["simulated"] is True
    assert doc["default_tier"] == settings.default_tier
    for tier in ("fast", "standard"):
        for mode in ("text-to-video", "image-to-video", "reference-to-video"):
            assert doc["endpoints"]["fal"]["2.0"][tier][mode] == endpoint_for(tier, mode)
            assert doc["endpoints"]["oxen"]["2.0"][tier][mode].startswith("bytedance-seedance-2-0-")
    assert doc["endpoints_in_force"] == doc["endpoints"]["fal"]  # the simulator speaks fal's protocol
    assert doc["parameters"]["resolution"]["values"] == list(RESOLUTIONS)  # 2.0's; 1080p per endpoint
    assert doc["parameters"]["duration"]["values"] == list(DURATIONS)
    assert doc["parameters"]["aspect_ratio"]["values"] == list(ASPECT_RATIOS)
    assert doc["output_sizes"]["2.0 fast"]["720p"]["16:9"] == "{}x{}".format(*OUTPUT_SIZE["720p"]["16:9"])
    assert doc["reference_limits"]["images"]["max"] == MAX_IMAGES
    assert doc["reference_limits"]["max_files"] == MAX_FILES

    table = doc["pricing"]["table"]
    assert len(table) == sum(len(entry.output_sizes) for entry in TIER_ENDPOINTS.values())
    assert [(row["tier"], row["resolution"], row["usd"]) for row in table] == [
        (row.tier, row.resolution, list(row.usd)) for row in price_table()
    ]
    fast = RATES[("2.0", "fast")]
    assert doc["pricing"]["rates"]["2.0"]["fast"]["usd_per_1k_tokens"] == fast.usd_per_1k_tokens
    assert "nothing is charged" in doc["pricing"]["note"]


def test_the_models_document_follows_the_provider_and_caps_in_force() -> None:
    settings = Settings.from_env(
        {"FAL_KEY": "k", "SEEDANCE_MAX_COST_USD": "2.5", "SEEDANCE_DEFAULT_TIER": "standard"}
    )
    doc = models_document(settings)
    assert doc["provider"] == "fal" and doc["simulated"] is False and doc["default_tier"] == "standard"
    assert doc["spending_caps"]["max_cost_usd"] == 2.5
    assert doc["pricing"]["note"] == "fal.ai's published rates"
    json.dumps(doc)  # a plain JSON document
