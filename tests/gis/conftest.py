"""Sample-file fixtures for the gis tests.

The real files live in ``$CIM_SAMPLES`` or ``<repo>/../shared/datasets``; they are read in place,
never copied next to themselves. A missing file skips its test, except under ``CI=true``, where
it fails (CI must exercise every sample).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def samples_root() -> Path:
    """``$CIM_SAMPLES`` if set, else ``<repo>/../shared/datasets``."""
    return Path(os.environ.get("CIM_SAMPLES") or REPO.parent / "shared" / "datasets")


def missing(message: str) -> None:
    """Skip, or fail when ``CI=true``."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_sample(relative: str) -> Path:
    """Path of one sample file (e.g. ``"vector/nybb.shp"``), or skip/fail when it is absent."""
    path = samples_root() / relative
    if not path.exists():
        missing(f"sample file {path} is missing (set CIM_SAMPLES to the shared datasets folder)")
    return path


@pytest.fixture
def samples() -> Path:
    """The shared datasets folder (skips when absent, fails under CI)."""
    root = samples_root()
    if not root.is_dir():
        missing(f"sample folder {root} is missing (set CIM_SAMPLES to the shared datasets folder)")
    return root


@pytest.fixture
def require() -> Callable[[str], Path]:
    """``require("vector/nybb.shp")`` → the file's path, or skip/fail when it is absent."""
    return require_sample
