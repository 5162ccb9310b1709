"""Serving over HTTP: the streamable transport, fal's completion webhooks and team wiring."""
