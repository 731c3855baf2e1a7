"""Planning rules (规划条件) read from YAML: which limits apply, where they come from, their names.

Why: limits differ between cities and plans; planners change a YAML file, not code. The default
file, ``datasets/planning_rules.yaml``, names each rule in Chinese and English and takes limits
from the parcel's own zoning fields (``far_limit``, ``height_limit`` …) when present.

Example:
    >>> rules = load_rules()                       # the default rules
    >>> rules.rule("height")["name"]
    '限高'
    >>> rules = load_rules("my_rules.yaml")        # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cim.analysis.inputs import Input, find_inputs
from cim.errors import ValidationError, first_line

if TYPE_CHECKING:
    from cim.city import City

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "datasets" / "planning_rules.yaml"

#: every rule the checker knows, in the order results are listed
RULE_KEYS = ("height", "far", "density", "green", "setback", "road_red_line", "spacing", "sunlight")

#: the inputs each rule needs; a rule whose inputs the city lacks reports no_data with the reason
NEEDS: dict[str, tuple[str, ...]] = {
    "height": ("parcels", "buildings"), "far": ("parcels", "buildings"), "density": ("parcels", "buildings"),
    "green": ("parcels", "buildings"), "setback": ("parcels", "buildings"), "road_red_line": ("roads", "buildings"),
    "spacing": ("buildings",), "sunlight": ("buildings",),
}

_REQUIRED = {
    "height": ("field",), "far": ("field",), "density": ("field",), "green": ("field",),
    "setback": ("field",), "road_red_line": ("by_class", "default"),
    "spacing": ("high_rise_height", "low_low", "high_low", "high_high"),
    "sunlight": ("day", "window", "min_hours"),
}


@dataclass(frozen=True)
class RuleSet:
    """Rules as read from one YAML file (``source`` names it in messages), bound to a city's inputs
    by ``bind`` (which layers are its parcels, buildings, roads and green space)."""

    raw: dict[str, Any]
    source: str
    inputs: Mapping[str, Input] | None = None

    def bind(self, city: City) -> RuleSet:
        """The same rules with the city's inputs found (by class, or as the file's ``layers:`` names)."""
        return replace(self, inputs=find_inputs(city, self.raw.get("layers") or {}))

    def input(self, role: str) -> Input:
        """What fills ``role`` (parcels, buildings, roads, green_space) in the bound city."""
        if self.inputs is None:
            raise RuntimeError("rules are not bound to a city: call rules.bind(city) first")
        return self.inputs[role]

    def missing(self, key: str) -> list[Input]:
        """The inputs rule ``key`` needs that the bound city lacks (empty: the rule can run)."""
        return [self.input(role) for role in NEEDS[key] if not self.input(role).present]

    def rule(self, key: str) -> dict[str, Any]:
        """One rule's settings; ValidationError when the file does not define it."""
        rules = self.raw.get("rules") or {}
        if key not in rules:
            raise ValidationError(f"{self.source} defines no rule {key!r}: add it under `rules:` "
                                  f"(see {DEFAULT_RULES.name})")
        return rules[key]

    def enabled(self, only: list[str] | tuple[str, ...] | None = None) -> list[str]:
        """Rule keys defined in the file (restricted to ``only``), in the standard order."""
        defined = set(self.raw.get("rules") or {})
        if only:
            unknown = [k for k in only if k not in RULE_KEYS]
            if unknown:
                raise ValidationError(f"unknown rule {', '.join(unknown)}: use {', '.join(RULE_KEYS)}")
            missing = [k for k in only if k not in defined]
            if missing:
                raise ValidationError(f"{self.source} defines no rule {', '.join(missing)}")
            return [k for k in RULE_KEYS if k in only]
        return [k for k in RULE_KEYS if k in defined]

    @property
    def floor_height(self) -> float:
        """Storey height used when a building has no ``floors`` value."""
        return float(self.raw.get("floor_height", 3.0))


def load_rules(source: str | Path | dict[str, Any] | RuleSet | None = None) -> RuleSet:
    """Rules from a YAML file, a dict of the same shape, or the default file when None.

    A dict (or a file) only needs the rules it changes: anything it leaves out is taken from the
    default rules, so ``{"rules": {"height": {"default": 24}}}`` is a complete rule set, and
    ``{"rules": {"sunlight": None}}`` switches one rule off.
    """
    if isinstance(source, RuleSet):
        return source
    base = _read(DEFAULT_RULES)
    if source is None:
        return _checked(RuleSet(base, str(DEFAULT_RULES)))
    if isinstance(source, dict):
        raw, name = source, "rules"
    else:
        path = Path(source)
        raw, name = _read(path), str(path)
    return _checked(RuleSet(_merge(base, raw), name))


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValidationError(f"rules file {path} not found: pass an existing YAML file (e.g. {DEFAULT_RULES})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        first = first_line(exc)
        raise ValidationError(f"rules file {path} is not valid YAML ({first}): fix the indentation") from exc
    if not isinstance(raw, dict):
        raise ValidationError(f"rules file {path} must be a mapping with `rules:` at the top")
    return raw


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if value is None and isinstance(out.get(key), dict):
            out.pop(key)  # `height: null` switches a default rule off
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _checked(rules: RuleSet) -> RuleSet:
    for key, settings in (rules.raw.get("rules") or {}).items():
        if key not in RULE_KEYS:
            raise ValidationError(f"{rules.source}: unknown rule {key!r}; rules are {', '.join(RULE_KEYS)}")
        if not isinstance(settings, dict):
            raise ValidationError(f"{rules.source}: rule {key!r} must be a mapping of settings")
        lacking = [k for k in _REQUIRED[key] if k not in settings]
        if lacking:
            raise ValidationError(f"{rules.source}: rule {key!r} lacks {', '.join(lacking)}")
    return rules


__all__ = ["RuleSet", "load_rules", "DEFAULT_RULES", "RULE_KEYS", "NEEDS"]
