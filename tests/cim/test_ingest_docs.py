"""The docstring examples of the ingest modules and the error table run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["cim.errors", "cim.ingest.options", "cim.model.profile", "cim.ingest.profiles"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
