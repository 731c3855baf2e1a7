"""Domain errors of the city model.

Every error says what was wrong, where, and how to fix it. The CLI prints the message on one line;
the server maps each class to an HTTP status in one table (``tiles/errors.py``).

The readers (``gis``, ``bim``) have error hierarchies of their own, since they import nothing of
``cim``. ``reader_errors()`` maps each of their classes to one ``cim`` class, by class, and
``domain_errors`` applies it where callers meet the model (``cim.create``, ``cim.open``, every
``City`` method), so ``except cim.CIMError`` catches a bad CRS or a truncated IFC alike, with the
reader's own message.

Example:
    >>> from gis.errors import CRSError as ReaderCRSError
    >>> type(to_domain(ReaderCRSError("unknown CRS 'bogus'"))).__name__
    'CRSError'
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from bim import errors as bim
from gis import errors as gis
from gis.errors import first_line


class CIMError(Exception):
    """Root of every error the city model raises on purpose."""


class CityNotFound(CIMError):
    """The city file or URL does not exist."""


class CityExists(CIMError):
    """``create`` was asked to make a city where one already is."""


class SchemaTooNew(CIMError):
    """The city was written by a newer version of cim."""


class LayerNotFound(CIMError):
    """No layer of that name in the city."""


class FeatureNotFound(CIMError):
    """No feature with that id."""


class CRSError(CIMError):
    """A CRS is missing, unknown, or mismatched."""


class SourceError(CIMError):
    """A source file cannot be read: missing, wrong kind, truncated, badly encoded."""


class GeoreferenceError(SourceError):
    """A model cannot be placed on the earth: no georeferencing, or coordinates that cannot be real."""


class ValidationError(CIMError):
    """Input values are out of range or inconsistent."""


class QueryError(CIMError):
    """A query is malformed or refers to something that does not exist."""


class PermissionDenied(CIMError):
    """The caller's role may not do this."""


class QueryTimeout(CIMError):
    """A query ran past its time limit and was stopped (``cim.store.timeout``); narrow it or retry."""

    def __init__(self, message: str, *, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


__all__ = [
    "first_line",
    "CIMError",
    "CityNotFound",
    "CityExists",
    "SchemaTooNew",
    "LayerNotFound",
    "FeatureNotFound",
    "CRSError",
    "SourceError",
    "GeoreferenceError",
    "ValidationError",
    "QueryError",
    "PermissionDenied",
    "QueryTimeout",
    "reader_errors",
    "to_domain",
    "domain_errors",
]


@functools.cache
def reader_errors() -> dict[type[Exception], type[CIMError]]:
    """The table: every error class of ``gis`` and ``bim`` → the ``cim`` class it becomes.

    Built on first use, so importing ``cim`` does not import the readers.
    """

    return {
        gis.GISError: SourceError,
        gis.SourceError: SourceError,
        gis.CRSError: CRSError,
        bim.BIMError: SourceError,
        bim.InvalidIFC: SourceError,
        bim.InvalidCityJSON: SourceError,
        bim.NoGeometry: SourceError,
        bim.NoGeoreference: GeoreferenceError,
        bim.AbsurdCoordinates: GeoreferenceError,
    }


_READER_MODULES = ("gis.errors", "bim.errors")


def to_domain(exc: BaseException) -> BaseException:
    """The ``cim`` error a reader's error becomes (same message, by its class); others unchanged."""
    if isinstance(exc, CIMError) or not any(m in sys.modules for m in _READER_MODULES):
        return exc  # a reader's error class exists only once its module is imported
    table = reader_errors()
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls](str(exc))
    return exc


F = TypeVar("F", bound=Callable[..., Any])


def domain_errors(function: F) -> F:
    """Decorate a public entry point of the model so reader errors leave it as ``cim`` errors."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            mapped = to_domain(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    return wrapper  # type: ignore[return-value]



