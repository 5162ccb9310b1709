"""The `seedance-mcp` command: serve (default), demo, simulator, doctor."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Settings

DEMO_PROMPT = (
    "A paper boat drifts down a rain-soaked street at dusk, neon signs reflected in the puddles, "
    "slow dolly shot following the boat"
)
# What a host sees when a person starts the server by hand: stdin is theirs, not a host's.
TERMINAL_HINT = (
    "seedance-mcp is an MCP server: it is now waiting for an MCP host (Claude Desktop, Claude Code, "
    "Cursor...) on stdin, which a person cannot type. Press Ctrl+C, then try `seedance-mcp demo` to make "
    "a video, or `seedance-mcp doctor` to check your setup."
)


def port_number(text: str) -> int:
    """argparse type for a TCP port: refuses what a socket would silently wrap or reject."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use a port from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range; use a port from 1 to 65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="seedance-mcp",
        description="MCP server for Seedance 2.0 video generation on fal.ai and Oxen.ai. With no command it "
        "serves MCP over stdio, as a host (Claude Desktop, Claude Code, Cursor) starts it.",
        epilog="examples:\n  seedance-mcp demo          make one video now (free on the simulator)\n"
        "  seedance-mcp doctor        check keys, folders and the provider\n"
        "  seedance-mcp serve --help  serve over stdio or HTTP\n\n"
        "Settings come from environment variables (SEEDANCE_*, FAL_KEY, OXEN_API_KEY); see the README.",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"seedance-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{serve,demo,simulator,doctor}")

    serve = commands.add_parser(
        "serve",
        help="run the MCP server (the default command)",
        description="Run the MCP server for a host: over stdio (what hosts launch), or over streamable HTTP "
        "at http://HOST:PORT/mcp for agent pipelines.",
        epilog="examples:\n  seedance-mcp serve\n"
        "  seedance-mcp serve --transport http --port 8000\n"
        "  SEEDANCE_HTTP_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))') \\\n"
        "    seedance-mcp serve --transport http --host 0.0.0.0 --allowed-host studio.lan",
        formatter_class=formatter,
    )
    serve.add_argument(
        "--transport",
        choices=["stdio", "http"],
        default="stdio",
        help="stdio: talk to the host on stdin/stdout; http: serve streamable HTTP at /mcp "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP only: the address to listen on; anything but loopback needs SEEDANCE_HTTP_TOKEN "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--port",
        type=port_number,
        default=8000,
        help="HTTP only: the TCP port, 1-65535 (default: %(default)s)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="HTTP only: another host name clients use to reach the server (a LAN name, this machine's IP, "
        "a reverse proxy's host); repeatable, added to SEEDANCE_HTTP_ALLOWED_HOSTS. Without it such clients "
        "get '421 Invalid Host header' (default: the bound address only)",
    )
    serve.add_argument(
        "--stateless",
        action="store_true",
        help="HTTP only: serve without sessions; job state lives in the journal, so any request can "
        "follow any job (default: off)",
    )

    demo = commands.add_parser(
        "demo",
        help="generate one video end to end with a progress bar",
        description="Generate one video through the server's own tools, as an assistant would, with a "
        "progress bar; then say where the MP4 was saved. Free on the simulator (no key set).",
        epilog='examples:\n  seedance-mcp demo\n  seedance-mcp demo "A red kite over green hills" '
        "--duration 4 --resolution 480p\n  FAL_KEY=... seedance-mcp demo   # a real video, about $1.21",
        formatter_class=formatter,
    )
    demo.add_argument("prompt", nargs="?", default=DEMO_PROMPT, help="what to film (default: a paper boat)")
    demo.add_argument(
        "--duration",
        default="5",
        choices=["auto", *[str(s) for s in range(4, 16)]],
        metavar="SECONDS",
        help='length: "4" to "15" or "auto" (default: %(default)s)',
    )
    demo.add_argument(
        "--resolution",
        default="720p",
        choices=["480p", "720p"],
        help="the output resolution; 480p is faster and costs less than half (default: %(default)s)",
    )
    demo.add_argument(
        "--aspect-ratio",
        default="16:9",
        choices=["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"],
        help="the frame's shape: 16:9 landscape, 9:16 portrait, auto lets the model choose "
        "(default: %(default)s)",
    )
    demo.add_argument(
        "-v", "--verbose", action="store_true", help="also print the server's log lines (default: off)"
    )

    sim = commands.add_parser(
        "simulator",
        help="run the fake fal.ai/Oxen.ai APIs on 127.0.0.1",
        description="Run the offline simulator of fal.ai's and Oxen.ai's HTTP APIs on loopback, for your "
        "own scripts or fal's client. SEEDANCE_SIM_* settings shape its timing and faults.",
        epilog="example:\n  seedance-mcp simulator --port 8765\n"
        "  FAL_KEY=any SEEDANCE_FAL_QUEUE_URL=http://127.0.0.1:8765 seedance-mcp demo",
        formatter_class=formatter,
    )
    sim.add_argument(
        "--port", type=port_number, default=8765, help="the TCP port, 1-65535 (default: %(default)s)"
    )

    doctor = commands.add_parser(
        "doctor",
        help="check the configuration and say what to fix",
        description="Say which provider will be used and why, whether keys are set (never printing them), "
        "whether the folders are writable and the media libraries work, and whether the provider answers. "
        "Exits 0 when all is well.",
        epilog="examples:\n  SEEDANCE_PROVIDER=fal seedance-mcp doctor\n"
        "  SEEDANCE_PROVIDER=fal seedance-mcp doctor --models",
        formatter_class=formatter,
    )
    doctor.add_argument(
        "--models",
        action="store_true",
        help="instead, compare what the server knows of each endpoint (parameters, allowed values, limits, "
        "defaults, prices) with what the provider publishes now, and print every difference (default: off)",
    )
    return parser


COMMANDS = ("serve", "demo", "simulator", "doctor")


def unknown_command(argv: Sequence[str]) -> str | None:
    """What to say when the first word is no command (argparse would only list the choices)."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS:
        return None
    import difflib

    close = difflib.get_close_matches(argv[0], COMMANDS, n=1, cutoff=0.5)
    guess = f" Did you mean `seedance-mcp {close[0]}`?" if close else ""
    return (
        f"seedance-mcp: there is no command {argv[0]!r}.{guess} The commands are {', '.join(COMMANDS)} "
        "(serve is the default); `seedance-mcp --help` says what each does."
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    problem = unknown_command(argv)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    command = args.command or "serve"
    from .config import Settings
    from .errors import ConfigError

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        if command == "doctor":  # the doctor's job is to show the bad setting with its fix
            from .doctor import run_doctor

            return run_doctor(None, dict(os.environ))
        from .setting_secrets import install_log_scrubbing, scrub, secret_values

        secrets = secret_values(None, os.environ)  # the message may quote a setting that holds one
        print(f"seedance-mcp: {scrub(str(exc), secrets)}", file=sys.stderr)
        if command != "serve":
            return 2
        # A host shows a server that exits as merely disconnected: serve, and answer every call with
        # the reason and its fix, on stand-in settings that open nothing.
        from .config import setting_problem

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        install_log_scrubbing(secrets)
        return _serve(args, Settings.from_env({}), unusable=scrub(setting_problem(exc), secrets))

    # stdout is the MCP channel when serving over stdio: logs go to stderr. The demo is for a person:
    # its own lines only, unless asked.
    quiet = command == "demo" and not args.verbose
    logging.basicConfig(
        level=logging.WARNING if quiet else settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .setting_secrets import install_log_scrubbing, secret_values

    install_log_scrubbing(secret_values(settings, os.environ))
    # One line per HTTP request drowns what matters; our own modules log the events.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)

    if command == "serve":
        return _serve(args, settings)
    if command == "demo":
        from .demo import run_demo

        return run_demo(
            settings,
            args.prompt,
            duration=args.duration,
            resolution=args.resolution,
            aspect_ratio=args.aspect_ratio,
        )
    if command == "simulator":
        from .simulator import SimulatorOptions, run_forever

        print(f"seedance-mcp simulator on http://127.0.0.1:{args.port} (Ctrl+C to stop)", file=sys.stderr)
        run_forever(args.port, SimulatorOptions.from_settings(settings))
        return 0
    if getattr(args, "models", False):
        from .doctor import run_models_check

        return run_models_check(settings)
    from .doctor import run_doctor

    return run_doctor(settings, dict(os.environ))


def _serve(args: argparse.Namespace, settings: Settings, *, unusable: str | None = None) -> int:
    from .app import create_server
    from .errors import ConfigError

    transport = getattr(args, "transport", "stdio")
    server = create_server(settings, unusable=unusable)
    if transport == "http":
        from .web.http import run_http

        # The HTTP transport checks a call's Mcp-Param headers against the tool's schema before the call;
        # an HTTP server is long-lived, so its tools are built at once rather than on first use.
        server.build_tools()
        try:
            run_http(
                server,
                host=args.host,
                port=args.port,
                token=settings.http_token.get_secret_value() if settings.http_token else None,
                stateless=args.stateless,
                allowed_hosts=[*settings.http_allowed_hosts, *args.allowed_host],
            )
        except ConfigError as exc:
            print(f"seedance-mcp: {exc}", file=sys.stderr)
            return 2
        return 0
    if sys.stdin.isatty():
        print(TERMINAL_HINT, file=sys.stderr)
    server.run("stdio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
