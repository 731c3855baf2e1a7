"""``cim init``, ``ingest``, ``layers``, ``query``, ``info``: making and reading a city."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from cim.cli.common import CITY_HELP, console, fail


class Format(StrEnum):
    table = "table"
    geojson = "geojson"
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add the core commands to ``app``."""
    app.command("init")(init)
    app.command("ingest")(_ingest_command())
    app.command("layers")(layers)
    app.command("query")(query)
    app.command("info")(info)


def init(
    city: str = typer.Argument(..., help="Where to create the city: a file (qingdao.duckdb) or a postgresql:// URL."),
    crs: str = typer.Option("EPSG:4549", help="Projected storage CRS (metres), e.g. EPSG:4549."),
    name: str = typer.Option(None, help="A display name for the city."),
) -> None:
    """Create an empty city with one projected storage CRS."""
    import cim

    c = cim.create(city, crs=crs, name=name)
    console.print(f"created {c.location} (CRS {c.crs})")
    c.close()


def _ingest(city: str, sources: list[Path], show_rejects: int = 10, **given: object) -> None:
    """Put files into the city and print read / stored / repaired / rejected for each.

    Each file is atomic. The options a file's kind does not take are refused naming the kind and
    the options it does take.
    """
    import cim

    options = {k: v for k, v in given.items() if v is not None}
    c = cim.open(city)
    try:
        for source in sources:
            result = _ingest_with_progress(c, source, options)
            for report in result if isinstance(result, list) else [result]:
                _print_report(report, show_rejects)
    finally:
        c.close()


def _ingest_command() -> Callable[..., None]:
    """``cim ingest`` with one flag per ingest option, built from the readers' options classes."""
    from cim.ingest.options import describe_options

    params = [
        inspect.Parameter("city", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str,
                          default=typer.Argument(..., help=CITY_HELP)),
        inspect.Parameter("sources", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=list[Path],
                          default=typer.Argument(..., help="Files to ingest: .gpkg .shp .geojson .fgb .parquet "
                                                 ".csv .tif .nc .ifc .city.json; each is atomic.")),
    ]
    for name, spec in describe_options().items():
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=spec["type"],
                                        default=typer.Option(None, spec["flag"], help=_option_help(spec))))
    params.append(inspect.Parameter("show_rejects", inspect.Parameter.KEYWORD_ONLY, annotation=int,
                                    default=typer.Option(10, help="How many rejected rows to list.")))

    def ingest(**kwargs: object) -> None:
        _ingest(**kwargs)  # type: ignore[arg-type]

    ingest.__doc__ = _ingest.__doc__
    ingest.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    ingest.__annotations__ = {}
    return ingest


def _option_help(spec: dict[str, object]) -> str:
    """An option's help, with the kinds of source that take it and its default for each."""
    from cim.ingest.options import OPTIONS

    kinds, defaults = list(spec["kinds"]), dict(spec["defaults"])  # type: ignore[call-overload]
    text = str(spec["help"]).rstrip(".")
    if defaults:
        first = next(iter(defaults.values()))
        others = [f"{k}: {v}" for k, v in defaults.items() if v != first]
        text += f" (default: {'; '.join([str(first), *others])})"
    if len(kinds) < len(OPTIONS):
        text += f" — {', '.join(kinds)} only"
    return text + "."


def _ingest_with_progress(city: object, source: Path, options: dict[str, object]) -> object:
    """Ingest one source with a progress bar fed by the ingest's own stages."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"ingesting {source.name}", total=1.0)

        def report(message: str, fraction: float) -> None:
            bar.update(task, description=message, completed=fraction)

        return city.ingest(source, progress=report, **options)  # type: ignore[attr-defined]


def _print_report(report: object, show_rejects: int) -> None:
    r = report.as_dict()  # type: ignore[attr-defined]
    if r["unchanged"]:
        console.print(f"[bold]{r['layer']}[/]: unchanged (same source as version {r['version']}), nothing done")
        return
    console.print(
        f"[bold]{r['layer']}[/] v{r['version']} from {r['source']} ({r.get('source_crs') or 'no CRS'}): "
        f"read {r['read']}, stored {r['stored']}, repaired {r['repaired']}, rejected {r['rejected']}",
        highlight=False,
    )
    for note in r.get("notes", []):
        console.print(f"  note: {note}", highlight=False)
    rejects = getattr(report, "rejects", [])
    for rej in rejects[:show_rejects]:
        console.print(f"  rejected {rej.source} row {rej.row}: {rej.reason}", highlight=False)
    if len(rejects) > show_rejects:
        console.print(f"  … and {len(rejects) - show_rejects} more (see city.rejects('{r['layer']}'))")


def layers(city: str = typer.Argument(..., help=CITY_HELP),
           fmt: Format = typer.Option(Format.table, "--format", help="table | json | csv.")) -> None:
    """List the city's layers with kind, phase, classification and counts."""
    import cim

    c = cim.open(city, read_only=True)
    try:
        df = c.layers
    finally:
        c.close()
    _print_frame(df, fmt)


def query(
    city: str = typer.Argument(..., help=CITY_HELP),
    sql: str = typer.Argument(None, help="A SQL query over the city (tables: features, layers, …)."),
    layer: str = typer.Option(None, help="Features of this layer (instead of SQL)."),
    bbox: str = typer.Option(None, help="minx,miny,maxx,maxy filter (city CRS unless --bbox-crs)."),
    bbox_crs: str = typer.Option(None, help="CRS of --bbox, e.g. EPSG:4326."),
    where: str = typer.Option(None, help="SQL predicate over feature columns and layer fields."),
    as_of: str = typer.Option(None, help="Read the city as it was then (ISO 8601 with zone)."),
    limit: int = typer.Option(None, help="At most this many rows."),
    fmt: Format = typer.Option(Format.table, "--format", help="table | geojson | csv | json."),
    output: Path = typer.Option(None, "-o", "--output", help="Write to this file instead of stdout."),
) -> None:
    """Query the city with SQL, or with --layer/--bbox/--where; print a table, GeoJSON or CSV."""
    import cim

    if not sql and not layer:
        fail("give a SQL query or --layer NAME (e.g. cim query city.duckdb --layer parcels --limit 5)")
    c = cim.open(city, read_only=True)
    try:
        if sql:
            gdf = c.sql(sql, output="geopandas")
        else:
            bb = tuple(float(v) for v in bbox.split(",")) if bbox else None
            gdf = c.features(layer, bbox=bb, bbox_crs=bbox_crs, where=where, as_of=as_of, limit=limit)
    finally:
        c.close()
    _emit(gdf, fmt, output)


def _emit(df: object, fmt: Format, output: Path | None) -> None:
    import geopandas as gpd

    if fmt is Format.geojson:
        if not isinstance(df, gpd.GeoDataFrame):
            fail("--format geojson needs a geometry column named geom in the result")
        text = _to_geojson(df)
    elif fmt is Format.csv:
        text = _plain(df).to_csv(index=False)
    elif fmt is Format.json:
        text = _plain(df).to_json(orient="records", force_ascii=False, date_format="iso")
    else:
        if output:
            text = _plain(df).to_string(index=False)
        else:
            _print_frame(df, fmt)
            return
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))


def _to_geojson(gdf: object) -> str:
    out = gdf.to_crs("EPSG:4326") if gdf.crs else gdf  # type: ignore[attr-defined]
    for col in out.columns:
        if str(out[col].dtype).startswith("datetime"):
            out[col] = out[col].astype(str)
    return out.to_json(ensure_ascii=False, drop_id=True)


def _plain(df: object) -> object:
    import geopandas as gpd
    import pandas as pd

    if isinstance(df, gpd.GeoDataFrame):
        wkt = df.geometry.to_wkt()
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
        df["geometry"] = wkt
    return df


def _print_frame(df: object, fmt: Format) -> None:
    plain = _plain(df)
    if fmt is Format.json:
        sys.stdout.write(plain.to_json(orient="records", force_ascii=False, date_format="iso") + "\n")
        return
    if fmt is Format.csv:
        sys.stdout.write(plain.to_csv(index=False))
        return
    table = Table(show_lines=False)
    for col in plain.columns:
        table.add_column(str(col), overflow="fold", max_width=40)
    for row in plain.head(200).itertuples(index=False):
        table.add_row(*["" if v is None else str(v)[:200] for v in row])
    console.print(table)
    if len(plain) > 200:
        console.print(f"… {len(plain) - 200} more rows (use --format csv or -o FILE)")


def info(city: str = typer.Argument(..., help=CITY_HELP)) -> None:
    """Summary of a city: CRS, schema version, layers, feature counts, size on disk."""
    import cim
    from cim import migrations

    c = cim.open(city, read_only=True)
    try:
        facts = {
            "city": c.location,
            "backend": c.store.kind,
            "name": c.meta("name"),
            "crs": c.crs,
            "schema_version": migrations.current_version(c.store),
            "layers": int(c.store.scalar("SELECT count(*) FROM layers")),
            "features": int(c.store.scalar("SELECT count(*) FROM features WHERE valid_to IS NULL")),
            "size_mb": round(c.store.size_bytes() / 1e6, 1),
        }
        by_phase = c.store.rows("SELECT phase, count(*) FROM layers GROUP BY phase ORDER BY phase")
    finally:
        c.close()
    for key, value in facts.items():
        console.print(f"{key:>15}: {value}", highlight=False)
    for phase, count in by_phase:
        console.print(f"{'phase ' + phase:>15}: {count} layers", highlight=False)
