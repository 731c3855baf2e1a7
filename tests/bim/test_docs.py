"""Docstring examples of the bim modules run (the ones that need a sample file are marked SKIP)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["bim", "bim.errors", "bim.cim_levels", "bim.georef", "bim.reader", "bim.geometry", "bim.gltf",
           "bim.ifc_model", "bim.generate", "bim.cityjson", "bim._compat"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
