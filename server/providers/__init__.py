"""Hosted video APIs behind one small interface.

base.py        the `Provider` interface and the neutral types it speaks (jobs, states, outputs)
_http.py       retries with backoff, error bodies, file streaming, ASCII-safe upload names
redaction.py   secrets (in every escaped or partial form) and URL passwords out of text
fal/           fal.ai: queue and status stream, storage uploads, error sentences
oxen/          Oxen.ai: schema discovery, pricing, queue, blocking call, uploads, error sentences
"""
