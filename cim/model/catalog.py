"""The layer catalogue as a role sees it: what layers there are, their shape and extent.

Servers ask for this on every request, so it is cached per *model version*: a token that changes
whenever any layer is added, replaced or removed (``model_version``). The same token keys tile
caches and ETags.

Example:
    >>> [info.name for info in visible_layers(city, "anonymous")]   # doctest: +SKIP
    ['blocks', 'buildings', 'dem', ...]
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from cim.access import View, view_of
from cim.errors import LayerNotFound
from cim.model.profile import LayerProfile
from cim.model.relations import features
from gis.crs import transformer

T = TypeVar("T")

if TYPE_CHECKING:
    from cim.city import City
    from cim.store.base import Store

_GEOMETRY_KINDS = {"POINT": "point", "MULTIPOINT": "point", "LINESTRING": "line", "MULTILINESTRING": "line",
                   "POLYGON": "polygon", "MULTIPOLYGON": "polygon"}


@dataclass(frozen=True)
class LayerInfo:
    """One layer of the catalogue; ``bbox`` is in the city CRS, ``bbox_4326`` in lon/lat."""

    name: str
    kind: str
    phase: str
    classification: str
    feature_class: str | None
    count: int
    version: int
    bbox: tuple[float, float, float, float] | None
    bbox_4326: tuple[float, float, float, float] | None
    fields: list[dict[str, str]]
    properties: dict[str, Any]
    geometry_type: str | None
    updated_at: str
    view: View = "full"
    field_names: frozenset[str] = field(default=frozenset(), compare=False)
    #: what the layer is: class, name/height/floors/zoning fields (see ``cim.model.profile``)
    profile: LayerProfile | None = None

    @property
    def is_vector(self) -> bool:
        """True when the layer has features with 2D geometry (tiles, items)."""
        return self.kind != "raster"


def store_cache(store: Store, name: str) -> dict[Any, Any]:
    """A cache named ``name`` that lives and dies with ``store``.

    Why not a module dict keyed by ``id(store)``: once a store is closed and freed, a new store
    can get the same ``id`` — and with it the old city's layers, token or figures.
    """
    with _PER_STORE_LOCK:
        return _PER_STORE.setdefault(store, {}).setdefault(name, {})


_PER_STORE: weakref.WeakKeyDictionary[Any, dict[str, dict[Any, Any]]] = weakref.WeakKeyDictionary()
_PER_STORE_LOCK = threading.Lock()


def per_version(city: City, name: str, key: Hashable, compute: Callable[[], T], *, keep: int = 1) -> T:
    """``compute()``, once per model version and ``key``, kept in the store's cache ``name``; at
    most ``keep`` answers are kept (all are dropped when it is full)."""
    cache = store_cache(city.store, name)
    full = (model_version(city), key)
    with _PER_STORE_LOCK:
        if full in cache:
            return cache[full]
    value = compute()
    with _PER_STORE_LOCK:
        if len(cache) >= keep:
            cache.clear()
        cache[full] = value
    return value


def model_version(city: City) -> str:
    """A short token that changes whenever any layer changes (for caches and ETags).

    With a store that counts its writes (a ``generation`` attribute: ``ThreadedStore``, or a
    server's watcher over a database other processes write too) the token is re-read only after
    the count changes; otherwise on every call.
    """
    generation = getattr(city.store, "generation", None)
    if generation is None:
        return read_model_version(city.store)
    tokens = store_cache(city.store, "model_version")
    cached = tokens.get("token")
    if cached is not None and cached[0] == generation:
        return cached[1]
    token = read_model_version(city.store)
    tokens["token"] = (generation, token)
    return token


def read_model_version(store: Store) -> str:
    """The model version token read from the store now (one small query, no cache)."""
    row = store.rows(
        "SELECT count(*), coalesce(sum(version), 0), coalesce(max(epoch_us(updated_at)), 0) FROM layers")[0]
    return f"{row[0]}-{row[1]}-{row[2]}"


def all_layers(city: City) -> dict[str, LayerInfo]:
    """Every layer, name → LayerInfo (full view), cached until the model version changes."""
    return per_version(city, "layers", None, lambda: _load(city))


def class_census(city: City) -> dict[str, dict[tuple[str, int], int]]:
    """Per layer, how many current features of each (class, geometry dimension) it holds.

    Why: what a layer *is* is told by its features, not its name — a CityJSON layer mixes
    buildings, roads and plant cover; analyses find their inputs by class. One grouped scan,
    cached until the model version changes. Dimension: 0 points, 1 lines, 2 polygons, -1 none.
    """
    return per_version(city, "class_census", None, lambda: _census(city))


def _census(city: City) -> dict[str, dict[tuple[str, int], int]]:
    rows = city.store.rows(features(columns="layer, class, coalesce(ST_Dimension(geom), -1) AS dim, count(*) AS n")
                           + " GROUP BY layer, class, dim")
    census: dict[str, dict[tuple[str, int], int]] = {}
    for layer, cls, dim, n in rows:
        census.setdefault(layer, {})[(cls, int(dim))] = int(n)
    return census


def visible_layers(city: City, role: str) -> list[LayerInfo]:
    """The layers ``role`` may see, each with its view ("full" or "coarse"), by name."""
    out = []
    for info in all_layers(city).values():
        view = view_of(info.classification, role)
        if view is not None:
            out.append(_with_view(info, view))
    return out


def layer_info(city: City, name: str, role: str) -> LayerInfo:
    """One layer as ``role`` sees it; a hidden layer is reported exactly like a missing one."""
    info = all_layers(city).get(name)
    view = view_of(info.classification, role) if info else None
    if info is None or view is None:
        raise LayerNotFound(f"no layer {name!r}; GET /collections lists the layers you may see")
    return _with_view(info, view)


def _with_view(info: LayerInfo, view: View) -> LayerInfo:
    if info.view == view:
        return info
    from dataclasses import replace

    return replace(info, view=view)


def _load(city: City) -> dict[str, LayerInfo]:
    rows = city.store.arrow(
        "SELECT name, kind, phase, classification, feature_class, feature_count, version, minx, miny, maxx, "
        "maxy, fields, properties, CAST(updated_at AS VARCHAR) AS updated_at FROM layers ORDER BY name"
    ).to_pylist()
    types = {r["name"]: _geometry_type(city, r["name"]) for r in rows if r["kind"] != "raster"}
    out = {}
    for r in rows:
        bbox = (r["minx"], r["miny"], r["maxx"], r["maxy"])
        bbox = bbox if None not in bbox else None
        fields = _json(r["fields"], [])
        out[r["name"]] = LayerInfo(
            name=r["name"], kind=r["kind"], phase=r["phase"], classification=r["classification"],
            feature_class=r["feature_class"], count=int(r["feature_count"]), version=int(r["version"]),
            bbox=bbox, bbox_4326=_raster_4326(_json(r["properties"], {})) if r["kind"] == "raster"
            else _to_4326(city.crs, bbox), fields=fields,
            properties=_json(r["properties"], {}),
            geometry_type=_GEOMETRY_KINDS.get(str(types.get(r["name"]) or "").upper()),
            updated_at=r["updated_at"], field_names=frozenset(f["name"] for f in fields),
            profile=LayerProfile.from_json(_json(r["properties"], {}).get("profile")))
    return out


def raster_layers(city: City, *, role: str | None = None) -> list[str]:
    """Names of the raster layers (of one ``role``: ``dem``, ``image``), by name."""
    rows = city.store.rows("SELECT name, properties FROM layers WHERE kind = 'raster' ORDER BY name")
    return [name for name, props in rows if role is None or _json(props, {}).get("role") == role]


def catalogue(store: Store) -> pa.Table:
    """The layer catalogue: one row per layer with kind, phase, classification, counts, bbox."""
    return store.arrow(
        "SELECT name, kind, phase, classification, feature_class, feature_count, version, "
        "source, source_crs, minx, miny, maxx, maxy, updated_at FROM layers ORDER BY name")


def layer_row(store: Store, name: str) -> dict[str, Any]:
    """One layer's catalogue row (JSON columns parsed), with its ``profile`` (what the layer is, a
    ``LayerProfile``, or None); ``LayerNotFound`` lists the layers there are."""
    table = store.arrow("SELECT * FROM layers WHERE name = ?", [name])
    if table.num_rows == 0:
        names = layer_names(store)
        hint = f"layers are: {', '.join(names)}" if names else "the city has no layers yet"
        raise LayerNotFound(f"no layer {name!r} in {store.location}; {hint}")
    row = table.to_pylist()[0]
    for key in ("fields", "properties"):
        row[key] = _json(row.get(key), [] if key == "fields" else {})
    row["profile"] = LayerProfile.from_json(row["properties"].get("profile"))
    return row


def layer_names(store: Store) -> list[str]:
    """Every layer's name, sorted."""
    return [r[0] for r in store.rows("SELECT name FROM layers ORDER BY name")]


def _geometry_type(city: City, layer: str) -> str | None:
    """The geometry type of a layer's first current feature (one short scan, not a full GROUP BY)."""
    row = city.store.rows(features(layers=[layer], columns="ST_GeometryType(geom)::VARCHAR", with_geometry=True)
                          + " LIMIT 1")
    return row[0][0] if row else None


def _json(value: Any, default: Any) -> Any:
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str) else value


def _to_4326(crs: str, bbox: tuple[float, ...] | None) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None

    w, s, e, n = transformer(crs, "EPSG:4326").transform_bounds(*bbox)
    return (round(w, 7), round(s, 7), round(e, 7), round(n, 7))


def _raster_4326(props: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """A raster's true lon/lat extent, from its own bounds and CRS (a national DEM moved into a city's
    Gauss–Krüger zone and back would come out thousands of kilometres wide)."""
    if props.get("bounds") is None or not props.get("crs"):
        return None

    w, s, e, n = transformer(props["crs"], "EPSG:4326").transform_bounds(*props["bounds"])
    return (round(w, 7), round(s, 7), round(e, 7), round(n, 7))


def etag_for(*parts: object) -> str:
    """A strong ETag from the model version and whatever else varies the response."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


__all__ = ["LayerInfo", "class_census", "catalogue", "layer_row", "layer_names", "raster_layers", "model_version",
           "read_model_version", "store_cache", "per_version", "all_layers", "visible_layers", "layer_info", "etag_for"]
