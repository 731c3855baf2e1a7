"""``cim versions`` and ``cim diff``: what changed in a layer between two versions (docs/compare.md)."""

from __future__ import annotations

import html
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cim.cli.common import CITY_HELP, console
from cim.model.diff import LayerDiff


class DiffFormat(StrEnum):
    """Output formats of ``cim diff``."""

    table = "table"
    geojson = "geojson"
    json = "json"
    html = "html"


def register(app: typer.Typer) -> None:
    """Add ``cim versions`` and ``cim diff`` to ``app``."""
    app.command("versions")(versions)
    app.command("diff")(diff)


def versions(city: str = typer.Argument(..., help=CITY_HELP),
             layer: str = typer.Argument(None, help="Only this layer's versions."),
             as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table.")) -> None:
    """List the versions of the city's layers (or of one): when each became valid, until when, its
    source and the ingest's counts. Name a version by its number or a time in `cim diff`."""
    import cim

    c = cim.open(city, read_only=True)
    try:
        df = c.versions(layer)
    finally:
        c.close()
    if as_json:
        sys.stdout.write(df.to_json(orient="records", force_ascii=False) + "\n")
        return
    table = Table()
    for col in ("layer", "version", "created_at", "valid_to", "current", "source", "read", "stored", "rejected"):
        table.add_column(col, overflow="fold", max_width=40)
    for row in df.to_dict("records"):
        table.add_row(row["layer"], f" {row['version']} ", str(row["created_at"]), str(row["valid_to"] or "—"),
                      "yes" if row["current"] else "", str(row["source"] or ""), str(row["read"]),
                      str(row["stored"]), str(row["rejected"]))
    console.print(table)


def diff(city: str = typer.Argument(..., help=CITY_HELP),
         layer: str = typer.Argument(..., help="The layer to compare."),
         from_: str = typer.Option(..., "--from", help="A version number, or a time (ISO 8601 with zone): "
                                                       "the version valid then."),
         to: str = typer.Option(None, "--to", help="The same; default: the current version."),
         fmt: DiffFormat = typer.Option(DiffFormat.table, "--format", help="table | geojson | json | html."),
         output: Path = typer.Option(None, "-o", "--output", help="Write to this file instead of stdout."),
         limit: int = typer.Option(None, help="List at most this many changes (the summary counts all)."),
         ignore: list[str] = typer.Option(None, "--ignore", help="An attribute whose changes do not count, e.g. "
                                                                 "fid after a change of file format (repeatable)."),
         ) -> None:
    """Added, removed and modified features of a layer between two versions: attribute changes
    old → new, area and height deltas, how far each moved, Hausdorff distance (IFC: by GlobalId)."""
    import cim

    c = cim.open(city, read_only=True)
    try:
        d = c.diff(layer, from_, to, limit=limit, ignore=ignore or ())
    finally:
        c.close()
    if fmt is DiffFormat.table and output is None:
        _print_table(d)
        return
    if fmt is DiffFormat.geojson:
        text = json.dumps(d.to_geojson(), ensure_ascii=False, default=str)
    elif fmt is DiffFormat.json:
        text = json.dumps(d.as_dict(), ensure_ascii=False, default=str)
    elif fmt is DiffFormat.html:
        text = html_report(d)
    else:
        text = "\n".join(_lines(d)) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


def _heading(d: LayerDiff) -> str:
    s = d.summary
    return (f"{d.layer}: v{d.from_.version} → v{d.to.version}: {s['added']} added, {s['removed']} removed, "
            f"{s['modified']} modified, {s['unchanged']} unchanged" + (" (list truncated)" if d.truncated else ""))


def _what(change: Any) -> str:
    parts = [f"{k} {_short(v['old'])} → {_short(v['new'])}" for k, v in change.attributes.items()]
    m = change.measures
    if change.geometry_changed:
        parts.append(f"geometry: area {_signed(m.get('area_delta'))} m², moved {_num(m.get('moved'))} m, "
                     f"hausdorff {_num(m.get('hausdorff'))} m")
    if change.change == "added":
        parts.append(f"area {_num(m.get('area_new'))} m², height {_num(m.get('height_new'))} m")
    if change.change == "removed":
        parts.append(f"area {_num(m.get('area_old'))} m², height {_num(m.get('height_old'))} m")
    return "; ".join(parts)


def _lines(d: LayerDiff) -> list[str]:
    return [_heading(d)] + [f"{c.change:9} {c.id}  {_what(c)}" for c in d.changes]


def _print_table(d: LayerDiff) -> None:
    console.print(_heading(d), highlight=False)
    table = Table()
    table.add_column("change")
    table.add_column("id", overflow="fold")
    table.add_column("what", overflow="fold")
    for c in d.changes[:500]:
        table.add_row(c.change, c.id, _what(c))
    console.print(table)
    if len(d.changes) > 500:
        console.print(f"… {len(d.changes) - 500} more (use --format json or -o FILE)")


def html_report(d: LayerDiff) -> str:
    """A self-contained HTML report of a diff (no scripts, no network)."""
    rows = "".join(
        f"<tr class='{c.change}'><td>{c.change}</td><td>{html.escape(c.id)}</td>"
        f"<td>{html.escape(_what(c))}</td><td>{_signed(c.measures.get('area_delta'))}</td>"
        f"<td>{_signed(c.measures.get('height_delta'))}</td><td>{_num(c.measures.get('moved'))}</td>"
        f"<td>{_num(c.measures.get('hausdorff'))}</td></tr>" for c in d.changes)
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:2px 6px;font-size:13px}.added{background:#e6ffe6}.removed{background:#ffe6e6}"
             ".modified{background:#fff6d6}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(d.layer)} diff</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(_heading(d))}</h1>"
            f"<p>from {d.from_.as_dict()['time']} to {d.to.as_dict()['time']}</p>"
            "<table><tr><th>change</th><th>id</th><th>what</th><th>Δ area m²</th><th>Δ height m</th>"
            f"<th>moved m</th><th>Hausdorff m</th></tr>{rows}</table></body></html>\n")


def _short(value: Any) -> str:
    text = "—" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return text if len(text) <= 40 else text[:39] + "…"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"
