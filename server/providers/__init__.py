"""Hosted video APIs behind one small interface (see `base`)."""
