"""``cim export <format> CITY DIR``: write the city (or a layer) in a format other tools read.

One command per format under the ``export`` sub-app; ``3dtiles`` writes a 3D Tiles 1.1 folder,
``geoparquet`` a folder of GeoParquet 1.1 files.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cim.cli.common import CITY_HELP, console

export_app = typer.Typer(name="export", no_args_is_help=True,
                         help="Write the city in formats other tools read (3D Tiles, CityJSON, GeoParquet).")


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
    import cim
    from serving.threed import export_3dtiles as run

    c = cim.open(city, read_only=True)
    try:
        report = run(c, out_dir, layer=layer, role=role, max_features=max_features, overwrite=overwrite)
    finally:
        c.close()
    console.print(f"wrote {report.path}: {report.features} features of {report.layer} (v{report.version}) in "
                  f"{report.tiles} tiles, {report.bytes / 1e6:.1f} MB, {report.seconds:.1f} s")


@export_app.command("cityjson")
def export_cityjson(
    city: str = typer.Argument(..., help=CITY_HELP),
    out: Path = typer.Argument(..., help="File to write, e.g. buildings.city.json."),
    layer: list[str] = typer.Option(None, help="Layers to export (repeatable; default: all with buildings)."),
) -> None:
    """Write buildings as CityJSON 2.0: footprints as LOD1 blocks, BIM buildings with their shells."""
    import cim
    from cim.export_cityjson import export_cityjson as run

    c = cim.open(city, read_only=True)
    try:
        report = run(c, out, layers=layer or None)
    finally:
        c.close()
    console.print(f"wrote {report.path}: {report.buildings} buildings ({report.shells} with BIM shells)")


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
    import cim
    from cim.export_geoparquet import export_geoparquet as run

    c = cim.open(city, read_only=True)
    try:
        report = run(c, out_dir, layers=layer or None, as_of=as_of, partition_rows=partition_rows,
                     overwrite=overwrite)
    finally:
        c.close()
    for line in report.lines():
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    n = len(report.layers)
    console.print(f"wrote {report.directory}: {report.rows} features in {n} layer{'s' if n != 1 else ''}, "
                  f"{report.bytes / 1e6:.1f} MB, {report.seconds:.1f} s", highlight=False)
