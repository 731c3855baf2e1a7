"""Rasters (GeoTIFF, NetCDF DEMs, a GeoPackage's raster tables) into the city as Cloud-Optimised GeoTIFFs
beside the model file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import shapely
from pyproj.exceptions import ProjError

from cim.errors import CRSError, SourceError, ValidationError, first_line
from cim.ingest.data import ReadContext, SourceLayer, Target
from cim.ingest.options import RasterOptions
from cim.ingest.source import layer_name_for, table_not_found
from gis.crs import clip_to_area_of_use, crs_label, transformer
from gis.raster import raster_tables, to_cog

#: below this share of a raster inside the city CRS's area of use, ingest says so
_MOSTLY_OUTSIDE = 0.5


def plan_raster(path: Path, options: RasterOptions) -> list[Target]:
    """A raster fills one layer, named after the file (a GeoPackage's: after its raster table)
    unless ``layer`` names it."""
    table = _table_of(path, options.source_layer)
    return [Target(options.layer or layer_name_for(table or path.stem), table)]


def _table_of(path: Path, named: str | None) -> str | None:
    """The GeoPackage raster table to read: ``named``, or the only one; None for other files."""
    if path.suffix.lower() != ".gpkg":
        if named is not None:
            raise ValidationError(f"--source-layer names a GeoPackage's raster table; {path.name} is not a GeoPackage: "
                                  "drop --source-layer")
        return None
    tables = raster_tables(path)
    if named is not None and named not in tables:
        raise table_not_found(path, named, vector=False)
    if named is not None or len(tables) == 1:
        return named or tables[0]
    if not tables:
        raise SourceError(f"{path.name} holds no raster tables: ingest its vector layers without kind=raster")
    raise SourceError(f"{path.name} holds {len(tables)} raster tables ({', '.join(tables)}): pick one with "
                      f"--source-layer (source_layer=)")


def read_raster(path: Path, options: RasterOptions, target: Target, ctx: ReadContext) -> SourceLayer:
    """Convert a raster to a COG (in the pipeline's scratch folder) and describe it as a layer.

    The COG becomes the layer's side file: the pipeline moves it beside the city under the new
    version's name when it commits. ``role="dem"`` marks an elevation model (used for base
    heights and terrain tiles); a raster whose layer name says elevation (``elevation_role``) is taken as one.

    Example:
        >>> read_raster(Path("dem.tif"), RasterOptions(role="dem"), Target("dem"), ctx)  # doctest: +SKIP
        >>> read_raster(Path("bubenec.gpkg"), RasterOptions(source_crs="EPSG:5514"),
        ...             Target("dtm", "dtm"), ctx)  # doctest: +SKIP
    """

    name = target.layer
    source = path.name if target.part is None else f"{path.name}:{target.part}"
    ctx.progress(f"{name}: converting {source} to a Cloud-Optimised GeoTIFF", 0.05)
    cog = ctx.scratch() / f"{name}.tif"
    info = to_cog(path, cog, source_crs=options.source_crs, table=target.part)
    out = SourceLayer(target, kind="raster", feature_class="Raster", source_crs=info.crs, read=1)
    minx, miny, maxx, maxy = _coverage(name, info.bounds, info.crs, ctx.city_crs, out.notes)
    out.properties = {
        "path": cog.name, "crs": info.crs, "bounds": list(info.bounds), "width": info.width,
        "height": info.height, "bands": info.count, "dtype": info.dtype, "nodata": info.nodata,
        "resolution": list(info.resolution),
        "role": options.role or elevation_role(name),
    }
    if options.role is None and out.properties["role"] == "dem":
        out.notes.append(f"{name}: taken as the elevation model (DEM) from its name; --role image if it is not")
    out.side_files = {"path": cog}
    out.features = pa.table({"id": [f"{name}.coverage"], "class": ["RasterCoverage"],
                             "geom": [_box_wkb(minx, miny, maxx, maxy)], "name": [source],
                             "cim_level": pa.array([1], pa.int8())})
    return out


#: words in a layer name that mark an elevation model: DEM, DTM (terrain), SRTM, elevation, 高程, 地形
_ELEVATION_WORDS = ("dem", "dtm", "srtm", "elevation", "terrain", "高程", "地形")


def elevation_role(layer: str) -> str:
    """``dem`` when the layer's name says it holds elevations, else ``image``.

    Example:
        >>> elevation_role("city_dem"), elevation_role("dtm"), elevation_role("高程_2m"), elevation_role("ortho")
        ('dem', 'dem', 'dem', 'image')
    """
    lowered = layer.lower()
    return "dem" if any(word in lowered for word in _ELEVATION_WORDS) else "image"


def _coverage(name: str, bounds: tuple[float, float, float, float], crs: str, city_crs: str,
              notes: list[str]) -> tuple[float, float, float, float]:
    """The raster's coverage box in the city CRS, cut to the area that CRS is made for.

    A raster wholly inside keeps its own box, transformed; one wholly outside too, with a note saying so.

    A national DEM taken into a city's 3-degree zone would otherwise cover a box thousands of
    kilometres wide whose corners the projection distorts beyond use; the file itself keeps every
    cell (its own lon/lat extent stays in the catalogue).
    """
    try:
        lonlat, share = clip_to_area_of_use(bounds, crs, city_crs)
    except ProjError as exc:
        raise CRSError(f"{name}: PROJ cannot transform the raster's CRS {crs_label(crs)} to the city CRS "
                       f"{crs_label(city_crs)} ({first_line(exc)}): state the CRS it is in with --source-crs") from exc
    if lonlat is None:
        notes.append(f"{name}: the raster lies wholly outside the area {crs_label(city_crs)} is made for; it is "
                     f"served as it is, but its coverage in the city is distorted: check its CRS (--source-crs) "
                     f"or keep it in a city whose CRS covers it")
        return transformer(crs, city_crs).transform_bounds(*bounds)
    if share >= 1.0:  # wholly inside: the raster's own box, not its lon/lat box taken back (wider)
        return transformer(crs, city_crs).transform_bounds(*bounds)
    kept = f"{share:.0%}" if share >= 0.01 else "under 1 %"
    level = "only " if share < _MOSTLY_OUTSIDE else ""
    notes.append(f"{name}: {level}{kept} of the raster lies inside the area {crs_label(city_crs)} is made for "
                 f"(lon {lonlat[0]:.1f}–{lonlat[2]:.1f}, lat {lonlat[1]:.1f}–{lonlat[3]:.1f}); its coverage "
                 f"in the city is clipped to that area, the file keeps every cell")
    return transformer("EPSG:4326", city_crs).transform_bounds(*lonlat)


def _box_wkb(minx: float, miny: float, maxx: float, maxy: float) -> bytes:
    return shapely.to_wkb(shapely.box(minx, miny, maxx, maxy))
