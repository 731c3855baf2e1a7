"""A time limit on each read statement, set by whoever serves a request (the server: per request).

A server answers strangers: one costly but allowed filter must not hold a worker (and a core) for
minutes. ``statement_timeout(seconds)`` sets the limit for the code inside it (a context variable,
so it follows the request into the worker thread that runs it and nowhere else); the stores obey
it on their read paths:

* DuckDB (``ThreadedStore``): a watchdog thread calls ``interrupt()`` on the reading cursor when a
  statement runs past its limit;
* PostGIS: the reading connection's ``statement_timeout`` is set to the limit.

Either way the statement stops and ``cim.errors.QueryTimeout`` is raised (the server answers 503
with ``Retry-After``). Work that is not the caller's query — preparing a layer's tile tables — runs
under ``statement_timeout(None)``. Writes (inside transactions) are never cut.

Example:
    >>> with statement_timeout(5):                                  # doctest: +SKIP
    ...     city.store.rows("SELECT … a costly filter …")           # QueryTimeout after 5 s
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from cim.errors import QueryTimeout

_LIMIT: ContextVar[float | None] = ContextVar("cim_statement_timeout", default=None)


@contextmanager
def statement_timeout(seconds: float | None) -> Iterator[None]:
    """Read statements run inside take at most ``seconds`` each (None or 0: no limit)."""
    token = _LIMIT.set(seconds if seconds and seconds > 0 else None)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def current_timeout() -> float | None:
    """The limit in force here, in seconds, or None."""
    return _LIMIT.get()


def timed_out(seconds: float) -> QueryTimeout:
    """The error of a statement stopped at its limit."""
    return QueryTimeout(f"the query took longer than {seconds:g} s and was stopped: narrow it (a smaller bbox, "
                        "a simpler filter, fewer items per page) or try again later", seconds=seconds)


class _Watchdog:
    """One thread that interrupts DuckDB cursors whose statement outlived its limit."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watched: dict[int, list[Any]] = {}  # id → [deadline, cursor, fired]
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, cursor: Any, seconds: float) -> Iterator[list[Any]]:
        """While inside, ``cursor`` is interrupted once ``seconds`` have passed; the entry's third
        item tells whether that happened."""
        entry = [time.monotonic() + seconds, cursor, False]
        with self._cond:
            key = next(self._ids)
            self._watched[key] = entry
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="statement-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
        try:
            yield entry
        finally:
            with self._cond:  # after this no interrupt can reach the cursor's next statement
                self._watched.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                for entry in self._watched.values():
                    if not entry[2] and entry[0] <= now:
                        entry[2] = True
                        entry[1].interrupt()
                pending = [e[0] for e in self._watched.values() if not e[2]]
                self._cond.wait(min(pending) - now if pending else None)


_WATCHDOG = _Watchdog()


@contextmanager
def interrupt_after(cursor: Any, interrupted: type[BaseException]) -> Iterator[None]:
    """Run a DuckDB statement on ``cursor`` under the limit in force (if any); one stopped by the
    watchdog (raising ``interrupted``) becomes ``QueryTimeout``."""
    seconds = current_timeout()
    if seconds is None:
        yield
        return
    with _WATCHDOG.watch(cursor, seconds) as entry:
        try:
            yield
        except interrupted as exc:
            if entry[2]:
                raise timed_out(seconds) from exc
            raise


__all__ = ["statement_timeout", "current_timeout", "timed_out", "interrupt_after"]
