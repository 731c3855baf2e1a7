"""The demo city: a deterministic Qingdao West Coast–like district built from ``datasets/demo_city.yaml``.

The generator writes ordinary GeoParquet and GeoTIFF files and ingests them through the same path
a city's real data takes. Subsystems add their part (the BIM worksite, the sensors) as steps in
their own modules (``cim/demo/worksite.py``, ``cim/demo/sensors.py``) found by ``STEP_MODULES``.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from cim.city import City, create
from cim.demo.buildings import buildings_frame
from cim.demo.layout import blocks_frame, make_grid, parcels_frame, roads_frame
from cim.demo.networks import green_frame, parking_frame, pipes_frame, tunnel_frame
from cim.demo.recipe import Recipe, load_recipe
from cim.demo.terrain import write_dem
from cim.errors import CityExists
from cim.store import is_url

#: modules with a ``demo_step(city, context)`` function, run in this order when present
STEP_MODULES = ("cim.demo.worksite", "cim.demo.sensors", "cim.demo.population")

#: layer name → (feature class, phase, classification, id field)
LAYERS: dict[str, tuple[str, str, str, str]] = {
    "blocks": ("Block", "plan", "public", "block_id"),
    "parcels": ("Parcel", "plan", "public", "parcel_id"),
    "buildings": ("Building", "manage", "public", "building_id"),
    "roads": ("Road", "manage", "public", "road_id"),
    "pipes": ("Pipe", "manage", "restricted", "pipe_id"),
    "utility_tunnel": ("UtilityTunnel", "manage", "restricted", "tunnel_id"),
    "green_space": ("GreenSpace", "plan", "public", "green_id"),
    "parking_lots": ("ParkingLot", "manage", "public", "lot_id"),
}


#: layer → LAYER.FIELD naming each feature's parent (building → parcel → block)
PARENTS = {"buildings": "parcels.parcel_id", "parcels": "blocks.block_id", "green_space": "parcels.parcel_id",
           "parking_lots": "parcels.parcel_id"}


@dataclass
class DemoContext:
    """What the generator made, handed to the subsystem steps."""

    recipe: Recipe
    rng: np.random.Generator
    source_dir: Path
    frames: dict[str, gpd.GeoDataFrame]
    worksite_parcel: str
    reports: list[Any] = field(default_factory=list)


def build_demo(path: str | Path, *, scale: int | None = None, seed: int | None = None,
               recipe: str | Path | None = None, overwrite: bool = False,
               progress: Callable[[str], None] | None = None) -> City:
    """Generate the demo city into ``path`` (a new file, or an empty PostGIS database's URL); returns it open.

    Example:
        >>> city = build_demo("demo/city.duckdb")               # doctest: +SKIP
        >>> city = build_demo("big.duckdb", scale=1_000_000)     # doctest: +SKIP
    """
    say = progress or (lambda _msg: None)
    if not is_url(path):  # a database city: cim.create refuses one that already holds a city
        path = Path(path)
        _clear(path, overwrite)
    spec = load_recipe(recipe)
    rng = np.random.default_rng(spec["seed"] if seed is None else seed)
    crs = spec.raw.get("crs", "EPSG:4549")
    say("laying out streets, blocks and parcels")
    frames = generate_frames(spec, rng, buildings=scale or spec["buildings"], crs=crs)
    worksite = frames["parcels"].attrs["worksite"]
    city = create(path, crs=crs, name=spec.raw.get("name"))
    source_dir = city.data_dir / "demo-src"
    source_dir.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(spec, rng, source_dir, frames, worksite)
    try:
        for name, frame in frames.items():
            say(f"ingesting {name} ({len(frame)} features)")
            ctx.reports += ingest_frame(city, name, frame, source_dir)
        say("ingesting the DEM")
        dem = write_dem(source_dir / "dem.tif", tuple(frames["blocks"].total_bounds), spec, crs, rng)
        ctx.reports.append(city.ingest(dem, layer="dem", role="dem"))
        for module in STEP_MODULES:
            step = _optional_step(module)
            if step is not None:
                say(f"running {module.rsplit('.', 1)[-1]}")
                step(city, ctx)
    except BaseException:
        city.close()
        raise
    return city


def generate_frames(spec: Recipe, rng: np.random.Generator, *, buildings: int,
                    crs: str) -> dict[str, gpd.GeoDataFrame]:
    """All vector layers of the demo city as GeoDataFrames (nothing written)."""
    grid = make_grid(spec, buildings)
    blocks = blocks_frame(grid, crs)
    parcels = parcels_frame(blocks, spec, rng)
    worksite = _pick_worksite(parcels, spec)
    parcels["worksite"] = parcels["parcel_id"].values == worksite
    parcels.attrs["worksite"] = worksite
    roads = roads_frame(grid, spec, crs)
    return {
        "blocks": blocks,
        "parcels": parcels,
        "buildings": buildings_frame(parcels, spec, rng, skip={worksite}),
        "roads": roads,
        "pipes": pipes_frame(roads, spec, rng),
        "utility_tunnel": tunnel_frame(roads, spec),
        "green_space": green_frame(parcels),
        "parking_lots": parking_frame(parcels, rng),
    }


def ingest_frame(city: City, name: str, frame: gpd.GeoDataFrame, source_dir: Path) -> list[Any]:
    """Write one layer as GeoParquet and ingest it like any user file."""
    cls, phase, classification, id_field = LAYERS[name]
    parent = PARENTS.get(name)
    target = source_dir / f"{name}.parquet"
    frame.to_parquet(target, index=False)
    return city.ingest(target, layer=name, feature_class=cls, phase=phase,
                       classification=classification, id_field=id_field,
                       **({"parent": parent} if parent else {}))


def _pick_worksite(parcels: gpd.GeoDataFrame, spec: Recipe) -> str:
    use = spec.raw.get("worksite", {}).get("land_use", "B1")
    candidates = parcels[parcels["land_use"].values == use]
    if candidates.empty:
        candidates = parcels
    centre = parcels.geometry.union_all().centroid
    nearest = candidates.geometry.centroid.distance(centre).to_numpy().argmin()
    return str(candidates["parcel_id"].values[nearest])


def _optional_step(module: str) -> Callable[[City, DemoContext], None] | None:
    try:
        return importlib.import_module(module).demo_step
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def _clear(path: Path, overwrite: bool) -> None:
    if not path.exists():
        return
    if not overwrite:
        raise CityExists(f"{path} already exists: pass --overwrite to rebuild the demo city")
    path.unlink()
    Path(str(path) + ".wal").unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".data"), ignore_errors=True)


__all__ = ["build_demo", "generate_frames", "DemoContext", "LAYERS", "STEP_MODULES"]
