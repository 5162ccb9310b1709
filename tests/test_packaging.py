"""The distribution installs one import name, `seedance_mcp`, and nothing generic like `server` or `tools`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import importlib, json, sys
found = {}
names = ("seedance_mcp", "seedance_mcp.server", "seedance_mcp.tools", "seedance_mcp.server.app")
for name in names + ("server", "tools"):
    try:
        found[name] = importlib.import_module(name).__file__
    except ImportError:
        found[name] = None
print(json.dumps(found))
"""


def _imports(cwd: Path, pythonpath: str | None = None) -> dict[str, str | None]:
    import json
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, str | None] = json.loads(out.stdout)
    return result


def test_the_editable_install_answers_to_seedance_mcp_only(tmp_path: Path) -> None:
    found = _imports(tmp_path)
    assert found["seedance_mcp.server"] == str(ROOT / "server" / "__init__.py")
    assert found["seedance_mcp.tools"] == str(ROOT / "tools" / "__init__.py")
    assert found["seedance_mcp.server.app"] is not None
    assert found["server"] is None
    assert found["tools"] is None


@pytest.mark.slow
def test_a_regular_install_answers_to_seedance_mcp_only(tmp_path: Path) -> None:
    # Build from a copy: pip builds in the source tree, which would leave build/ in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("seedance_mcp", "server", "tools"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    # The console script lands in bin/; the only importable top-level name is seedance_mcp.
    packages = sorted(
        p.name for p in target.iterdir() if p.name not in ("bin",) and "dist-info" not in p.name
    )
    assert packages == ["seedance_mcp"]
    found = _imports(tmp_path, pythonpath=str(target))
    assert found["seedance_mcp.server"] == str(target / "seedance_mcp" / "server" / "__init__.py")
    assert found["seedance_mcp.tools"] == str(target / "seedance_mcp" / "tools" / "__init__.py")
    # Every module of the source tree ships (a subpackage missing from pyproject's list would not).
    for folder in ("server", "tools"):
        for module in (ROOT / folder).rglob("*.py"):
            shipped = target / "seedance_mcp" / folder / module.relative_to(ROOT / folder)
            assert shipped.is_file(), f"{module.relative_to(ROOT)} is not installed"
    assert (target / "seedance_mcp" / "server" / "py.typed").is_file()
    assert (target / "seedance_mcp" / "tools" / "job_card.html").is_file()  # the MCP Apps card
    assert found["server"] is None
    assert found["tools"] is None
