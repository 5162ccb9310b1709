"""The fal.ai provider: Seedance 2.0 through fal's queue API, status stream and storage.

Wire facts are in `shared/reference/fal-queue-protocol.md`. The modules, by concern:

    provider.py    FalProvider: the `Provider` interface over the parts below
    connection.py  the client, the key and the retry policy every call shares
    queue.py       submit, status, the status stream with polling fallback, result, cancel
    states.py      fal's status objects as neutral queue states
    storage.py     uploads: fal's CDN (single and multipart) and the GCS fallback
    errors.py      fal's error answers as sentences naming what happened and what to do

The API key never appears in a sentence, a log line or a repr.
"""

from ...catalogue.endpoints import MODES
from .errors import render_detail_list
from .provider import FalProvider
from .queue import endpoint_for
from .states import parse_status

__all__ = ["MODES", "FalProvider", "endpoint_for", "parse_status", "render_detail_list"]
