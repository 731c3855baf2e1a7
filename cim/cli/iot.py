"""``cim iot …``: register sensors, load observation files, listen to MQTT, rules, latest, alerts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cim.cli.common import CITY_HELP, console, fail
from cim.errors import first_line
from cim.iot import (
    acknowledge_alert,
    backfill_rules,
    check_stale,
    close_alert,
    latest,
    list_alerts,
    list_rules,
    load_rules,
    register_sensors,
    series,
)
from cim.iot.events import jsonable
from cim.iot.load import load_observations
from cim.iot.mqtt import MqttListener
from cim.iot.mqtt_auth import MqttAuth, read_password
from cim.iot.settings import configure, iot_settings, window_for

if TYPE_CHECKING:
    from cim.city import City

iot_app = typer.Typer(help="Sensors bound to city objects: observations, MQTT, rules and alerts.",
                      no_args_is_help=True)


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``cim iot`` to ``app``."""
    app.add_typer(iot_app, name="iot")


def _open(city: str, read_only: bool = False) -> City:
    import cim

    return cim.open(city, read_only=read_only)


@iot_app.command("register")
def register_cmd(city: str = typer.Argument(..., help=CITY_HELP),
                 spec: Path = typer.Argument(..., help="YAML with things: (each with feature: and datastreams:), "
                                                        "and optional sensors: and properties:.")) -> None:
    """Register Things bound to city features, with their datastreams (all or nothing)."""
    import yaml

    try:
        doc = yaml.safe_load(spec.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        fail(f"cannot read {spec}: {first_line(exc)}")
    if not isinstance(doc, dict) or not isinstance(doc.get("things"), list):
        fail(f"{spec}: expected a mapping with a list under things:")
    c = _open(city)
    try:
        made = register_sensors(c, doc["things"], sensors=doc.get("sensors") or [],
                                properties=doc.get("properties") or [])
    finally:
        c.close()
    _say(f"registered {len(made.things)} things and {len(made.datastream_ids)} datastreams")


@iot_app.command("load")
def load_cmd(
    city: str = typer.Argument(..., help=CITY_HELP),
    source: Path = typer.Argument(..., help="CSV or Parquet of observations."),
    timezone: str = typer.Option(None, help="Zone of times written without one, e.g. Asia/Shanghai."),
    time: str = typer.Option(None, help="Time column (default: time/phenomenonTime/…)."),
    time_parts: str = typer.Option(None, help="Time split over columns, e.g. year,month,day,hour."),
    column: list[str] = typer.Option(None, help="Wide files: SRC=DATASTREAM[:UNIT], repeatable "
                                                "(e.g. --column CO=dongsi.co:ug/m3)."),
    datastream: str = typer.Option(None, help="Long files: the datastream column (id or key)."),
    value: str = typer.Option(None, help="Long files: the value column (default: result/value)."),
    unit: str = typer.Option(None, help="Long files: the unit of every value (else a unit column, else "
                                        "the datastream's)."),
    show_rejects: int = typer.Option(10, help="How many rejected rows to list."),
    time_floor: str = typer.Option(None, help="Refuse times before this (default: the city's, 1970-01-01); "
                                              "lower it for historic archives, e.g. 1900-01-01."),
    max_skew: str = typer.Option(None, help="Refuse times later than now plus this (default: the city's, 10m)."),
) -> None:
    """Bulk-load observations (one transaction); prints read / stored / duplicates / rejected."""

    columns, units = _columns(column or [])
    parts = [p.strip() for p in time_parts.split(",")] if time_parts else None
    c = _open(city)
    try:
        report = load_observations(c, source, timezone=timezone, time=time, time_parts=parts, datastream=datastream,
                                   value=value, unit=unit, columns=columns or None, units=units,
                                   time_floor=time_floor, max_skew=max_skew)
    finally:
        c.close()
    _say(f"{source}: read {report.read}, stored {report.stored}, duplicates {report.duplicates}, "
                  f"rejected {report.rejected}")
    for reason, n in report.reasons().items():
        _say(f"  {n:>8} × {reason}")
    for where, why in report.rejects[:show_rejects]:
        _say(f"  rejected {where}: {why}")
    if report.rejected > show_rejects:
        _say(f"  … all {report.rejected} are in table iot_rejects (batch {report.batch_id})")


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _columns(specs: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    columns, units = {}, {}
    for spec in specs:
        src, sep, target = spec.partition("=")
        if not sep or not src or not target:
            fail(f"bad --column {spec!r}: use SRC=DATASTREAM or SRC=DATASTREAM:UNIT")
        ds, _, unit = target.partition(":")
        columns[src] = ds
        if unit:
            units[src] = unit
    return columns, units


@iot_app.command("listen")
def listen_cmd(
    city: str = typer.Argument(..., help=CITY_HELP),
    broker: str = typer.Option("127.0.0.1:1883", help="MQTT broker host:port."),
    prefix: str = typer.Option(None, help="Topic prefix (default cim/<city name>)."),
    client_id: str = typer.Option(None, help="MQTT client id; keep it fixed so the broker keeps the session."),
    batch_size: int = typer.Option(20_000, help="Write after this many messages …"),
    flush_interval: float = typer.Option(0.25, help="… or after this many seconds."),
    exit_when_idle: float = typer.Option(None, help="Stop after this many seconds without messages "
                                                    "(drain the queue, then exit)."),
    username: str = typer.Option(None, help="MQTT username."),
    password_env: str = typer.Option(None, help="Environment variable holding the MQTT password "
                                                "(e.g. CIM_MQTT_PASSWORD)."),
    password_file: Path = typer.Option(None, help="File whose first line is the MQTT password."),
    password: str = typer.Option(None, help="The MQTT password as text (visible to other users: prefer "
                                            "--password-env or --password-file)."),
    tls: bool = typer.Option(False, help="Speak TLS (implied by --ca-file or --cert-file)."),
    ca_file: Path = typer.Option(None, help="CA certificate that signed the broker's certificate."),
    cert_file: Path = typer.Option(None, help="Client certificate (brokers that require one)."),
    key_file: Path = typer.Option(None, help="The client certificate's private key."),
    tls_insecure: bool = typer.Option(False, help="Do not check the broker's host name (test brokers only)."),
    time_floor: str = typer.Option(None, help="Refuse times before this (default: the city's)."),
    max_skew: str = typer.Option(None, help="Refuse times later than now plus this (default: the city's)."),
) -> None:
    """Subscribe to <prefix>/obs/+ and <prefix>/batch (QoS 1) and store what arrives until stopped."""
    import logging
    import signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    auth = MqttAuth(username=username, password=read_password(env=password_env, file=password_file, text=password),
                    tls=tls, ca_file=_text(ca_file), cert_file=_text(cert_file), key_file=_text(key_file),
                    tls_insecure=tls_insecure)
    c = _open(city)
    try:
        listener = MqttListener(c, broker, prefix=prefix, client_id=client_id, batch_size=batch_size,
                                flush_interval=flush_interval, exit_when_idle=exit_when_idle, auth=auth,
                                window=window_for(c, time_floor=time_floor, max_skew=max_skew))
    except BaseException:
        c.close()
        raise
    signal.signal(signal.SIGTERM, lambda *_: listener.request_stop())
    _say(f"listening on {broker} to {listener.prefix}/obs/+ and {listener.prefix}/batch "
                  f"(client id {listener.client_id}); Ctrl-C to stop")
    try:
        listener.run()
    except KeyboardInterrupt:
        listener.request_stop()
        listener.run()  # finishes at once: writes and acknowledges what is buffered
    finally:
        c.close()
    s = listener.stats
    _say(f"messages {s.messages}, stored {s.stored}, duplicates {s.duplicates}, rejected {s.rejected} "
                  f"(malformed messages {s.malformed})")


@iot_app.command("rules")
def rules_cmd(city: str = typer.Argument(..., help=CITY_HELP),
              rules: Path = typer.Argument(None, help="YAML of rules (see docs/iot.md); omit to list."),
              replace: bool = typer.Option(False, help="Disable the rules not in this file."),
              backfill: bool = typer.Option(False, help="Evaluate the file's rules (every enabled rule when no "
                                                        "file is given) over the stored history: their alerts "
                                                        "are made again as if the rules had been there.")) -> None:
    """Add or update alert rules from a YAML file, or list them; --backfill replays the history."""

    c = _open(city, read_only=rules is None and not backfill)
    try:
        names = None
        if rules is not None:
            ids = load_rules(c, rules, replace=replace)
            _say(f"{len(ids)} rules from {rules}")
            names = [r["name"] for r in list_rules(c) if r["id"] in ids]
        if backfill:
            done = backfill_rules(c, names)
            _say(f"backfilled {len(done.rules)} rules over {done.observations} observations in "
                 f"{done.seconds:.2f} s: {done.opened} alerts opened, {done.closed} closed, "
                 f"{done.replaced} earlier alerts replaced")
        listed = list_rules(c)
    finally:
        c.close()
    for r in listed:
        scope = r["datastream_id"] or "/".join(x for x in (r["feature_class"], r["property"]) if x)
        limit = r["minutes"] if r["kind"] == "stale" else r["threshold"]
        _say(f"  {r['id']:>4} {r['name']:<24} {r['kind']:<6} {r['level']:<5} {scope} {limit}"
                      f"{'' if r['enabled'] else ' (disabled)'}")


@iot_app.command("latest")
def latest_cmd(city: str = typer.Argument(..., help=CITY_HELP),
               bbox: str = typer.Option(None, help="lon,lat,lon,lat (or city CRS with --bbox-crs)."),
               bbox_crs: str = typer.Option("EPSG:4326", help="CRS of --bbox.")) -> None:
    """The newest value and status of every datastream, as JSON lines."""

    box = tuple(float(v) for v in bbox.split(",")) if bbox else None
    c = _open(city, read_only=True)
    try:
        rows = latest(c, bbox=box, bbox_crs=bbox_crs).to_pylist()
    finally:
        c.close()
    for row in rows:
        sys.stdout.write(json.dumps(jsonable(row), ensure_ascii=False) + "\n")


@iot_app.command("series")
def series_cmd(city: str = typer.Argument(..., help=CITY_HELP),
               datastream: str = typer.Argument(..., help="Datastream id or key."),
               start: str = typer.Option(None, help="From (ISO 8601 with zone)."),
               end: str = typer.Option(None, help="Until (ISO 8601 with zone)."),
               bucket: str = typer.Option(None, help="Downsample: 30s, 5m, 1h, 1d, PT15M.")) -> None:
    """A datastream's observations (or bucket averages with min/max) as CSV."""

    c = _open(city, read_only=True)
    try:
        table = series(c, datastream, start=start, end=end, bucket=bucket)
    finally:
        c.close()
    sys.stdout.write(table.to_pandas().to_csv(index=False))


@iot_app.command("alerts")
def alerts_cmd(city: str = typer.Argument(..., help=CITY_HELP),
               state: str = typer.Option(None, help="open (not closed yet) | acknowledged | closed."),
               at: str = typer.Option(None, help="Only alerts current at this time (ISO 8601 with zone).")) -> None:
    """List alerts, newest first."""

    c = _open(city, read_only=True)
    try:
        rows = list_alerts(c, state=state, at=at)
    finally:
        c.close()
    for a in rows:
        flag = "active" if a["active"] else "cleared"
        _say(f"{a['id']:>5} {a['level']:<5} {a['state']:<12} {flag:<7} {a['opened_at']:%Y-%m-%d %H:%M} "
                      f"{a['rule']}: {a['message']}")


@iot_app.command("ack")
def ack_cmd(city: str = typer.Argument(..., help=CITY_HELP), alert: int = typer.Argument(..., help="Alert id."),
            by: str = typer.Option(..., help="Who acknowledges (name or role)."),
            note: str = typer.Option(None, help="A note for the history.")) -> None:
    """Acknowledge an alert (closes it if its condition has cleared)."""

    c = _open(city)
    try:
        a = acknowledge_alert(c, alert, by=by, note=note)
    finally:
        c.close()
    _say(f"alert {alert}: {a['state']} (by {by})")


@iot_app.command("close")
def close_cmd(city: str = typer.Argument(..., help=CITY_HELP), alert: int = typer.Argument(..., help="Alert id."),
              by: str = typer.Option(..., help="Who closes it."),
              note: str = typer.Option(None, help="Why, for the history.")) -> None:
    """Close an alert by hand."""

    c = _open(city)
    try:
        close_alert(c, alert, by=by, note=note)
    finally:
        c.close()
    _say(f"alert {alert}: closed (by {by})")


@iot_app.command("settings")
def settings_cmd(city: str = typer.Argument(..., help=CITY_HELP),
                 timezone: str = typer.Option(None, help="The city's time zone (IANA name, e.g. Asia/Shanghai, "
                                                         "Europe/Amsterdam): days start at its local midnight."),
                 time_floor: str = typer.Option(None, help="Refuse observation times before this "
                                                           "(e.g. 1970-01-01, 1900-01-01)."),
                 max_skew: str = typer.Option(None, help="Refuse observation times later than now plus this "
                                                         "(e.g. 10m, 30s).")) -> None:
    """Show the city's time settings, or change them (time zone, plausible time window)."""

    changing = any(v is not None for v in (timezone, time_floor, max_skew))
    c = _open(city, read_only=not changing)
    try:
        now = (configure(c, timezone=timezone, time_floor=time_floor, max_skew=max_skew) if changing
               else iot_settings(c))
    finally:
        c.close()
    _say(f"timezone {now.timezone}")
    _say(f"time_floor {now.time_floor.isoformat()}")
    _say(f"max_skew {now.max_skew.total_seconds():g}s")


@iot_app.command("stale")
def stale_cmd(city: str = typer.Argument(..., help=CITY_HELP)) -> None:
    """Open alerts for sensors silent longer than their stale rules allow (run it periodically)."""

    c = _open(city)
    try:
        opened = check_stale(c)
    finally:
        c.close()
    _say(f"{len(opened)} stale alerts opened")


@iot_app.command("datastreams")
def datastreams_cmd(city: str = typer.Argument(..., help=CITY_HELP)) -> None:
    """List datastreams: id, key, property, unit, thing and the feature it is bound to."""
    c = _open(city, read_only=True)
    try:
        rows = c.store.rows(
            "SELECT d.id, d.key, p.key, d.unit, t.name, t.feature_id FROM iot_datastreams d "
            "JOIN iot_properties p ON p.id = d.property_id JOIN iot_things t ON t.id = d.thing_id ORDER BY d.id")
    finally:
        c.close()
    for ds, key, prop, unit, thing, feature in rows:
        _say(f"{ds:>6} {key or '-':<28} {prop:<14} {unit:<8} {thing} → {feature}")
