"""Finished videos: saved into the output folder under our own names, with their previews."""
