"""Rasters (GeoTIFF, NetCDF DEMs) into the city as Cloud-Optimised GeoTIFFs beside the model file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import shapely

from cim.ingest.data import ReadContext, SourceLayer, Target
from cim.ingest.options import RasterOptions
from cim.ingest.source import layer_name_for
from gis.crs import clip_to_area_of_use, crs_label, transformer
from gis.raster import to_cog

#: below this share of a raster inside the city CRS's area of use, ingest says so
_MOSTLY_OUTSIDE = 0.5


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

    name = target.layer
    ctx.progress(f"{name}: converting {path.name} to a Cloud-Optimised GeoTIFF", 0.05)
    cog = ctx.scratch() / f"{name}.tif"
    info = to_cog(path, cog, source_crs=options.source_crs)
    out = SourceLayer(target, kind="raster", feature_class="Raster", source_crs=info.crs, read=1)
    minx, miny, maxx, maxy = _coverage(name, info.bounds, info.crs, ctx.city_crs, out.notes)
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


def _coverage(name: str, bounds: tuple[float, float, float, float], crs: str, city_crs: str,
              notes: list[str]) -> tuple[float, float, float, float]:
    """The raster's coverage box in the city CRS, cut to the area that CRS is made for.

    A raster wholly outside that area keeps its plain transformed box, with a note saying so.

    A national DEM taken into a city's 3-degree zone would otherwise cover a box thousands of
    kilometres wide whose corners the projection distorts beyond use; the file itself keeps every
    cell (its own lon/lat extent stays in the catalogue).
    """
    lonlat, share = clip_to_area_of_use(bounds, crs, city_crs)
    if lonlat is None:
        notes.append(f"{name}: the raster lies wholly outside the area {crs_label(city_crs)} is made for; it is "
                     f"served as it is, but its coverage in the city is distorted: check its CRS (--source-crs) "
                     f"or keep it in a city whose CRS covers it")
        return transformer(crs, city_crs).transform_bounds(*bounds)
    if share < 1.0:
        kept = f"{share:.0%}" if share >= 0.01 else "under 1 %"
        level = "only " if share < _MOSTLY_OUTSIDE else ""
        notes.append(f"{name}: {level}{kept} of the raster lies inside the area {crs_label(city_crs)} is made for "
                     f"(lon {lonlat[0]:.1f}–{lonlat[2]:.1f}, lat {lonlat[1]:.1f}–{lonlat[3]:.1f}); its coverage "
                     f"in the city is clipped to that area, the file keeps every cell")
    return transformer("EPSG:4326", city_crs).transform_bounds(*lonlat)


def _box_wkb(minx: float, miny: float, maxx: float, maxy: float) -> bytes:
    return shapely.to_wkb(shapely.box(minx, miny, maxx, maxy))
