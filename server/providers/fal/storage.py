"""fal.ai storage: local files become public URLs fal's workers can fetch.

Files go to fal's CDN with a short-lived storage token (`POST {rest}/storage/auth/token`), in one
request up to `multipart_threshold` and in parts above it; when the token service is missing or
failing, through the older GCS flow (`POST {rest}/storage/upload/initiate`, then a signed PUT).
The name fal stores is an ASCII-safe form of the file's name (it travels in a header).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx

from ...errors import ProviderError, ProviderHTTPError
from .._http import (
    ascii_file_name,
    describe_transport_error,
    file_chunks,
    send_with_retry,
    user_agent,
)
from .connection import FalConnection
from .errors import http_error

logger = logging.getLogger(__name__)

# Renew the storage token this long before fal says it expires, so an upload never starts on a dying one.
TOKEN_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class _CdnToken:
    value: str
    token_type: str
    expires_at: float  # anyio clock

    def header(self) -> str:
        return f"{self.token_type or 'Bearer'} {self.value}"


class _StorageTokenUnavailable(Exception):
    """The CDN token service is missing (404) or failing (5xx, unreachable): use the GCS flow."""


class _TokenRejected(Exception):
    """The CDN answered 401 to a storage token we believed valid."""


def _check_token_accepted(response: httpx.Response) -> None:
    if response.status_code == 401:
        raise _TokenRejected


@dataclass(frozen=True)
class _Upload:
    """One file on its way: where it is, what it is, and the name fal will store it under."""

    path: Path
    content_type: str
    size: int
    name: str  # ASCII-safe, for fal

    @property
    def label(self) -> str:
        # The user's name, as given; quoted when it holds a line break or another invisible character.
        name = self.path.name
        return name if name.isprintable() else repr(name)


class FalStorage:
    """Uploads to fal.ai storage. Holds only the cached CDN token (shared by every upload)."""

    def __init__(
        self,
        connection: FalConnection,
        *,
        rest_url: str,
        cdn_url: str,
        multipart_threshold: int,
        part_size: int,
    ) -> None:
        self._fal = connection
        self._rest_url = rest_url.rstrip("/")
        self._cdn_url = cdn_url.rstrip("/")
        self._multipart_threshold = multipart_threshold
        self._part_size = part_size
        self._token: _CdnToken | None = None
        self._token_lock = anyio.Lock()

    async def upload(self, path: Path, content_type: str) -> str:
        size = (await anyio.Path(path).stat()).st_size
        upload = _Upload(path, content_type, size, ascii_file_name(path.name))
        for attempt in (1, 2):
            try:
                token = await self._cdn_token()
            except _StorageTokenUnavailable as exc:
                logger.warning(
                    "fal.ai CDN token unavailable (%s); uploading %s through the storage API",
                    exc,
                    upload.label,
                )
                return await self._upload_gcs(upload)
            try:
                if size > self._multipart_threshold:
                    return await self._upload_multipart(upload, token)
                return await self._upload_single(upload, token)
            except _TokenRejected:
                # Revoked or expired early: one fresh token, then give up.
                self._token = None
                logger.info("fal.ai CDN refused the upload token (attempt %d)", attempt)
        raise ProviderHTTPError(
            f"fal.ai's storage refused a fresh upload token (401) while uploading {upload.label}; "
            "try again in a minute, and check FAL_KEY if it keeps happening.",
            status=401,
        )

    async def _upload_single(self, upload: _Upload, token: _CdnToken) -> str:
        url = f"{self._cdn_url}/files/upload"
        headers = {
            "Authorization": token.header(),
            "User-Agent": user_agent(),
            "Accept": "application/json",
            "Content-Type": upload.content_type,
            "Content-Length": str(upload.size),
            "X-Fal-File-Name": upload.name,
            **self._fal.privacy,
        }
        client = self._fal.client
        response = await self._fal.send_built(
            lambda: client.build_request("POST", url, content=file_chunks(upload.path), headers=headers),
            action=f"uploading {upload.label}",
        )
        _check_token_accepted(response)
        if not response.is_success:
            raise http_error(response, action=f"uploading {upload.label}", safe=self._fal.safe)
        data = self._fal.json(response, "upload")
        access_url = data.get("access_url") if isinstance(data, dict) else None
        if not isinstance(access_url, str):
            raise ProviderError(
                f"fal.ai accepted {upload.label} but returned no access_url; try the upload again."
            )
        return access_url

    async def _upload_multipart(self, upload: _Upload, token: _CdnToken) -> str:
        fal, client, label = self._fal, self._fal.client, upload.label
        auth = {"Authorization": token.header(), "User-Agent": user_agent(), **fal.privacy}
        start = await fal.send_built(
            lambda: client.build_request(
                "POST",
                f"{self._cdn_url}/files/upload/multipart",
                headers={
                    **auth,
                    "Accept": "application/json",
                    "Content-Type": upload.content_type,
                    "X-Fal-File-Name": upload.name,
                },
            ),
            action=f"starting the upload of {label}",
        )
        _check_token_accepted(start)
        if not start.is_success:
            raise http_error(start, action=f"starting the upload of {label}", safe=fal.safe)
        data = fal.json(start, "multipart upload")
        try:
            access_url = str(data["access_url"])
            upload_id = str(data["uploadId"])
        except (KeyError, TypeError):
            raise ProviderError(
                "fal.ai's answer to a multipart upload lacked access_url/uploadId: "
                f"{fal.safe(repr(data))[:200]}"
            ) from None

        parts: list[dict[str, Any]] = []
        count = -(-upload.size // self._part_size)
        for number in range(1, count + 1):
            offset = (number - 1) * self._part_size
            length = min(self._part_size, upload.size - offset)

            def build(offset: int = offset, length: int = length, number: int = number) -> httpx.Request:
                return client.build_request(
                    "PUT",
                    f"{access_url}/multipart/{upload_id}/{number}",
                    content=file_chunks(upload.path, offset, length),
                    headers={
                        **auth,
                        "Content-Type": upload.content_type,
                        "Content-Length": str(length),
                        "Accept-Encoding": "identity",  # keeps the ETag header intact
                    },
                )

            response = await fal.send_built(build, action=f"uploading part {number} of {label}")
            _check_token_accepted(response)
            if not response.is_success:
                action = f"uploading part {number}/{count} of {label}"
                raise http_error(response, action=action, safe=fal.safe)
            etag = response.headers.get("etag")
            if not etag:
                raise ProviderError(f"fal.ai accepted part {number} of {label} but sent no ETag; try again.")
            parts.append({"partNumber": number, "etag": etag})

        body = json.dumps({"parts": parts}).encode()
        done = await fal.send_built(
            lambda: client.build_request(
                "POST",
                f"{access_url}/multipart/{upload_id}/complete",
                content=body,
                headers={**auth, "Content-Type": "application/json"},
            ),
            action=f"finishing the upload of {label}",
        )
        _check_token_accepted(done)
        if not done.is_success:
            raise http_error(done, action=f"finishing the upload of {label}", safe=fal.safe)
        return access_url

    async def _upload_gcs(self, upload: _Upload) -> str:
        fal, client, label = self._fal, self._fal.client, upload.label
        url = f"{self._rest_url}/storage/upload/initiate"
        body = json.dumps({"file_name": upload.name, "content_type": upload.content_type}).encode()
        start = await fal.send_built(
            lambda: client.build_request(
                "POST", url, params={"storage_type": "gcs"}, content=body, headers=fal.headers(json_body=True)
            ),
            action=f"starting the upload of {label}",
        )
        if not start.is_success:
            raise http_error(start, action=f"starting the upload of {label}", safe=fal.safe)
        data = fal.json(start, "upload")
        try:
            upload_url = str(data["upload_url"])
            file_url = str(data["file_url"])
        except (KeyError, TypeError):
            raise ProviderError(
                f"fal.ai's upload answer lacked upload_url/file_url: {fal.safe(repr(data))[:200]}"
            ) from None
        # A signed URL on another host: no fal key goes with it.
        put = await fal.send_built(
            lambda: client.build_request(
                "PUT",
                upload_url,
                content=file_chunks(upload.path),
                headers={
                    "Content-Type": upload.content_type,
                    "Content-Length": str(upload.size),
                    "User-Agent": user_agent(),
                },
            ),
            action=f"uploading {label}",
        )
        if not put.is_success:
            raise http_error(put, action=f"uploading {label}", safe=fal.safe)
        return file_url

    async def _cdn_token(self) -> _CdnToken:
        async with self._token_lock:
            now = anyio.current_time()
            if self._token is not None and now < self._token.expires_at:
                return self._token
            fal = self._fal
            url = f"{self._rest_url}/storage/auth/token"
            try:
                response = await send_with_retry(
                    fal.client,
                    lambda: fal.client.build_request(
                        "POST",
                        url,
                        params={"storage_type": "fal-cdn-v3"},
                        content=b"{}",
                        headers=fal.headers(json_body=True),
                    ),
                    policy=fal.retry,
                )
            except httpx.TransportError as exc:
                raise _StorageTokenUnavailable(describe_transport_error(exc)) from None
            if response.status_code == 404 or response.status_code >= 500:
                raise _StorageTokenUnavailable(f"token service answered {response.status_code}")
            if not response.is_success:
                raise http_error(response, action="getting an upload token", safe=fal.safe)
            data = fal.json(response, "upload token")
            try:
                value = str(data["token"])
            except (KeyError, TypeError):
                raise _StorageTokenUnavailable("token answer had no token") from None
            self._token = _CdnToken(
                value=value,
                token_type=str(data.get("token_type") or "Bearer"),
                expires_at=now + _seconds_until(data.get("expires_at")) - TOKEN_MARGIN_SECONDS,
            )
            return self._token


def _seconds_until(expires_at: Any) -> float:
    """Seconds until an ISO-8601 or epoch expiry; a short default when fal does not say."""
    default = 10 * 60.0
    if isinstance(expires_at, (int, float)):
        return float(expires_at) - datetime.now(timezone.utc).timestamp()
    if isinstance(expires_at, str):
        try:
            when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        except ValueError:
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return (when - datetime.now(timezone.utc)).total_seconds()
    return default
