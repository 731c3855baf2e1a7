"""``cim people …``, ``cim users …`` and ``cim audit``: people, land and housing; named users; the audit trail.

The command line runs with the city file's owner's rights, so it acts as ``admin`` unless
``--key`` (or ``$CIM_API_KEY``) names a user, whose role then decides what is shown. Every read
of person-level fields is written to the audit trail with the user (or ``cli:$USER``).
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cim.access import K_ANONYMITY, POPULATION_CELL_M
from cim.audit import audit_entries, export_audit
from cim.cli.common import CITY_HELP, console, err_console, fail
from cim.people.read import for_role, ingest_people, people_layers
from cim.users import add_user, authenticate, list_users, revoke_user, rotate_key

if TYPE_CHECKING:
    from cim.city import City

people_app = typer.Typer(help="人·地·房: housing units, residents and land-use rights — "
                              "ingest, list (masked), units, stats.",
                         no_args_is_help=True)
users_app = typer.Typer(help="Named users: API keys that belong to people (name, organisation, role), stored "
                             "hashed; add, list, rotate, revoke.", no_args_is_help=True)

KEY_HELP = "API key of a named user (default $CIM_API_KEY); without one the command line acts as admin."


def register(app: typer.Typer) -> None:
    """Add ``cim people``, ``cim users`` and ``cim audit`` to ``app``."""
    app.add_typer(people_app, name="people")
    app.add_typer(users_app, name="users")
    app.command("audit")(audit)


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True, markup=False)


def _open(city: str) -> City:
    import cim

    return cim.open(city)


def _who(c: City, key: str | None) -> tuple[str, str]:
    """(role, actor) of the caller: the named user of ``key``, else admin as ``cli:$USER``."""
    key = key or os.environ.get("CIM_API_KEY")
    if key:
        user = authenticate(c, key)
        if user is None:
            fail("unknown, rotated or revoked API key: check --key / $CIM_API_KEY")
        return user.role, user.id
    return "admin", f"cli:{getpass.getuser()}"


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=1, default=str))
        return
    for row in data if isinstance(data, list) else [data]:
        _say("  ".join(f"{k}={v}" for k, v in row.items()))


@people_app.command("ingest")
def ingest_cmd(
    city: str = typer.Argument(..., help=CITY_HELP),
    source: Path = typer.Argument(..., help="A CSV or Excel (.xlsx) file; one file is atomic."),
    table: str = typer.Option(None, "--table", help="units | residents | land (or table: in --profile)."),
    profile: Path = typer.Option(None, "--profile", help="YAML: table:, columns: {SOURCE: FIELD}, levels: "
                                                        "{FIELD: LEVEL}; see docs/people.md."),
    column: list[str] = typer.Option(None, "--column", help="SOURCE=FIELD, e.g. 公民身份号码=id_number; "
                                                           "repeatable."),
    level: list[str] = typer.Option(None, "--level", help="FIELD=LEVEL (public|internal|restricted|secret); "
                                                         "repeatable."),
    layer: str = typer.Option(None, "--layer", help="Target layer (default units, residents, land_rights)."),
    parent_layer: str = typer.Option(None, "--parent-layer", help="Layer of the parent ids when they are not "
                                     "full feature ids (buildings for units, parcels for land; default for "
                                     "residents: units)."),
    sheet: str = typer.Option(None, "--sheet", help="Sheet of an .xlsx workbook (default: the first)."),
    encoding: str = typer.Option(None, "--encoding", help="Text encoding of a CSV, e.g. GB18030."),
    show_rejects: int = typer.Option(10, "--show-rejects", help="How many rejected rows to list."),
    key: str = typer.Option(None, "--key", help=KEY_HELP),
) -> None:
    """Load housing units, residents or land-use rights; every rejected row is listed with its reason
    (ID number failing its GB 11643 check digit or birth date, a missing building or unit, a person in
    two units at once, a move-out before a move-in). Read = stored + rejected."""
    c = _open(city)
    try:
        role, actor = _who(c, key)
        given = {"table": table, "profile": str(profile) if profile else None, "columns": column or None,
                 "levels": level or None, "layer": layer, "parent_layer": parent_layer, "sheet": sheet,
                 "encoding": encoding}
        r = ingest_people(c, source, actor=actor, role=role, **{k: v for k, v in given.items() if v is not None})
        if r.unchanged:
            _say(f"{r.layer}: unchanged (same source as version {r.version}), nothing done")
            return
        _say(f"{r.layer} v{r.version} from {source}: read {r.read}, stored {r.stored}, rejected {r.rejected}")
        for rej in r.rejects[:show_rejects]:
            _say(f"  rejected {rej.source} row {rej.row}: {rej.reason}")
        if len(r.rejects) > show_rejects:
            _say(f"  … and {len(r.rejects) - show_rejects} more (see city.rejects('{r.layer}'))")
    finally:
        c.close()


@people_app.command("list")
def list_cmd(
    city: str = typer.Argument(..., help=CITY_HELP),
    building: str = typer.Option(None, "--building", help="Residents of this building (feature id)."),
    unit: str = typer.Option(None, "--unit", help="Residents of this housing unit (feature id)."),
    parcel: str = typer.Option(None, "--parcel", help="Residents of the buildings on this parcel (feature id)."),
    limit: int = typer.Option(100, "--limit", help="Rows per page (1–10000)."),
    offset: int = typer.Option(0, "--offset", help="Rows to skip."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of one line per resident."),
    key: str = typer.Option(None, "--key", help=KEY_HELP),
) -> None:
    """Residents, masked as the caller's role requires (operator: 张*, 3701**********1234 …); roles
    without person access are refused (and the refusal is audited)."""
    c = _open(city)
    try:
        role, actor = _who(c, key)
        rows = for_role(c, role, user=actor, path="cli").residents(building=building, unit=unit, parcel=parcel,
                                                                    limit=limit, offset=offset)
        _print(rows, as_json)
    finally:
        c.close()


@people_app.command("units")
def units_cmd(
    city: str = typer.Argument(..., help=CITY_HELP),
    building: str = typer.Argument(..., help="The building (feature id)."),
    key: str = typer.Option(None, "--key", help=KEY_HELP),
) -> None:
    """The housing units of a building, fields by level; with its residents (masked) for roles that may see them."""
    c = _open(city)
    try:
        role, actor = _who(c, key)
        _print(for_role(c, role, user=actor, path="cli").units(building), True)
    finally:
        c.close()


@people_app.command("stats")
def stats_cmd(
    city: str = typer.Argument(..., help=CITY_HELP),
    by: str = typer.Option("parcel", "--by", help="building | parcel | grid | district."),
    cell: float = typer.Option(POPULATION_CELL_M, "--cell", help="Grid cell width in metres (--by grid)."),
    k: int = typer.Option(K_ANONYMITY, "--k", help="Counts below k are suppressed for roles without person access."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of one line per group."),
    key: str = typer.Option(None, "--key", help=KEY_HELP),
) -> None:
    """Residents, housing units and occupied units per building, parcel, grid cell or district."""
    c = _open(city)
    try:
        role, actor = _who(c, key)
        rows = for_role(c, role, user=actor, path="cli", k=k).population(by, cell=cell)  # type: ignore[arg-type]
        if not rows and not people_layers(c).get("units"):
            err_console.print("no housing units in the city, so no counts: load them with "
                          "`cim people ingest CITY units.csv --table units` (docs/people.md)")
        _print(rows, as_json)
    finally:
        c.close()


@users_app.command("add")
def users_add(city: str = typer.Argument(..., help=CITY_HELP),
              user_id: str = typer.Argument(..., help="Short handle, e.g. wang.li."),
              name: str = typer.Option(..., "--name", help="The person's name."),
              role: str = typer.Option(..., "--role", help="anonymous | viewer | operator | planner | admin."),
              organisation: str = typer.Option(None, "--org", help="Organisation, e.g. 历下区住建局.")) -> None:
    """Add a user and print their API key — once: only its salted hash is kept."""
    c = _open(city)
    try:
        _say(add_user(c, user_id, name=name, role=role, organisation=organisation,
                      actor=f"cli:{getpass.getuser()}"))
    finally:
        c.close()


@users_app.command("list")
def users_list(city: str = typer.Argument(..., help=CITY_HELP),
               as_json: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """Every user: id, name, organisation, role, when created, rotated, revoked (never a key)."""
    c = _open(city)
    try:
        _print(list_users(c).to_pylist(), as_json)
    finally:
        c.close()


@users_app.command("rotate")
def users_rotate(city: str = typer.Argument(..., help=CITY_HELP),
                 user_id: str = typer.Argument(..., help="The user.")) -> None:
    """Give a user a new key (printed once); the old one stops working."""
    c = _open(city)
    try:
        _say(rotate_key(c, user_id, actor=f"cli:{getpass.getuser()}"))
    finally:
        c.close()


@users_app.command("revoke")
def users_revoke(city: str = typer.Argument(..., help=CITY_HELP),
                 user_id: str = typer.Argument(..., help="The user.")) -> None:
    """Revoke a user's key for good (they stay in the audit trail)."""
    c = _open(city)
    try:
        revoke_user(c, user_id, actor=f"cli:{getpass.getuser()}")
        _say(f"revoked {user_id}")
    finally:
        c.close()


def audit(city: str = typer.Argument(..., help=CITY_HELP),
          user: str = typer.Option(None, "--user", help="Only this user's entries."),
          since: str = typer.Option(None, "--since", help="Only entries at or after this time (ISO 8601 with a "
                                                         "zone, e.g. 2026-12-01T00:00+08:00)."),
          action: str = typer.Option(None, "--action", help="read | write | refused."),
          layer: str = typer.Option(None, "--layer", help="Only entries about this layer."),
          fmt: str = typer.Option("csv", "--format", help="csv | json."),
          output: Path = typer.Option(None, "--output", "-o",
                                      help="Write to this file instead of the screen.")) -> None:
    """Who read person-level fields, who wrote, who was refused: the append-only audit trail."""
    when = None
    if since:
        try:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--since {since!r} is no ISO 8601 time, e.g. 2026-12-01T00:00+08:00")
    c = _open(city)
    try:
        text = export_audit(audit_entries(c, user=user, since=when, action=action, layer=layer), fmt)
    finally:
        c.close()
    if output is not None:
        output.write_text(text, encoding="utf-8")
        _say(f"wrote {output}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
