"""Fixtures shared by every test: the real sample files and throwaway cities."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def samples_dir() -> Path:
    """``$CIM_SAMPLES`` or ``<repo>/../shared/datasets``."""
    return Path(os.environ.get("CIM_SAMPLES") or ROOT.parent / "shared" / "datasets")


def sample(relative: str) -> Path:
    """Path of a sample file; skips the test when it is absent, fails when CI=true."""
    path = samples_dir() / relative
    if not path.exists():
        message = f"sample file {path} is missing (set CIM_SAMPLES to the shared datasets folder)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


#: folders whose tests take longest in a full run (summed per-test times: the browser tests about
#: 14 min, the model's 16, the server's 8, then IoT, BIM, analysis and the tile clients about 3 each);
#: they are handed out first, so the processes finish together instead of one of them starting the
#: browser tests when the other is nearly done
LONGEST_FIRST = ("viewer", "cim", "tiles", "iot", "bim", "analysis", "clients")


def _group(item: pytest.Item) -> str:
    parts = item.path.relative_to(ROOT / "tests").parts
    return parts[0] if len(parts) > 1 else item.path.stem


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests of one folder of tests/ in one process when the suite runs in several
    (``-n``, pyproject.toml): a folder's session fixtures — demo cities, a PostgreSQL server, a
    broker — are then built once, not once per process. A test file directly in tests/ is a
    group of its own. The longest folders come first (``--no-loadscope-reorder`` keeps this order
    instead of xdist's order by number of tests)."""
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(_group(item)))
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))  # stable: each folder keeps its order


@pytest.fixture
def samples() -> Path:
    """The shared datasets folder (skip when absent, fail under CI)."""
    path = samples_dir()
    if not path.is_dir():
        sample(".")
    return path


#: the storage backends suites parametrised with ``backend`` / ``new_city`` run against
BACKENDS = ("duckdb", "postgis")


@pytest.fixture(scope="session")
def postgis_server():
    """A real PostgreSQL 15 + PostGIS 3 started in a temporary folder for this test session."""
    from cim.testing import PostgresServer, available

    why = available()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn."""
    return request.param


@pytest.fixture
def city_location(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    """A factory of fresh, unused city locations on ``backend``: a file path, or a new database's URL."""
    counter = iter(range(1_000_000))

    def make(name: str = "city") -> str | Path:
        if backend == "postgis":
            # side files (COGs, caches) of database cities go to this test's folder
            request.getfixturevalue("monkeypatch").setenv("CIM_DATA_DIR", str(tmp_path / "cim-data"))
            return request.getfixturevalue("postgis_server").database()
        return tmp_path / f"{name}{next(counter)}.duckdb"

    return make


@pytest.fixture
def new_city(city_location):
    """A factory of empty cities on ``backend`` (closed at the end of the test)."""
    import cim

    made = []

    def make(**options):
        c = cim.create(city_location(), **options)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - closed by the test already
            pass


@pytest.fixture
def city(tmp_path: Path):
    """An empty city in EPSG:4549 in a temporary folder."""
    import cim

    c = cim.create(tmp_path / "city.duckdb")
    yield c
    c.close()
