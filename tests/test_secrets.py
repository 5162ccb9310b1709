"""The API key never leaves: not in the journal, logs, errors, tool output, files or the simulator's log.

One server does a bit of everything against a faulty simulator (uploads, successes, failures,
retries, cancels, listings, resources), with every logger at DEBUG; then every place a key could
end up is searched for it, as text and as bytes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp.types import CallToolResult

from seedance_mcp.server.app import create_server
from seedance_mcp.server.config import Settings
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions
from tests.fal_on_simulator import fal_on_simulator
from tests.media_factory import make_image

pytestmark = pytest.mark.anyio

SECRET = "9f8e7d6c5b4a39281706"
KEY = f"test-key-id:{SECRET}"
BAD_KEY = f"sim-invalid-key:{SECRET}"


def dump(result: Any) -> str:
    """Everything a client sees of an answer."""
    if isinstance(result, CallToolResult):
        return json.dumps(result.model_dump(mode="json"))
    return json.dumps(result.model_dump(mode="json")) if hasattr(result, "model_dump") else str(result)


async def test_the_key_appears_nowhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    image = make_image(tmp_path / "home" / "start.png", "png", 640, 480)
    seen: list[str] = []
    options = SimulatorOptions(
        queue_seconds=0.3, run_seconds=0.8, faults="status_5xx=0.3,result_5xx=0.3,submit_429=0.3", seed=3
    )
    with Simulator(options) as sim:
        settings = fal_on_simulator(sim.url, tmp_path, KEY)
        assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
        async with Client(create_server(settings)) as client:

            async def call(tool: str, arguments: dict[str, Any]) -> CallToolResult:
                result = await client.call_tool(tool, arguments)
                seen.append(dump(result))
                return result

            base = {"duration": "4", "resolution": "480p"}
            with anyio.fail_after(60):
                done = await call("generate_video", {"prompt": "A kite", **base, "wait_seconds": 30})
                assert not done.is_error, done.content
                uploaded = await call(
                    "generate_video",
                    {"prompt": "Animate this", "image_url": str(image), **base, "wait_seconds": 30},
                )
                assert not uploaded.is_error, uploaded.content
                failed = await call(
                    "generate_video",
                    {"prompt": "A crash [sim:error=runner_server_error]", **base, "wait_seconds": 30},
                )
                assert failed.is_error
                await call(
                    "generate_video", {"prompt": "A flag [sim:content_policy]", **base, "wait_seconds": 30}
                )
                queued = await call("generate_video", {"prompt": "Cancel me", **base, "wait_seconds": 0})
                job_id = (queued.structured_content or {})["job_id"]
                await call("cancel_job", {"job_id": job_id})
                await call("check_status", {"job_id": job_id, "wait_seconds": 0})
                await call("check_status", {"job_id": "sd_unknown"})
                await call("list_jobs", {})
                await call("estimate_cost", {"resolution": "720p", "duration": "5"})
                read = await client.read_resource(f"seedance://jobs/{job_id}")
                seen.append(dump(read))
                seen.append(dump(await client.list_tools()))

        sim_log = sim.request_log()
        async with httpx.AsyncClient(verify=tls_context()) as http:
            served_log = (await http.get(f"{sim.url}/_simulator/requests")).text
        assert any(e.get("kind") == "upload" for e in sim_log)  # the upload path really ran
        assert any(e.get("fault") for e in sim_log)  # and so did retries

        # A rejected key: the error names the variable to fix, never the key.
        async with Client(create_server(fal_on_simulator(sim.url, tmp_path / "bad", BAD_KEY))) as client:
            rejected = await client.call_tool(
                "generate_video", {"prompt": "A kite", **base, "wait_seconds": 0}
            )
            seen.append(dump(rejected))
        assert rejected.is_error and "FAL_KEY" in rejected.content[0].text  # type: ignore[union-attr]
        sim_log += sim.request_log()

    assert caplog.records  # the logs really were captured
    logged = "\n".join(
        [caplog.text] + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    )
    places = {
        "tool output": "\n".join(seen),
        "logs": logged,
        "simulator request log": json.dumps(sim_log) + served_log,
    }
    for place, text in places.items():
        assert SECRET not in text, f"the key leaked into the {place}"

    # Every file the server wrote: journal (and its WAL), previews, videos.
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.startswith("journal.sqlite3") for p in files)
    leaked = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert leaked == []


# -- a key echoed back by the provider ----------------------------------------------------------------

# Printable ASCII (so the settings accept it), with a quote and a backslash so that its JSON-escaped
# and repr forms differ from the raw one.
ECHO_KEY_ID = "sd-key-id-4821"
ECHO_SECRET = 's3cr3t"v4lu3\\9f8e7d6c5b4a'
ECHO_KEY = f"{ECHO_KEY_ID}:{ECHO_SECRET}"
# Every form of the key (raw, escaped, cut in two) holds at least one of these.
FRAGMENTS = (ECHO_KEY_ID, "s3cr3t", "9f8e7d6c5b4a")


def echo_settings(provider: str, url: str, tmp_path: Path) -> Settings:
    env = {
        "SEEDANCE_PROVIDER": provider,
        "SEEDANCE_HOME": str(tmp_path / "state"),
        "SEEDANCE_OUTPUT_DIR": str(tmp_path / "videos"),
        "SEEDANCE_ALLOWED_DIRS": str(tmp_path / "home"),
    }
    if provider == "fal":
        env |= {"FAL_KEY": ECHO_KEY} | {f"SEEDANCE_FAL_{n}_URL": url for n in ("QUEUE", "REST", "CDN")}
    else:
        env |= {"OXEN_API_KEY": ECHO_KEY, "SEEDANCE_OXEN_URL": url}
    return Settings.from_env(env)


@pytest.mark.parametrize("provider", ["fal", "oxen"])
async def test_a_key_echoed_in_an_error_body_reaches_no_answer_log_or_journal(
    provider: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    prompt = "A kite [sim:echo_key]"
    seen: list[str] = []
    with Simulator(SimulatorOptions(queue_seconds=0.2, run_seconds=0.5)) as sim:
        # The simulator really does echo the key: without redaction it would be everywhere below.
        async with httpx.AsyncClient(verify=tls_context()) as http:
            if provider == "fal":
                raw = await http.post(
                    f"{sim.url}/bytedance/seedance-2.0/fast/text-to-video",
                    json={"prompt": prompt},
                    headers={"Authorization": f"Key {ECHO_KEY}"},
                )
            else:
                raw = await http.post(
                    f"{sim.url}/api/ai/queue",
                    json={"model": "bytedance-seedance-2-0-fast-text-to-video", "prompt": prompt},
                    headers={"Authorization": f"Bearer {ECHO_KEY}"},
                )
        body = raw.json()
        detail = body["detail"] if provider == "fal" else body["error"]["detail"]
        assert raw.status_code == 400 and ECHO_KEY in detail and json.dumps(ECHO_SECRET)[1:-1] in detail

        async with Client(create_server(echo_settings(provider, sim.url, tmp_path))) as client:
            with anyio.fail_after(60):
                refused = await client.call_tool(
                    "generate_video", {"prompt": prompt, "duration": "4", "wait_seconds": 0}
                )
                seen.append(dump(refused))
                seen.append(dump(await client.call_tool("list_jobs", {})))
        assert refused.is_error
        assert any(e.get("kind") == "submit" and e.get("status") == 400 for e in sim.request_log())

    logged = "\n".join(
        [caplog.text] + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    )
    journal = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    assert journal, "the journal was written"
    for fragment in FRAGMENTS:
        assert fragment not in "\n".join(seen), f"{fragment!r} leaked into a tool answer"
        assert fragment not in logged, f"{fragment!r} leaked into the log"
        assert fragment.encode() not in journal, f"{fragment!r} leaked into the journal"


# -- redaction of escaped and partial forms; credentials in URLs ------------------------------------------

MULTI_LINE_KEY = "keyid-0001:firstpart-abc\nsecondpart-xyz"


@pytest.mark.parametrize(
    "text",
    [
        MULTI_LINE_KEY,
        json.dumps(MULTI_LINE_KEY),  # JSON-escaped: the line break as backslash-n
        repr(MULTI_LINE_KEY),
        repr(MULTI_LINE_KEY.encode()),  # as h11 shows an illegal header value
        "firstpart-abc",  # each line of a multi-line key
        "secondpart-xyz",
        "keyid-0001",  # the key id and the secret apart
        "firstpart-abc\nsecondpart-xyz",
        "firstpart-abc%0Asecondpart-xyz",  # percent-encoded
    ],
)
def test_redaction_covers_escaped_and_partial_forms(text: str) -> None:
    from seedance_mcp.server.providers.redaction import redact

    cleaned = redact(f"the provider said: {text} (end)", [MULTI_LINE_KEY])
    assert "[redacted]" in cleaned and cleaned.endswith("(end)")
    for fragment in ("keyid-0001", "firstpart", "secondpart"):
        assert fragment not in cleaned


def test_redaction_leaves_ordinary_text_and_short_pieces_alone() -> None:
    from seedance_mcp.server.providers.redaction import redact

    text = "fal.ai answered 422 while submitting: prompt: field required"
    assert redact(text, ["ab:cd"]) == text  # pieces under 8 characters are not hunted on their own
    assert redact("x ab:cd y", ["ab:cd"]) == "x [redacted] y"  # the whole secret always is


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bob:hunter2@example.com/a.png", "https://example.com/a.png"),
        ("https://bob@example.com:8443/a.png?x=1", "https://example.com:8443/a.png?x=1"),
        ("https://example.com/a@b.png", "https://example.com/a@b.png"),
        ("not a url", "not a url"),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    from seedance_mcp.server.providers.redaction import strip_credentials

    assert strip_credentials(url) == expected


def test_redaction_drops_passwords_from_urls_in_text() -> None:
    from seedance_mcp.server.providers.redaction import redact

    said = redact("file_download_error: could not fetch https://bob:hunter2@cdn.example/v.mp4 (403)", [])
    assert "hunter2" not in said and "bob" not in said and "https://cdn.example/v.mp4" in said


# -- keys with whitespace or control characters ------------------------------------------------------------

BAD_KEYS = [
    ("FAL_KEY", "keyid-0001:firstpart-abc\nsecondpart-xyz"),
    ("FAL_KEY", "keyid-0001:firstpart-abc secondpart-xyz"),
    ("FAL_KEY", "keyid-0001:firstpart-abc\tsecondpart-xyz"),
    ("FAL_KEY_SECRET", "firstpart-abc\r\nsecondpart-xyz"),
    ("OXEN_API_KEY", "firstpart-abc\x00secondpart-xyz"),
    ("OXEN_API_KEY", "firstpart-abc\u00e9secondpart-xyz"),
    ("SEEDANCE_HTTP_TOKEN", "firstpart-abc\x1bsecondpart-xyz"),
]


def _bad_env(variable: str, value: str, tmp_path: Path) -> dict[str, str]:
    env = {variable: value, "SEEDANCE_HOME": str(tmp_path / "state")}
    if variable == "FAL_KEY_SECRET":
        env["FAL_KEY_ID"] = "keyid-0001"
    return env


@pytest.mark.parametrize(("variable", "value"), BAD_KEYS)
def test_a_key_with_whitespace_or_control_characters_is_refused(
    variable: str, value: str, tmp_path: Path
) -> None:
    from seedance_mcp.server.doctor import collect_checks
    from seedance_mcp.server.errors import ConfigError

    env = _bad_env(variable, value, tmp_path)
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    doctor = "\n".join(f"{c.name} {c.detail} {c.fix}" for c in collect_checks(None, env, timeout=0.1))
    for said in (str(refused.value), doctor):
        assert variable in said
        assert "firstpart" not in said and "secondpart" not in said


async def test_a_broken_key_reaches_the_host_without_its_secret(tmp_path: Path) -> None:
    # The server starts anyway (a host would otherwise show a disconnected server) and every call
    # answers with the setting's error: naming FAL_KEY, never its parts.
    import os
    import subprocess
    import sys

    from mcp.client.stdio import StdioServerParameters

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEEDANCE_", "FAL_", "OXEN_"))}
    env |= _bad_env(*BAD_KEYS[0], tmp_path)
    params = StdioServerParameters(command=sys.executable, args=["-m", "seedance_mcp.server"], env=env)
    with anyio.fail_after(60):
        async with Client(params) as client:
            answer = await client.call_tool("estimate_cost", {"duration": "5"})
    # What it writes to its log on its own (a host keeps that), with no host attached.
    logged = await anyio.run_process(
        [sys.executable, "-m", "seedance_mcp.server"], env=env, check=False, stdin=subprocess.DEVNULL
    )
    said = "".join(getattr(block, "text", "") for block in answer.content)
    said += logged.stdout.decode() + logged.stderr.decode()
    assert answer.is_error and "FAL_KEY" in said
    assert "firstpart" not in said and "secondpart" not in said


@pytest.mark.parametrize("provider", ["fal", "oxen"])
async def test_a_key_that_is_not_valid_http_is_not_called_a_network_problem(provider: str) -> None:
    from seedance_mcp.server.errors import ProviderError, ProviderUnreachable, SubmitUncertain
    from seedance_mcp.server.providers.base import JobSpec
    from seedance_mcp.server.providers.fal import FalProvider
    from seedance_mcp.server.providers.oxen import OxenProvider

    spec = JobSpec(tier="fast", mode="text-to-video", arguments={"prompt": "A kite", "duration": "4"})
    async with Simulator(SimulatorOptions()) as sim, httpx.AsyncClient(verify=tls_context()) as http:
        chosen: FalProvider | OxenProvider = (
            FalProvider(http, key=MULTI_LINE_KEY, queue_url=sim.url, rest_url=sim.url, cdn_url=sim.url)
            if provider == "fal"
            else OxenProvider(http, key=MULTI_LINE_KEY, base_url=sim.url)
        )
        with pytest.raises(ProviderError) as refused:
            await chosen.submit(spec)
        assert not isinstance(refused.value, (ProviderUnreachable, SubmitUncertain))
        assert "nothing was" in str(refused.value)
        assert not [e for e in sim.request_log() if e.get("kind") == "submit"]
    for fragment in ("keyid-0001", "firstpart", "secondpart"):
        assert fragment not in str(refused.value)
