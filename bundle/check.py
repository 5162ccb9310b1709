"""Validate, pack and smoke-test the MCP bundle the way a host would use it. Exit non-zero on any failure.

    .venv/bin/python bundle/check.py [--out dist/seedance-mcp.mcpb] [--keep]

1. `mcpb validate manifest.json` with @anthropic-ai/mcpb (installed once with npm into a cache folder);
2. `mcpb pack . <out>`, then unzip it and check what is (and is not) inside;
3. resolve the launch command with the same package's `getMcpConfigForManifest`, as a host does for
   an untouched configuration (so unfilled placeholders and an unexpanded `${HOME}` are exercised);
4. start the unpacked server over stdio and list its tools and prompts with a real MCP client.

Step 4 runs the bundle's entry script with this Python instead of `uv run`, because CI machines
have no uv and no network for it; pass `--uv` to run the manifest's command exactly as written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MCPB_VERSION = "2.1.2"
MUST_SHIP = (
    "manifest.json",
    "icon.png",
    "pyproject.toml",
    "README.md",  # pyproject's `readme`: the build that uv runs fails without it
    "bundle/entry.py",
    "seedance_mcp/__init__.py",
    "server/__init__.py",
    "server/__main__.py",
    "server/app.py",
    "server/simulator/__init__.py",
    "tools/__init__.py",
    "tools/params.py",
)
NEVER_SHIP = (".venv/", "tests/", "bench/", ".git/", ".ci/", "dist/", "node_modules/", "build/")
NEVER_SHIP_PARTS = ("__pycache__", ".egg-info", ".pytest_cache", ".mypy_cache", ".ruff_cache")
UV_PASSTHROUGH = (
    "UV_",
    "SSL_CERT_",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
RESOLVE_JS = """
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";
import { readFileSync } from "fs";
const [manifestPath, extensionPath, home, sep] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const config = await getMcpConfigForManifest({
  manifest, extensionPath, systemDirs: { HOME: home }, userConfig: {}, pathSeparator: sep,
});
process.stdout.write(JSON.stringify(config));
"""


class CheckFailed(Exception):
    pass


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, text=True, capture_output=True, check=False, **kwargs)  # noqa: S603 - our own fixed commands
    if done.returncode != 0:
        raise CheckFailed(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def mcpb_tools() -> Path:
    """A folder holding node_modules/@anthropic-ai/mcpb at the pinned version, installed on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tools = Path(os.environ.get("MCPB_TOOLS_DIR") or cache / "seedance-mcp" / f"mcpb-{MCPB_VERSION}")
    package = tools / "node_modules" / "@anthropic-ai" / "mcpb" / "package.json"
    if not package.is_file() or json.loads(package.read_text())["version"] != MCPB_VERSION:
        npm = shutil.which("npm")
        if npm is None:
            raise CheckFailed("npm is not installed: the bundle tools come from npm (@anthropic-ai/mcpb)")
        step(f"installing @anthropic-ai/mcpb@{MCPB_VERSION} into {tools}")
        tools.mkdir(parents=True, exist_ok=True)
        run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(tools),
                f"@anthropic-ai/mcpb@{MCPB_VERSION}",
            ]
        )
    return tools


def mcpb(tools: Path, *args: str) -> str:
    node = shutil.which("node")
    if node is None:
        raise CheckFailed("node is not installed")
    cli = tools / "node_modules" / "@anthropic-ai" / "mcpb" / "dist" / "cli" / "cli.js"
    return run([node, str(cli), *args], cwd=ROOT).stdout


def check_contents(unpacked: Path) -> list[str]:
    files = sorted(p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file())
    missing = [f for f in MUST_SHIP if f not in files]
    # Every module of the two packages in the source tree must ship, or the bundle fails at import; so
    # must their JSON data (the simulator's endpoint descriptions).
    for package in ("seedance_mcp", "server", "tools"):
        for source in (*(ROOT / package).rglob("*.py"), *(ROOT / package).rglob("*.json")):
            relative = source.relative_to(ROOT).as_posix()
            if "__pycache__" not in relative and relative not in files:
                missing.append(relative)
    unwanted = [f for f in files if f.startswith(NEVER_SHIP) or any(part in f for part in NEVER_SHIP_PARTS)]
    problems = [f"missing from the bundle: {f}" for f in missing]
    problems += [f"should not be in the bundle: {f}" for f in unwanted]
    if problems:
        raise CheckFailed("\n".join(problems))
    return files


def launch_config(tools: Path, unpacked: Path, home: Path) -> dict[str, Any]:
    script = tools / "resolve-config.mjs"  # beside node_modules, so the import resolves
    script.write_text(RESOLVE_JS, encoding="utf-8")
    node = shutil.which("node") or "node"
    out = run([node, str(script), str(unpacked / "manifest.json"), str(unpacked), str(home), os.sep]).stdout
    config: dict[str, Any] = json.loads(out)
    return config


def command_for(config: dict[str, Any], unpacked: Path, use_uv: bool) -> tuple[str, list[str]]:
    command, args = config["command"], list(config["args"])
    if use_uv:
        return command, args
    entry = json.loads((unpacked / "manifest.json").read_text(encoding="utf-8"))["server"]["entry_point"]
    if command != "uv" or entry not in args:
        raise CheckFailed(f"expected `uv run ... {entry} ...` in mcp_config, got {command} {args}")
    # `uv run --directory <bundle> <entry> <rest>` == this Python running <bundle>/<entry> <rest>.
    rest = args[args.index(entry) + 1 :]
    return sys.executable, ["-I", str(unpacked / entry), *rest]


async def smoke(command: str, args: list[str], env: dict[str, str], cwd: Path) -> tuple[set[str], set[str]]:
    import anyio
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(cwd))
    with anyio.fail_after(120):
        async with Client(params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            price = await client.call_tool("estimate_cost", {"resolution": "480p", "duration": "5"})
            if price.is_error:
                raise CheckFailed(f"estimate_cost failed in the packed server: {price.content}")
    return tools, prompts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "seedance-mcp.mcpb")
    parser.add_argument("--keep", action="store_true", help="keep the unpacked bundle and print its path")
    parser.add_argument(
        "--uv", action="store_true", help="start the server with the manifest's own uv command"
    )
    args = parser.parse_args(argv)

    import anyio

    manifest = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    work = Path(tempfile.mkdtemp(prefix="seedance-bundle-"))
    try:
        tools = mcpb_tools()
        step("mcpb validate manifest.json")
        mcpb(tools, "validate", "manifest.json")

        step(f"mcpb pack . {args.out}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.unlink(missing_ok=True)
        mcpb(tools, "pack", ".", str(args.out))

        unpacked = work / "bundle"
        with zipfile.ZipFile(args.out) as archive:
            archive.extractall(unpacked)
        files = check_contents(unpacked)
        size = args.out.stat().st_size
        step(f"{len(files)} files, {size / 1024:.0f} KiB packed; nothing missing, nothing extra")

        home = work / "home"
        home.mkdir()
        config = launch_config(tools, unpacked, home)
        command, command_args = command_for(config, unpacked, args.uv)
        # A host passes only the manifest's env: no keys, so the server runs on its simulator.
        env = {
            **config.get("env", {}),
            "HOME": str(home),
            "USERPROFILE": str(home),
            "PATH": os.environ["PATH"],
        }
        if args.uv:  # uv itself needs the network settings to fetch the dependencies
            env |= {k: v for k, v in os.environ.items() if k.startswith(UV_PASSTHROUGH)}
        step(f"starting the packed server: {Path(command).name} {' '.join(command_args)}")
        served_tools, served_prompts = anyio.run(smoke, command, command_args, env, unpacked)

        declared_tools = {t["name"] for t in manifest.get("tools", [])}
        declared_prompts = {p["name"] for p in manifest.get("prompts", [])}
        problems = []
        if served_tools != declared_tools:
            problems.append(f"tools: manifest {sorted(declared_tools)} != server {sorted(served_tools)}")
        if served_prompts != declared_prompts:
            problems.append(
                f"prompts: manifest {sorted(declared_prompts)} != server {sorted(served_prompts)}"
            )
        if not args.uv and not (unpacked / "server" / "__pycache__").is_dir():
            problems.append(
                "the server ran, but not from the unpacked bundle (no bytecode was written there)"
            )
        if problems:
            raise CheckFailed("\n".join(problems))
        step(f"packed server lists {len(served_tools)} tools and {len(served_prompts)} prompts: OK")
    except CheckFailed as exc:
        print(f"bundle check FAILED:\n{exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"unpacked bundle kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"bundle OK: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
