"""Rasters (GeoTIFF, NetCDF, any GDAL raster) into Cloud-Optimised GeoTIFFs.

Why: the tile server reads DEMs and orthophotos by HTTP range or memory map, which is only fast
for a COG (tiled, compressed, internal overviews, header first). Conversion is where a raster's
CRS and nodata are pinned down: a NetCDF grid without a CRS is refused unless the caller states
one, and a NetCDF fill value becomes the GeoTIFF nodata.

Example:
    >>> info = to_cog("china_dem.nc", "dem.tif", source_crs="EPSG:4326")  # doctest: +SKIP
    >>> info.is_cog, info.crs, info.nodata  # doctest: +SKIP
    (True, 'EPSG:4326', 9.969209968386869e+36)
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from gis._sources import check_file, describe_content, truncated
from gis.crs import crs_label, parse_crs, same_crs
from gis.errors import CRSError, GISError, SourceError, first_line

__all__ = ["RasterInfo", "raster_info", "raster_tables", "to_cog"]

_BLOCK = 512


@dataclass
class RasterInfo:
    """What a raster is: ``crs`` is a label ("EPSG:32618") or ``None``; ``bounds`` are in that CRS."""

    path: Path
    crs: str | None
    bounds: tuple[float, float, float, float]
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    resolution: tuple[float, float]
    is_cog: bool


def _rasterio() -> ModuleType:
    try:
        import rasterio
        import rio_cogeo  # noqa: F401 - checked here so the hint covers both
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise GISError("raster support needs rasterio and rio-cogeo: pip install 'cim[raster]'") from exc
    return rasterio


#: the ``data_type`` of a GeoPackage table that holds a raster
_GPKG_RASTERS = ("tiles", "2d-gridded-coverage")


def raster_tables(path: str | Path) -> list[str]:
    """The raster tables (tile pyramids, gridded coverages) of a GeoPackage, in its own order.

    Why: a GeoPackage may hold several rasters beside its vector layers; one is read by naming it.

    Example:
        >>> raster_tables("bubenec.gpkg")  # doctest: +SKIP
        ['dtm']
    """
    path = Path(path)
    check_file(path)
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as con:
            rows = con.execute("SELECT table_name FROM gpkg_contents WHERE data_type IN (?, ?) ORDER BY rowid",
                               _GPKG_RASTERS).fetchall()
    except sqlite3.DatabaseError:  # not SQLite, or no gpkg_contents: no raster tables
        return []
    return [str(name) for (name,) in rows]


@contextlib.contextmanager
def open_raster(path: str | Path, *, table: str | None = None) -> Iterator[object]:
    """Open a raster with rasterio; a one-variable NetCDF opens its variable, ``table`` names a
    GeoPackage's raster table. Errors → SourceError."""
    rasterio = _rasterio()
    path = Path(path)
    check_file(path)
    name = path if table is None else f"GPKG:{path}:{_check_table(path, table)}"
    try:
        ds = rasterio.open(name)
    except rasterio.errors.RasterioIOError as exc:
        raise _open_error(path, exc) from exc
    try:
        if ds.count == 0 and len(ds.subdatasets) == 1:
            ds.close()
            ds = rasterio.open(ds.subdatasets[0])
        elif ds.count == 0:
            names = ", ".join(ds.subdatasets) or "(none)"
            raise SourceError(f"{path.name} holds several grids and no single raster: {names}")
        yield ds
    finally:
        ds.close()


def _check_table(path: Path, table: str) -> str:
    """``table`` when it is a raster table of the GeoPackage ``path``; a SourceError naming them if not."""
    tables = raster_tables(path)
    if table not in tables:
        have = f"its raster tables are: {', '.join(tables)}" if tables else "it holds no raster tables"
        raise SourceError(f"{path.name} has no raster table {table!r}; {have}")
    return table


def _open_error(path: Path, exc: Exception) -> SourceError:
    text = first_line(exc)
    if "not recognized as" in text or "not a supported" in text:
        with path.open("rb") as fh:
            what = describe_content(fh.read(1024))
        return SourceError(f"{path.name} is not a raster GDAL can read (its content looks like {what}); "
                           "give a GeoTIFF, NetCDF or another GDAL raster format")
    return truncated(path, text)


def raster_info(path: str | Path) -> RasterInfo:
    """Size, CRS, bounds, nodata and COG-ness of a raster, checking its last block is readable.

    Why: ingest catalogues a raster by these facts and must reject a half-copied file before
    converting it.

    Example:
        >>> raster_info("RGB.byte.tif").crs  # doctest: +SKIP
        'EPSG:32618'
    """
    path = Path(path)
    with open_raster(path) as ds:
        _check_readable(path, ds)
        nodata = source_nodata(ds)
        info = RasterInfo(
            path=path, crs=crs_label(ds.crs.to_wkt()) if ds.crs else None,
            bounds=tuple(float(v) for v in ds.bounds), width=ds.width, height=ds.height, count=ds.count,
            dtype=str(ds.dtypes[0]), nodata=nodata, resolution=(float(ds.res[0]), float(ds.res[1])),
            is_cog=False,
        )
    info.is_cog = _is_cog(path)
    return info


def _check_readable(path: Path, ds: object) -> None:
    from rasterio.windows import Window

    try:
        ds.read(1, window=Window(0, ds.height - 1, ds.width, 1))
    except Exception as exc:
        raise truncated(path, f"its last row cannot be read: {first_line(exc)}") from exc


def _is_cog(path: Path) -> bool:
    from rio_cogeo.cogeo import cog_validate

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(cog_validate(path, quiet=True)[0])
    except Exception:  # noqa: BLE001 - not a TIFF at all: not a COG
        return False


def source_nodata(ds: object) -> float | None:
    """The nodata value, falling back to a NetCDF ``_FillValue`` / ``missing_value`` band tag."""
    if ds.nodata is not None:
        return float(ds.nodata)
    tags = ds.tags(1)
    for key in ("_FillValue", "missing_value", "NETCDF_VARNAME_FillValue"):
        if key in tags:
            with contextlib.suppress(ValueError):
                return float(tags[key].strip("{}").split(",")[0])
    return None


def to_cog(src: str | Path, dst: str | Path, *, source_crs: str | None = None,
           table: str | None = None) -> RasterInfo:
    """Write ``src`` as a COG at ``dst`` (deflate, 512 px tiles, internal overviews, nodata kept).

    Why: one conversion at ingest makes every later read cheap. The write is atomic (a temporary
    file beside ``dst``, then ``os.replace``), so a crash never leaves half a COG behind.
    ``source_crs`` labels a raster that has no CRS (e.g. a NetCDF lon/lat grid) or only a local
    one (an engineering CRS: a name and a unit, no datum); it must agree with the raster's own CRS
    otherwise. ``table`` names the raster table of a GeoPackage ``src``.

    Example:
        >>> to_cog("sfdem.tif", "out/sfdem.tif").is_cog  # doctest: +SKIP
        True
        >>> to_cog("bubenec.gpkg", "dtm.tif", table="dtm", source_crs="EPSG:5514").crs  # doctest: +SKIP
        'EPSG:5514'
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and src.exists() and dst.resolve() == Path(src).resolve():
        raise GISError(f"to_cog would overwrite its input {src}: choose another destination")
    with open_raster(src, table=table) as ds:
        _check_readable(src, ds)
        crs = _raster_crs(src.name if table is None else f"{src.name}:{table}", ds, source_crs)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            _translate(src, ds, tmp, crs)
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
    return raster_info(dst)


def _raster_crs(name: str, ds: object, source_crs: str | None) -> object | None:
    """``None`` when the raster's own CRS is used; the CRS to assign when it has none or a local one."""
    if ds.crs is None:
        if source_crs is None:
            raise CRSError(f"{name} has no CRS: state it with --source-crs (source_crs=), "
                           "e.g. EPSG:4326 for a lon/lat grid such as a NetCDF DEM")
        return parse_crs(source_crs)
    own = parse_crs(ds.crs.to_wkt())
    if own.is_engineering:
        return _label_local(name, own, source_crs)
    if source_crs is not None and not same_crs(own, source_crs):
        raise CRSError(f"{name} states its CRS as {crs_label(own)} but --source-crs "
                       f"says {crs_label(source_crs)}; a raster's CRS label is never overwritten: "
                       "drop --source-crs")
    return None


def _label_local(name: str, own: object, source_crs: str | None) -> object:
    """The CRS ``source_crs`` states for a raster in a local (engineering) CRS, in the same unit.

    A local CRS has no datum, so its cells cannot be placed on the Earth (PROJ transforms nothing
    out of it); GDAL writes one when it meets a CRS it cannot encode, e.g. an ESRI Krovak.
    """
    if source_crs is None:
        named = _crs_named(own.name)
        example = f"{crs_label(named)} ({named.name}), the CRS of that name" if named is not None else \
            "the EPSG code of the projected CRS it was made in"
        raise CRSError(f"{name} is in a local CRS, {own.name!r}, without a datum: its place on the Earth is "
                       f"unknown; state the CRS its coordinates are in with --source-crs (source_crs=), "
                       f"e.g. {example}")
    stated = parse_crs(source_crs)
    units = {crs.axis_info[0].unit_name for crs in (own, stated) if crs.axis_info}
    if len(units) > 1:
        raise CRSError(f"{name} is in a local CRS in {own.axis_info[0].unit_name} but --source-crs "
                       f"{crs_label(stated)} is in {stated.axis_info[0].unit_name}: state a CRS in the raster's unit")
    return stated


def _crs_named(name: str) -> object | None:
    """The registered CRS PROJ knows by ``name`` (or an alias of it), or None."""
    with contextlib.suppress(CRSError):
        crs = parse_crs(name)
        if not crs.is_engineering and crs.to_authority() is not None:
            return crs
    return None


def _translate(src: Path, ds: object, tmp: Path, crs: object | None) -> None:
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT
    from rio_cogeo.cogeo import cog_translate

    nodata = source_nodata(ds)
    floating = np.dtype(ds.dtypes[0]).kind == "f"
    profile = {"driver": "GTiff", "interleave": "pixel", "tiled": True, "blockxsize": _BLOCK,
               "blockysize": _BLOCK, "compress": "DEFLATE", "predictor": 3 if floating else 2,
               "BIGTIFF": "IF_SAFER"}
    with contextlib.ExitStack() as stack:
        source = ds
        if crs is not None:  # label only: an identity warp onto the same grid
            source = stack.enter_context(WarpedVRT(
                ds, src_crs=crs.to_wkt(), crs=crs.to_wkt(), transform=ds.transform, width=ds.width,
                height=ds.height, src_nodata=nodata, nodata=nodata, resampling=Resampling.nearest))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        try:
            cog_translate(source, str(tmp), profile, nodata=nodata, in_memory=False, quiet=True,
                          overview_level=_overview_levels(ds.width, ds.height),
                          overview_resampling="average" if floating else "nearest",
                          config={"GDAL_TIFF_OVR_BLOCKSIZE": str(_BLOCK)})
        except Exception as exc:
            raise truncated(src, f"conversion failed: {first_line(exc)}") from exc


def _overview_levels(width: int, height: int) -> int:
    """Halvings until the smallest overview fits in 256 px: a whole-raster view reads one tile."""
    return max(0, math.ceil(math.log2(max(width, height) / 256))) if max(width, height) > 256 else 0
