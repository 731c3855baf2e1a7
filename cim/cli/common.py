"""Shared pieces of the command line: state, error lines, output helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import typer
from rich.console import Console

from cim.errors import CIMError, to_domain

console = Console()
err_console = Console(stderr=True)


@dataclass
class _State:
    debug: bool = False


STATE = _State()

CITY_HELP = "The city: a .duckdb file, or a postgresql://user:pass@host/db URL (created by `cim init`)."


def describe(exc: BaseException) -> str:
    """One line for the user: the domain message, or the error's type and first line."""

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(to_domain(exc), CIMError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text} (run with --debug for the traceback)"


def print_error(message: str) -> None:
    """``error: message`` on stderr, on one line."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Inside a command: print ``error: message`` on stderr and exit with ``code``."""
    print_error(message)
    raise typer.Exit(code)
