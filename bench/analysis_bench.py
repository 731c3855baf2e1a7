"""Planning indicators (容积率, 建筑密度, 绿地率 …) of the demo city: cim (DuckDB) vs geopandas; sunlight speed.

    python -m bench.analysis_bench                   # 100 000 buildings
    python -m bench.analysis_bench --scale 1000000   # the full 1 M-building city
    python -m bench.analysis_bench --quick           # smoke check: 2 000 buildings, 50 for sunlight

Indicators: cim reads the city file and runs one DuckDB query (spatial join parcel ⊃ building
centroid, sums, green-space intersection); geopandas gets the same layers already in memory
(its read time is printed apart) and does sjoin + groupby + overlay. Both results are compared.
The goal is ours ≤ 0.5 × geopandas. Sunlight: hours on 大寒日 for 1 000 residential buildings,
reported as buildings per second. Times are medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

import cim
from bench.common import print_table, ratio, repeated, timed
from cim.analysis import indicators, sunlight
from cim.demo import generate_frames, ingest_frame
from cim.demo.recipe import load_recipe


def build(workdir: Path, scale: int) -> tuple[Path, dict[str, gpd.GeoDataFrame]]:
    """The demo city's parcels, buildings and green space in a city file and as GeoParquet."""
    frames = generate_frames(load_recipe(), np.random.default_rng(1), buildings=scale, crs="EPSG:4549")
    path = workdir / "city.duckdb"
    city = cim.create(path)
    for name in ("parcels", "buildings", "green_space"):
        ingest_frame(city, name, frames[name], workdir)
    city.close()
    return path, {n: frames[n] for n in ("parcels", "buildings", "green_space")}


def geopandas_indicators(parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
                         green: gpd.GeoDataFrame) -> pd.DataFrame:
    """The same definitions in plain geopandas: centroid sjoin, groupby, intersection areas."""
    fp = buildings.geometry.area
    points = gpd.GeoDataFrame({"fp": fp.to_numpy(), "fa": (fp * buildings["floors"]).to_numpy(),
                               "h": buildings["height"].to_numpy()}, geometry=buildings.geometry.centroid,
                              crs=buildings.crs)
    joined = gpd.sjoin(points, parcels[["parcel_id", "geometry"]], predicate="within")
    agg = joined.groupby("parcel_id").agg(buildings=("fp", "size"), footprint_area=("fp", "sum"),
                                          floor_area=("fa", "sum"), max_height=("h", "max"))
    inter = gpd.overlay(parcels[["parcel_id", "geometry"]], green[["geometry"]], how="intersection")
    green_area = inter.geometry.area.groupby(inter["parcel_id"]).sum()
    out = parcels[["parcel_id"]].set_index("parcel_id").assign(area=parcels.geometry.area.to_numpy())
    out = out.join(agg).join(green_area.rename("green_area"))
    out[["buildings", "footprint_area", "floor_area", "green_area"]] = out[
        ["buildings", "footprint_area", "floor_area", "green_area"]].fillna(0)
    out["far"] = out["floor_area"] / out["area"]
    out["density"] = out["footprint_area"] / out["area"]
    out["green_ratio"] = out["green_area"] / out["area"]
    return out


def run(scale: int, sun_buildings: int, repeat: int = 3) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="cim-analysis-bench-") as tmp:
        workdir = Path(tmp)
        print(f"building a demo city of ~{scale:,} buildings …", flush=True)
        path, frames = build(workdir, scale)
        read_s, _ = timed(lambda: [gpd.read_parquet(workdir / f"{n}.parquet") for n in frames])
        with cim.open(path, read_only=True) as city:
            ours_s, _, ours = repeated(lambda: indicators(city, output="pandas"), repeat)
            theirs_s, _, theirs = repeated(lambda: geopandas_indicators(frames["parcels"], frames["buildings"],
                                                                        frames["green_space"]), repeat)
            _compare(ours, theirs)
            n_buildings = len(frames["buildings"])
            print_table(f"indicators per parcel: {len(frames['parcels']):,} parcels, {n_buildings:,} buildings", [
                {"engine": "cim (DuckDB, from the city file)", "seconds": ours_s, "ratio": ours_s / theirs_s},
                {"engine": "geopandas (layers already in memory)", "seconds": theirs_s, "ratio": 1.0},
                {"engine": "geopandas read of the GeoParquet layers", "seconds": read_s, "ratio": float("nan")},
            ])
            print(f"ratio cim / geopandas = {ours_s / theirs_s:.2f} (goal <= 0.5)")
            ids = city.features("buildings", where="use = '住宅'", limit=sun_buildings, output="pandas")["id"]
            sun_s, _, sun = repeated(lambda: sunlight(city, buildings=list(ids), output="pandas"), repeat)
            print_table("sunlight on 大寒日, 08:00–16:00 true solar time, 5-minute steps", [
                {"buildings": len(sun), "seconds": sun_s, "buildings/s": len(sun) / sun_s,
                 "passing": float(sun["passed"].mean())}])
    summary = [
        ratio(f"indicators per parcel, {n_buildings:,} buildings", f"{ours_s:.2f} s",
              f"geopandas {theirs_s:.2f} s (layers in memory)", ours_s / theirs_s, "≤ 0.5 (time cim/peer)",
              "results agree (counts exact, ratios to 1e-6)"),
        ratio(f"sunlight (大寒日) on {len(sun):,} buildings (buildings/s, not a ratio)",
              f"{len(sun) / sun_s:.1f} buildings/s", "—", len(sun) / sun_s, "≥ 200 buildings/s",
              f"city of {n_buildings:,} buildings; 5-minute steps"),
    ]
    print_table("analysis ratios", summary)
    return summary


def _compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    ours = ours.assign(parcel_id=ours["parcel"].str.removeprefix("parcels.")).set_index("parcel_id")
    ours = ours.loc[theirs.index]
    assert (ours["buildings"].to_numpy() == theirs["buildings"].to_numpy()).all(), "building counts differ"
    for col in ("far", "density", "green_ratio"):
        np.testing.assert_allclose(ours[col].to_numpy(float), theirs[col].to_numpy(float), rtol=1e-6, atol=1e-9)
    print("results agree (counts exact; FAR, density, green ratio to 1e-6)")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000, help="buildings in the demo city")
    parser.add_argument("--sun-buildings", type=int, default=1000, help="residential buildings for sunlight")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (median)")
    parser.add_argument("--quick", action="store_true", help="smoke check: 2 000 buildings, 50 for sunlight, one run")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.sun_buildings, args.repeat = 2000, 50, 1
    return run(args.scale, args.sun_buildings, args.repeat)


if __name__ == "__main__":
    main()
