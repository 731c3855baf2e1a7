"""Ground heights from the city's DEM: the base elevation of footprints, pipes, sensors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from cim.errors import LayerNotFound, ValidationError
from cim.model.catalog import raster_layers
from gis.dem import base_elevation

if TYPE_CHECKING:
    from cim.city import City


def dem_layer(city: City, dem: str | None = None) -> dict[str, Any]:
    """The catalogue row of the DEM to use: ``dem`` by name, else the only raster with role dem."""
    if dem:
        layer = city.layer(dem)
        if layer["kind"] != "raster":
            raise ValidationError(f"layer {dem!r} is a {layer['kind']} layer, not a DEM raster")
        return layer
    names = raster_layers(city, role="dem")
    if not names:
        raise LayerNotFound(f"{city.location} has no DEM: ingest one with `cim ingest CITY dem.tif`")
    if len(names) > 1:
        raise ValidationError(f"several DEMs ({', '.join(names)}): name one with dem=")
    return city.layer(names[0])


def dem_path(city: City, dem: str | None = None) -> Path:
    """The COG file of the DEM ``dem_layer`` picks."""
    path = Path(dem_layer(city, dem)["properties"]["path"])
    return path if path.is_absolute() else city.data_dir / path


def base_elevations(city: City, layer: str, *, dem: str | None = None, stat: str = "min",
                    as_of: Any = None) -> pd.DataFrame:
    """``id`` and ``base_elevation`` (metres) of every feature of ``layer``, sampled from the DEM.

    Buildings take the lowest ground under their footprint (``stat="min"``) so that none floats on
    a slope; NaN where the DEM has no data.

    Example:
        >>> base_elevations(city, "buildings").head()  # doctest: +SKIP
    """

    path = dem_path(city, dem)
    table = city.features(layer, as_of=as_of, output="arrow").select(["id", "geom"])
    geoms = shapely.from_wkb(table.column("geom").to_numpy(zero_copy_only=False))
    values = base_elevation(path, geoms, crs=city.crs, stat=stat) if len(geoms) else np.array([])
    return pd.DataFrame({"id": table.column("id").to_pylist(), "base_elevation": values})
