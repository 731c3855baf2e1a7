"""Vector sources into Arrow: GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet, CSV, SQLite.

Why: ingest wants one shape whatever the file: an Arrow table with the original attribute names
(Chinese names kept) plus a WKB ``geometry`` column, the CRS *as the source states it*, and the
source row of every feature so rejects can be reported by row. pyogrio's Arrow reader is the
fast path wherever GDAL reads the format; GeoParquet and CSV go through pyarrow.

Example:
    >>> data = read_vector("parcels.gpkg", layer="parcels")  # doctest: +SKIP
    >>> data.table.column_names, crs_label(require_crs(data))  # doctest: +SKIP
    (['地块编号', 'geometry'], 'EPSG:4549')
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyogrio
import pyproj

from gis._shapefile import load_dbf, load_dbf_from_zip, shapefile_encoding
from gis._sources import KIND_NAMES, SUPPORTED, detect_format, truncated
from gis._tables import read_csv, read_geoparquet
from gis._wkb import geometry_type_of, has_curves
from gis.crs import crs_label, parse_crs, same_crs
from gis.errors import CRSError, SourceError, first_line

__all__ = ["VectorData", "list_layers", "list_tables", "read_vector", "require_crs", "to_geopandas"]

_MULTI_LAYER = ("gpkg", "sqlite", "shapezip")
_UTF8_ONLY = ("gpkg", "sqlite", "geojson", "fgb", "parquet")
_CORRUPT_HINTS = ("not a database", "malformed", "corrupt", "truncat", "unexpected end", "short read",
                  "failed to read", "i/o error", "disk image")


@dataclass
class VectorData:
    """One layer of a vector source, ready for checking and reprojection.

    ``table`` holds the attribute columns under their source names plus ``geometry`` (WKB,
    ``pa.binary()``, Z kept, curves linearised). ``crs`` is the source's own CRS (``None`` if
    it states none and no ``source_crs`` was given). ``row_numbers[i]`` is the 1-based position
    of row ``i`` in the source (the n-th feature; for CSV the n-th data line after the header).
    ``geometry_type`` summarises the geometries actually present ("Polygon", "MultiPolygon Z",
    "Geometry" when mixed, ``None`` when there are none); a mix of X and MultiX is "MultiX".
    """

    table: pa.Table
    crs: pyproj.CRS | None
    source: Path
    layer: str
    row_numbers: np.ndarray
    encoding: str | None
    geometry_type: str | None

    def __len__(self) -> int:
        return self.table.num_rows


def list_layers(path: str | Path) -> list[str]:
    """Names of the vector layers (tables with geometry) in a source, usable as ``layer=``.

    Why: a GeoPackage holds feature tables next to attribute-only tables and raster tiles; only
    the former can be ingested as features. Single-layer formats give ``[file stem]``.

    Example:
        >>> list_layers("bubenec.gpkg")  # doctest: +SKIP
        ['tessellation', 'buildings', 'streets', 'plots']
    """
    return [name for name, kind in list_tables(path) if kind == "features"]


def list_tables(path: str | Path) -> list[tuple[str, str]]:
    """Every table of a source with its kind: "features", "attributes", "tiles" or a GPKG data_type.

    Why: tells a user why a GeoPackage table is not offered as a layer (e.g. bubenec.gpkg's
    ``dtm`` is a "2d-gridded-coverage", ngageoint's ``attributes`` table has no geometry).

    Example:
        >>> list_tables("bubenec.gpkg")[-1]  # doctest: +SKIP
        ('dtm', '2d-gridded-coverage')
    """
    path = Path(path)
    kind = detect_format(path)
    if kind == "shapezip":
        return [(Path(m).stem, "features") for m in _zip_members(path)]
    if kind not in _MULTI_LAYER:
        return [(path.stem, "features")]
    tables = [(str(name), "features" if geom else "attributes") for name, geom in _ogr_layers(path)]
    if kind == "gpkg":
        known = {name for name, _ in tables}
        tables += [(name, kind) for name, kind in _gpkg_contents(path) if name not in known]
    return tables


def read_vector(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    source_crs: str | None = None,
    wkt_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
) -> VectorData:
    """Read one layer of a vector file into a :class:`VectorData`.

    Why: one entry point with one set of refusals (missing, wrong kind, truncated, undeclared
    encoding, contradicting CRS) so ingest never stores mojibake or a wrong CRS label.
    ``source_crs`` labels a source that has no CRS; if the source has one that differs,
    :class:`CRSError` is raised (a label is never silently overwritten). ``encoding`` applies to
    Shapefile .dbf and CSV text (other formats are UTF-8 by specification).

    Example:
        >>> data = read_vector("chinese_poly.shp", encoding="GB18030")  # doctest: +SKIP
        >>> data.table.column("NAME")[0].as_py(), crs_label(data.crs)  # doctest: +SKIP
        ('黑龙江省', 'EPSG:4326')
    """
    path = Path(path)
    kind = detect_format(path)
    if encoding and kind in _UTF8_ONLY and encoding.replace("-", "").lower() != "utf8":
        raise SourceError(f"{path.name} is a {KIND_NAMES[kind]}, whose text is always UTF-8: drop --encoding")
    if kind == "csv":
        table, used = read_csv(path, encoding=encoding, wkt_column=wkt_column, x_column=x_column,
                               y_column=y_column)
        return _finish(path, path.stem, table, None, source_crs, used)
    if kind == "parquet":
        attrs, wkb, crs = read_geoparquet(path)
        table = attrs.append_column(pa.field("geometry", pa.binary()), wkb)
        return _finish(path, path.stem, table, crs, source_crs, "UTF-8")
    return _read_ogr(path, kind, layer=layer, encoding=encoding, source_crs=source_crs)


def require_crs(data: VectorData) -> pyproj.CRS:
    """The CRS of ``data``, or a :class:`CRSError` telling the user how to state it.

    Example:
        >>> require_crs(read_vector("points.csv"))  # doctest: +SKIP
        Traceback (most recent call last):
        gis.errors.CRSError: points.csv has no CRS (...): state it with --source-crs EPSG:…
    """
    if data.crs is not None:
        return data.crs
    where = {".shp": "no .prj file", ".csv": "CSV files carry none", ".zip": "no .prj file",
             ".parquet": "its GeoParquet metadata says crs: null"}.get(data.source.suffix.lower(),
                                                                        "no .prj / crs member")
    raise CRSError(
        f"{data.source.name} has no CRS ({where}): state it with --source-crs EPSG:… "
        "(e.g. --source-crs EPSG:4490 for CGCS2000 lon/lat, EPSG:4549 for GK zone CM 120E)"
    )


def to_geopandas(data: VectorData) -> object:
    """A ``geopandas.GeoDataFrame`` of ``data`` (explicit boundary crossing; Arrow stays the default).

    Example:
        >>> to_geopandas(read_vector("countries.fgb")).crs.to_epsg()  # doctest: +SKIP
        4326
    """
    import geopandas as gpd
    import shapely

    frame = data.table.drop_columns(["geometry"]).to_pandas()
    wkb = data.table.column("geometry").to_numpy(zero_copy_only=False)
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=data.crs)


def _read_ogr(path: Path, kind: str, *, layer: str | None, encoding: str | None,
              source_crs: str | None) -> VectorData:
    target, name, display = _resolve_layer(path, kind, layer)
    codec = None
    if kind in ("shapefile", "shapezip"):
        member = target[len(f"/vsizip/{path}/"):]
        dbf = load_dbf(path) if kind == "shapefile" else load_dbf_from_zip(path, member)
        codec = shapefile_encoding(str(path), dbf, encoding)
    meta, table = _ogr_arrow(path, target, name, codec, with_fids=kind in ("gpkg", "sqlite"))
    column = next((f.name for f in table.schema if (f.metadata or {}).get(b"ARROW:extension:name")
                   == b"geoarrow.wkb"), None)
    if column is None:
        raise SourceError(f"{path.name}: layer '{name}' has no geometry column")
    geometry = _binary(table.column(column))
    if has_curves(geometry, meta.get("geometry_type")):
        geometry = _linearised(path, target, name)
    table = _rename_clash(table.drop_columns([column]))
    table = table.append_column(pa.field("geometry", pa.binary()), geometry)
    crs = _source_crs(path, meta.get("crs"))
    if kind == "geojson" and crs is not None and same_crs(crs, "OGC:CRS84"):
        _check_named_crs(path)  # GDAL reads an unknown legacy "crs" member as WGS 84
        crs = pyproj.CRS.from_user_input("OGC:CRS84")  # RFC 7946: GeoJSON is always lon/lat WGS 84
    return _finish(path, display, table, crs, source_crs, codec or meta.get("encoding") or "UTF-8")


def _source_crs(path: Path, text: str | None) -> pyproj.CRS | None:
    if not text:
        return None
    try:
        return parse_crs(text)
    except CRSError as exc:
        raise CRSError(f"{path.name} states a CRS that PROJ cannot use ({str(text)[:60]}…): fix its "
                       ".prj / metadata, or convert the file with a tool that knows the CRS") from exc


#: a GeoJSON 2008 ``"crs": {"type": "name", "properties": {"name": "..."}}`` member
_NAMED_CRS = re.compile(rb'"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]{1,200})"')
_CRS_HEAD = 1 << 20


def _check_named_crs(path: Path) -> None:
    """Refuse a GeoJSON whose legacy ``crs`` member names a CRS PROJ does not know.

    Why: GDAL falls back to WGS 84 for such a file, so projected coordinates would be stored as
    lon/lat. The member is looked for in the first MiB, where writers put it.
    """
    with path.open("rb") as fh:
        match = _NAMED_CRS.search(fh.read(_CRS_HEAD))
    if match is None:
        return
    name = match.group(1).decode("utf-8", errors="replace")
    try:
        parse_crs(name)
    except CRSError:
        code = re.search(r"EPSG:+(?:[\d.]*:)?(\d+)$", name, re.IGNORECASE)
        shown = f"EPSG:{code.group(1)}" if code else repr(name)
        raise CRSError(f"{path.name}: its crs member names {shown}, a CRS PROJ does not know; fix the crs member "
                       "(e.g. EPSG:4549), or remove it if the coordinates are lon/lat WGS 84") from None


def _resolve_layer(path: Path, kind: str, layer: str | None) -> tuple[str, str, str]:
    """(GDAL path, GDAL layer name, layer name to report) for the requested layer."""
    if kind == "shapezip":
        members = _zip_members(path)
        stems = [Path(m).stem for m in members]
        chosen = _choose(path, stems, layer, [])
        member = members[stems.index(chosen)]
        return f"/vsizip/{path}/{member}", Path(member).stem, chosen
    if kind not in _MULTI_LAYER:
        names = [str(n) for n, _ in _ogr_layers(path)]
        if layer not in (None, path.stem, *names):
            raise SourceError(f"{path.name} has one layer, '{path.stem}'; there is no layer '{layer}'")
        return str(path), names[0], path.stem
    layers = _ogr_layers(path)
    features = [str(n) for n, geom in layers if geom]
    chosen = _choose(path, features, layer, [str(n) for n, geom in layers if not geom])
    return str(path), chosen, chosen


def _choose(path: Path, names: list[str], layer: str | None, attribute_tables: list[str]) -> str:
    if layer is not None:
        if layer in names:
            return layer
        if layer in attribute_tables:
            raise SourceError(f"{path.name}: '{layer}' is an attribute table without geometry; "
                              f"vector layers are: {', '.join(names) or '(none)'}")
        raise SourceError(f"{path.name} has no layer '{layer}'; "
                          f"vector layers are: {', '.join(names) or '(none)'}")
    if len(names) == 1:
        return names[0]
    if not names:
        raise SourceError(f"{path.name} holds no vector layers (tables with geometry)")
    raise SourceError(f"{path.name} holds {len(names)} vector layers: {', '.join(names)}; pick one with "
                      "--source-layer (layer=...)")


def _ogr_layers(path: Path) -> list[tuple[str, str | None]]:
    try:
        return [(str(n), g) for n, g in pyogrio.list_layers(path)]
    except Exception as exc:
        raise _gdal_error(path, None, exc) from exc


def _gpkg_contents(path: Path) -> list[tuple[str, str]]:
    try:
        _, table = pyogrio.read_arrow(path, sql="SELECT table_name, data_type FROM gpkg_contents")
    except Exception:  # noqa: BLE001 - a GeoPackage without gpkg_contents: nothing more to list
        return []
    return list(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


def _zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        members = [n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
    except zipfile.BadZipFile as exc:
        raise truncated(path, f"not a readable ZIP archive: {exc}") from exc
    if not members:
        raise SourceError(f"{path.name} holds no .shp file; supported: {SUPPORTED}")
    return members


def _ogr_arrow(path: Path, target: str, name: str, codec: str | None, *,
               with_fids: bool) -> tuple[dict, pa.Table]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return pyogrio.read_arrow(target, layer=name, encoding=codec, return_fids=with_fids)
    except Exception as exc:
        raise _gdal_error(path, name, exc) from exc


def _linearised(path: Path, target: str, name: str) -> pa.Array:
    """Re-read only the geometry through OGR, which turns curves into line segments."""
    try:
        _, _, geoms, _ = pyogrio.raw.read(target, layer=name, columns=[], read_geometry=True)
    except Exception as exc:
        raise _gdal_error(path, name, exc) from exc
    return pa.array(list(geoms), pa.binary())


def _gdal_error(path: Path, layer: str | None, exc: BaseException) -> SourceError:
    text = first_line(exc)
    where = f"{path.name}" + (f", layer '{layer}'" if layer else "")
    if any(hint in text.lower() for hint in _CORRUPT_HINTS):
        return truncated(path, f"{where}: {text}")
    return SourceError(f"{where} cannot be read ({text}); check it is one of: {SUPPORTED}")


def _binary(column: pa.ChunkedArray) -> pa.ChunkedArray:
    chunks = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in column.chunks]
    return pa.chunked_array([c.cast(pa.binary()) for c in chunks], pa.binary())


def _rename_clash(table: pa.Table) -> pa.Table:
    """An attribute literally called "geometry" becomes "geometry_" so the WKB column can take the name."""
    if "geometry" not in table.column_names:
        return table
    return table.rename_columns(["geometry_" if n == "geometry" else n for n in table.column_names])


def _finish(path: Path, layer: str, table: pa.Table, crs: pyproj.CRS | None, source_crs: str | None,
            encoding: str | None) -> VectorData:
    crs = _reconcile_crs(path, crs, source_crs)
    return VectorData(table=table, crs=crs, source=path, layer=layer,
                      row_numbers=np.arange(1, table.num_rows + 1, dtype=np.int64), encoding=encoding,
                      geometry_type=geometry_type_of(table.column("geometry")))


def _reconcile_crs(path: Path, found: pyproj.CRS | None, source_crs: str | None) -> pyproj.CRS | None:
    """The source's CRS wins; ``source_crs`` only labels a source without one, or must agree."""
    if source_crs is None:
        return found
    given = parse_crs(source_crs)
    if found is None or same_crs(found, given):
        return found or given
    raise CRSError(
        f"{path.name} states its CRS as {_short(found)} but --source-crs says {_short(given)}; "
        "a source's CRS label is never overwritten: drop --source-crs, or fix the file's .prj/metadata"
    )


def _short(crs: pyproj.CRS) -> str:
    label = crs_label(crs)
    return label if len(label) < 40 else f"'{crs.name}'"

