"""One module per interface; each exposes ``router``."""
