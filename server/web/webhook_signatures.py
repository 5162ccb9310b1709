"""fal's webhook signatures: ED25519 over `request_id \\n user_id \\n timestamp \\n sha256hex(body)`.

fal signs each delivery with one of the keys it publishes as a JWKS (OKP / Ed25519, base64url `x`);
the headers are `X-Fal-Webhook-Request-Id`, `-User-Id`, `-Timestamp` (epoch seconds) and
`-Signature` (hex). A delivery is accepted when its timestamp is within `TOLERANCE_SECONDS` of our
clock and any published key verifies it; keys are cached at most `JWKS_CACHE_SECONDS` and fetched
again at once (at most every `REFETCH_SECONDS`) when no cached key verifies, so a rotation costs one
fetch. The simulator signs its webhooks the same way with its own key (`server.simulator.webhooks`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import anyio
import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..http_pool import tls_context

HEADER_REQUEST_ID: Final = "x-fal-webhook-request-id"
HEADER_USER_ID: Final = "x-fal-webhook-user-id"
HEADER_TIMESTAMP: Final = "x-fal-webhook-timestamp"
HEADER_SIGNATURE: Final = "x-fal-webhook-signature"
TOLERANCE_SECONDS: Final = 300.0
JWKS_CACHE_SECONDS: Final = 24 * 3600.0
REFETCH_SECONDS: Final = 60.0  # an unknown key fetches the set again, but not on every forged request
JWKS_MAX_BYTES: Final = 64 * 1024

log = logging.getLogger(__name__)


class BadSignature(Exception):
    """The delivery is not provably fal's; the text says why (for our log, not for the sender)."""


def message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join((request_id, user_id, timestamp, hashlib.sha256(body).hexdigest())).encode()


def _keys_from(document: Any) -> list[Ed25519PublicKey]:
    found = []
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        try:
            x = str(entry["x"])
            found.append(
                Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
            )
        except (KeyError, ValueError, binascii.Error):
            continue
    return found


class FalSignatures:
    """Checks deliveries against fal's published keys (fetched from `jwks_url`, cached)."""

    def __init__(self, jwks_url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._url = jwks_url
        self._clock = clock
        self._keys: list[Ed25519PublicKey] = []
        self._fetched_at: float | None = None
        self._tried_at: float | None = None  # the last fetch, done or not: one per REFETCH_SECONDS at most
        self._lock = anyio.Lock()

    async def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """The verified request id of a delivery; raises `BadSignature`."""
        headers = {name.lower(): value for name, value in headers.items()}  # HTTP names have no case
        try:
            request_id = headers[HEADER_REQUEST_ID]
            user_id = headers[HEADER_USER_ID]
            timestamp = headers[HEADER_TIMESTAMP]
            signature = bytes.fromhex(headers[HEADER_SIGNATURE])
            sent_at = float(timestamp)
        except (KeyError, ValueError):
            raise BadSignature("missing or malformed signature headers") from None
        if abs(self._clock() - sent_at) > TOLERANCE_SECONDS:
            raise BadSignature("timestamp too far from now (replayed or a wrong clock)")
        signed = message(request_id, user_id, timestamp, body)
        if self._any_verifies(await self._current_keys(), signature, signed):
            return request_id
        if self._any_verifies(await self._current_keys(refresh=True), signature, signed):
            return request_id
        raise BadSignature("no published key verifies the signature")

    async def read_keys(self) -> None:
        """Fetch the keys now unless cached (a failure is logged; deliveries try again once a minute)."""
        with contextlib.suppress(BadSignature):
            await self._current_keys()

    @staticmethod
    def _any_verifies(keys: list[Ed25519PublicKey], signature: bytes, signed: bytes) -> bool:
        for key in keys:
            try:
                key.verify(signature, signed)
                return True
            except InvalidSignature:
                continue
        return False

    async def _current_keys(self, *, refresh: bool = False) -> list[Ed25519PublicKey]:
        if not refresh and self._keys and self._fresh(self._clock()):
            return self._keys  # fresh: no lock (a burst of deliveries would queue on it one by one)
        async with self._lock:
            now = self._clock()
            fresh = self._fresh(now)
            may_try = self._tried_at is None or now - self._tried_at >= REFETCH_SECONDS
            if (not fresh or refresh) and may_try:
                self._tried_at = now
                if await self._fetch():
                    self._fetched_at, fresh = now, True
            if not fresh:
                self._keys = []  # keys are never trusted past JWKS_CACHE_SECONDS
            if not self._keys:
                raise BadSignature("fal's keys could not be fetched (tried again at most once a minute)")
            return self._keys

    def _fresh(self, now: float) -> bool:
        return self._fetched_at is not None and now - self._fetched_at <= JWKS_CACHE_SECONDS

    async def _fetch(self) -> bool:
        """Fetch the key set; True when it was read (the keys replaced), False when it could not be."""
        try:
            async with (
                httpx.AsyncClient(timeout=10.0, follow_redirects=False, verify=tls_context()) as client,
                client.stream("GET", self._url, headers={"Accept-Encoding": "identity"}) as answer,
            ):
                body = bytearray()
                async for chunk in answer.aiter_raw():
                    body += chunk
                    if len(body) > JWKS_MAX_BYTES:
                        raise ValueError("fal's key set is implausibly large")
                answer.raise_for_status()
            keys = _keys_from(json.loads(bytes(body)))
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("fal's webhook keys could not be fetched from %s: %s", self._url, type(exc).__name__)
            return False
        self._keys = keys
        return True


__all__ = ["BadSignature", "FalSignatures", "message"]
