"""The ``cim`` command line: one app, subcommands in one module per area.

Errors print as one line that says what went wrong and how to fix it; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import sys

import typer

from cim.cli import common
from cim.cli.core import register as _register_core
from cim.cli.demo import register as _register_demo

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


for _register in (_register_core, _register_demo):
    _register(app)


def _register_optional(module: str) -> None:
    """Subsystem commands (serve, iot, …) register themselves when their module is present."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return
        raise
    mod.register(app)


for _module in ("cim.cli.serve", "cim.cli.iot", "cim.cli.export", "cim.cli.check", "cim.cli.copy"):
    _register_optional(_module)


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
    except Exception as exc:  # noqa: BLE001 - the one place every error becomes a one-liner
        if debug:
            raise
        common.print_error(common.describe(exc))
        sys.exit(1)


__all__ = ["app", "main"]
