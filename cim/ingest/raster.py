"""Rasters (GeoTIFF, NetCDF DEMs) into the city as Cloud-Optimised GeoTIFFs beside the model file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from cim.ingest.report import IngestReport
from cim.ingest.source import checksum, layer_name_for
from cim.model.versions import LayerSpec, commit_layer, is_unchanged, next_version

if TYPE_CHECKING:
    from cim.city import City


def ingest_raster(
    city: City,
    path: str | Path,
    *,
    layer: str | None = None,
    source_crs: str | None = None,
    phase: str = "plan",
    classification: str = "public",
    role: str | None = None,
) -> IngestReport:
    """Convert a raster to a COG in ``<city>.data/`` and catalogue it as a layer.

    ``role="dem"`` marks an elevation model (used for base heights and terrain tiles); a raster
    whose name contains ``dem`` is taken as one.

    Example:
        >>> ingest_raster(city, "dem.tif", role="dem")  # doctest: +SKIP
    """
    from gis.crs import parse_crs, transformer
    from gis.raster import to_cog

    path = Path(path)
    name = layer or layer_name_for(path.stem)
    spec = LayerSpec(name=name, kind="raster", phase=phase, classification=classification,
                     feature_class="Raster", source=str(path),
                     checksum=checksum(path, {"source_crs": source_crs}))
    report = IngestReport(layer=name, source=str(path), kind="raster")
    if is_unchanged(city, spec, report):
        return report
    city.data_dir.mkdir(parents=True, exist_ok=True)
    version = next_version(city, name)
    target = city.data_dir / f"{name}.v{version}.tif"
    info = to_cog(path, target, source_crs=source_crs)
    try:
        src = parse_crs(info.crs)
        minx, miny, maxx, maxy = transformer(src, parse_crs(city.crs)).transform_bounds(*info.bounds)
        spec.source_crs = report.source_crs = info.crs
        spec.properties = {
            "path": target.name, "crs": info.crs, "bounds": list(info.bounds), "width": info.width,
            "height": info.height, "bands": info.count, "dtype": info.dtype, "nodata": info.nodata,
            "resolution": list(info.resolution),
            "role": role or ("dem" if "dem" in name.lower() else "image"),
        }
        footprint = _box_wkb(minx, miny, maxx, maxy)
        features = pa.table({"id": [f"{name}.coverage"], "class": ["RasterCoverage"], "geom": [footprint],
                             "name": [path.name], "cim_level": pa.array([1], pa.int8())})
        report.read = 1
        return commit_layer(city, spec, features, report)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _box_wkb(minx: float, miny: float, maxx: float, maxy: float) -> bytes:
    import shapely

    return shapely.to_wkb(shapely.box(minx, miny, maxx, maxy))
