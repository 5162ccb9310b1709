"""`seedance-mcp doctor`: check the configuration and the machine, and say what to fix.

A command-line report (stdout), not part of the stdio server. Each line is a check with a status:
`ok`, `warn` (works, but maybe not as intended) or `FAIL` (the server will not work as configured),
and a fix for anything not ok. Exit code 0 when nothing failed, 1 otherwise.

Secrets are reported as "set" or "not set", never shown, not even in part.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TextIO

from .config import SETTING_FIX, Settings
from .errors import ConfigError
from .setting_secrets import scrub, secret_values

Status = Literal["ok", "warn", "fail"]

# Long enough for a slow network, short enough that a blocked host does not stall the report.
REACH_TIMEOUT_SECONDS: Final = 5.0
# Hosts built on the TypeScript SDK (Claude Desktop, the Inspector) cut a call off at 60 s.
HOST_CALL_LIMIT_SECONDS: Final = 60.0
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_SECRET_VARIABLES: Final = (
    "FAL_KEY",
    "FAL_KEY_ID",
    "FAL_KEY_SECRET",
    "OXEN_API_KEY",
    "SEEDANCE_HTTP_TOKEN",
    "SEEDANCE_DATABASE_URL",  # may hold the database password
    "SEEDANCE_TEAM_SECRET",
)
_TAG: Final[dict[Status, str]] = {"ok": "  ok", "warn": "warn", "fail": "FAIL"}


@dataclass(frozen=True)
class Check:
    status: Status
    name: str
    detail: str
    fix: str | None = None


def run_doctor(
    settings: Settings | None = None,
    env: Mapping[str, str] | None = None,
    *,
    out: TextIO | None = None,
    timeout: float = REACH_TIMEOUT_SECONDS,
) -> int:
    """Print the checklist to `out` (stdout); return 0 when nothing failed, else 1.

    `settings=None` loads them from `env`, so a setting that does not parse is reported like any
    other problem instead of stopping the report.
    """
    env = os.environ if env is None else env
    out = sys.stdout if out is None else out
    from . import __version__

    out.write(f"seedance-mcp {__version__} doctor (Python {sys.version.split()[0]}, {sys.platform})\n\n")
    checks = collect_checks(settings, env, timeout=timeout)
    secrets = secret_values(settings, env)  # whatever a check quotes, no setting's secret is shown
    for check in checks:
        out.write(scrub(f"[{_TAG[check.status]}] {check.name}: {check.detail}\n", secrets))
        if check.fix and check.status != "ok":
            out.write(scrub(f"        fix: {check.fix}\n", secrets))
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    if failed:
        out.write(f"\n{failed} problem(s) to fix" + (f", {warned} warning(s)" if warned else "") + ".\n")
    else:
        out.write("\nAll good" + (f" ({warned} warning(s))" if warned else "") + ".\n")
    out.flush()
    return 1 if failed else 0


def collect_checks(
    settings: Settings | None, env: Mapping[str, str], *, timeout: float = REACH_TIMEOUT_SECONDS
) -> list[Check]:
    checks = _placeholder_checks(env)
    if settings is None:
        try:
            settings = Settings.from_env(env)
        except ConfigError as exc:
            checks.append(Check("fail", "settings", str(exc), SETTING_FIX))
            return [*checks, *_media_checks(simulated=False)]
    checks += [
        _provider_check(settings, env),
        *_key_checks(settings, env),
        _folder_check("output folder", settings.output_dir, "SEEDANCE_OUTPUT_DIR"),
        _folder_check("journal folder", settings.home, "SEEDANCE_HOME"),
        *_allowed_dir_checks(settings),
        _wait_check(settings),
        _spending_check(settings),
        *_media_checks(simulated=settings.simulated),
        *_reach_checks(settings, timeout),
        *_database_checks(settings, timeout),
    ]
    return checks


def _database_checks(settings: Settings, timeout: float) -> list[Check]:
    """Team mode: the PostgreSQL journal is reachable, migrated, and its leases are being kept."""
    if settings.database_url is None:
        return []
    import anyio

    from .jobs.claiming import LEASE_SECONDS

    name = "database (SEEDANCE_DATABASE_URL)"
    try:
        from .journal.postgres import inspect_database

        found = anyio.run(inspect_database, settings.database_url.get_secret_value(), timeout)
    except ImportError:
        return [Check("fail", name, "psycopg is not installed", "pip install 'seedance-mcp[postgres]'")]
    except Exception as exc:  # psycopg's parse errors quote the token they choke on: maybe the password
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return [
            Check(
                "fail",
                name,
                f"unreachable: {type(exc).__name__}: {scrub(first, secret_values(settings))}",
                "check the host, port, database, user and password in the URL (percent-encode @ : / in the "
                "password), and that PostgreSQL runs",
            )
        ]
    checks = [Check("ok", name, "reachable")]
    if found["migrations_missing"]:
        checks.append(
            Check(
                "warn",
                "database migrations",
                "not applied yet: " + ", ".join(found["migrations_missing"]),
                "start one server replica: it applies them (each once, even when replicas start together)",
            )
        )
        return checks
    lapsed, oldest = found["leases_lapsed"], found["oldest_lapse_seconds"]
    detail = (
        f"{found['jobs_needing_follower']} job(s) in progress, {found['leases_held']} followed, "
        f"{lapsed} waiting for a replica to take them over"
    )
    stuck = lapsed and oldest is not None and oldest > 3 * LEASE_SECONDS
    checks.append(
        Check(
            "warn" if stuck else "ok",
            "database leases",
            detail + (f" (the oldest for {oldest:.0f} s)" if stuck else ""),
            "no replica is running, or none has this provider's key: start one (`seedance-mcp serve`)",
        )
    )
    return checks


def _placeholder_checks(env: Mapping[str, str]) -> list[Check]:
    # A bundle host leaves `${user_config.x}` in place when an optional setting is empty; the bundle's
    # entry script clears those, but a hand-written host config may not.
    bad = sorted(
        name
        for name, value in env.items()
        if name.startswith(("SEEDANCE_", "FAL_", "OXEN_")) and _PLACEHOLDER.search(value)
    )
    return [
        Check(
            "fail",
            name,
            "holds an unfilled ${...} placeholder",
            f"set {name} to a real value or remove it from the host's configuration",
        )
        for name in bad
    ]


def _provider_check(settings: Settings, env: Mapping[str, str]) -> Check:
    provider = settings.provider
    if settings.provider_choice != "auto":
        why = f"SEEDANCE_PROVIDER={settings.provider_choice}"
    elif provider == "fal":
        why = (
            "auto: FAL_KEY is set"
            if env.get("FAL_KEY", "").strip()
            else "auto: FAL_KEY_ID and FAL_KEY_SECRET are set"
        )
    elif provider == "oxen":
        why = "auto: OXEN_API_KEY is set and no fal.ai key is"
    else:
        why = "auto: no API key is set"
    if provider == "simulator":
        return Check(
            "warn",
            "provider",
            f"simulator ({why}): videos are labelled placeholders rendered on this machine, free",
            "set FAL_KEY (fal.ai) or OXEN_API_KEY (Oxen.ai) to generate real videos",
        )
    return Check("ok", "provider", f"{provider} ({why})")


def _key_checks(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    checks = []
    for variable, value, needed_by in (
        ("FAL_KEY", settings.fal_key, "fal"),
        ("OXEN_API_KEY", settings.oxen_api_key, "oxen"),
    ):
        if value is None:
            needed = settings.provider == needed_by
            checks.append(
                Check(
                    "fail" if needed else "ok",
                    variable,
                    "not set",
                    f"set {variable}" if needed else None,
                )
            )
            continue
        secret = value.get_secret_value()
        if secret != secret.strip().strip("'\""):
            checks.append(
                Check(
                    "warn",
                    variable,
                    "set, but with quotes or spaces around it",
                    f"set {variable} to the bare key, without quotes",
                )
            )
        else:
            checks.append(Check("ok", variable, "set"))
    from .web.http import MIN_TOKEN_LENGTH

    token = env.get("SEEDANCE_HTTP_TOKEN", "").strip()
    if token and len(token) < MIN_TOKEN_LENGTH:
        checks.append(
            Check(
                "warn",
                "SEEDANCE_HTTP_TOKEN",
                f"set, but only {len(token)} characters: guessable over a network",
                f"use at least {MIN_TOKEN_LENGTH} random characters, e.g. the output of "
                '`python3 -c "import secrets; print(secrets.token_urlsafe(32))"`',
            )
        )
    else:
        checks.append(
            Check(
                "ok",
                "SEEDANCE_HTTP_TOKEN",
                "set" if token else "not set (needed only to serve HTTP beyond this machine)",
            )
        )
    return checks


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _folder_check(name: str, path: Path, variable: str) -> Check:
    fix = f"create {path} and make it writable, or point {variable} at a folder you can write to"
    if path.exists() and not path.is_dir():
        return Check("fail", name, f"{path} exists but is not a folder", fix)
    existing = _nearest_existing(path)
    if not existing.is_dir():
        return Check("fail", name, f"{path} cannot be created: {existing} is a file", fix)
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return Check("fail", name, f"{existing} is not writable ({exc.strerror or exc})", fix)
    if existing != path:
        return Check("ok", name, f"{path} (will be created)")
    return Check("ok", name, f"{path} (writable)")


def _allowed_dir_checks(settings: Settings) -> list[Check]:
    checks = []
    for folder in settings.allowed_dirs:
        if folder.is_dir():
            checks.append(Check("ok", "input folder", f"{folder}"))
        else:
            checks.append(
                Check(
                    "fail",
                    "input folder",
                    f"{folder} does not exist" if not folder.exists() else f"{folder} is not a folder",
                    f"create it, or remove it from SEEDANCE_ALLOWED_DIRS (separator {os.pathsep!r})",
                )
            )
    if not settings.allowed_dirs:
        checks.append(Check("warn", "input folder", "none allowed: local files cannot be used as inputs"))
    return checks


def _wait_check(settings: Settings) -> Check:
    wait = settings.wait_seconds
    if wait > HOST_CALL_LIMIT_SECONDS - 10:
        return Check(
            "warn",
            "wait per call",
            f"{wait:g} s: hosts such as Claude Desktop stop a tool call after {HOST_CALL_LIMIT_SECONDS:g} s",
            "set SEEDANCE_WAIT_SECONDS to 45 or less unless your MCP host waits longer",
        )
    return Check("ok", "wait per call", f"{wait:g} s, then a job id to check later")


def _spending_check(settings: Settings) -> Check:
    def usd(value: float | None, unset: str) -> str:
        return unset if value is None else f"${value:,.2f}"

    return Check(
        "ok",
        "spending",
        f"per request {usd(settings.max_cost_usd, 'no cap')}, "
        f"per day {usd(settings.daily_budget_usd, 'no budget')}, "
        f"ask above {usd(settings.confirm_above_usd, 'never')}",
    )


def _media_checks(*, simulated: bool) -> list[Check]:
    checks: list[Check] = []
    reinstall = "reinstall seedance-mcp's dependencies (pip install --force-reinstall av pillow)"
    try:
        import av
    except ImportError as exc:
        return [Check("fail", "PyAV", f"cannot be imported ({exc})", reinstall)]
    checks.append(Check("ok", "PyAV", f"{av.__version__} (FFmpeg {_ffmpeg_version(av)})"))
    try:
        import PIL
    except ImportError as exc:
        checks.append(Check("fail", "Pillow", f"cannot be imported ({exc})", reinstall))
    else:
        checks.append(Check("ok", "Pillow", PIL.__version__))

    missing = [
        label
        for codec, mode, label in (
            ("libx264", "w", "libx264 encoder"),
            ("h264", "r", "H.264 decoder"),
            ("aac", "w", "AAC encoder"),
        )
        if not _has_codec(av, codec, mode)
    ]
    if not missing:
        checks.append(Check("ok", "codecs", "libx264 encoder, H.264 decoder, AAC encoder"))
    else:
        # Only the simulator encodes; real providers need just the decoder for poster frames.
        needed = simulated or "H.264 decoder" in missing
        checks.append(
            Check(
                "fail" if needed else "warn",
                "codecs",
                "missing: " + ", ".join(missing),
                "install PyAV's wheel from PyPI (its FFmpeg has libx264), not a system build without it",
            )
        )
    return checks


def _ffmpeg_version(av: object) -> str:
    versions = getattr(av, "library_versions", {})
    major, minor, micro = versions.get("libavcodec", (0, 0, 0))
    return f"libavcodec {major}.{minor}.{micro}"


def _has_codec(av: object, name: str, mode: str) -> bool:
    try:
        av.codec.Codec(name, mode)  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _reach_checks(settings: Settings, timeout: float) -> list[Check]:
    if settings.provider == "simulator":
        return [_simulator_check(settings, timeout)]
    targets: list[tuple[str, str, str]]
    if settings.provider == "fal":
        targets = [
            ("fal queue", settings.fal_queue_url, "SEEDANCE_FAL_QUEUE_URL"),
            ("fal REST", settings.fal_rest_url, "SEEDANCE_FAL_REST_URL"),
            ("fal CDN", settings.fal_cdn_url, "SEEDANCE_FAL_CDN_URL"),
        ]
    else:
        targets = [("Oxen.ai", settings.oxen_url, "SEEDANCE_OXEN_URL")]
    # In parallel: a blackholed host costs one timeout, not one per host.
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        return list(pool.map(lambda t: _reach(t[0], t[1], t[2], timeout), targets))


def _reach(name: str, url: str, variable: str, timeout: float) -> Check:
    import httpx

    from .http_pool import tls_context

    # No credentials: any HTTP answer, even 401 or 404, proves the host is reachable.
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, verify=tls_context()) as client:
            answer = client.head(url)
    except httpx.HTTPError as exc:
        reason = type(exc).__name__ if not str(exc) else str(exc)
        return Check(
            "fail",
            name,
            f"{url} unreachable ({reason})",
            f"check the network, proxy (HTTPS_PROXY) or firewall; or correct {variable}",
        )
    return Check("ok", name, f"{url} reachable (HTTP {answer.status_code})")


def _simulator_check(settings: Settings, timeout: float) -> Check:
    import httpx

    from .http_pool import tls_context

    fix = "run `seedance-mcp simulator` to see the error, or set an API key to use a real provider"
    try:
        from .simulator import Simulator, SimulatorOptions

        with Simulator(SimulatorOptions.from_settings(settings)) as sim:
            answer = httpx.get(f"{sim.url}/_simulator/requests", timeout=timeout, verify=tls_context())
            answer.raise_for_status()
    except Exception as exc:  # any failure to start or answer is the finding itself
        return Check("fail", "simulator", f"does not start or answer ({type(exc).__name__}: {exc})", fix)
    return Check("ok", "simulator", "starts and answers on 127.0.0.1")


def run_models_check(
    settings: Settings, *, out: TextIO | None = None, timeout: float = REACH_TIMEOUT_SECONDS
) -> int:
    """`doctor --models`: print every difference between our endpoint facts and the provider's published
    descriptions; one line when there is none. Returns 0 when all match, 1 otherwise.

    On the simulator provider the check runs against an embedded simulator (its own descriptions).
    """
    out = sys.stdout if out is None else out
    if settings.provider == "simulator":
        from .simulator import Simulator, SimulatorOptions

        with Simulator(SimulatorOptions.from_settings(settings)) as sim:
            pointed = settings.model_copy(
                update={"fal_site_url": sim.url, "fal_api_url": sim.url, "fal_queue_url": sim.url}
            )
            return _models_report(pointed, "fal", "simulated-key", out, timeout, vendor="the simulator")
    if settings.provider == "fal":
        key = settings.fal_key.get_secret_value() if settings.fal_key else None
        return _models_report(settings, "fal", key, out, timeout, vendor="fal.ai")
    key = settings.oxen_api_key.get_secret_value() if settings.oxen_api_key else None
    return _models_report(settings, "oxen", key, out, timeout, vendor="Oxen.ai")


def _models_report(
    settings: Settings, provider: str, key: str | None, out: TextIO, timeout: float, *, vendor: str
) -> int:
    import httpx

    from .catalogue.live_check import check_fal, check_oxen, declared_endpoints
    from .http_pool import tls_context

    declared = declared_endpoints(provider)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, verify=tls_context()) as client:
            if provider == "fal":
                findings = check_fal(
                    client, declared, site_url=settings.fal_site_url, api_url=settings.fal_api_url, key=key
                )
            elif key is None:
                out.write("Oxen.ai's model schemas need OXEN_API_KEY: set it, then run this again.\n")
                return 1
            else:
                findings = check_oxen(client, declared, base_url=settings.oxen_url, key=key)
    except httpx.HTTPError as exc:
        out.write(f"{vendor} could not be read ({type(exc).__name__}: {exc}); check the network.\n")
        return 1
    differing = [f for f in findings if f.differences]
    if not differing:
        priced = "" if provider != "fal" or key else " (prices not compared: set FAL_KEY to compare them)"
        out.write(f"All {len(findings)} {provider} endpoints match {vendor}'s descriptions{priced}.\n")
        return 0
    for finding in differing:
        out.write(f"{finding.endpoint_id}\n")
        out.writelines(f"  - {difference}\n" for difference in finding.differences)
    out.write(
        f"\n{len(differing)} of {len(findings)} {provider} endpoints differ from {vendor}'s descriptions: "
        "the provider may have changed; requests using what changed may be refused until the server's "
        "facts (server/catalogue) are updated.\n"
    )
    out.flush()
    return 1
