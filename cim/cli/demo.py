"""``cim demo``: build the demo city."""

from __future__ import annotations

from pathlib import Path

import typer

from cim.cli.common import console
from cim.demo import build_demo
from cim.demo.sensors import publish_live
from cim.store import is_url


def register(app: typer.Typer) -> None:
    """Add ``cim demo`` to ``app``."""
    app.command("demo")(demo)


def demo(
    city: str = typer.Argument("demo/city.duckdb", help="Where to write the demo city: a file, or an empty "
                                                        "PostGIS database as postgresql://user:pass@host/db."),
    scale: int = typer.Option(None, help="About this many buildings (default ~3 000; 1000000 for benchmarks)."),
    seed: int = typer.Option(None, help="Random seed (default: the recipe's); same seed, same city."),
    recipe: Path = typer.Option(None, help="Recipe YAML (default: datasets/demo_city.yaml)."),
    overwrite: bool = typer.Option(False, help="Replace an existing city at that path."),
    live: bool = typer.Option(False, help="Then keep the demo sensors reporting to --broker (until Ctrl-C); "
                                          "an existing demo city is reused. Serve it with cim serve --mqtt."),
    broker: str = typer.Option("127.0.0.1:1883", help="MQTT broker for --live."),
    interval: float = typer.Option(5.0, help="Seconds between readings with --live."),
) -> None:
    """Generate a Qingdao West Coast–like demo district: roads, parcels, buildings, pipes, DEM …"""

    if live and not is_url(city) and Path(city).exists() and not overwrite:
        _live(city, broker, interval)
        return
    with console.status("building the demo city …") as status:
        c = build_demo(city, scale=scale, seed=seed, recipe=recipe, overwrite=overwrite,
                       progress=lambda msg: status.update(msg))
    try:
        layers = c.layers
    finally:
        c.close()
    for row in layers.itertuples():
        console.print(f"  {row.name:<16} {row.kind:<8} {row.phase:<8} {row.feature_count:>9} features",
                      highlight=False)
    console.print(f"demo city written to {c.location}")
    if live:
        _live(city, broker, interval)


def _live(city: str, broker: str, interval: float) -> None:

    console.print(f"publishing the demo sensors to {broker} every {interval:g} s; Ctrl-C to stop", highlight=False)
    try:
        publish_live(city, broker, interval=interval, say=lambda msg: console.print(msg, highlight=False))
    except KeyboardInterrupt:
        console.print("stopped")
