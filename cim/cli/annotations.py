"""``cim annotations …``: list, add and delete the notes (批注) written on the city's map."""

from __future__ import annotations

import json

import typer

import cim
from cim.cli.common import CITY_HELP, console
from cim.model.annotations import add_annotation, delete_annotation, list_annotations
from cim.model.history import current_actor

annotations_app = typer.Typer(help="Notes (批注) on a point or an area, read by role.", no_args_is_help=True)

_ROLE_HELP = "Read and write as this role (anonymous, viewer, operator, planner, admin)."


def register(app: typer.Typer) -> None:
    """Add ``cim annotations`` to ``app``."""
    app.add_typer(annotations_app, name="annotations")


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True, markup=False)


@annotations_app.command("list")
def list_cmd(city: str = typer.Argument(..., help=CITY_HELP),
             role: str = typer.Option("admin", help=_ROLE_HELP),
             as_of: str = typer.Option(None, help="The annotations as they were then (ISO 8601 with zone)."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per annotation).")) -> None:
    """The annotations ROLE may read (default admin: all), oldest first."""
    with cim.open(city, read_only=True) as c:
        items = list_annotations(c.store, role=role, as_of=as_of)
    if as_json:
        _say(json.dumps(items, ensure_ascii=False, indent=1))
        return
    if not items:
        _say("no annotations")
        return
    for a in items:
        ring = a["geometry"]["coordinates"][0] if a["kind"] == "area" else []
        where = a["geometry"]["coordinates"] if a["kind"] == "point" else f"area of {len(ring) - 1} vertices"
        _say(f"{a['id']}  v{a['version']}  {a['created_at']}  {a['author']} ({a['role']})  "
             f"read by {a['min_role']}+  {a['kind']} {where}  {a['text']}")


@annotations_app.command("add")
def add_cmd(city: str = typer.Argument(..., help=CITY_HELP),
            text: str = typer.Argument(..., help="The note."),
            lon: float = typer.Option(..., help="Longitude of the point (degrees)."),
            lat: float = typer.Option(..., help="Latitude of the point (degrees)."),
            role: str = typer.Option("admin", help=_ROLE_HELP),
            min_role: str = typer.Option(None, help="Lowest role that may read it (default: ROLE)."),
            feature: str = typer.Option(None, help="The feature id it is about.")) -> None:
    """Write a note on a point; the author is the operating-system user."""
    with cim.open(city) as c:
        note = add_annotation(c.store, text=text, geometry={"type": "Point", "coordinates": [lon, lat]},
                              author=current_actor(), role=role, min_role=min_role, feature=feature)
    _say(f"added {note['id']} (read by {note['min_role']} and higher)")


@annotations_app.command("delete")
def delete_cmd(city: str = typer.Argument(..., help=CITY_HELP),
               annotation_id: str = typer.Argument(..., help="The annotation's id (a-…)."),
               role: str = typer.Option("admin", help=_ROLE_HELP)) -> None:
    """Close an annotation (its versions stay readable with --as-of)."""
    with cim.open(city) as c:
        delete_annotation(c.store, annotation_id, role=role, by=current_actor())
    _say(f"deleted {annotation_id}")
