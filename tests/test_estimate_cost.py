"""estimate_cost against prices worked out by hand from the seeds' formula.

tokens = height × width × (input video s + output s) × 24 / 1024; price = tokens / 1000 × rate,
× 0.6 with video inputs. Rates: fast $0.0112, standard $0.014 per 1,000 tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mcp.client import Client

from seedance_mcp.server.app import create_server
from seedance_mcp.server.catalogue.pricing import estimate
from seedance_mcp.server.config import Settings
from tests.media_factory import make_video
from tests.media_server import serve

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def unmeasurable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL video whose server answers no ranged requests: its length cannot be read in advance."""
    folder = tmp_path_factory.mktemp("web")
    make_video(folder / "clip.mp4", 640, 640, 4.0, fps=4, pad_to=300_000)
    with serve(folder) as served:
        yield f"{served.url}/noranges/clip.mp4"


async def call(settings: Settings, **arguments: Any) -> dict[str, Any]:
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("estimate_cost", arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.parametrize(
    ("arguments", "usd", "tokens"),
    [
        # 1280×720×5×24/1024 = 108,000 tokens × $0.0112/1k
        ({"tier": "fast", "resolution": "720p", "aspect_ratio": "16:9", "duration": "5"}, 1.2096, 108000),
        # same tokens × $0.014/1k
        ({"tier": "standard", "resolution": "720p", "aspect_ratio": "16:9", "duration": "5"}, 1.512, 108000),
        # 864×496×10×24/1024 = 100,440 tokens × $0.0112/1k = 1.124928
        ({"tier": "fast", "resolution": "480p", "aspect_ratio": "16:9", "duration": "10"}, 1.1249, 100440),
        # 640×640×4×24/1024 = 38,400 tokens × $0.014/1k
        ({"tier": "standard", "resolution": "480p", "aspect_ratio": "1:1", "duration": "4"}, 0.5376, 38400),
        # with 3 s of input video: 1280×720×(3+5)×24/1024 = 172,800 tokens × $0.0112/1k × 0.6 = 1.161216
        (
            {
                "tier": "fast",
                "resolution": "720p",
                "aspect_ratio": "16:9",
                "duration": "5",
                "video_urls": ["UNMEASURABLE"],
                "input_video_seconds": 3,
            },
            1.1612,
            172800,
        ),
        # 496×864×(2+6)×24/1024 = 80,352 tokens × $0.014/1k × 0.6 = 0.6749568
        (
            {
                "tier": "standard",
                "resolution": "480p",
                "aspect_ratio": "9:16",
                "duration": "6",
                "video_urls": ["UNMEASURABLE"],
                "input_video_seconds": 2,
            },
            0.675,
            80352,
        ),
    ],
)
async def test_exact_prices(
    settings: Settings, unmeasurable: str, arguments: dict[str, Any], usd: float, tokens: int
) -> None:
    if "video_urls" in arguments:
        arguments = {**arguments, "video_urls": [unmeasurable]}
    data = await call(settings, **arguments)
    assert data["usd"] == pytest.approx(usd, abs=1e-4)
    assert data["is_range"] is False
    assert data["tokens"] == [tokens, tokens]
    assert data["multiplier"] == (0.6 if "video_urls" in arguments else 1.0)


async def test_auto_duration_gives_a_range_not_a_guess(settings: Settings) -> None:
    data = await call(settings, tier="fast", resolution="720p", aspect_ratio="16:9", duration="auto")
    assert data["usd"] is None and data["is_range"]
    # 4 s: 86,400 tokens → 0.96768; 15 s: 324,000 tokens → 3.6288
    assert data["min_usd"] == pytest.approx(0.9677, abs=1e-4)
    assert data["max_usd"] == pytest.approx(3.6288, abs=1e-4)
    assert "duration is auto" in data["note"]


async def test_auto_aspect_ratio_spans_the_six_sizes(settings: Settings) -> None:
    data = await call(settings, tier="fast", resolution="720p", aspect_ratio="auto", duration="5")
    # smallest 1280×720 = 960×960 = 921,600 px → 1.2096; largest 1112×834 = 927,408 px → 1.217223
    assert (data["min_usd"], data["max_usd"]) == (pytest.approx(1.2096), pytest.approx(1.2172))
    assert len(data["sizes"]) == 6


async def test_video_urls_of_unknown_length_give_a_range_over_2_to_15_s(
    settings: Settings, unmeasurable: str
) -> None:
    data = await call(
        settings,
        tier="fast",
        resolution="480p",
        aspect_ratio="1:1",
        duration="5",
        video_urls=[unmeasurable],
    )
    assert data["is_range"] and data["input_video_seconds"] == [2.0, 15.0]
    # 640×640×(2+5)×24/1024 = 67,200 → ×0.0112×0.6 = 0.451584; (15+5) → 192,000 → 1.29024
    assert (data["min_usd"], data["max_usd"]) == (pytest.approx(0.4516), pytest.approx(1.2902))


async def test_default_tier_comes_from_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDANCE_DEFAULT_TIER", "standard")
    data = await call(Settings.from_env(), resolution="720p", aspect_ratio="16:9", duration="5")
    assert data["tier"] == "standard" and data["usd"] == pytest.approx(1.512)


def test_quoted_per_second_prices_match_the_seeds() -> None:
    fast = estimate(tier="fast", resolution="720p", duration="10", aspect_ratio="16:9")
    assert fast.max_usd / 10 == pytest.approx(0.2419, abs=1e-4)  # "$0.2419/second"
    with_video = estimate(
        tier="fast", resolution="720p", duration="10", aspect_ratio="16:9", has_video_input=True
    )
    assert with_video.max_usd / 10 == pytest.approx(0.14515, abs=1e-4)  # "$0.14515 per second"


async def test_the_answer_leads_with_a_sentence_and_keeps_the_numbers(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        exact = await client.call_tool("estimate_cost", {"duration": "5", "aspect_ratio": "16:9"})
        ranged = await client.call_tool("estimate_cost", {"shots": [{"duration": "4"}, {}]})
    first = exact.content[0].text  # type: ignore[union-attr]
    assert first.startswith("It would cost $1.21: fast text-to-video, 720p.") and "{" not in first
    assert exact.structured_content is not None and exact.structured_content["usd"] == pytest.approx(1.2096)
    film = ranged.content[0].text  # type: ignore[union-attr]
    assert film.startswith("The film of 2 shots would cost $") and "Shot 2: $" in film
    assert "count the upper bound" in film
