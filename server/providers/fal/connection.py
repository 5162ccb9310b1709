"""What every fal.ai call shares: the process's HTTP client, the key, the retry policy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from .._http import RetryPolicy, send_reachable, user_agent
from ..redaction import provider_says, redact
from .errors import unreadable


class FalConnection:
    """Sends authenticated requests to fal.ai; the key shows only in the `Authorization` header."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        key: str,
        retry: RetryPolicy,
        store_io: bool = True,
        object_expiry_seconds: int | None = None,
    ) -> None:
        self.client = client
        self.retry = retry
        self._key = key
        # fal's privacy preferences, sent with every request of ours (submit, storage, status...).
        self.privacy: dict[str, str] = {}
        if not store_io:
            self.privacy["X-Fal-Store-IO"] = "0"
        if object_expiry_seconds is not None:
            preference = {"expiration_duration_seconds": object_expiry_seconds}
            self.privacy["X-Fal-Object-Lifecycle-Preference"] = json.dumps(preference)

    def __repr__(self) -> str:  # never show the key
        return "FalConnection()"

    def headers(self, *, json_body: bool = False) -> dict[str, str]:
        headers = {
            "Authorization": f"Key {self._key}",
            "User-Agent": user_agent(),
            "Accept": "application/json",
            **self.privacy,
        }
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    async def send(
        self, method: str, url: str, *, action: str, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """An idempotent call with the key, retried while transient."""
        return await self.send_built(
            lambda: self.client.build_request(method, url, params=params, headers=self.headers()),
            action=action,
        )

    async def send_built(self, make: Callable[[], httpx.Request], *, action: str) -> httpx.Response:
        return await send_reachable(
            self.client, make, policy=self.retry, provider="fal.ai", action=action, safe=self.safe
        )

    def safe(self, text: str) -> str:
        """`text` with every form of the key removed."""
        return redact(text, [self._key])

    def says(self, text: str) -> str:
        """fal's own words as shown and stored: redacted, one line, bounded, quoted and attributed."""
        return provider_says("fal.ai", text, [self._key])

    def json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise unreadable(response, what, safe=self.safe) from None
