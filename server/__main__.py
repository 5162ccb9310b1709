"""The `seedance-mcp` command: serve (default), demo, simulator, doctor."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

DEMO_PROMPT = (
    "A paper boat drifts down a rain-soaked street at dusk, neon signs reflected in the puddles, "
    "slow dolly shot following the boat"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="seedance-mcp", description="MCP server for Seedance 2.0 video generation"
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the MCP server (default: stdio)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--stateless", action="store_true", help="HTTP: no sessions (the journal holds job state)"
    )
    demo = commands.add_parser("demo", help="generate one video end to end with a progress bar")
    demo.add_argument("prompt", nargs="?", default=DEMO_PROMPT)
    demo.add_argument("--duration", default="5")
    demo.add_argument("--resolution", default="720p")
    demo.add_argument("--aspect-ratio", default="16:9")
    sim = commands.add_parser("simulator", help="run the fake fal.ai/Oxen.ai APIs on 127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    commands.add_parser("doctor", help="check the configuration and say what to fix")
    args = parser.parse_args(argv)

    # stdout is the MCP channel when serving over stdio: logs go to stderr.
    logging.basicConfig(
        level=os.environ.get("SEEDANCE_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    # One line per HTTP request drowns what matters; our own modules log the events.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from seedance_mcp.server.config import Settings
    from seedance_mcp.server.errors import ConfigError

    command = args.command or "serve"
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        if command == "doctor":  # the doctor's job is to show the bad setting with its fix
            from seedance_mcp.server.doctor import run_doctor

            return run_doctor(None, dict(os.environ))
        print(f"seedance-mcp: {exc}", file=sys.stderr)
        return 2

    if command == "serve":
        from seedance_mcp.server.app import create_server

        server = create_server(settings)
        if getattr(args, "transport", "stdio") == "http":
            from seedance_mcp.server.http import run_http

            try:
                run_http(
                    server,
                    host=args.host,
                    port=args.port,
                    token=settings.http_token.get_secret_value() if settings.http_token else None,
                    stateless=args.stateless,
                )
            except ConfigError as exc:
                print(f"seedance-mcp: {exc}", file=sys.stderr)
                return 2
        else:
            server.run("stdio")
        return 0
    if command == "demo":
        from seedance_mcp.server.demo import run_demo

        return run_demo(
            settings,
            args.prompt,
            duration=args.duration,
            resolution=args.resolution,
            aspect_ratio=args.aspect_ratio,
        )
    if command == "simulator":
        from seedance_mcp.server.simulator import SimulatorOptions, run_forever

        print(f"seedance-mcp simulator on http://127.0.0.1:{args.port} (Ctrl+C to stop)", file=sys.stderr)
        run_forever(args.port, SimulatorOptions.from_settings(settings))
        return 0
    if command == "doctor":
        from seedance_mcp.server.doctor import run_doctor

        return run_doctor(settings, dict(os.environ))
    parser.error(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main())
