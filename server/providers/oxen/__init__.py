"""The Oxen.ai provider: Seedance 2.0 through Oxen's inference queue (and its blocking endpoint).

Wire facts are in `shared/reference/oxen-api.md`. The modules, by concern:

    provider.py    OxenProvider: the `Provider` interface over the parts below
    connection.py  the client, the key (sent to the Oxen host only) and the retry policy
    schema.py      model discovery (the live request schema) and the seeds' parameters translated into it
    pricing.py     a model's per-second price from its pricing object
    queue.py       enqueue, poll, result and cancel of queued generations
    blocking.py    the blocking generate endpoint, sent by `watch` so a tool call is never held
    storage.py     local inputs as data URIs or files in an Oxen repository (or fal storage)
    errors.py      Oxen's two error shapes as sentences, with the fixes for the documented messages

The API key never appears in a sentence, a log line or a repr.
"""

from .errors import parse_error
from .pricing import OxenPrice
from .provider import OxenProvider
from .schema import SEED_PROPERTIES, ModelInfo, model_for, translate

__all__ = [
    "SEED_PROPERTIES",
    "ModelInfo",
    "OxenPrice",
    "OxenProvider",
    "model_for",
    "parse_error",
    "translate",
]
