"""What every Oxen.ai call shares: the process's HTTP client, the key, the base URL, the retry policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from .._http import RetryPolicy, send_reachable, user_agent
from ..redaction import redact


class OxenConnection:
    """Sends authenticated requests to Oxen.ai; the key goes to the Oxen host only."""

    def __init__(self, client: httpx.AsyncClient, *, key: str, base_url: str, retry: RetryPolicy) -> None:
        self.client = client
        self.base = base_url.rstrip("/")
        self.retry = retry
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return f"OxenConnection(base_url={self.base!r})"

    def headers(self, *, json_body: bool = False) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._key}",
            "User-Agent": user_agent(),
            "Accept": "application/json",
        }
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def auth_headers_for(self, url: str) -> dict[str, str]:
        """The Bearer header for a URL on the Oxen host itself; nothing for any other host."""
        ours, theirs = urlsplit(self.base), urlsplit(url)
        same = (ours.scheme, ours.hostname, ours.port) == (theirs.scheme, theirs.hostname, theirs.port)
        return {"Authorization": f"Bearer {self._key}"} if same else {}

    async def send(self, method: str, url: str, action: str) -> httpx.Response:
        """An idempotent call with the key, retried while transient."""
        return await self.send_built(
            lambda: self.client.build_request(method, url, headers=self.headers()), action=action
        )

    async def send_built(self, make: Callable[[], httpx.Request], *, action: str) -> httpx.Response:
        return await send_reachable(
            self.client, make, policy=self.retry, provider="Oxen.ai", action=action, safe=self.safe
        )

    def safe(self, text: str) -> str:
        """`text` with every form of the key removed."""
        return redact(text, [self._key])


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
