"""The docstring examples of gis run (those that need a real file are marked +SKIP)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["gis", "gis.errors", "gis.crs", "gis.geometry", "gis.vector", "gis.raster", "gis.dem",
           "gis._sources", "gis._shapefile", "gis._tables", "gis._wkb"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
