"""``cim copy``: move a whole city between a DuckDB file and PostgreSQL + PostGIS."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from cim.cli.common import console, fail
from cim.copy import CopyMismatch, copy_city

if TYPE_CHECKING:
    from cim.copy import CopyReport


def register(app: typer.Typer) -> None:
    """Add ``cim copy`` to ``app``."""
    app.command("copy")(copy)


def copy(
    src: str = typer.Argument(..., metavar="SRC",
                              help="The city to copy: a .duckdb file or a postgresql://user:pass@host/db URL."),
    dst: str = typer.Argument(..., metavar="DST",
                              help="Where to: a new .duckdb file, or the URL of a database or schema without a city."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite the city at DST, once the copy is complete "
                                                          "and verified."),
) -> None:
    """Copy every table, feature version, mesh, sensor reading and side file; verify each table."""

    with console.status("copying …") as status:
        try:
            report = copy_city(src, dst, replace=replace, progress=lambda msg: status.update(msg))
        except CopyMismatch as exc:
            _print_report(exc.report)
            fail(str(exc))
    _print_report(report)
    console.print(f"copied {report.rows} rows in {len(report.tables)} tables and {report.files} side files "
                  f"({report.file_bytes / 1e6:.1f} MB) from {report.src} to {report.dst} in {report.seconds:.1f} s",
                  highlight=False)


def _print_report(report: CopyReport) -> None:
    table = Table("table", "rows in source", "rows in copy", "checksum", "same")
    for t in report.tables:
        mark = "[green]yes[/]" if t.ok else "[bold red]NO[/]"
        checksum = t.src_checksum[:12] if t.src_checksum == t.dst_checksum else \
            f"{t.src_checksum[:12]} ≠ {t.dst_checksum[:12]}"
        table.add_row(t.table, str(t.src_rows), str(t.dst_rows), checksum, mark)
    console.print(table)
