"""The simulator's job records on disk: one small JSON file per job, written atomically, kept a week.

The engine decides what a record holds; this module only keeps the files, so a restarted server or a
second process on the same SEEDANCE_HOME can read back what an earlier one accepted.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

STATE_KEPT_SECONDS = 7 * 86_400.0  # a simulated job's record outlives any result URL a provider keeps


class SavedJobs:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        _forget_old(folder, time.time() - STATE_KEPT_SECONDS)

    def write(self, job_id: str, record: dict[str, Any]) -> None:
        path = self._file(job_id)
        if path is None:
            return
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(path)

    def read(self, job_id: str) -> dict[str, Any] | None:
        path = self._file(job_id)
        try:
            record = json.loads(path.read_text(encoding="utf-8")) if path is not None else None
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _file(self, job_id: str) -> Path | None:
        if not re.fullmatch(r"[0-9a-f-]{36}", job_id):
            return None  # not one of our uuids: never a path from a request
        return self.folder / f"{job_id}.json"


def _forget_old(folder: Path, cutoff: float) -> None:
    for path in folder.glob("*.json"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue
