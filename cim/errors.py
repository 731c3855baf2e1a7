"""Domain errors of the city model.

Every error says what was wrong, where, and how to fix it. The CLI prints the message on one line;
the server maps each class to an HTTP status in one table (``tiles/errors.py``).
"""

from __future__ import annotations


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


class ValidationError(CIMError):
    """Input values are out of range or inconsistent."""


class QueryError(CIMError):
    """A query is malformed or refers to something that does not exist."""


class PermissionDenied(CIMError):
    """The caller's role may not do this."""


__all__ = [
    "CIMError",
    "CityNotFound",
    "CityExists",
    "SchemaTooNew",
    "LayerNotFound",
    "FeatureNotFound",
    "CRSError",
    "SourceError",
    "ValidationError",
    "QueryError",
    "PermissionDenied",
]


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
