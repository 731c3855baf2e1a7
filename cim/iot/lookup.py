"""Resolve what callers name datastreams by (a numeric id or a key) into ids, units and properties."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cim.errors import QueryError

if TYPE_CHECKING:
    from cim.city import City


@dataclass
class Datastreams:
    """Every datastream's id, key and unit, loaded once per batch or file."""

    by_key: dict[str, int]
    unit: dict[int, str]

    def resolve(self, ref: Any) -> int | None:
        """The id for an id (int or digits) or key; None when there is no such datastream."""
        if isinstance(ref, bool):
            return None
        if isinstance(ref, int):
            return ref if ref in self.unit else None
        text = str(ref).strip()
        if text in self.by_key:
            return self.by_key[text]
        if text.isdigit() and int(text) in self.unit:
            return int(text)
        return None


def load_datastreams(city: City) -> Datastreams:
    """Ids, keys and units of all datastreams of the city."""
    rows = city.store.rows("SELECT id, key, unit FROM iot_datastreams")
    return Datastreams({k: i for i, k, _u in rows if k is not None}, {i: u for i, _k, u in rows})


def datastream_id(city: City, ref: Any, *, where: str = "") -> int:
    """The id of a datastream named by id or key; QueryError when it does not exist."""
    found = load_datastreams(city).resolve(ref)
    if found is None:
        prefix = f"{where}: " if where else ""
        raise QueryError(f"{prefix}no datastream {ref!r}: give an id or key (`cim iot datastreams CITY` lists them)")
    return found
