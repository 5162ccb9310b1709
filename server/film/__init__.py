"""Joining finished clips into one film, locally."""
