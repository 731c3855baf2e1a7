"""Vocabulary of the city model: phases, classifications, CIM levels, feature classes."""

from __future__ import annotations

from cim.errors import ValidationError

#: 规划 plan · 建设 build · 管理 manage · 运行 operate
PHASES = ("plan", "build", "manage", "operate")

#: who may see a layer, lowest first; a ``secret`` layer (residents) is read only through
#: ``cim.people``, which masks field by field and audits every read
CLASSIFICATIONS = ("public", "internal", "restricted", "secret")

#: CJJ/T 315 CIM levels: 1 terrain/planning … 7 components' parts
CIM_LEVELS = range(1, 8)

LAYER_KINDS = ("vector", "raster", "bim", "cityjson", "sensor")

DEFAULT_CRS = "EPSG:4549"


def check_phase(phase: str) -> str:
    """The phase, or a ValidationError naming the allowed ones."""
    if phase not in PHASES:
        raise ValidationError(f"unknown phase {phase!r}: use one of {', '.join(PHASES)}")
    return phase


def check_classification(value: str) -> str:
    """The classification, or a ValidationError naming the allowed ones."""
    if value not in CLASSIFICATIONS:
        raise ValidationError(
            f"unknown classification {value!r}: use one of {', '.join(CLASSIFICATIONS)}"
        )
    return value


def check_layer_name(name: str) -> str:
    """Layer names are identifiers users type in URLs and SQL: letters, digits, _ and -."""
    import re

    if not name or not re.fullmatch(r"[\w\-]{1,64}", name):
        raise ValidationError(
            f"bad layer name {name!r}: use 1–64 letters, digits, '_' or '-' (e.g. --layer parcels)"
        )
    return name
