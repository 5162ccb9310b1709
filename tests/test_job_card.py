"""The job card over MCP (a real client in process): the binding, the app-only tool, the resource, the CSP."""

from __future__ import annotations

import re
from typing import Any, Literal

import pytest
from mcp.client import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.tools.job_card import FOLLOW_NAME, GALLERY_URI, URI, media_domains

pytestmark = pytest.mark.anyio

BOUND_TOOLS = {"generate_video", "reference_video", "check_status"}
Mode = Literal["legacy", "modern"]


def apps_host() -> Any:
    """What a host that renders MCP Apps declares."""
    return advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


def client(settings: Settings, *, apps: bool, mode: Mode = "modern") -> Client:
    extensions = [apps_host()] if apps else []
    if mode == "legacy":
        return Client(create_server(settings), extensions=extensions, mode="legacy")
    return Client(create_server(settings), extensions=extensions)


@pytest.mark.parametrize("mode", ["legacy", "modern"])
async def test_bound_tools_carry_the_card_and_the_follow_tool_is_app_only(
    settings: Settings, mode: Mode
) -> None:
    async with client(settings, apps=True, mode=mode) as c:
        tools = {tool.name: tool for tool in (await c.list_tools()).tools}
    for name in BOUND_TOOLS:
        assert (tools[name].meta or {}).get("ui") == {"resourceUri": URI}, name
    assert "visibility" not in tools["generate_video"].meta["ui"]  # the default: model and app
    assert tools[FOLLOW_NAME].meta == {"ui": {"resourceUri": URI, "visibility": ["app"]}}
    assert tools["confirm_spend"].meta == {"ui": {"resourceUri": URI, "visibility": ["app"]}}
    assert tools["list_jobs"].meta == {"ui": {"resourceUri": GALLERY_URI}}  # the gallery
    for name in ("estimate_cost", "cancel_job"):
        assert not (tools[name].meta or {}).get("ui"), name


@pytest.mark.parametrize("mode", ["legacy", "modern"])
async def test_a_client_without_apps_never_lists_the_app_only_tool(settings: Settings, mode: Mode) -> None:
    async with client(settings, apps=False, mode=mode) as c:
        names = {tool.name for tool in (await c.list_tools()).tools}
    assert FOLLOW_NAME not in names and "confirm_spend" not in names
    assert names >= BOUND_TOOLS


@pytest.mark.parametrize("mode", ["legacy", "modern"])
async def test_a_client_without_apps_cannot_call_the_app_only_tool(settings: Settings, mode: Mode) -> None:
    async with client(settings, apps=False, mode=mode) as c:
        started = await c.call_tool(
            "generate_video", {"prompt": "a kite", "duration": "4", "wait_seconds": 0}
        )
        job_id = (started.structured_content or {})["job_id"]
        refused = await c.call_tool(FOLLOW_NAME, {"job_id": job_id, "wait_seconds": 0})
    assert refused.is_error and refused.structured_content is None
    text = refused.content[0].text  # type: ignore[union-attr]
    assert "MCP Apps" in text and "check_status" in text and job_id not in text
    async with client(settings, apps=True, mode=mode) as c:  # a host with Apps still may
        answered = await c.call_tool(FOLLOW_NAME, {"job_id": job_id, "wait_seconds": 0})
    assert not answered.is_error, answered.content


async def test_the_card_is_one_self_contained_html_file_with_a_video(settings: Settings) -> None:
    async with client(settings, apps=True) as c:
        listed = {str(r.uri): r for r in (await c.list_resources()).resources}
        contents = (await c.read_resource(URI)).contents
    assert listed[URI].mime_type == APP_MIME_TYPE
    assert len(contents) == 1
    page = contents[0]
    assert page.mime_type == APP_MIME_TYPE
    html = getattr(page, "text", "")
    assert html.startswith("<!DOCTYPE html>")
    assert len(html.encode()) < 40_000
    assert re.search(r"<video\b[^>]*\bcontrols\b", html)
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", html, re.I), "scripts must be inline"
    assert not re.search(r"<link\b", html, re.I), "no external stylesheets or fonts"
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html), "no external CSS resources"
    csp = (page.meta or {})["ui"]["csp"]
    assert set(csp) == {"resourceDomains"}, "the card connects nowhere itself: only media hosts"
    assert "https://*.fal.media" in csp["resourceDomains"]
    assert "https://hub.oxen.ai" in csp["resourceDomains"]
    assert "http://127.0.0.1:*" in csp["resourceDomains"]  # the simulator, since these settings are simulated


async def test_the_capability_is_advertised_only_as_the_extension_framework_says(settings: Settings) -> None:
    # SEP-2133: `capabilities.extensions[identifier]`, set by MCPServer(extensions=[...]); the SDK leaves it
    # out on 2025-11-25 connections, whose capabilities have no such field.
    async with client(settings, apps=False) as c:
        capabilities = c.server_capabilities
    assert capabilities.extensions == {EXTENSION_ID: {}}
    assert not (capabilities.experimental or {}).get(EXTENSION_ID)


def test_the_simulator_origin_is_allowed_only_when_simulated(settings: Settings) -> None:
    assert settings.simulated
    real = settings.model_copy(update={"provider_choice": "fal"})
    assert "http://127.0.0.1:*" not in media_domains(real)
    assert {"https://fal.media", "https://*.fal.media"} <= set(media_domains(real))
    moved = real.model_copy(update={"fal_cdn_url": "https://cdn.example.test/base"})
    assert "https://cdn.example.test" in media_domains(moved)


async def test_follow_job_answers_like_check_status_plus_the_request(settings: Settings) -> None:
    async with client(settings, apps=True) as c:
        asked = {"prompt": "a lighthouse at dusk", "duration": "4", "seed": 7, "wait_seconds": 0}
        started = await c.call_tool("generate_video", asked)
        job_id = started.structured_content["job_id"]
        followed = await c.call_tool(FOLLOW_NAME, {"job_id": job_id, "wait_seconds": 20})
        while not followed.structured_content["done"]:
            followed = await c.call_tool(FOLLOW_NAME, {"job_id": job_id, "wait_seconds": 20})
        status = await c.call_tool("check_status", {"job_id": job_id, "wait_seconds": 0})
    card = dict(followed.structured_content)
    request = card.pop("request")
    assert card.pop("saved_as") == card["video_path"]  # under no home folder here: written as it is
    plain = dict(status.structured_content)
    assert card.pop("elapsed_seconds") == plain.pop("elapsed_seconds")
    assert card == plain
    assert card["state"] == "completed" and card["video_url"].startswith("http://127.0.0.1:")
    assert request["tool"] == "generate_video"
    shown = (request["prompt"], request["resolution"], request["duration"])
    assert shown == ("a lighthouse at dusk", "720p", "4")
    # Everything the first call asked for, in generate_video's own parameter names, but the seed: the card
    # picks a new one for "Again with a new seed".
    assert request["again"] == {
        "prompt": "a lighthouse at dusk",
        "resolution": "720p",
        "duration": "4",
        "aspect_ratio": "auto",
        "generate_audio": True,
        "tier": "fast",
    }
    assert [block.type for block in followed.content] == [block.type for block in status.content]


async def test_follow_job_names_an_unknown_job(settings: Settings) -> None:
    async with client(settings, apps=True) as c:
        result = await c.call_tool(FOLLOW_NAME, {"job_id": "sd_nope"})
    assert result.is_error
    assert "No job with id 'sd_nope'" in result.content[0].text


async def test_the_gallery_is_one_self_contained_html_file_under_the_same_csp(settings: Settings) -> None:
    async with client(settings, apps=True) as c:
        card = (await c.read_resource(URI)).contents[0]
        page = (await c.read_resource(GALLERY_URI)).contents[0]
    html = getattr(page, "text", "")
    assert page.mime_type == APP_MIME_TYPE and html.startswith("<!DOCTYPE html>")
    assert "<svg" in html and len(html.encode()) < 30_000
    assert not re.search(r"<script\b[^>]*\bsrc\s*=|<link\b|@import|url\(\s*['\"]?https?:", html, re.I)
    assert (page.meta or {})["ui"]["csp"] == (card.meta or {})["ui"]["csp"]
