"""The price table people read (README, seedance://models) is the one the server bills with."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mcp.client import Client
from mcp.types import TextResourceContents

from seedance_mcp.server.app import create_server
from seedance_mcp.server.catalogue import pricing
from seedance_mcp.server.config import Settings

README = Path(__file__).parent.parent / "README.md"


def test_readme_price_table_is_generated_from_the_rate_table() -> None:
    section = re.search(
        r"<!-- price-table:start -->\n(.*?)\n<!-- price-table:end -->", README.read_text(), re.S
    )
    assert section is not None, "README.md lacks the price-table markers"
    assert section.group(1) == pricing.price_table_markdown(), (
        "regenerate it from tools.pricing.price_table_markdown()"
    )


def test_every_tier_and_resolution_is_priced_by_the_estimator() -> None:
    rows = pricing.price_table()
    assert [(r.family, r.tier, r.resolution) for r in rows] == [
        (family, tier, r)
        for (family, tier), entry in pricing.TIER_ENDPOINTS.items()
        for r in entry.output_sizes
    ]
    for row in rows:
        sizes = pricing.TIER_ENDPOINTS[(row.family, row.tier)].output_sizes
        assert (row.width, row.height) == sizes[row.resolution][pricing.PRICE_TABLE_ASPECT_RATIO]
        assert row.usd_per_1k_tokens == pricing.RATES[(row.family, row.tier)].usd_per_1k_tokens
        for seconds, usd in zip(pricing.PRICE_TABLE_SECONDS, row.usd, strict=True):
            estimate = pricing.estimate(
                family=row.family,
                tier=row.tier,
                resolution=row.resolution,
                duration=str(seconds),
                aspect_ratio="16:9",
            )
            assert usd == estimate.max_usd == estimate.min_usd
            assert usd == pytest.approx(row.usd_per_second * seconds, abs=0.001)


def test_the_table_matches_the_published_per_second_price() -> None:
    fast_720p = next(r for r in pricing.price_table() if (r.tier, r.resolution) == ("fast", "720p"))
    assert fast_720p.usd_per_second == pricing.RATES[("2.0", "fast")].quoted_usd_per_second_720p == 0.2419
    assert fast_720p.usd[0] == 1.2096  # "about $1.21 for 5 s", as the tool descriptions say


def test_one_rate_change_moves_every_price(monkeypatch: pytest.MonkeyPatch) -> None:
    before = pricing.price_table()
    doubled = pricing.Rate("fast", 0.0224, 0.4838, "test")
    monkeypatch.setitem(pricing.RATES, ("2.0", "fast"), doubled)
    after = pricing.price_table()
    for old, new in zip(before, after, strict=True):
        factor = 2 if old.tier == "fast" else 1
        assert new.usd == pytest.approx(tuple(usd * factor for usd in old.usd), abs=0.0002)
    assert "| 2.0 | fast | 720p | 1280×720 | $0.0224 |" in pricing.price_table_markdown()


@pytest.mark.anyio
async def test_models_resource_serves_the_same_table(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        result = await client.read_resource("seedance://models")
    (contents,) = result.contents
    assert isinstance(contents, TextResourceContents)
    served = json.loads(contents.text)["pricing"]["table"]
    readme_rows = re.findall(
        r"^\| [\d.]+ \| (\w+) \| (\d+p) \|.*\| \$([\d.]+) \| \$([\d.]+) \| \$([\d.]+) \|$",
        README.read_text(),
        re.M,
    )
    assert [(row["tier"], row["resolution"], row["usd"]) for row in served] == [
        (tier, resolution, [float(a), float(b), float(c)]) for tier, resolution, a, b, c in readme_rows
    ]
