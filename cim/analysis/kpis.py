"""Key figures per viewer mode (plan · build · manage · operate), pluggable per subsystem.

Core figures come from the layers the role may see, found by feature class (Parcel, Building,
Pipe, UtilityTunnel, ParkingLot …) so any city — not only the demo — gets them. A subsystem adds
its own by being listed in ``PROVIDER_MODULES``: a module with ``kpis(city, mode, role) -> list``
(the IoT part fills ``operate`` this way). Results are cached per model version and role.

Example:
    >>> [k["key"] for k in kpis(city, "plan", role="anonymous")]   # doctest: +SKIP
    ['parcels', 'buildings', 'height_violations', 'setback_violations', 'far_violations']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cim.access import view_of
from cim.analysis.compliance import check_compliance
from cim.analysis.rules import NEEDS, load_rules
from cim.errors import ValidationError
from cim.model.catalog import LayerInfo, all_layers, class_census, per_version
from cim.model.relations import features, prop

if TYPE_CHECKING:
    from cim.city import City

MODES = ("plan", "build", "manage", "operate")
#: modules with ``kpis(city, mode, role)``, asked after the core figures when importable
PROVIDER_MODULES = ("cim.iot.kpis",)

def kpi(key: str, zh: str, en: str, value: Any, unit: str | None = None, level: str | None = None) -> dict[str, Any]:
    """One figure in the shape the viewer reads."""
    return {"key": key, "label_zh": zh, "label_en": en, "value": value, "unit": unit, "level": level}


def kpis(city: City, mode: str, *, role: str = "anonymous") -> list[dict[str, Any]]:
    """The figures of one mode for one role."""
    if mode not in MODES:
        raise ValidationError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if mode == "operate":  # live figures (sensors, alerts) change without a new model version
        return _figures(city, mode, role)
    return per_version(city, "kpis", (mode, role), lambda: _figures(city, mode, role), keep=256)


def _figures(city: City, mode: str, role: str) -> list[dict[str, Any]]:
    layers = {n: i for n, i in all_layers(city).items() if view_of(i.classification, role) is not None}
    out = list(_CORE[mode](city, layers))
    for module in PROVIDER_MODULES:
        provider = _provider(module)
        if provider is not None:
            out += provider(city, mode, role)
    return out


def _provider(module: str) -> Callable[..., list[dict[str, Any]]] | None:
    try:
        return getattr(importlib.import_module(module), "kpis", None)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


@dataclass(frozen=True)
class _Holding:
    """The visible layers holding features of one class (a CityJSON layer holds several), and how many."""

    cls: str
    infos: tuple[LayerInfo, ...]
    count: int

    def __bool__(self) -> bool:
        return self.count > 0

    def relation(self, columns: str, where: str | None = None) -> str:
        return features(layers=[i.name for i in self.infos], classes=[self.cls], columns=columns, where=where)


def _of_class(city: City, layers: dict[str, LayerInfo], cls: str) -> _Holding:
    census = class_census(city)
    counts = {name: sum(n for (c, _), n in census.get(name, {}).items() if c == cls) for name in layers}
    infos = tuple(layers[name] for name, n in counts.items() if n)
    return _Holding(cls, infos, sum(counts.values()))


def _count(city: City, held: _Holding, where: str | None = None) -> int:
    if not held:
        return 0
    if where is None:
        return held.count
    return int(city.store.scalar(held.relation("count(*)", where)) or 0)


def _flag(held: _Holding, field: str) -> bool:
    return any(field in i.field_names for i in held.infos)


#: rule → the KPI card of its failures on the 规划 screen
RULE_CARDS = {"height": ("height_violations", "超高建筑", "Height violations", "alarm"),
              "setback": ("setback_violations", "退线不足", "Setback violations", "alarm"),
              "far": ("far_violations", "容积率超标地块", "Parcels over FAR", "warn")}


@dataclass(frozen=True)
class ScreenRule:
    """One rule as the 规划 screen shows it: its failures (GeoDataFrame) and the layers it read."""

    failures: Any
    inputs: frozenset[str]


def _plan(city: City, layers: dict[str, LayerInfo]) -> list[dict[str, Any]]:
    parcels, buildings = _of_class(city, layers, "Parcel"), _of_class(city, layers, "Building")
    out = [kpi(key, zh, en, held.count) for key, zh, en, held in (
        ("parcels", "地块", "Parcels", parcels), ("buildings", "建筑", "Buildings", buildings)) if held]
    for rule, found in screen_rules(city, set(layers)).items():
        key, zh, en, level = RULE_CARDS[rule]
        n = len(found.failures)
        out.append(kpi(key, zh, en, n, None, level if n else "ok"))
    return out


def screen_rules(city: City, visible: set[str] | None = None) -> dict[str, ScreenRule]:
    """The failures of each rule of ``RULE_CARDS`` the city has the inputs for — from the compliance
    engine, once per model version (never from attributes in the data). With ``visible`` (layer
    names a role may see), only the rules whose every input layer is among them."""
    found = per_version(city, "screen_rules", None, lambda: _run_screen_rules(city))
    return {rule: r for rule, r in found.items() if visible is None or r.inputs <= visible}


def _run_screen_rules(city: City) -> dict[str, ScreenRule]:
    rules = load_rules().bind(city)
    runnable = [r for r in RULE_CARDS if not rules.missing(r)]
    if not runnable:
        return {}
    table = check_compliance(city, rules=rules, only=runnable, only_failures=True)
    return {rule: ScreenRule(table[table["rule"] == rule].reset_index(drop=True),
                             frozenset(name for role in NEEDS[rule] for name in rules.input(role).layers))
            for rule in runnable}


def _build(city: City, layers: dict[str, LayerInfo]) -> list[dict[str, Any]]:
    parcels = _of_class(city, layers, "Parcel")
    out = []
    if _flag(parcels, "worksite"):
        n = _count(city, parcels, prop("worksite", "BOOLEAN"))
        out.append(kpi("worksites", "在建工地", "Worksites", n))
    bim = [i for i in layers.values() if i.kind == "bim"]
    out.append(kpi("bim_models", "BIM 模型", "BIM models", len(bim)))
    out.append(kpi("bim_elements", "BIM 构件", "BIM elements", sum(i.count for i in bim)))
    return out


def _length_km(city: City, held: _Holding) -> float:
    if not held:
        return 0.0
    metres = city.store.scalar(held.relation(
        "sum(CASE WHEN ST_Dimension(geom) = 2 THEN ST_Perimeter(geom) / 2 ELSE ST_Length(geom) END)"))
    return round(float(metres or 0) / 1000, 1)


def _sum_field(city: City, held: _Holding, field: str) -> float:
    if not _flag(held, field):
        return 0
    total = city.store.scalar(held.relation(f"sum({prop(field)})"))
    return int(total or 0)


def _manage(city: City, layers: dict[str, LayerInfo]) -> list[dict[str, Any]]:
    out = []
    pipes, tunnels = _of_class(city, layers, "Pipe"), _of_class(city, layers, "UtilityTunnel")
    if pipes:
        out.append(kpi("pipes_km", "地下管线", "Pipelines", _length_km(city, pipes), "km"))
    if tunnels:
        out.append(kpi("tunnel_km", "综合管廊", "Utility tunnels", _length_km(city, tunnels), "km"))
    roads = _of_class(city, layers, "Road")
    if roads:
        out.append(kpi("roads_km", "道路", "Roads", _length_km(city, roads), "km"))
    lots = _of_class(city, layers, "ParkingLot")
    if lots:
        out.append(kpi("parking_capacity", "停车泊位", "Parking spaces", _sum_field(city, lots, "capacity")))
        if _flag(lots, "chargers"):
            out.append(kpi("chargers", "充电桩", "EV chargers", _sum_field(city, lots, "chargers")))
    return out


def _operate(city: City, layers: dict[str, LayerInfo]) -> list[dict[str, Any]]:
    return []


_CORE: dict[str, Callable[[City, dict[str, LayerInfo]], list[dict[str, Any]]]] = {
    "plan": _plan, "build": _build, "manage": _manage, "operate": _operate}

__all__ = ["kpis", "kpi", "screen_rules", "ScreenRule", "RULE_CARDS", "MODES", "PROVIDER_MODULES"]
