"""``cim init``, ``ingest``, ``layers``, ``query``, ``info``: making and reading a city."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import click
import typer
from rich.table import Table
from typer.core import TyperGroup

from cim import migrations
from cim.cli.common import CITY_HELP, console, fail
from cim.ingest.folder import expand_sources, load_profiles, plan_sources
from cim.ingest.options import FILE_KINDS, describe_options
from cim.ingest.set_profile import PROFILE_OPTIONS, set_profile
from cim.model.catalog import all_layers
from cim.model.relations import features


class Format(StrEnum):
    table = "table"
    geojson = "geojson"
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add the core commands to ``app``."""
    app.command("init")(init)
    app.command("ingest")(_ingest_command())
    layers_app = typer.Typer(cls=_ListUnlessNamed, no_args_is_help=True,
                             help="The city's layers: `cim layers CITY` lists them with their class and height "
                                  "source; `cim layers set CITY LAYER …` changes what a layer is (its profile).")
    layers_app.command("list")(layers)
    layers_app.command("set")(_layers_set_command())
    app.add_typer(layers_app, name="layers")
    app.command("query")(query)
    app.command("info")(info)


def init(
    city: str = typer.Argument(..., help="Where to create the city: a file (qingdao.duckdb) or a postgresql:// URL."),
    crs: str = typer.Option("EPSG:4549", help="Projected storage CRS in metres, e.g. EPSG:4549 (a CRS in "
                                              "feet is refused: sources in it are reprojected at ingest)."),
    name: str = typer.Option(None, help="A display name for the city."),
    timezone: str = typer.Option("Asia/Shanghai", help="The city's time zone (IANA name): its days start at "
                                                       "local midnight there; change it later with "
                                                       "`cim iot settings CITY --timezone`."),
) -> None:
    """Create an empty city with one projected storage CRS and a time zone."""
    import cim

    c = cim.create(city, crs=crs, name=name, timezone=timezone)
    console.print(f"created {c.location} (CRS {c.crs}, time zone {timezone})")
    c.close()


def _ingest(city: str, sources: list[Path], show_rejects: int = 10, profile: Path | None = None,
            **given: object) -> None:
    """Put files (or every source in a folder) into the city and print read / stored / repaired /
    rejected for each.

    Each file is atomic. The options a file's kind does not take are refused naming the kind and
    the options it does take. ``--profile`` names a YAML file of options per source (see
    docs/ingest.md); the command line's options override it.
    """
    import cim

    profiles = load_profiles(profile) if profile is not None else None
    if profiles is not None:
        for pattern in profiles.unmatched(expand_sources(sources)):
            console.print(f"note: {profiles.source}: {pattern!r} matches none of the sources", highlight=False)
    c = cim.open(city)
    try:
        for source, kind, options in plan_sources(sources, profiles=profiles, **given):
            result = _ingest_with_progress(c, source, {"kind": kind, **options})
            for report in result if isinstance(result, list) else [result]:
                _print_report(report, show_rejects)
    finally:
        c.close()


def _ingest_command() -> Callable[..., None]:
    """``cim ingest`` with one flag per ingest option, built from the readers' options classes."""

    params = [
        inspect.Parameter("city", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str,
                          default=typer.Argument(..., help=CITY_HELP)),
        inspect.Parameter("sources", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=list[Path],
                          default=typer.Argument(..., help="Files or folders to ingest: .gpkg .shp .geojson .fgb "
                                                 ".parquet .csv .tif .nc .ifc .city.json, or one GeoPackage table "
                                                 "as GPKG:FILE.gpkg:TABLE; each file is atomic.")),
        *_option_parameters(describe_options()),
        inspect.Parameter("profile", inspect.Parameter.KEYWORD_ONLY, annotation=Path,
                          default=typer.Option(None, help="YAML file of options per source (class, height, "
                                               "map …), e.g. for a folder; see docs/ingest.md.")),
        inspect.Parameter("show_rejects", inspect.Parameter.KEYWORD_ONLY, annotation=int,
                          default=typer.Option(10, help="How many rejected rows to list.")),
    ]
    return _command(_ingest, params)


def _option_parameters(options: dict[str, dict[str, object]], *, kinds: bool = True) -> list[inspect.Parameter]:
    """One keyword parameter (``--flag``, with its help) per ingest option."""
    return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=spec["type"],
                              default=typer.Option(None, str(spec["flag"]), help=_option_help(spec, kinds=kinds)))
            for name, spec in options.items()]


def _command(function: Callable[..., None], params: list[inspect.Parameter]) -> Callable[..., None]:
    """``function`` as a command whose parameters are ``params`` (built at run time)."""

    def command(**kwargs: object) -> None:
        function(**kwargs)

    command.__doc__ = function.__doc__
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {}
    return command


def _option_help(spec: dict[str, object], *, kinds: bool = True) -> str:
    """An option's help, with its default for each kind of source and (``kinds``) the kinds that take it."""

    defaults = dict(spec["defaults"])  # type: ignore[call-overload]
    text = str(spec["help"]).rstrip(".")
    if defaults:
        first = next(iter(defaults.values()))
        others = [f"{k}: {v}" for k, v in defaults.items() if v != first]
        text += f" (default: {'; '.join([str(first), *others])})"
    if kinds and len(spec["kinds"]) < len(FILE_KINDS):  # type: ignore[arg-type]
        text += f" — {', '.join(spec['kinds'])} only"  # type: ignore[arg-type]
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


#: catalogue columns `cim layers` shows as a table, and their headings (json/csv give every column)
_LAYER_TABLE = {"name": "name", "kind": "kind", "phase": "phase", "classification": "classification",
                "feature_class": "class", "height_source": "height", "feature_count": "features",
                "version": "version", "source_crs": "source CRS"}


class _ListUnlessNamed(TyperGroup):
    """``cim layers CITY`` lists (the ``list`` subcommand); ``cim layers set …`` runs ``set``."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "list", self.commands["list"], args
        return super().resolve_command(ctx, args)


def layers(city: str = typer.Argument(..., help=CITY_HELP),
           fmt: Format = typer.Option(Format.table, "--format", help="table | json | csv.")) -> None:
    """List the city's layers with kind, phase, classification, class, height source and counts."""
    import cim

    c = cim.open(city, read_only=True)
    try:
        df = c.layers
        profiles = {name: info.profile for name, info in all_layers(c).items()}
    finally:
        c.close()
    df.insert(df.columns.get_loc("feature_class") + 1, "height_source",
              [profiles[n].height_source if profiles.get(n) else "" for n in df["name"]])
    if fmt is Format.table:  # what a layer is and how big, in a table that fits a terminal
        df = df[list(_LAYER_TABLE)].rename(columns=_LAYER_TABLE)
    _print_frame(df, fmt)



def _layers_set(city: str, layer: str, **given: object) -> None:
    """Change what a vector layer is — class, CIM level, name, height, floors, base/roof, zoning
    fields — as a new version with the same features and their heights recomputed (the source is
    not read again)."""
    import cim

    c = cim.open(city)
    try:
        before = c.layer(layer)["version"]
        profile = set_profile(c, layer, **{k: v for k, v in given.items() if v is not None})
        info = c.layer(layer)
    finally:
        c.close()
    what = "unchanged" if info["version"] == before else f"v{info['version']}"
    console.print(f"[bold]{layer}[/] {what}: class {profile.feature_class}, height {profile.height_source}, "
                  f"floors {profile.floors_field or '—'}, name {profile.name_field or '—'}"
                  + (f", zoning {', '.join(f'{s}→{k}' for k, s in profile.zoning)}" if profile.zoning else "")
                  + f" ({info['feature_count']:,} features)", highlight=False)


def _layers_set_command() -> Callable[..., None]:
    """``cim layers set`` with the profile flags of ``cim ingest`` (same names, same help)."""

    options = {k: v for k, v in describe_options().items() if k in PROFILE_OPTIONS}
    params = [
        inspect.Parameter("city", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str,
                          default=typer.Argument(..., help=CITY_HELP)),
        inspect.Parameter("layer", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str,
                          default=typer.Argument(..., help="The vector layer whose profile changes.")),
        *_option_parameters(options, kinds=False),
    ]
    return _command(_layers_set, params)


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
    shown = plain.head(_TABLE_ROWS)
    columns, same, empty, left = table_columns(shown, console.width)
    table = Table(show_lines=False)
    for col in columns:
        table.add_column(str(col), overflow="fold", max_width=40)
    for row in shown[columns].itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    console.print(table)
    if len(plain) > _TABLE_ROWS:
        console.print(f"… {len(plain) - _TABLE_ROWS} more rows (use --format csv or -o FILE)")
    if same:
        console.print("the same in every row shown: " + ", ".join(f"{c} {str(v)[:40]}" for c, v in same.items()),
                      highlight=False)
    if empty:
        console.print(f"empty in every row shown: {', '.join(map(str, empty))}", highlight=False)
    if left:
        console.print(f"… {len(left)} more columns than fit {console.width} characters: "
                      f"{', '.join(map(str, left))} (use --format csv, json or -o FILE, or name columns in SQL)",
                      highlight=False)


#: rows a table on screen shows; a column is given at least this many characters
_TABLE_ROWS = 200
_MIN_COLUMN = 10
#: shown first when present; the long ones (geometry, raw properties) last
_FIRST = ("id", "name", "class", "height")
_LAST = ("properties", "geometry")


def _cell(value: object) -> str:
    """A value as a table shows it: empty for nothing, a float to six decimals (0.03, not 0.0299999…)."""
    if _blank(value):
        return ""
    if isinstance(value, float):
        return str(round(value, 6))
    return str(value)[:200]


def _blank(value: object) -> bool:
    import pandas as pd

    return value is None or value == "" or (not isinstance(value, list | tuple | dict) and bool(pd.isna(value)))


def table_columns(frame: object, width: int) -> tuple[list[object], dict[object, object], list[object], list[object]]:
    """(shown, same, empty, left) for a table of ``frame`` ``width`` characters wide: with more than one
    row, a column empty in every row is named, one with the same value in every row is given once with
    that value, and of the others as many as fit at ``_MIN_COLUMN`` characters each, id, name, class and
    height first (a wide layer's fields would otherwise fold into one character per column).

    Example:
        >>> import pandas as pd
        >>> table_columns(pd.DataFrame({"h": [3.0, 4.0], "layer": ["b", "b"], "name": [None, None],
        ...                             "id": ["x", "y"]}), 80)
        (['id', 'h'], {'layer': 'b'}, ['name'], [])
    """
    columns = list(frame.columns)
    same: dict[object, object] = {}
    empty: list[object] = []
    if len(frame) > 1:
        for c in list(columns):
            values = [str(v) for v in frame[c] if not _blank(v)]
            if not values:
                empty.append(c)
            elif len(values) == len(frame) and len(set(values)) == 1:
                same[c] = frame[c].iloc[0]
        columns = [c for c in columns if c not in same and c not in empty]
    columns = ([c for c in _FIRST if c in columns] + [c for c in columns if c not in _FIRST and c not in _LAST]
               + [c for c in _LAST if c in columns])
    fit = max(1, (width - 1) // (_MIN_COLUMN + 3))  # a column's text, padding and border
    return columns[:fit], same, empty, columns[fit:]


def info(city: str = typer.Argument(..., help=CITY_HELP)) -> None:
    """Summary of a city: CRS, schema version, layers, feature counts, size on disk."""
    import cim

    c = cim.open(city, read_only=True)
    try:
        facts = {
            "city": c.location,
            "backend": c.store.kind,
            "name": c.meta("name"),
            "crs": c.crs,
            "schema_version": migrations.current_version(c.store),
            "layers": int(c.store.scalar("SELECT count(*) FROM layers")),
            "features": int(c.store.scalar(features(columns="count(*)"))),
            "size_mb": round(c.store.size_bytes() / 1e6, 1),
        }
        by_phase = c.store.rows("SELECT phase, count(*) FROM layers GROUP BY phase ORDER BY phase")
    finally:
        c.close()
    for key, value in facts.items():
        console.print(f"{key:>15}: {value}", highlight=False)
    for phase, count in by_phase:
        console.print(f"{'phase ' + phase:>15}: {count} layers", highlight=False)
