"""Errors of the IoT part (subclasses of the city model's errors, so the server maps them too)."""

from __future__ import annotations

from cim.errors import FeatureNotFound


class EntityNotFound(FeatureNotFound):
    """No sensor entity (Thing, Datastream, Observation …) or alert with that id, or the caller
    may not see it."""


__all__ = ["EntityNotFound"]
