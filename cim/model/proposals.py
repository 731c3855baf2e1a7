"""Planning proposals kept beside the city: the ``proposals`` and ``proposal_buildings`` tables (0008).

Why here: these are tables of the schema, so their SQL lives in the model layer. A proposal's
buildings are never written into ``features``: the city's layers, versions and history stay as they
were; the analyses read a proposal as candidate buildings next to the city's own
(``cim.analysis.proposals``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cim.errors import FeatureNotFound, ValidationError
from cim.model.history import current_actor

if TYPE_CHECKING:
    from cim.city import City

#: the columns of a proposal's buildings as the analyses take candidates (``wkb`` in the city CRS)
BUILDING_COLUMNS = ("id", "wkb", "height", "floors", "use", "name")


class ProposalExists(ValidationError):
    """A proposal of that name is there already."""


class ProposalNotFound(FeatureNotFound):
    """No proposal of that name."""


def save_proposal(city: City, name: str, *, kind: str, source: str, parcel: str | None, note: str | None,
                  buildings: pa.Table, replace: bool = False) -> None:
    """Keep a proposal and its buildings (``BUILDING_COLUMNS``) in one transaction."""
    store = city.store
    with store.transaction():
        if store.scalar("SELECT count(*) FROM proposals WHERE name = ?", [name]):
            if not replace:
                raise ProposalExists(f"a proposal {name!r} exists already: drop it first, or give --replace")
            _delete(city, name)
        store.execute("INSERT INTO proposals VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      [name, kind, source, parcel, note, buildings.num_rows, current_actor(), datetime.now(UTC)])
        n = buildings.num_rows
        store.insert_arrow("proposal_buildings", pa.table({
            "proposal": [name] * n, "id": buildings["id"], "name": buildings["name"],
            "geom": buildings["wkb"], "height": buildings["height"].cast(pa.float64()),
            "floors": buildings["floors"].cast(pa.float64()), "use": buildings["use"]}), geometry=["geom"])


def list_proposals(city: City) -> list[dict[str, Any]]:
    """Every proposal (name, kind, source, parcel, note, buildings, actor, created_at), by name."""
    if not city.store.has_table("proposals"):
        return []
    rows = city.store.arrow("SELECT name, kind, source, parcel, note, buildings, actor, created_at FROM proposals "
                            "ORDER BY name").to_pylist()
    for row in rows:
        row["created_at"] = row["created_at"].isoformat() if row["created_at"] else None
    return rows


def proposal(city: City, name: str) -> dict[str, Any]:
    """One proposal's row; ProposalNotFound names the proposals there are."""
    found = [p for p in list_proposals(city) if p["name"] == name]
    if not found:
        names = [p["name"] for p in list_proposals(city)]
        raise ProposalNotFound(f"no proposal {name!r}: the city has {', '.join(names) if names else 'none'} "
                               "(add one with `cim proposal add CITY NAME FILE`)")
    return found[0]


def proposal_buildings(city: City, name: str) -> pa.Table:
    """A proposal's buildings as candidates (``BUILDING_COLUMNS``)."""
    proposal(city, name)
    return city.store.arrow("SELECT id, ST_AsWKB(geom) AS wkb, height, floors, use, name FROM proposal_buildings "
                            "WHERE proposal = ? ORDER BY id", [name])


def drop_proposal(city: City, name: str) -> None:
    """Forget a proposal and its buildings."""
    proposal(city, name)
    with city.store.transaction():
        _delete(city, name)


def _delete(city: City, name: str) -> None:
    city.store.execute("DELETE FROM proposal_buildings WHERE proposal = ?", [name])
    city.store.execute("DELETE FROM proposals WHERE name = ?", [name])


__all__ = ["BUILDING_COLUMNS", "ProposalExists", "ProposalNotFound", "save_proposal", "list_proposals", "proposal",
           "proposal_buildings", "drop_proposal"]
