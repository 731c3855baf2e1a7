"""The demo city's recipe (``datasets/demo_city.yaml``) read into a typed object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cim.errors import ValidationError

DEFAULT_RECIPE = Path(__file__).resolve().parents[2] / "datasets" / "demo_city.yaml"


@dataclass(frozen=True)
class Recipe:
    """Everything that shapes the demo city; see ``datasets/demo_city.yaml`` for the meaning."""

    raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def land_use_codes(self) -> list[str]:
        return list(self.raw["land_uses"])


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Read a recipe; a missing or malformed file is a ValidationError naming it."""
    path = Path(path) if path else DEFAULT_RECIPE
    if not path.is_file():
        raise ValidationError(f"demo recipe {path} not found: pass --recipe FILE")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(f"demo recipe {path} is not valid YAML: {exc}") from exc
    missing = {"origin", "block", "land_uses", "buildings_by_kind", "pipes", "road_names"} - set(raw or {})
    if missing:
        raise ValidationError(f"demo recipe {path} lacks {', '.join(sorted(missing))}")
    return Recipe(raw)
