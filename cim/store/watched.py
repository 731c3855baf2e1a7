"""A city in a database other processes write too, as a server sees it: writes counted, changes polled.

The layer catalogue, the tile caches and every ETag are keyed by the model version
(``cim.model.catalog.model_version``), which is re-read only when the store's ``generation`` changes.
A DuckDB file has one writer, the server itself, and ``ThreadedStore`` counts its writes. A
PostGIS city has many writers: without a count the token would be read on every request — a round
trip to PostgreSQL before even a cached tile is answered. ``WatchedStore`` gives such a store the
same count: every write through it bumps ``generation`` at once, and a watcher thread reads the
token every ``interval`` seconds, so an ingest made by another process reaches the catalogue,
caches and ETags within ``interval``.

Example:
    >>> store = WatchedStore(cim.open("postgresql://…").store, interval=1.0)   # doctest: +SKIP
    >>> store.start(); ...; store.close()                                       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading

from cim.model.catalog import read_model_version
from cim.store.base import Store
from cim.store.counting import CountingStore

log = logging.getLogger("tiles")


class WatchedStore(CountingStore):
    """Wraps a store shared with other writers: ``generation`` counts own writes and others' changes."""

    def __init__(self, base: Store, *, interval: float = 1.0) -> None:
        super().__init__(base)
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the watcher ---------------------------------------------------------------------------
    def start(self) -> WatchedStore:
        """Start polling the model version (a daemon thread with its own connection)."""
        if self._thread is None and self.interval > 0:
            self._thread = threading.Thread(target=self._watch, name="watch-model-version", daemon=True)
            self._thread.start()
        return self

    def _watch(self) -> None:
        last = None
        while not self._stop.wait(self.interval if last is not None else 0):
            try:
                token = read_model_version(self.base)
            except Exception:  # noqa: BLE001 - a lost connection: keep serving, try again next time
                log.warning("could not read the model version of %s; retrying", self.location)
                continue
            if last is not None and token != last:
                self.changed()
            last = token

    def close(self) -> None:
        """Stop the watcher; the wrapped store stays open (its owner closes it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


__all__ = ["WatchedStore"]
