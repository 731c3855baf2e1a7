"""Pieces every analysis shares: typed property columns in SQL, the DEM, layer checks, outputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cim.errors import LayerNotFound, QueryError, ValidationError
from cim.model.reads import to_output
from cim.terrain import dem_path as terrain_dem_path
from gis.crs import parse_crs, transformer

if TYPE_CHECKING:
    from cim.analysis.inputs import Input
    from cim.city import City

OUTPUTS = ("geopandas", "arrow", "pandas")


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def require_layer(city: City, name: str, *, purpose: str) -> dict[str, Any]:
    """The layer's catalogue row, or LayerNotFound that says which analysis needed it."""
    try:
        return city.layer(name)
    except LayerNotFound as exc:
        raise LayerNotFound(f"{purpose} needs a layer {name!r}: {exc}") from exc


def has_layer(city: City, name: str) -> bool:
    """True when the city has a layer of that name."""
    return bool(city.store.scalar("SELECT count(*) FROM layers WHERE name = ?", [name]))


def source_frame(city: City, source: Input, bbox: tuple[float, float, float, float] | None = None,
                 columns: str = "id, layer, class, name, height, z_min, z_max") -> Any:
    """An input's current features (within ``bbox``, city CRS) as a GeoDataFrame."""
    where = None
    if bbox is not None:
        where = "ST_Intersects(geom, ST_MakeEnvelope({}, {}, {}, {}))".format(*(float(v) for v in bbox))
    table = city.store.arrow(source.relation(f"{columns}, geom", where=where) + " ORDER BY id")
    return deliver(table, city, "geopandas")


def check_output(output: str) -> str:
    """The output kind, or a QueryError naming the allowed ones."""
    if output not in OUTPUTS:
        raise QueryError(f"unknown output {output!r}: use one of {', '.join(OUTPUTS)}")
    return output


def deliver(table: pa.Table, city: City, output: str) -> Any:
    """An Arrow table (geometry WKB in ``geom``) as the caller asked: arrow, pandas or geopandas."""

    return to_output(table, city.crs, check_output(output))


def dem_path(city: City, layer: str | None = None) -> Path:
    """The DEM raster of the city (the raster layer whose role is ``dem``, or ``layer``)."""

    return terrain_dem_path(city, layer)


def city_lonlat(city: City) -> tuple[float, float]:
    """Longitude and latitude of the centre of the city's extent (from the layer catalogue)."""
    row = city.store.rows("SELECT min(minx), min(miny), max(maxx), max(maxy) FROM layers WHERE kind <> 'raster'")
    if not row or row[0][0] is None:
        raise ValidationError(f"{city.location} has no vector layers, so it has no position on Earth yet")
    minx, miny, maxx, maxy = row[0]

    lon, lat = transformer(parse_crs(city.crs), parse_crs("EPSG:4326")).transform((minx + maxx) / 2,
                                                                                  (miny + maxy) / 2)
    return float(lon), float(lat)


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity (in nested dicts and lists too) as None, so that
    ``json.dumps(..., allow_nan=False)`` writes strict JSON (``null``, never ``NaN``)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def positive(value: float, what: str, hint: str) -> float:
    """A finite positive number, or a ValidationError that says what and how to fix it."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be a number, not {value!r}: {hint}") from exc
    if not np.isfinite(number) or number <= 0:
        raise ValidationError(f"{what} must be a positive number, not {value!r}: {hint}")
    return number
