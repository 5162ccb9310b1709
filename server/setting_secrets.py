"""The settings' secrets kept out of every text we write: the one door for secrets in output.

`secret_values` lists what must never be shown: the keys and tokens, and the user:password part of
any URL setting (the database URL and the public URL), read from the raw environment too, so a
setting that does not even parse is still known to be secret. `scrub` removes every form of them
from a text (see `providers.redaction`), `contains_secret` tells whether a text holds one (a prompt
must not carry the key into the journal), and `install_log_scrubbing` puts `scrub` in front of every
log handler of the process, whatever library wrote the line (psycopg quotes the token it could not
parse, which may be part of a password).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from .config import Settings
from .providers.redaction import redact, secret_forms

SECRET_ENV = (
    "FAL_KEY",
    "FAL_KEY_ID",
    "FAL_KEY_SECRET",
    "OXEN_API_KEY",
    "SEEDANCE_HTTP_TOKEN",
    "SEEDANCE_TEAM_SECRET",
)
URL_ENV = ("SEEDANCE_DATABASE_URL", "SEEDANCE_PUBLIC_URL")
# A URL's user:password, found even in a URL no parser accepts: from "://" to the last "@" before the path.
_USERINFO = re.compile(r"://([^/?#]*)@")
_CONNINFO_PASSWORD = re.compile(r"(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
# Where a password may be cut when a parser quotes part of it.
_URL_CUTS = re.compile(r"[/@:?#&=%\s]+")
MIN_PIECE = 4


def url_secrets(url: str) -> set[str]:
    """The secret parts of a URL-like setting: its user:password, the password, and pieces of it."""
    found: set[str] = set()
    for match in _USERINFO.finditer(url):
        userinfo = match.group(1)
        password = userinfo.partition(":")[2]
        found |= {userinfo, password}
        found |= {p for p in _URL_CUTS.split(password) if len(p) >= MIN_PIECE}
    for match in _CONNINFO_PASSWORD.finditer(url):
        found.add(match.group(1).strip("'"))
    return {s for s in found if s}


def secret_values(settings: Settings | None = None, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every secret the settings (or the raw environment) hold."""
    found: set[str] = set()
    if settings is not None:
        for secret in (settings.fal_key, settings.oxen_api_key, settings.http_token, settings.team_secret):
            if secret is not None:
                found.add(secret.get_secret_value())
        if settings.database_url is not None:
            found |= url_secrets(settings.database_url.get_secret_value())
        if settings.public_url is not None:
            found |= url_secrets(settings.public_url)
    for name in SECRET_ENV:
        if value := (env or {}).get(name, "").strip():
            found.add(value)
    for name in URL_ENV:
        if value := (env or {}).get(name, "").strip():
            found |= url_secrets(value)
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    return redact(text, secrets)


def contains_secret(text: str, secrets: Iterable[str]) -> bool:
    return any(form in text for secret in secrets for form in secret_forms(secret))


class ScrubbingFilter(logging.Filter):
    """Formats each record once, without any secret (the message, its arguments and any traceback)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(secrets)
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg, record.args = scrub(record.getMessage(), self._secrets), None
        if record.exc_info:
            record.exc_text = scrub(self._formatter.formatException(record.exc_info), self._secrets)
            record.exc_info = None
        return True


def install_log_scrubbing(secrets: Iterable[str]) -> None:
    """Scrub every line the root logger's handlers write (install after logging is configured)."""
    scrubber = ScrubbingFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(scrubber)


__all__ = [
    "ScrubbingFilter",
    "contains_secret",
    "install_log_scrubbing",
    "scrub",
    "secret_values",
    "url_secrets",
]
