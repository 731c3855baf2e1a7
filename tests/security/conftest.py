"""The hostile-input corpus reuses the server tests' demo city and its copies on each backend."""

from tests.tiles.conftest import demo_copy, demo_path, postgis_demo, served_backend  # noqa: F401 - fixtures
