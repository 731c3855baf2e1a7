"""Alert rules: thresholds with hysteresis, rates of change, stale sensors — per datastream, or per
class of city feature and/or observed property; from Python or a YAML file.

YAML form (``cim iot rules CITY rules.yaml``)::

    rules:
      - name: tunnel-methane
        kind: above            # above | below | rate | stale
        property: methane      # and/or feature_class: UtilityTunnel, or datastream: <key or id>
        threshold: 20          # %{LEL}: raise above 20
        clear: 10              # end below 10 (hysteresis)
        level: alarm           # warn | alarm
      - name: charger-silent
        kind: stale
        property: charger_state
        minutes: 30
        level: warn
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cim.errors import SourceError, ValidationError, first_line
from cim.iot.lookup import datastream_id
from cim.iot.units import PROPERTIES

if TYPE_CHECKING:
    from cim.city import City

KINDS = ("above", "below", "rate", "stale")
LEVELS = ("warn", "alarm")


@dataclass
class Rule:
    """One alert rule. ``threshold`` is in the datastream's unit (per minute for ``rate``)."""

    name: str
    kind: str
    level: str = "warn"
    datastream: str | int | None = None
    feature_class: str | None = None
    property: str | None = None
    threshold: float | None = None
    clear: float | None = None
    minutes: float | None = None
    message: str | None = None
    enabled: bool = True

    def check(self, where: str = "") -> Rule:
        """The rule itself when it is complete and consistent, else a ValidationError saying why."""
        at = f"rule {self.name!r}{where}"
        if not self.name or len(self.name) > 128:
            raise ValidationError(f"rule{where}: give a name (1-128 characters)")
        if self.kind not in KINDS:
            raise ValidationError(f"{at}: unknown kind {self.kind!r}, use one of {', '.join(KINDS)}")
        if self.level not in LEVELS:
            raise ValidationError(f"{at}: unknown level {self.level!r}, use warn or alarm")
        if self.datastream is None and not self.feature_class and not self.property:
            raise ValidationError(f"{at}: say what it watches: datastream, property and/or feature_class")
        if self.kind == "stale":
            if not self.minutes or self.minutes <= 0:
                raise ValidationError(f"{at}: a stale rule needs minutes > 0 (no data for that long)")
            return self
        if self.threshold is None:
            raise ValidationError(f"{at}: a {self.kind} rule needs a threshold")
        if self.clear is not None:
            below = self.kind == "below"
            if (below and self.clear < self.threshold) or (not below and self.clear > self.threshold):
                side = "at or above" if below else "at or below"
                raise ValidationError(f"{at}: clear ({self.clear}) must be {side} the threshold "
                                      f"({self.threshold}) so the alert can end")
        if self.kind == "rate" and self.threshold <= 0:
            raise ValidationError(f"{at}: a rate threshold is a positive change per minute")
        return self


def add_rules(city: City, rules: list[Rule | dict[str, Any]], *, source: str = "python",
              replace: bool = False, actor: str | None = None) -> list[int]:
    """Add or update rules (matched by name) in one transaction; returns their ids.

    ``replace=True`` disables every other rule (rules are never deleted: alerts refer to them).

    Example:
        >>> add_rules(city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120)])
        ... # doctest: +SKIP
    """
    parsed = [_as_rule(r, i) for i, r in enumerate(rules)]
    names = [r.name for r in parsed]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValidationError(f"rule name {dup!r} appears twice: names are unique in a city")
    ids = []
    with city.store.transaction():
        city.store.lock("iot:rules")  # names are matched and ids handed out (max + 1) one writer at a time
        if replace:
            city.store.execute("UPDATE iot_rules SET enabled = false")
        for rule in parsed:
            ids.append(_upsert(city, rule, source))
        city.record("iot-rules", details={"source": source, "rules": names, "replace": replace}, actor=actor)
    return ids


def load_rules(city: City, path: str | Path, *, replace: bool = False, actor: str | None = None) -> list[int]:
    """Add the rules of a YAML file (see the module docstring for its form)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceError(f"cannot read rules file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"{path} is not valid YAML: {first_line(exc)}") from exc
    items = doc.get("rules") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise SourceError(f"{path}: expected a list under 'rules:' (see `cim iot rules --help`)")
    return add_rules(city, items, source=str(path), replace=replace, actor=actor)


def list_rules(city: City) -> list[dict[str, Any]]:
    """Every rule with its definition, enabled or not."""
    return city.store.arrow("SELECT * FROM iot_rules ORDER BY id").to_pylist()


def _as_rule(item: Rule | dict[str, Any], i: int) -> Rule:
    if isinstance(item, Rule):
        return item.check()
    if not isinstance(item, dict):
        raise ValidationError(f"rules[{i}] is {type(item).__name__}, expected a mapping with name, kind, …")
    fields = set(Rule.__dataclass_fields__)
    unknown = set(item) - fields
    if unknown:
        raise ValidationError(f"rules[{i}]: unknown field(s) {', '.join(sorted(unknown))}; "
                              f"fields are {', '.join(sorted(fields))}")
    try:
        rule = Rule(**{k: item[k] for k in item})
        for key in ("threshold", "clear", "minutes"):
            if getattr(rule, key) is not None:
                setattr(rule, key, float(getattr(rule, key)))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"rules[{i}]: {exc}") from exc
    return rule.check(f" (rules[{i}])")


def _upsert(city: City, rule: Rule, source: str) -> int:
    store = city.store
    ds_id = _datastream_id(city, rule) if rule.datastream is not None else None
    if rule.property and rule.property not in PROPERTIES and not store.scalar(
            "SELECT count(*) FROM iot_properties WHERE key = ?", [rule.property]):
        raise ValidationError(f"rule {rule.name!r}: unknown observed property {rule.property!r}")
    row = asdict(rule)
    values = [rule.kind, rule.level, ds_id, rule.feature_class, rule.property, row["threshold"], row["clear"],
              row["minutes"], rule.message, rule.enabled, source]
    found = store.scalar("SELECT id FROM iot_rules WHERE name = ?", [rule.name])
    if found is not None:
        store.execute("UPDATE iot_rules SET kind = ?, level = ?, datastream_id = ?, feature_class = ?, property = ?, "
                      "threshold = ?, clear = ?, minutes = ?, message = ?, enabled = ?, source = ? WHERE id = ?",
                      [*values, found])
        return int(found)
    new_id = int(store.scalar("SELECT coalesce(max(id), 0) + 1 FROM iot_rules"))
    store.execute("INSERT INTO iot_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [new_id, rule.name, *values[:10], source, datetime.now(UTC)])
    return new_id


def _datastream_id(city: City, rule: Rule) -> int:

    return datastream_id(city, rule.datastream, where=f"rule {rule.name!r}")
