"""What an ingest did: counts that reconcile (read = stored + rejected) and every rejected row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: ``progress(message, fraction_done)``: how long work reports where it is (the CLI draws a bar)
Progress = Callable[[str, float], None]


def quiet(_message: str, _fraction: float) -> None:
    """The default progress callback: says nothing."""


@dataclass
class Reject:
    """One refused row or element: where it was and why."""

    source: str
    row: str  # row number (1-based) or GlobalId
    reason: str


@dataclass
class IngestReport:
    """The result of putting one source into the city."""

    layer: str
    source: str
    kind: str
    version: int = 0
    read: int = 0
    stored: int = 0
    repaired: int = 0
    rejected: int = 0
    unchanged: bool = False
    source_crs: str | None = None
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        """True when every row read was either stored or rejected."""
        return self.read == self.stored + self.rejected

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output and history."""
        return {
            "layer": self.layer,
            "source": self.source,
            "kind": self.kind,
            "version": self.version,
            "read": self.read,
            "stored": self.stored,
            "repaired": self.repaired,
            "rejected": self.rejected,
            "unchanged": self.unchanged,
            "source_crs": self.source_crs,
            "notes": self.notes,
            **self.extra,
        }
