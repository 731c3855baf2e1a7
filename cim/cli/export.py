"""``cim export <format> CITY DIR``: write the city (or a layer) in a format other tools read.

One command per format under the ``export`` sub-app; ``3dtiles`` writes a 3D Tiles 1.1 folder,
``geoparquet`` a folder of GeoParquet 1.1 files, ``pmtiles`` / ``mbtiles`` one file of the
vector tiles the server sends (for any static host or CDN).
"""

from __future__ import annotations

from pathlib import Path

import typer

import cim
from cim.cli.common import CITY_HELP, console
from cim.export_cityjson import export_cityjson as write_cityjson
from cim.export_geoparquet import export_geoparquet as write_geoparquet
from cim.model.catalog import visible_layers
from serving.vector.archive import export_archive

export_app = typer.Typer(name="export", no_args_is_help=True,
                         help="Write the city in formats other tools read (3D Tiles, CityJSON, GeoParquet, "
                              "PMTiles, MBTiles).")


def register(app: typer.Typer) -> None:
    """Add the ``export`` sub-app to ``app``."""
    app.add_typer(export_app, name="export")


@export_app.command("3dtiles")
def export_3dtiles(
    city: str = typer.Argument(..., help=CITY_HELP),
    out_dir: Path = typer.Argument(..., help="Folder to write (tileset.json + content/*.glb)."),
    layer: str = typer.Option("buildings", help="Polygon layer with heights to extrude (LOD1)."),
    max_features: int = typer.Option(1500, min=1, help="Most features in one tile."),
    role: str = typer.Option("admin", help="Export what this role may see (viewer, operator, planner, admin)."),
    overwrite: bool = typer.Option(False, help="Replace the folder if it exists."),
) -> None:
    """Write a layer as a 3D Tiles 1.1 tileset any static web server can serve."""

    c = cim.open(city, read_only=True)
    try:
        from serving.threed import export_3dtiles as write_3dtiles  # glTF and ifcopenshell: only here

        report = write_3dtiles(c, out_dir, layer=layer, role=role, max_features=max_features, overwrite=overwrite)
    finally:
        c.close()
    console.print(f"wrote {report.path}: {report.features} features of {report.layer} (v{report.version}) in "
                  f"{report.tiles} tiles, {report.bytes / 1e6:.1f} MB, {report.seconds:.1f} s")
    left_out = report.not_drawn.summary(report.layer)
    if left_out:
        console.print(left_out, highlight=False, soft_wrap=True, markup=False)


@export_app.command("cityjson")
def export_cityjson(
    city: str = typer.Argument(..., help=CITY_HELP),
    out: Path = typer.Argument(..., help="File to write, e.g. buildings.city.json."),
    layer: list[str] = typer.Option(None, help="Layers to export (repeatable; default: all with buildings)."),
) -> None:
    """Write buildings as CityJSON 2.0: footprints as LOD1 blocks, BIM buildings with their shells."""

    c = cim.open(city, read_only=True)
    try:
        report = write_cityjson(c, out, layers=layer or None)
    finally:
        c.close()
    for line in report.lines():
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    console.print(f"wrote {report.path}: {report.buildings} buildings ({report.shells} with BIM shells, "
                  f"{report.footprints} as LOD0 footprints without a height)", highlight=False)


@export_app.command("geoparquet")
def export_geoparquet(
    city: str = typer.Argument(..., help=CITY_HELP),
    out_dir: Path = typer.Argument(..., help="Folder to write: <layer>.parquet, or <layer>/cell=N/ when large."),
    layer: list[str] = typer.Option(None, help="Layers to export (repeatable; default: every vector layer)."),
    as_of: str = typer.Option(None, "--as-of", help="Export the city as it was then (ISO 8601 with zone)."),
    partition_rows: int = typer.Option(500_000, min=1, help="Hive-partition layers with more rows than this."),
    overwrite: bool = typer.Option(False, help="Replace the folder if it exists."),
) -> None:
    """Write each layer as GeoParquet 1.1 (bbox covering, Hilbert-sorted) for dask, Sedona or DuckDB."""

    c = cim.open(city, read_only=True)
    try:
        report = write_geoparquet(c, out_dir, layers=layer or None, as_of=as_of, partition_rows=partition_rows,
                     overwrite=overwrite)
    finally:
        c.close()
    for line in report.lines():
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    n = len(report.layers)
    console.print(f"wrote {report.directory}: {report.rows} features in {n} layer{'s' if n != 1 else ''}, "
                  f"{report.bytes / 1e6:.1f} MB, {report.seconds:.1f} s", highlight=False)


def _export_tiles(fmt: str, city: str, out: Path, layer: list[str] | None, per_layer: bool, role: str,
                  min_zoom: int, max_zoom: int, overwrite: bool) -> None:

    c = cim.open(city, read_only=True)
    try:
        if per_layer:

            out.mkdir(parents=True, exist_ok=True)
            names = layer or [i.name for i in visible_layers(c, role) if i.is_vector and i.bbox_4326]
            jobs = [(out / f"{name}.{fmt}", [name]) for name in names]
        else:
            jobs = [(out, layer or None)]
        for target, names in jobs:
            r = export_archive(c, target, layers=names, role=role, minzoom=min_zoom, maxzoom=max_zoom, fmt=fmt,
                               overwrite=overwrite)
            console.print(f"wrote {r.path}: {', '.join(r.layers)} in {r.tiles} tiles (z{r.minzoom}–{r.maxzoom}), "
                          f"{r.bytes / 1e6:.1f} MB, {r.seconds:.1f} s", highlight=False)
    finally:
        c.close()


_LAYER_HELP = "Vector layers to put in the archive (repeatable; default: every vector layer the role may see)."
_PER_LAYER_HELP = "Write one archive per layer, OUT being a folder (<layer>.pmtiles)."
_ROLE_HELP = "Export what this role may see (default anonymous: the public view, what a CDN may carry)."


@export_app.command("pmtiles")
def export_pmtiles(
    city: str = typer.Argument(..., help=CITY_HELP),
    out: Path = typer.Argument(..., help="File to write, e.g. city.pmtiles (a folder with --per-layer)."),
    layer: list[str] = typer.Option(None, help=_LAYER_HELP),
    per_layer: bool = typer.Option(False, "--per-layer", help=_PER_LAYER_HELP),
    role: str = typer.Option("anonymous", help=_ROLE_HELP),
    min_zoom: int = typer.Option(0, min=0, max=18, help="First zoom level in the archive."),
    max_zoom: int = typer.Option(16, min=0, max=18, help="Last zoom level (clients zoom in past it)."),
    overwrite: bool = typer.Option(False, help="Replace the file if it exists."),
) -> None:
    """Write the server's vector tiles as one PMTiles v3 archive, for any static host or CDN."""
    _export_tiles("pmtiles", city, out, layer, per_layer, role, min_zoom, max_zoom, overwrite)


@export_app.command("mbtiles")
def export_mbtiles(
    city: str = typer.Argument(..., help=CITY_HELP),
    out: Path = typer.Argument(..., help="File to write, e.g. city.mbtiles (a folder with --per-layer)."),
    layer: list[str] = typer.Option(None, help=_LAYER_HELP),
    per_layer: bool = typer.Option(False, "--per-layer", help=_PER_LAYER_HELP.replace("pmtiles", "mbtiles")),
    role: str = typer.Option("anonymous", help=_ROLE_HELP),
    min_zoom: int = typer.Option(0, min=0, max=18, help="First zoom level in the archive."),
    max_zoom: int = typer.Option(16, min=0, max=18, help="Last zoom level (clients zoom in past it)."),
    overwrite: bool = typer.Option(False, help="Replace the file if it exists."),
) -> None:
    """Write the server's vector tiles as one MBTiles file (SQLite), for desktop and mobile GIS."""
    _export_tiles("mbtiles", city, out, layer, per_layer, role, min_zoom, max_zoom, overwrite)
