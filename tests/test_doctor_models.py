"""`seedance-mcp doctor --models` against the simulator's own descriptions, over real loopback HTTP.

The simulator describes each endpoint independently of the server's facts, so comparing the two
catches a wrong fact on either side; differences are injected through the simulator's drift hook
(`PATCH /_simulator/descriptions/...`), never by patching our code.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from seedance_mcp.server.catalogue.live_check import check_fal, declared_endpoints
from seedance_mcp.server.config import Settings
from seedance_mcp.server.doctor import run_models_check
from seedance_mcp.server.http_pool import tls_context
from seedance_mcp.server.simulator import Simulator, SimulatorOptions

KEY = "doctor-models-id:doctor-models-secret"
ALL = [e.endpoint_id for e in declared_endpoints("fal")]
MODES = ("text-to-video", "image-to-video", "reference-to-video")
# Seedance 2.0's standard and fast endpoints, standard first, each in MODES order.
SIX = sorted(
    (i for i in ALL if i.startswith("bytedance/seedance-2.0/") and "/mini/" not in i),
    key=lambda i: ("/fast/" in i, MODES.index(i.rsplit("/", 1)[1])),
)
# What the simulator describes (fal as it serves Seedance in December 2026) that the catalogue does not
# declare yet, by endpoint: nothing since 2.5's drafts were declared. Any other difference, on either side,
# fails the comparison test.
NOT_DECLARED_YET: dict[str, list[str]] = {}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorOptions(queue_seconds=0.05, run_seconds=0.1)) as running:
        yield running


@pytest.fixture
def drift(sim: Simulator) -> Iterator[Any]:
    """`drift(endpoint, patch)` changes one fal description for this test; all are reset after it."""
    with httpx.Client(verify=tls_context(), base_url=sim.url, timeout=30) as client:

        def apply(endpoint_id: str, patch: dict[str, Any] | None, provider: str = "fal") -> None:
            answer = client.patch(f"/_simulator/descriptions/{provider}/{endpoint_id}", json=patch)
            assert answer.status_code == 204, answer.text

        yield apply
        assert client.delete("/_simulator/descriptions").status_code == 204


def input_patch(sim: Simulator, endpoint_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A merge patch changing `properties` of the endpoint's published input schema."""
    document = httpx.get(
        f"{sim.url}/api/openapi/queue/openapi.json",
        params={"endpoint_id": endpoint_id},
        verify=tls_context(),
    ).json()
    ref = document["paths"][f"/{endpoint_id}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = ref["$ref"].rsplit("/", 1)[1]
    return {"openapi": {"components": {"schemas": {name: {"properties": properties}}}}}


def settings_for(sim: Simulator, tmp_path: Any, *, key: str | None = KEY) -> Settings:
    return Settings(
        home=tmp_path,
        output_dir=tmp_path,
        allowed_dirs=(tmp_path,),
        provider_choice="fal",
        fal_key=key,
        fal_site_url=sim.url,
        fal_api_url=sim.url,
        fal_queue_url=sim.url,
    )


def report(settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = run_models_check(settings, out=out, timeout=10)
    return code, out.getvalue()


def test_the_simulators_description_of_todays_six_endpoints_matches_the_servers_facts(sim: Simulator) -> None:
    with httpx.Client(verify=tls_context(), timeout=10) as client:
        findings = check_fal(client, declared_endpoints("fal"), site_url=sim.url, api_url=sim.url, key=KEY)
    expected = {endpoint_id: NOT_DECLARED_YET.get(endpoint_id, []) for endpoint_id in ALL}
    assert {f.endpoint_id: f.differences for f in findings} == expected


def test_one_line_when_nothing_differs(sim: Simulator, drift: Any, tmp_path: Any) -> None:
    code, text = report(settings_for(sim, tmp_path))
    assert (code, text) == (0, f"All {len(ALL)} fal endpoints match fal.ai's descriptions.\n")
    code, text = report(settings_for(sim, tmp_path, key=None))
    assert code == 0 and text.count("\n") == 1 and "prices not compared: set FAL_KEY" in text


def test_each_kind_of_difference_is_printed_under_its_endpoint(
    sim: Simulator, drift: Any, tmp_path: Any
) -> None:
    t2v, i2v, r2v, fast_t2v, fast_i2v, fast_r2v = SIX
    drift(t2v, input_patch(sim, t2v, {"motion_strength": {"type": "number", "default": 0.5}}))
    drift(i2v, input_patch(sim, i2v, {"aspect_ratio": {"enum": ["auto", "16:9", "9:16"]}}))
    drift(r2v, {"pricing": {"unit_price": 0.016}})
    drift(fast_t2v, None)  # retired
    drift(fast_i2v, input_patch(sim, fast_i2v, {"generate_audio": {"default": False}, "end_user_id": None}))
    drift(fast_r2v, input_patch(sim, fast_r2v, {"image_urls": {"maxItems": 6}}))
    code, text = report(settings_for(sim, tmp_path))
    assert code == 1
    assert text == (
        f"{t2v}\n  - new parameter `motion_strength`: number, default 0.5\n"
        f"{i2v}\n  - `aspect_ratio` no longer allows: '21:9', '4:3', '1:1', '3:4'\n"
        f"{r2v}\n  - price changed: ours $0.014 → fal.ai's $0.016 per 1000 tokens\n"
        f"{fast_t2v}\n  - unknown endpoint: fal.ai does not know this endpoint id\n"
        "  - price: fal.ai gave no price for this endpoint\n"
        f"{fast_i2v}\n  - `generate_audio` default changed: True → False\n"
        "  - removed parameter `end_user_id`: the provider's schema no longer has it\n"
        f"{fast_r2v}\n  - `image_urls` limit changed: at most 9 → 6\n"
        f"\n6 of {len(ALL)} fal endpoints differ from fal.ai's descriptions: the provider may have "
        "changed; requests using what changed may be refused until the server's facts (server/catalogue) "
        "are updated.\n"
    )
    assert KEY not in text


def test_oxen_models_are_checked_with_the_key(sim: Simulator, drift: Any, tmp_path: Any) -> None:
    settings = Settings(
        home=tmp_path,
        output_dir=tmp_path,
        allowed_dirs=(tmp_path,),
        provider_choice="oxen",
        oxen_api_key="oxen-doctor-key",
        oxen_url=sim.url,
    )
    drift("bytedance-seedance-2-0-fast-text-to-video", None, provider="oxen")
    aspects = {"enum": ["adaptive", "21:9", "16:9", "4:3", "1:1", "3:4"], "default": "adaptive"}
    patch = {"request_schema": {"properties": {"aspect_ratio": aspects}}}
    drift("bytedance-seedance-2-0-image-to-video", patch, provider="oxen")
    code, text = report(settings)
    assert code == 1
    retired = text.split("bytedance-seedance-2-0-fast-text-to-video\n", 1)[1].split("\n", 1)[0]
    assert retired == "  - unknown endpoint: Oxen.ai does not know this model"
    assert "unknown endpoint: Oxen.ai does not know this model" in text
    assert "`aspect_ratio` no longer allows: '9:16'" in text
    # Oxen's live schema has drifted from the documented one (shared/reference/oxen-api.md): what the Oxen
    # provider translates (integer durations with -1, `adaptive`) is not a difference; the rest is said.
    assert "`duration`" not in text and "'adaptive'" not in text
    assert "new parameter `watermark`" in text and "new parameter `input_face_images`" in text
    assert "`generate_audio` default changed: True → False" in text
    settings = settings.model_copy(update={"oxen_api_key": None})
    code, text = report(settings)
    assert code == 1 and "need OXEN_API_KEY" in text


def test_the_simulator_provider_checks_against_an_embedded_simulator(tmp_path: Any) -> None:
    settings = Settings(
        home=tmp_path, output_dir=tmp_path, allowed_dirs=(tmp_path,), provider_choice="simulator"
    )
    code, text = report(settings)
    assert (code, text) == (0, f"All {len(ALL)} fal endpoints match the simulator's descriptions.\n")


def test_the_command_reads_the_urls_and_key_from_the_environment(sim: Simulator, drift: Any) -> None:
    drift(SIX[0], {"pricing": {"unit_price": 0.015}})
    env = {
        **os.environ,
        "FAL_KEY": KEY,
        "SEEDANCE_FAL_SITE_URL": sim.url,
        "SEEDANCE_FAL_API_URL": sim.url,
        "SEEDANCE_FAL_QUEUE_URL": sim.url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "seedance_mcp.server", "doctor", "--models"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(
        f"{SIX[0]}\n  - price changed: ours $0.014 → fal.ai's $0.015 per 1000 tokens\n"
    )
    assert KEY not in done.stdout + done.stderr
