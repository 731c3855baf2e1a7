"""Rules added or changed after a load, evaluated over the stored history: the alerts are exactly those the
rules would have raised had they been there while the data arrived."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from cim.errors import ValidationError
from cim.iot import Rule, acknowledge_alert, add_rules, backfill_rules, datastream_id, list_alerts, write_observations
from tests.iot.conftest import T0, at
from tests.iot.reference import alerts_above
from tests.iot.test_write import obs

RULES = [
    Rule("dust", "above", "alarm", property="pm10", threshold=150, clear=120),
    Rule("pressure", "below", "warn", feature_class="Pipe", threshold=200, clear=250),
    Rule("flood", "rate", "alarm", datastream="tunnel.level", threshold=0.05, clear=0.02),
    Rule("silent", "stale", "warn", property="noise", minutes=30),
]


def _signal(n: int, seed: int, base: float, amp: float) -> list[float]:
    rng = np.random.default_rng(seed)
    return [round(base + amp * np.sin(i / 9) + rng.normal(0, amp / 3), 3) for i in range(n)]


def _feed(city, batches: int = 4, per: int = 50) -> None:
    """A few hundred readings in order, in several batches, with a silence on the noise sensor."""
    keys = {"ws.dust": (130, 40), "pipe.p": (240, 60), "tunnel.level": (0.5, 0.4)}
    series = {k: _signal(batches * per, i, *p) for i, (k, p) in enumerate(keys.items())}
    noise = datastream_id(city, "ws.noise")
    for b in range(batches):
        rows = [(datastream_id(city, k), at(i), v[i]) for k, v in series.items() for i in range(b * per, (b + 1) * per)]
        rows += [(noise, at(i), 60.0) for i in range(b * per, (b + 1) * per) if not 70 <= i < 130]
        write_observations(city, obs(rows))


def _alerts(city) -> list[tuple]:
    return sorted((a["rule"], a["datastream_id"], a["level"], a["opened_at"], a["cleared_at"], a["value"], a["state"],
                   a["message"]) for a in list_alerts(city, limit=100_000))


def test_a_replay_makes_exactly_the_alerts_ingest_made(iot_city):
    add_rules(iot_city, RULES)
    _feed(iot_city)
    made_on_ingest = _alerts(iot_city)
    assert {a[0] for a in made_on_ingest} == {"dust", "pressure", "flood"}  # each kind raised something
    report = backfill_rules(iot_city, now=at(400))
    replayed = [a for a in _alerts(iot_city) if a[0] != "silent"]  # no stale sweep ran during the feed
    assert replayed == made_on_ingest
    assert report.replaced == len(made_on_ingest) and report.observations == 3 * 200


def test_a_rule_added_after_the_load_opens_and_closes_alerts_as_a_pandas_recomputation_says(iot_city):
    _feed(iot_city)
    add_rules(iot_city, [RULES[0]])
    assert list_alerts(iot_city) == []
    backfill_rules(iot_city, ["dust"])
    ds = datastream_id(iot_city, "ws.dust")
    frame = pd.DataFrame(iot_city.store.rows(
        "SELECT phenomenon_time, result FROM iot_observations WHERE datastream_id = ? ORDER BY 1", [ds]),
        columns=["t", "v"])
    expected = alerts_above(frame, threshold=150, clear=120)
    got = [(a["opened_at"], a["cleared_at"], a["value"]) for a in sorted(list_alerts(iot_city), key=lambda a: a["id"])]
    assert got == expected and len(expected) >= 2
    assert all(a["state"] == ("closed" if a["cleared_at"] else "open") for a in list_alerts(iot_city))


def test_stale_rules_replay_each_silence_longer_than_allowed(iot_city):
    _feed(iot_city)
    add_rules(iot_city, [RULES[3]])
    backfill_rules(iot_city, ["silent"], now=at(260))
    alerts = sorted(list_alerts(iot_city), key=lambda a: a["opened_at"])
    assert [(a["opened_at"], a["cleared_at"], a["active"]) for a in alerts] == [
        (at(69 + 30), at(130), False),          # the silence from minute 70 to 130
        (at(199 + 30), None, True)]             # and the one since the last reading, still on at minute 260
    assert alerts[0]["message"] == "ws.noise: no data since 2026-05-01 01:09 UTC"


def test_a_changed_rule_replaces_its_alerts_and_the_history_keeps_who_had_handled_them(iot_city):
    add_rules(iot_city, [RULES[0]])
    _feed(iot_city)
    before = list_alerts(iot_city)
    (still,) = [a for a in before if a["active"]]  # the feed ends inside a dust episode
    acknowledge_alert(iot_city, still["id"], by="wang")
    add_rules(iot_city, [Rule("dust", "above", "alarm", property="pm10", threshold=170, clear=140)])
    report = backfill_rules(iot_city, ["dust"])
    ds = datastream_id(iot_city, "ws.dust")
    frame = pd.DataFrame(iot_city.store.rows(
        "SELECT phenomenon_time, result FROM iot_observations WHERE datastream_id = ? ORDER BY 1", [ds]),
        columns=["t", "v"])
    got = [(a["opened_at"], a["cleared_at"], a["value"]) for a in sorted(list_alerts(iot_city), key=lambda a: a["id"])]
    assert got == alerts_above(frame, threshold=170, clear=140) and report.replaced == len(before)
    record = iot_city.history().query("action == 'iot-alerts-replaced'")
    assert len(record) == 1 and "wang" in str(record.iloc[0]["details"])


def test_unknown_or_disabled_rules_are_refused(iot_city):
    add_rules(iot_city, [Rule("dust", "above", "alarm", property="pm10", threshold=150, enabled=False)])
    with pytest.raises(ValidationError, match="no rule 'nope'"):
        backfill_rules(iot_city, ["nope"])
    with pytest.raises(ValidationError, match="disabled"):
        backfill_rules(iot_city, ["dust"])


def test_rules_backfill_from_the_command_line(iot_template, tmp_path):
    import cim

    city = tmp_path / "city.duckdb"
    shutil.copy(iot_template, city)
    with cim.open(city) as c:
        _feed(c)
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {name: dust, kind: above, property: pm10, threshold: 150, clear: 120, level: alarm}\n")
    out = subprocess.run([sys.executable, "-m", "cim", "iot", "rules", str(city), str(tmp_path / "rules.yaml"),
                          "--backfill"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "backfilled 1 rules over 200 observations" in out.stdout
    with cim.open(city, read_only=True) as c:
        assert len(list_alerts(c)) >= 2 and T0 <= min(a["opened_at"] for a in list_alerts(c)) < T0 + timedelta(hours=4)
