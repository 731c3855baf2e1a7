"""Errors raised by ``gis``: one root, two kinds a caller can act on.

Why: the CLI and the server map errors to messages and status codes in one table, so every
failure of a reader must be one of these, never a raw GDAL/pyproj/pyarrow exception. A message
says *what* is wrong, *where* (file, layer, row) and *how to fix it*.

Example:
    >>> from gis.errors import GISError, SourceError
    >>> issubclass(SourceError, GISError)
    True
"""

from __future__ import annotations

__all__ = ["GISError", "SourceError", "CRSError", "first_line"]


class GISError(Exception):
    """Root of every error raised by the ``gis`` package."""


class SourceError(GISError):
    """A source file cannot be read: missing, a directory, the wrong kind, truncated, corrupt or in
    an undeclared text encoding."""


class CRSError(GISError):
    """A coordinate reference system is missing, unknown, or contradicts the one in the source."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none), for one-line errors.

    The one helper of its kind: ``cim.errors.first_line`` is this function.
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
