"""The ``cim`` command line: one app, subcommands in one module per area.

Errors print as one line that says what went wrong and how to fix it; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

from cim.cli import common
from cim.cli.annotations import register as _register_annotations
from cim.cli.check import register as _register_check
from cim.cli.compare import register as _register_compare
from cim.cli.copy import register as _register_copy
from cim.cli.core import register as _register_core
from cim.cli.demo import register as _register_demo
from cim.cli.export import register as _register_export
from cim.cli.iot import register as _register_iot
from cim.cli.people import register as _register_people
from cim.cli.proposal import register as _register_proposal

app = typer.Typer(
    name="cim",
    help="City information model: GIS, BIM and IoT of a city in one DuckDB-spatial file, or in PostGIS "
         "(give a postgresql:// URL wherever a city file goes).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    common.STATE.debug = debug


for _register in (_register_core, _register_demo, _register_iot, _register_export, _register_check, _register_copy,
                  _register_people, _register_compare, _register_proposal, _register_annotations):
    _register(app)


def _register_plugins() -> None:
    """Commands of other rooms (``cim serve`` comes from the server, ``tiles``) plug in through the
    ``cim.cli`` entry-point group, so the model never imports the server."""
    for entry in entry_points(group="cim.cli"):
        entry.load()(app)


_register_plugins()


def main() -> None:
    """Entry point of the ``cim`` console script."""
    debug = "--debug" in sys.argv
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        common.print_error("interrupted")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        common.print_error(common.describe(exc))
        sys.exit(1)


__all__ = ["app", "main"]
