"""Settings of a server that takes a simulator for fal.ai, with its folders under a test's tmp_path."""

from __future__ import annotations

from pathlib import Path

from seedance_mcp.server.config import Settings


def fal_on_simulator(url: str, tmp_path: Path, key: str, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "SEEDANCE_PROVIDER": "fal",
            "FAL_KEY": key,
            "SEEDANCE_FAL_QUEUE_URL": url,
            "SEEDANCE_FAL_REST_URL": url,
            "SEEDANCE_FAL_CDN_URL": url,
            "SEEDANCE_HOME": str(tmp_path / "state"),
            "SEEDANCE_OUTPUT_DIR": str(tmp_path / "videos"),
            "SEEDANCE_ALLOWED_DIRS": str(tmp_path / "home"),
            **extra,
        }
    )
