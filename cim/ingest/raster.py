"""Rasters (GeoTIFF, NetCDF DEMs) into the city as Cloud-Optimised GeoTIFFs beside the model file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from cim.ingest.data import ReadContext, SourceLayer, Target
from cim.ingest.options import RasterOptions
from cim.ingest.source import layer_name_for


def plan_raster(path: Path, options: RasterOptions) -> list[Target]:
    """A raster fills one layer, named after the file unless ``layer`` names it."""
    return [Target(options.layer or layer_name_for(path.stem))]


def read_raster(path: Path, options: RasterOptions, target: Target, ctx: ReadContext) -> SourceLayer:
    """Convert a raster to a COG (in the pipeline's scratch folder) and describe it as a layer.

    The COG becomes the layer's side file: the pipeline moves it beside the city under the new
    version's name when it commits. ``role="dem"`` marks an elevation model (used for base
    heights and terrain tiles); a raster whose layer name contains ``dem`` is taken as one.

    Example:
        >>> read_raster(Path("dem.tif"), RasterOptions(role="dem"), Target("dem"), ctx)  # doctest: +SKIP
    """
    from gis.crs import parse_crs, transformer
    from gis.raster import to_cog

    name = target.layer
    ctx.progress(f"{name}: converting {path.name} to a Cloud-Optimised GeoTIFF", 0.05)
    cog = ctx.scratch() / f"{name}.tif"
    info = to_cog(path, cog, source_crs=options.source_crs)
    minx, miny, maxx, maxy = transformer(parse_crs(info.crs), parse_crs(ctx.city_crs)).transform_bounds(*info.bounds)
    out = SourceLayer(target, kind="raster", feature_class="Raster", source_crs=info.crs, read=1)
    out.properties = {
        "path": cog.name, "crs": info.crs, "bounds": list(info.bounds), "width": info.width,
        "height": info.height, "bands": info.count, "dtype": info.dtype, "nodata": info.nodata,
        "resolution": list(info.resolution),
        "role": options.role or ("dem" if "dem" in name.lower() else "image"),
    }
    out.side_files = {"path": cog}
    out.features = pa.table({"id": [f"{name}.coverage"], "class": ["RasterCoverage"],
                             "geom": [_box_wkb(minx, miny, maxx, maxy)], "name": [path.name],
                             "cim_level": pa.array([1], pa.int8())})
    return out


def _box_wkb(minx: float, miny: float, maxx: float, maxy: float) -> bytes:
    import shapely

    return shapely.to_wkb(shapely.box(minx, miny, maxx, maxy))
