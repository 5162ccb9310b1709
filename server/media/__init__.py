"""Media files and URLs: what they really are, read safely, and the frames a next shot starts on."""
