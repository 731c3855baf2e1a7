"""What a batch of observations did: counts that reconcile and every refused row with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ObservationReport:
    """The result of writing one batch (a file, an MQTT flush, an HTTP POST).

    ``read == stored + duplicates + rejected`` always holds: a duplicate is an observation already
    stored with the same value (re-delivery, a file loaded twice) and is harmless; a reject is
    refused with a reason (unknown datastream, missing or non-numeric value, time without zone,
    conflicting value, malformed message …).
    """

    source: str
    kind: str = "python"
    batch_id: int = 0
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    alerts_opened: list[int] = field(default_factory=list)
    alerts_cleared: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)  # datastreams whose latest value moved
    notes: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        """True when every observation read was stored, recognised as a duplicate, or rejected."""
        return self.read == self.stored + self.duplicates + self.rejected

    def reject(self, where: str, why: str) -> None:
        """Record one refused observation or message."""
        self.rejects.append((where, why))
        self.rejected = len(self.rejects)

    def reasons(self) -> dict[str, int]:
        """Rejects counted by reason (the part before any ':' detail)."""
        counts: dict[str, int] = {}
        for _where, why in self.rejects:
            head = why.split(":", 1)[0]
            counts[head] = counts.get(head, 0) + 1
        return counts

    def as_dict(self, *, rejects: int = 20) -> dict[str, Any]:
        """Plain data for JSON output and history (the first ``rejects`` refused rows)."""
        return {
            "source": self.source, "kind": self.kind, "batch": self.batch_id, "read": self.read,
            "stored": self.stored, "duplicates": self.duplicates, "rejected": self.rejected,
            "reasons": self.reasons(), "alerts_opened": len(self.alerts_opened),
            "alerts_cleared": len(self.alerts_cleared), "notes": self.notes,
            "rejects": [{"where": w, "why": y} for w, y in self.rejects[:rejects]],
        }
