"""Files the simulator holds: uploads (single, multipart, GCS-style) and rendered videos.

Bodies are streamed to disk chunk by chunk, never held in memory. Every file is served at
`/files/{file_id}/{name}`; several ids may point at one path (cached renders).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread

TOKEN_SECONDS = 3600.0


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    name: str
    path: Path
    content_type: str
    size: int

    @property
    def url_path(self) -> str:
        return f"/files/{self.file_id}/{self.name}"


@dataclass
class _Multipart:
    file_id: str
    name: str
    content_type: str
    parts: dict[int, tuple[Path, str]] = field(default_factory=dict)  # number -> (path, etag)


class StorageError(Exception):
    """A storage request that cannot be honoured; `status` is the HTTP code to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def safe_name(name: str | None, default: str = "upload.bin") -> str:
    """A file name that is safe as one URL path segment."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")
    return cleaned[:120] or default


class FileStore:
    """Not thread-safe: used from the simulator's event loop only."""

    def __init__(self, root: Path) -> None:
        self._root = root
        (root / "uploads").mkdir(parents=True, exist_ok=True)
        self._files: dict[str, StoredFile] = {}
        self._multipart: dict[str, _Multipart] = {}
        self._gcs: dict[str, tuple[str, str, str]] = {}  # upload token -> (file_id, name, content type)
        self._tokens: dict[str, float] = {}  # CDN bearer token -> expiry (unix time)

    # --- CDN tokens -------------------------------------------------------------------------
    def issue_token(self) -> tuple[str, float]:
        token = secrets.token_urlsafe(24)
        expires = time.time() + TOKEN_SECONDS
        self._tokens[token] = expires
        return token, expires

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def token_valid(self, token: str) -> bool:
        expires = self._tokens.get(token)
        return expires is not None and expires > time.time()

    # --- files ------------------------------------------------------------------------------
    def register(self, path: Path, name: str, content_type: str, file_id: str | None = None) -> StoredFile:
        stored = StoredFile(file_id or uuid.uuid4().hex, name, path, content_type, path.stat().st_size)
        self._files[stored.file_id] = stored
        return stored

    def get(self, file_id: str, name: str | None = None) -> StoredFile | None:
        stored = self._files.get(file_id)
        if stored is None or (name is not None and stored.name != name):
            return None
        return stored

    def find_url(self, url: str, base_url: str) -> StoredFile | None:
        """The stored file behind one of our own URLs, if it exists."""
        prefix = base_url.rstrip("/") + "/files/"
        if not url.startswith(prefix):
            return None
        file_id, _, name = url[len(prefix) :].partition("/")
        return self.get(file_id, name.split("?", 1)[0] or None)

    async def save(self, body: AsyncIterator[bytes], name: str, content_type: str) -> StoredFile:
        file_id = uuid.uuid4().hex
        path = self._root / "uploads" / file_id
        await _write(body, path)
        return self.register(path, name, content_type, file_id)

    # --- multipart (fal CDN v3) ---------------------------------------------------------------
    def start_multipart(self, name: str, content_type: str) -> tuple[str, str]:
        """Returns (file_id, upload_id); the file exists once `complete_multipart` runs."""
        upload_id = uuid.uuid4().hex
        file_id = uuid.uuid4().hex
        self._multipart[upload_id] = _Multipart(file_id, name, content_type)
        return file_id, upload_id

    async def save_part(
        self, file_id: str, name: str, upload_id: str, number: int, body: AsyncIterator[bytes]
    ) -> str:
        upload = self._multipart_for(file_id, name, upload_id)
        if not 1 <= number <= 10_000:
            raise StorageError(400, f"part number must be between 1 and 10000; got {number}")
        path = self._root / "uploads" / f"{upload_id}.part{number}"
        digest = await _write(body, path)
        etag = f'"{digest}"'
        upload.parts[number] = (path, etag)
        return etag

    async def complete_multipart(
        self, file_id: str, name: str, upload_id: str, parts: list[dict[str, object]]
    ) -> StoredFile:
        upload = self._multipart_for(file_id, name, upload_id)
        ordered: list[Path] = []
        for part in sorted(parts, key=lambda p: int(str(p.get("partNumber", 0)))):
            number = int(str(part.get("partNumber", 0)))
            held = upload.parts.get(number)
            if held is None:
                raise StorageError(400, f"part {number} was never uploaded")
            if str(part.get("etag", "")).strip('"') != held[1].strip('"'):
                raise StorageError(400, f"part {number}: etag does not match the uploaded part")
            ordered.append(held[0])
        if not ordered:
            raise StorageError(400, "complete needs at least one part")
        path = self._root / "uploads" / upload.file_id
        await anyio.to_thread.run_sync(_concat, ordered, path)
        for held_path, _ in upload.parts.values():
            held_path.unlink(missing_ok=True)
        del self._multipart[upload_id]
        return self.register(path, upload.name, upload.content_type, upload.file_id)

    def _multipart_for(self, file_id: str, name: str, upload_id: str) -> _Multipart:
        upload = self._multipart.get(upload_id)
        if upload is None or upload.file_id != file_id or upload.name != name:
            raise StorageError(404, "multipart upload not found")
        return upload

    # --- GCS-style signed upload (fal_client's fallback) -----------------------------------
    def start_gcs(self, name: str, content_type: str) -> tuple[str, str]:
        """Returns (upload token, file URL path)."""
        token = secrets.token_urlsafe(18)
        file_id = uuid.uuid4().hex
        self._gcs[token] = (file_id, name, content_type)
        return token, f"/files/{file_id}/{name}"

    async def finish_gcs(
        self, token: str, body: AsyncIterator[bytes], content_type: str | None
    ) -> StoredFile:
        held = self._gcs.pop(token, None)
        if held is None:
            raise StorageError(404, "upload URL not found or already used")
        file_id, name, declared = held
        path = self._root / "uploads" / file_id
        await _write(body, path)
        return self.register(path, name, content_type or declared, file_id)


async def _write(body: AsyncIterator[bytes], path: Path) -> str:
    """Stream `body` into `path`; returns the MD5 hex digest (the part ETag)."""
    digest = hashlib.md5(usedforsecurity=False)
    async with await anyio.open_file(path, "wb") as f:
        async for chunk in body:
            if chunk:
                digest.update(chunk)
                await f.write(chunk)
    return digest.hexdigest()


def _concat(parts: list[Path], target: Path) -> None:
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
