"""Every setting, read once from the environment into a frozen model.

The table in README.md ("Configuration") is checked against `SETTINGS_DOC` by a test, so the
two cannot drift. Secrets are `SecretStr`: their repr and str never show the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from .catalogue.facts import Tier
from .errors import ConfigError

Provider = Literal["fal", "oxen", "simulator"]
ProviderChoice = Literal["auto", "fal", "oxen", "simulator"]
ConfirmPolicy = Literal["refuse", "proceed"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
# Settings whose values are names from a fixed list: accepted in any case.
_LOWERCASE_FIELDS = frozenset({"provider_choice", "default_tier", "confirm_policy"})
_UPPERCASE_FIELDS = frozenset({"log_level"})

FAL_QUEUE_URL = "https://queue.fal.run"
FAL_REST_URL = "https://rest.fal.ai"
FAL_CDN_URL = "https://v3.fal.media"
FAL_SITE_URL = "https://fal.ai"
FAL_API_URL = "https://api.fal.ai"
OXEN_URL = "https://hub.oxen.ai"
FAL_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"

# variable -> (meaning, default as shown to users). The README's settings table is built from this.
SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "FAL_KEY": ("fal.ai API key (`FAL_KEY_ID` + `FAL_KEY_SECRET` also accepted)", "—"),
    "OXEN_API_KEY": ("Oxen.ai API key", "—"),
    "SEEDANCE_PROVIDER": (
        "`auto`, `fal`, `oxen` or `simulator`",
        "`auto`: fal if its key is set, else oxen if its key is set, else the simulator",
    ),
    "SEEDANCE_DEFAULT_TIER": (
        "`fast`, `standard` or `mini` endpoints when a call names none (a model without it uses its own)",
        "`fast`",
    ),
    "SEEDANCE_WAIT_SECONDS": (
        "how long a tool call waits for the video before returning a job id (0–600)",
        "45",
    ),
    "SEEDANCE_HOME": (
        "where the job journal, the poster frames and contact sheets shown to the assistant, and the tool "
        "list kept for quick starts (`cache/`) are kept",
        "the user data folder",
    ),
    "SEEDANCE_OUTPUT_DIR": ("where finished videos (MP4 files only) are saved", "`~/Videos/Seedance`"),
    "SEEDANCE_ALLOWED_DIRS": (
        "folders local input files may come from, separated by `" + os.pathsep + "`",
        "your home folder, minus hidden folders",
    ),
    "SEEDANCE_MAX_COST_USD": ("refuse any single request estimated above this", "no cap"),
    "SEEDANCE_DAILY_BUDGET_USD": ("refuse once the last 24 h of spend would pass this", "no budget"),
    "SEEDANCE_CONFIRM_ABOVE_USD": ("ask the user before spending more than this on one request", "never ask"),
    "SEEDANCE_CONFIRM_POLICY": (
        "`refuse` or `proceed` when a request needs confirmation and the host cannot ask (neither "
        "elicitation nor MCP Apps)",
        "`refuse`",
    ),
    "SEEDANCE_FAL_QUEUE_URL": ("fal queue API base URL", FAL_QUEUE_URL),
    "SEEDANCE_FAL_REST_URL": ("fal REST API base URL (storage tokens)", FAL_REST_URL),
    "SEEDANCE_FAL_CDN_URL": ("fal CDN base URL (uploads)", FAL_CDN_URL),
    "SEEDANCE_FAL_SITE_URL": ("fal site base URL (each endpoint's published schema)", FAL_SITE_URL),
    "SEEDANCE_FAL_API_URL": ("fal platform API base URL (prices)", FAL_API_URL),
    "SEEDANCE_OXEN_URL": ("Oxen.ai base URL", OXEN_URL),
    "SEEDANCE_OXEN_UPLOAD_REPO": (
        "public Oxen.ai repository (`namespace/repo[/branch]`) that local files are uploaded to for Oxen "
        "to fetch; small images go inline",
        "none: fal storage when `FAL_KEY` is set, else local videos and audio need URLs",
    ),
    "SEEDANCE_HTTP_TOKEN": (
        "bearer token HTTP clients must send (`serve --transport http`); required off loopback",
        "none",
    ),
    "SEEDANCE_HTTP_ALLOWED_HOSTS": (
        "more host names clients may use to reach `serve --transport http` (a LAN name, the machine's IP, a "
        "reverse proxy's host), comma-separated, each `name` or `name:port`; fixes `421 Invalid Host header`",
        "the bound address only (plus `localhost` on loopback)",
    ),
    "SEEDANCE_LOG_LEVEL": (
        "log level of the server's stderr log: `debug`, `info`, `warning`, `error` or `critical`",
        "`info`",
    ),
    "SEEDANCE_DATABASE_URL": (
        "`postgresql://…`: keep the journal in PostgreSQL, shared by several server replicas (team mode; "
        "`pip install 'seedance-mcp[postgres]'`)",
        "unset: SQLite under `SEEDANCE_HOME`",
    ),
    "SEEDANCE_PUBLIC_URL": (
        "this server's public base URL (`https://…`): fal.ai reports finished jobs to "
        "`<url>/webhooks/fal/…` instead of being watched",
        "unset: status streams and polling",
    ),
    "SEEDANCE_FAL_JWKS_URL": (
        "where fal.ai publishes the keys its webhooks are signed with; a webhook is read only once one "
        "of them verifies it",
        FAL_JWKS_URL,
    ),
    "SEEDANCE_TEAM_SECRET": (
        "a long random secret shared by all replicas: signs webhook URLs and seals confirmation state, "
        "so any replica accepts them; required with `SEEDANCE_PUBLIC_URL` and a database URL",
        "a key made per process",
    ),
    "SEEDANCE_LEASE_SECONDS": (
        "how long a replica's hold on a job lasts unless renewed (renewed every third of it): a replica "
        "that stops is taken over after this (at once by another process on the same machine)",
        "10",
    ),
    "SEEDANCE_EXIT_AFTER_UNHEALTHY_SECONDS": (
        "with a database URL: a replica whose journal has not answered for this long exits with status 75, "
        "so that its supervisor restarts it (`0`: never)",
        "120",
    ),
    "SEEDANCE_SAVE_VIDEOS": (
        "`false`: keep only result URLs (replicas without a shared output folder); fal.ai keeps results "
        "for a limited time",
        "`true`",
    ),
    "SEEDANCE_FAL_STORE_IO": (
        "`false`: ask fal.ai not to keep the request's inputs and outputs in its request history "
        "(sends `X-Fal-Store-IO: 0`); the job still runs and its result is still saved here",
        "`true`: fal.ai keeps them (about 30 days)",
    ),
    "SEEDANCE_FAL_OBJECT_EXPIRY_SECONDS": (
        "ask fal.ai to delete the files it stores for us (uploads, results on its CDN) this many seconds "
        "after they are made (sends `X-Fal-Object-Lifecycle-Preference`); keep it longer than a job takes "
        "to finish and be saved, at least 3600",
        "unset: fal.ai's default lifetime",
    ),
    "SEEDANCE_SIM_QUEUE_SECONDS": ("simulator: seconds a job waits in the queue", "2"),
    "SEEDANCE_SIM_RUN_SECONDS": ("simulator: seconds a job takes to render", "4"),
    "SEEDANCE_SIM_DOWNLOAD_SECONDS": ("simulator: seconds a result video takes to download", "0"),
    "SEEDANCE_SIM_FAULTS": (
        "simulator: fault mix, e.g. `status_5xx=0.3,stream_drop=0.2,submit_429=0.1`",
        "none",
    ),
    "SEEDANCE_SIM_SEED": ("simulator: seed that makes the fault mix repeatable", "random"),
}


# Settings read as-is from one variable each (the rest are assembled in `Settings.from_env`).
FIELD_OF_VARIABLE: dict[str, str] = {
    "SEEDANCE_PROVIDER": "provider_choice",
    "SEEDANCE_DEFAULT_TIER": "default_tier",
    "SEEDANCE_WAIT_SECONDS": "wait_seconds",
    "SEEDANCE_MAX_COST_USD": "max_cost_usd",
    "SEEDANCE_DAILY_BUDGET_USD": "daily_budget_usd",
    "SEEDANCE_CONFIRM_ABOVE_USD": "confirm_above_usd",
    "SEEDANCE_CONFIRM_POLICY": "confirm_policy",
    "SEEDANCE_FAL_QUEUE_URL": "fal_queue_url",
    "SEEDANCE_FAL_REST_URL": "fal_rest_url",
    "SEEDANCE_FAL_CDN_URL": "fal_cdn_url",
    "SEEDANCE_FAL_SITE_URL": "fal_site_url",
    "SEEDANCE_FAL_API_URL": "fal_api_url",
    "SEEDANCE_OXEN_URL": "oxen_url",
    "SEEDANCE_OXEN_UPLOAD_REPO": "oxen_upload_repo",
    "SEEDANCE_LOG_LEVEL": "log_level",
    "SEEDANCE_SIM_QUEUE_SECONDS": "sim_queue_seconds",
    "SEEDANCE_SIM_RUN_SECONDS": "sim_run_seconds",
    "SEEDANCE_SIM_DOWNLOAD_SECONDS": "sim_download_seconds",
    "SEEDANCE_SIM_FAULTS": "sim_faults",
    "SEEDANCE_SIM_SEED": "sim_seed",
    "SEEDANCE_PUBLIC_URL": "public_url",
    "SEEDANCE_FAL_JWKS_URL": "fal_jwks_url",
    "SEEDANCE_FAL_STORE_IO": "fal_store_io",
    "SEEDANCE_FAL_OBJECT_EXPIRY_SECONDS": "fal_object_expiry_seconds",
    "SEEDANCE_SAVE_VIDEOS": "save_videos",
    "SEEDANCE_LEASE_SECONDS": "lease_seconds",
    "SEEDANCE_EXIT_AFTER_UNHEALTHY_SECONDS": "exit_after_unhealthy_seconds",
}


class Settings(BaseModel):
    """All configuration, frozen. Build with `Settings.from_env()`; tests pass overrides."""

    model_config = ConfigDict(frozen=True)

    fal_key: SecretStr | None = None
    oxen_api_key: SecretStr | None = None
    http_token: SecretStr | None = None
    database_url: SecretStr | None = None  # may hold a database password
    public_url: str | None = None
    team_secret: SecretStr | None = None
    save_videos: bool = True
    lease_seconds: float = Field(default=10.0, ge=1, le=600)
    exit_after_unhealthy_seconds: float = Field(default=120.0, ge=0)
    provider_choice: ProviderChoice = "auto"
    default_tier: Tier = "fast"
    wait_seconds: float = 45.0
    home: Path
    output_dir: Path
    allowed_dirs: tuple[Path, ...]
    max_cost_usd: float | None = Field(default=None, ge=0)
    daily_budget_usd: float | None = Field(default=None, ge=0)
    confirm_above_usd: float | None = Field(default=None, ge=0)
    confirm_policy: ConfirmPolicy = "refuse"
    fal_queue_url: str = FAL_QUEUE_URL
    fal_rest_url: str = FAL_REST_URL
    fal_cdn_url: str = FAL_CDN_URL
    fal_site_url: str = FAL_SITE_URL
    fal_api_url: str = FAL_API_URL
    oxen_url: str = OXEN_URL
    fal_jwks_url: str = FAL_JWKS_URL
    fal_store_io: bool = True
    fal_object_expiry_seconds: int | None = Field(default=None, ge=60)
    oxen_upload_repo: str | None = None
    http_allowed_hosts: tuple[str, ...] = ()
    log_level: LogLevel = "INFO"
    sim_queue_seconds: float = Field(default=2.0, ge=0)
    sim_run_seconds: float = Field(default=4.0, ge=0)
    sim_download_seconds: float = Field(default=0.0, ge=0, le=600)
    sim_faults: str = ""
    sim_seed: int | None = None

    @property
    def provider(self) -> Provider:
        """The provider in force: an explicit choice, else the first one with a key, else the simulator."""
        if self.provider_choice != "auto":
            return self.provider_choice
        if self.fal_key is not None:
            return "fal"
        if self.oxen_api_key is not None:
            return "oxen"
        return "simulator"

    @property
    def simulated(self) -> bool:
        return self.provider == "simulator"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        for variable in SECRET_VARIABLES:
            check_secret_setting(variable, get(variable))
        fal_key = get("FAL_KEY")
        if fal_key is None and get("FAL_KEY_ID") and get("FAL_KEY_SECRET"):
            fal_key = f"{get('FAL_KEY_ID')}:{get('FAL_KEY_SECRET')}"

        home_dir = Path.home()
        raw: dict[str, object] = {
            "fal_key": fal_key,
            "oxen_api_key": get("OXEN_API_KEY"),
            "http_token": get("SEEDANCE_HTTP_TOKEN"),
            "database_url": get("SEEDANCE_DATABASE_URL"),
            "team_secret": get("SEEDANCE_TEAM_SECRET"),
            "home": Path(get("SEEDANCE_HOME") or _user_data_dir()).expanduser(),
            "output_dir": Path(get("SEEDANCE_OUTPUT_DIR") or _user_videos_dir() / "Seedance").expanduser(),
            "allowed_dirs": tuple(
                Path(p).expanduser()
                for p in (get("SEEDANCE_ALLOWED_DIRS") or str(home_dir)).split(os.pathsep)
                if p.strip()
            ),
            "http_allowed_hosts": tuple(
                name.strip() for name in (get("SEEDANCE_HTTP_ALLOWED_HOSTS") or "").split(",") if name.strip()
            ),
        }
        for variable, field in FIELD_OF_VARIABLE.items():
            value = get(variable)
            if value is not None:
                if field in _LOWERCASE_FIELDS:
                    value = value.lower()
                elif field in _UPPERCASE_FIELDS:
                    value = value.upper()
                raw[field] = value
        try:
            settings = cls.model_validate(raw)
        except ValidationError as exc:
            by_field = {v: k for k, v in FIELD_OF_VARIABLE.items()}
            problems = "; ".join(
                f"{by_field.get(str(e['loc'][0]), e['loc'][0])}: {_plain(e['msg'])} (got {e.get('input')!r})"
                for e in exc.errors()
            )
            raise ConfigError(f"Invalid setting: {problems}") from None
        if not 0 <= settings.wait_seconds <= 600:
            raise ConfigError(f"SEEDANCE_WAIT_SECONDS must be between 0 and 600; got {settings.wait_seconds}")
        if settings.provider_choice == "fal" and settings.fal_key is None:
            raise ConfigError(
                "SEEDANCE_PROVIDER=fal needs FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET) to be set"
            )
        if settings.provider_choice == "oxen" and settings.oxen_api_key is None:
            raise ConfigError("SEEDANCE_PROVIDER=oxen needs OXEN_API_KEY to be set")
        _check_team_settings(settings)
        return settings


# What to do about a setting that does not parse: said by `doctor` and by every call of a server that
# started with one (see `server/app.py`).
SETTING_FIX = (
    "correct the variable it names where this server is started (for a host: the `env` of this "
    "server's entry in its MCP settings), or unset it; then restart the server"
)


def setting_problem(error: ConfigError) -> str:
    """A bad setting as a tool call answers it: the error, then its fix."""
    return f"This server cannot work until a setting is fixed. {error} To fix: {SETTING_FIX}."


def _plain(message: str) -> str:
    """pydantic's message in our voice: 'Input should be ...' -> 'must be ...'."""
    return message.replace("Input should be", "must be").replace("Input ", "the value ")


def _check_team_settings(settings: Settings) -> None:
    database = settings.database_url.get_secret_value() if settings.database_url else None
    if database is not None and not database.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "SEEDANCE_DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host:5432/db); "
            "unset it to keep the journal in SQLite under SEEDANCE_HOME"
        )
    if settings.public_url is not None:
        if not settings.public_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"SEEDANCE_PUBLIC_URL must start with https:// (or http://); got {settings.public_url!r}"
            )
        if database is not None and settings.team_secret is None:
            raise ConfigError(
                "SEEDANCE_PUBLIC_URL with a SEEDANCE_DATABASE_URL needs SEEDANCE_TEAM_SECRET: every "
                "replica must accept the webhooks the others asked for. Set the same long random secret on "
                "all of them "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))").'
            )
    if settings.team_secret is not None and len(settings.team_secret.get_secret_value()) < 16:
        raise ConfigError("SEEDANCE_TEAM_SECRET must be at least 16 characters long")


def _user_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("seedance-mcp", appauthor=False))


def _user_videos_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_videos_dir())


def settings_markdown() -> str:
    """The README's settings table (a test keeps the README equal to this)."""
    rows = ["| variable | meaning | default |", "|---|---|---|"]
    rows += [f"| `{name}` | {meaning} | {default} |" for name, (meaning, default) in SETTINGS_DOC.items()]
    return "\n".join(rows)


# Settings holding a secret: sent in HTTP headers, so they must be one line of printable ASCII.
SECRET_VARIABLES = ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET", "OXEN_API_KEY", "SEEDANCE_HTTP_TOKEN")


def check_secret_setting(variable: str, value: str | None) -> None:
    """Refuse a key or token with whitespace, control or non-ASCII characters inside it (a key pasted
    over two lines is the usual cause). The message names the variable and never shows the value."""
    if value is None:
        return
    bad = next((c for c in value if not "!" <= c <= "~"), None)
    if bad is None:
        return
    if bad in "\r\n":
        what = "a line break"
    elif bad.isspace():
        what = "a space or tab"
    elif bad.isascii():
        what = "a control character"
    else:
        what = "a character that is not plain ASCII"
    raise ConfigError(
        f"{variable} contains {what} inside the key; set {variable} to the key exactly as issued, on "
        "one line (copy it again if it was pasted over several lines). The value is not shown here."
    )
