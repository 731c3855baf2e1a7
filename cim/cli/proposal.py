"""``cim proposal add|list|check|drop``: planning proposals evaluated with the city, never written into it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from cim.analysis.proposals import add_proposal, compare
from cim.cli.common import CITY_HELP, console
from cim.model.proposals import drop_proposal, list_proposals

proposal_app = typer.Typer(help="Planning proposals (方案): a BIM model or a massing kept beside the city and "
                                "compared with it (indicators, compliance, neighbours' sunlight); the city's "
                                "layers and versions are never changed.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``cim proposal`` to ``app``."""
    app.add_typer(proposal_app, name="proposal")


@proposal_app.command("add")
def add(city: str = typer.Argument(..., help=CITY_HELP),
        name: str = typer.Argument(..., help="The proposal's name (letters, digits, - _ .)."),
        source: Path = typer.Argument(..., help="An IFC model, or a massing: polygons with a height field."),
        anchor: str = typer.Option(None, help="x,y[,z] in the city CRS: where the model's origin goes (IFC "
                                              "without georeferencing; a massing in local metres)."),
        parcel: str = typer.Option(None, help="The parcel it is for (checked: the buildings must stand on it)."),
        height: float = typer.Option(None, help="Height in metres of every massing polygon (else its height field)."),
        floors: float = typer.Option(None, help="Floors of every massing polygon (else its floors field, or "
                                                "height ÷ storey height)."),
        use: str = typer.Option(None, help="Use of every massing polygon, e.g. 住宅 (else its use field)."),
        note: str = typer.Option(None, help="A note kept with the proposal."),
        replace: bool = typer.Option(False, "--replace", help="Replace a proposal of the same name.")) -> None:
    """Keep a proposal beside the city (nothing is written into its layers)."""
    import cim

    c = cim.open(city)
    try:
        row = add_proposal(c, name, source, anchor=anchor, parcel=parcel, height=height, floors=floors, use=use,
                           note=note, replace=replace)
    finally:
        c.close()
    console.print(f"proposal [bold]{row['name']}[/]: {row['buildings']} buildings from {row['source']} "
                  f"({row['kind']}), parcel {row['parcel'] or '—'}", highlight=False)


@proposal_app.command("list")
def list_(city: str = typer.Argument(..., help=CITY_HELP),
          as_json: bool = typer.Option(False, "--json", help="JSON instead of a table.")) -> None:
    """List the proposals."""
    import cim

    c = cim.open(city, read_only=True)
    try:
        rows = list_proposals(c)
    finally:
        c.close()
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    table = Table()
    for col in ("name", "kind", "source", "parcel", "buildings", "created_at", "note"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*[str(r[c] if r[c] is not None else "—") for c in ("name", "kind", "source", "parcel",
                                                                          "buildings", "created_at", "note")])
    console.print(table)


@proposal_app.command("check")
def check(city: str = typer.Argument(..., help=CITY_HELP),
          names: list[str] = typer.Argument(..., help="One or more proposals, compared with the current city."),
          rules: Path = typer.Option(None, help="Planning rules YAML (default: datasets/planning_rules.yaml)."),
          no_sunlight: bool = typer.Option(False, "--no-sunlight", help="Skip the neighbours' sunlight hours."),
          as_json: bool = typer.Option(False, "--json", help="JSON (the /api/proposals/compare shape)."),
          output: Path = typer.Option(None, "-o", "--output", help="Write the JSON to this file.")) -> None:
    """Compare the current city and the proposals in one table: parcel indicators (FAR, density, height),
    compliance failures, neighbours' sunlight hours before/after."""
    import cim

    c = cim.open(city, read_only=True)
    try:
        result = compare(c, names, rules=rules, sunlight=not no_sunlight)
    finally:
        c.close()
    doc = result.as_dict()
    if as_json or output:
        text = json.dumps(doc, ensure_ascii=False, default=str)
        if output:
            output.write_text(text, encoding="utf-8")
            console.print(f"wrote {output}")
        else:
            sys.stdout.write(text + "\n")
        return
    table = Table()
    table.add_column("indicator", overflow="fold")
    table.add_column("parcel", overflow="fold")
    for col in result.columns:
        table.add_column(col, justify="right")
    for row in result.rows:
        table.add_row(row["label"], row.get("parcel") or "", *[_cell(row["values"][c]) for c in result.columns])
    console.print(table)
    for name, items in result.neighbours.items():
        worse = [i for i in items if (i["delta_h"] or 0) < 0]
        if worse:
            console.print(f"{name}: {len(worse)} neighbours lose sun, most {min(i['delta_h'] for i in worse):.2f} h "
                          f"({', '.join(i['id'] for i in worse[:5])}{' …' if len(worse) > 5 else ''})",
                          highlight=False)


@proposal_app.command("drop")
def drop(city: str = typer.Argument(..., help=CITY_HELP),
         name: str = typer.Argument(..., help="The proposal to forget.")) -> None:
    """Forget a proposal (the city's layers are not touched)."""
    import cim

    c = cim.open(city)
    try:
        drop_proposal(c, name)
    finally:
        c.close()
    console.print(f"dropped proposal {name}")


def _cell(value: object) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if isinstance(value, float) else str(value)
