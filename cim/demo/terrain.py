"""A synthetic DEM for the demo city: low coast in the south, hills to the north."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cim.demo.recipe import Recipe


def write_dem(path: Path, bounds: tuple[float, float, float, float], recipe: Recipe, crs: str,
              rng: np.random.Generator) -> Path:
    """A float32 GeoTIFF covering ``bounds`` (with a margin) at the recipe's resolution.

    Resolution coarsens for large cities so the raster stays under ~4 000 pixels a side.
    """
    import rasterio
    from rasterio.transform import from_origin

    spec = recipe["dem"]
    minx, miny, maxx, maxy = bounds
    minx, miny, maxx, maxy = minx - 200, miny - 200, maxx + 200, maxy + 200
    res = max(float(spec["resolution"]), (maxx - minx) / 4000, (maxy - miny) / 4000)
    width, height = int(np.ceil((maxx - minx) / res)), int(np.ceil((maxy - miny) / res))
    xs = minx + (np.arange(width) + 0.5) * res
    ys = maxy - (np.arange(height) + 0.5) * res
    gx, gy = np.meshgrid(xs, ys)
    north = np.clip((gy - miny) / max(maxy - miny, 1.0), 0.0, 1.0)
    z = spec["base"] + spec["rise"] * north ** 1.5
    for _ in range(6):
        hx, hy = rng.uniform(minx, maxx), rng.uniform(miny + 0.4 * (maxy - miny), maxy)
        r = rng.uniform(300, 900)
        z += rng.uniform(10, 40) * np.exp(-((gx - hx) ** 2 + (gy - hy) ** 2) / (2 * r * r))
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32",
               "crs": crs, "transform": from_origin(minx, maxy, res, res), "nodata": -9999.0,
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z.astype("float32"), 1)
    return path
