"""Errors of the BIM room: one root (`BIMError`), one class per way an input can be wrong.

Why: the city model (`cim`) maps each class to a user-facing answer (a CLI message, an HTTP
status at the server's edge) without parsing messages. Every message says what was wrong, in
which file (and GlobalId where there is one), and how to fix it.

Example:
    >>> from bim.errors import BIMError, InvalidIFC
    >>> issubclass(InvalidIFC, BIMError)
    True
"""

from __future__ import annotations

__all__ = [
    "AbsurdCoordinates",
    "BIMError",
    "InvalidCityJSON",
    "InvalidIFC",
    "NoGeometry",
    "NoGeoreference",
]


class BIMError(Exception):
    """Root of every error raised by `bim` on bad input.

    `path` names the file the error is about (None when it is not known).
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple:
        """Pickle with `path` (an error raised in a geometry worker process reaches the caller whole)."""
        return _rebuild, (type(self), str(self), self.path)


def _rebuild(cls: type[BIMError], message: str, path: str | None) -> BIMError:
    return cls(message, path=path)


class InvalidIFC(BIMError):
    """The file is not a readable IFC: 0 bytes, truncated, corrupt, unknown schema, or not IFC."""


class NoGeoreference(BIMError):
    """Nothing in the file places it on the earth and no anchor was given.

    The message lists every option, in the order `resolve_georeference` tries them.
    """


class AbsurdCoordinates(BIMError):
    """Coordinates that cannot be on the earth (e.g. eastings of 1e9 m): a unit or export error."""


class NoGeometry(BIMError):
    """The model has no element with 3D geometry, or none of them could be meshed."""


class InvalidCityJSON(BIMError):
    """The file is not a readable CityJSON / CityJSONSeq document."""
