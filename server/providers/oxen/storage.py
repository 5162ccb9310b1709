"""Local inputs as public URLs Oxen's servers can fetch.

Small images go inline as data URIs; other files into the Oxen repository named by
SEEDANCE_OXEN_UPLOAD_REPO (a multipart PUT to the repository file API), or to fal storage when a
fal key is set. The stored name is an ASCII-safe form of the file's name.
"""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread

from ...errors import ConfigError
from .._http import ascii_file_name
from .connection import OxenConnection
from .errors import http_error

logger = logging.getLogger(__name__)

# Oxen documents "not recommended" for data URIs without a limit; a few MB keeps request bodies sane.
DATA_URI_MAX_BYTES = 4 * 1000 * 1000
UPLOAD_FOLDER = "seedance-inputs"
_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

Uploader = Callable[[Path, str], Awaitable[str]]


class OxenStorage:
    def __init__(
        self,
        connection: OxenConnection,
        *,
        upload_repo: str | None,
        fallback_upload: Uploader | None,
        data_uri_max_bytes: int,
    ) -> None:
        self._oxen = connection
        self._upload_repo = parse_repo(upload_repo) if upload_repo else None
        self._fallback_upload = fallback_upload
        self._data_uri_max = data_uri_max_bytes

    async def upload(self, path: Path, content_type: str) -> str:
        size = (await anyio.Path(path).stat()).st_size
        if content_type.startswith("image/") and size <= self._data_uri_max:
            data = await anyio.Path(path).read_bytes()
            return f"data:{content_type};base64,{base64.b64encode(data).decode()}"
        if self._upload_repo is not None:
            return await self._upload_to_repo(path, content_type)
        if self._fallback_upload is not None:
            return await self._fallback_upload(path, content_type)
        raise ConfigError(
            f"{path.name} must be reachable at a public URL for Oxen.ai to fetch it, and there is nowhere to "
            "upload it: set SEEDANCE_OXEN_UPLOAD_REPO to one of your public Oxen repositories "
            "(namespace/repo, optionally /branch), or set FAL_KEY to upload to fal.ai storage, "
            "or pass an https:// URL instead."
        )

    async def _upload_to_repo(self, path: Path, content_type: str) -> str:
        assert self._upload_repo is not None
        oxen = self._oxen
        namespace, repo, branch = self._upload_repo
        name = ascii_file_name(path.name)
        remote = f"{UPLOAD_FOLDER}/{uuid.uuid4().hex[:12]}-{name}"
        url = f"{oxen.base}/api/repos/{namespace}/{repo}/file/{branch}/{remote}"
        fields = {
            "message": f"seedance-mcp input {name}",
            "name": "seedance-mcp",
            "email": "seedance-mcp@localhost",
        }
        label = path.name if path.name.isprintable() else repr(path.name)
        # httpx builds the multipart body and streams the file in 64 KiB reads, so memory stays flat.
        # Its reads are blocking, but each is one small read of a local file; every retry starts at 0.
        handle = await anyio.to_thread.run_sync(path.open, "rb")
        try:
            response = await oxen.send_built(
                lambda: oxen.client.build_request(
                    "PUT",
                    url,
                    data=fields,
                    files={"file": (name, handle, content_type)},
                    headers=oxen.headers(),
                ),
                action=f"uploading {label}",
            )
        finally:
            await anyio.to_thread.run_sync(handle.close)
        if not response.is_success:
            raise http_error(response, action=f"uploading {label} to {namespace}/{repo}", safe=oxen.safe)
        logger.info("uploaded %s to Oxen repository %s/%s", label, namespace, repo)
        return url


def parse_repo(text: str) -> tuple[str, str, str]:
    """`namespace/repo[/branch]` -> (namespace, repo, branch)."""
    parts = [p for p in text.strip().strip("/").split("/") if p]
    if len(parts) not in (2, 3) or not all(_REPO_PART.fullmatch(p) for p in parts):
        raise ConfigError(
            f"SEEDANCE_OXEN_UPLOAD_REPO must look like namespace/repo or namespace/repo/branch; got {text!r}"
        )
    return parts[0], parts[1], parts[2] if len(parts) == 3 else "main"
