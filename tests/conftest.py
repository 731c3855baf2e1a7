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


@pytest.fixture
def samples() -> Path:
    """The shared datasets folder (skip when absent, fail under CI)."""
    path = samples_dir()
    if not path.is_dir():
        sample(".")
    return path


@pytest.fixture
def city(tmp_path: Path):
    """An empty city in EPSG:4549 in a temporary folder."""
    import cim

    c = cim.create(tmp_path / "city.duckdb")
    yield c
    c.close()
