"""``cim check``: planning compliance of the whole city, or BIM review (报建审查) of one IFC model."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.table import Table

from cim.analysis import check_compliance, load_rules
from cim.analysis._common import json_safe
from cim.analysis._rule_sql import SAME_BUILDING_EN
from cim.analysis.review import review_ifc
from cim.cli.common import CITY_HELP, console, fail


def register(app: typer.Typer) -> None:
    """Add ``cim check`` to ``app``."""
    app.command("check")(check)


def check(
    city: str = typer.Argument(..., help=CITY_HELP),
    model: Path = typer.Argument(None, help="An IFC model to review before ingest (BIM 报建审查); "
                                 "without it the whole city is checked."),
    parcel: str = typer.Option(None, help="The parcel the model is for, e.g. P012-003-01 (needed with a model)."),
    anchor: str = typer.Option(None, help="Place a model without georeferencing: x,y[,z] in the city CRS."),
    rules: Path = typer.Option(None, help="Planning rules YAML (default: datasets/planning_rules.yaml)."),
    only: list[str] = typer.Option(None, help="Only these rules (height, far, density, green, setback, "
                                   "road_red_line, spacing, sunlight); repeat the option."),
    sunlight: bool = typer.Option(False, help="Also check 日照 (sunlight) — takes longer."),
    html: Path = typer.Option(None, help="Write the BIM review as an HTML report here."),
    json_out: Path = typer.Option(None, "--json", help="Write the results as JSON here."),
    show: int = typer.Option(20, help="How many failures to list."),
) -> None:
    """Check planning rules (限高, 容积率, 建筑密度, 绿地率, 退线, 道路红线, 间距, 日照).

    Exits with 2 when a rule fails, and with 3 when nothing could be checked (every rule lacked
    data: the reasons are listed), so scripts can gate on it.
    """
    import cim

    c = cim.open(city, read_only=True)
    try:
        if model is not None:
            code = _review(c, model, parcel, anchor, rules, sunlight, html, json_out)
        else:
            code = _city(c, rules, only, sunlight, json_out, show)
    finally:
        c.close()
    if code:
        raise typer.Exit(code)


#: exit codes: a rule failed; nothing could be checked
FAILED, NOT_CHECKED = 2, 3


def _review(c: object, model: Path, parcel: str | None, anchor: str | None, rules: Path | None, sunlight: bool,
            html: Path | None, json_out: Path | None) -> int:

    if not parcel:
        fail(f"reviewing {model.name} needs the parcel it is for: add --parcel ID")
    with console.status(f"reviewing {model.name} …"):
        report = review_ifc(c, model, parcel=parcel, anchor=anchor, rules=rules, sunlight=sunlight)
    m = report.model
    console.print(f"{model.name}: {m['schema']}, height {m['height']:.1f} m, {m['floors']:.0f} storeys, "
                  f"footprint {m['footprint_area']:.1f} m² on {report.parcel['id']}", highlight=False)
    _print_rows(report.checks, len(report.checks))
    if html:
        report.write_html(html)
        console.print(f"HTML report written to {html}")
    if json_out:
        report.write_json(json_out)
        console.print(f"JSON report written to {json_out}")
    if report.verdict == "not_checked":
        console.print("[bold yellow]未能审查 NOT CHECKED[/]: no check could be judged", highlight=False)
        for reason in report.unchecked_reasons:
            console.print(f"  {reason}", highlight=False, markup=False)
        return NOT_CHECKED
    console.print("[bold green]合规 COMPLIANT[/]" if report.passed else "[bold red]不合规 NON-COMPLIANT[/]")
    return 0 if report.passed else FAILED


def _city(c: object, rules: Path | None, only: list[str] | None, sunlight: bool, json_out: Path | None,
          show: int) -> int:
    import json

    ruleset = load_rules(rules)
    keys = list(only) if only else [k for k in ruleset.enabled() if k != "sunlight" or sunlight]
    with console.status("checking the city …"):
        table = check_compliance(c, rules=ruleset, only=keys, output="pandas")
    summary = Table("rule", "规则", "pass", "fail", "no data")
    for key, group in table.groupby("rule", sort=False):
        counts = group["status"].value_counts()
        summary.add_row(key, group["rule_name"].iloc[0], *(str(counts.get(s, 0)) for s in ("pass", "fail", "no_data")))
    console.print(summary)
    _print_no_data(table)
    _print_same_buildings(table)
    failures = table[table["status"] == "fail"]
    _print_rows(failures.to_dict("records"), show)
    if json_out:
        rows = json_safe(table.drop(columns=["geom"]).to_dict("records"))  # no_data: null, never NaN
        json_out.write_text(json.dumps(rows, ensure_ascii=False, indent=1, default=str, allow_nan=False),
                            encoding="utf-8")
        console.print(f"results written to {json_out}")
    judged = int(table["status"].isin(["pass", "fail"]).sum())
    if not judged:
        console.print("[bold yellow]nothing could be checked[/]: every rule lacked data (reasons above)",
                      highlight=False)
        return NOT_CHECKED
    console.print(f"{len(failures)} failures in {judged} checks")
    return 0 if failures.empty else FAILED


def _print_same_buildings(table: object) -> None:
    """How many buildings the spacing rule found held twice (by two layers) and took as one."""
    spacing = table[table["rule"] == "spacing"]
    held_twice = int(spacing["reason_en"].str.contains(SAME_BUILDING_EN, regex=False, na=False).sum())
    if held_twice:
        console.print(f"spacing: {held_twice} buildings have a copy in another layer (footprints coincide); "
                      "each copy was taken as the same building, not as a neighbour", highlight=False)


def _print_no_data(table: object, examples: int = 3) -> None:
    """Why checks had no data, each reason once: its rules, how many subjects, a few of them."""
    missing = table[table["status"] == "no_data"]
    if missing.empty:
        return
    console.print("no data:", highlight=False)
    hinted = False
    for reason, group in missing.groupby("reason_en", sort=False, dropna=False):
        short = re.sub(r"; ingest one with .*? in the rules file", "", str(reason))
        hinted |= short != reason
        rules = ", ".join(dict.fromkeys(group["rule"]))
        subjects = [s for s in group["subject"] if isinstance(s, str)]
        who = f" — {len(subjects)}: {', '.join(subjects[:examples])}{' …' if len(subjects) > examples else ''}" \
            if subjects else ""
        console.print(f"  {rules}: {short}{who}", highlight=False, markup=False)
    if hinted:
        console.print("  give a missing input with `cim ingest CITY FILE --class CLASS` or "
                      "`cim layers set CITY LAYER --class CLASS`", highlight=False, markup=False)


def _print_rows(rows: list[dict], limit: int) -> None:
    shown = [r for r in rows if r["status"] == "fail"][:limit] if limit < len(rows) else rows
    if not shown:
        return
    table = Table("rule", "subject", "status", "value", "limit", "reason")
    for r in shown:
        value = "" if r["value"] is None or r["value"] != r["value"] else f"{r['value']:.2f}"
        limit_ = "" if r["limit"] is None or r["limit"] != r["limit"] else f"{r['limit']:.2f}"
        table.add_row(r["rule_name"], r["subject"], r["status"], value, limit_, r["reason_zh"])
    console.print(table)
