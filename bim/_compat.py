"""The one door through which `bim` imports ifcopenshell, with an install hint when it is missing.

Why: ifcopenshell is a heavy optional dependency (the `bim` extra). Modules that need it import it
from here so that the error says how to fix it, and so that `bim.cityjson` (which does not need it)
keeps working without it.

Example:
    >>> from bim._compat import ifcopenshell
    >>> ifcopenshell.version  # doctest: +SKIP
    '0.9.0'
"""

from __future__ import annotations

try:
    import ifcopenshell
    import ifcopenshell.util.element
    import ifcopenshell.util.placement
    import ifcopenshell.util.unit
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "bim needs ifcopenshell to read IFC files: pip install 'cim[bim]' (or pip install ifcopenshell)"
    ) from exc

__all__ = ["ifcopenshell"]
