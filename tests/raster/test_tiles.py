"""Raster tiles over HTTP from every sample raster: sizes, transparency, terrain-RGB values."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.raster.conftest import DEMS, SAMPLES, cog_path, interior_pixels, lonlat_of_pixels, tile_pixel

LAYERS = [name for name, _ in SAMPLES.values()]


def _decode(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))


def _source_grid(city, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """Band 1 of the layer's COG and its validity (nodata / mask applied)."""
    import rasterio

    with rasterio.open(cog_path(city, layer)) as ds:
        band = ds.read(1, masked=True)
    return np.ma.getdata(band).astype(float), ~np.ma.getmaskarray(band)


def _maxzoom(client, layer: str) -> int:
    doc = client.get(f"/collections/{layer}/map/tiles/WebMercatorQuad").json()
    assert doc["tilejson"] == "3.0.0" and doc["tiles"][0].endswith("/{z}/{y}/{x}.png")
    return doc["maxzoom"]


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_every_sample_serves_tiles_that_decode_at_256_px(client, raster_city, layer, fmt):
    valid = _source_grid(raster_city, layer)[1]
    rows, cols = interior_pixels(valid, True, 1, np.random.default_rng(1))
    lon, lat = lonlat_of_pixels(raster_city, layer, rows, cols)
    z = _maxzoom(client, layer)
    x, y, _, _ = tile_pixel(lon[0], lat[0], z)
    response = client.get(f"/collections/{layer}/map/tiles/WebMercatorQuad/{z}/{y}/{x}.{fmt}")
    assert response.headers["content-type"] == f"image/{fmt}"
    image = _decode(response)
    assert image.shape == (256, 256, 4)
    assert (image[..., 3] == 255).any()


@pytest.mark.parametrize("layer", ["sfdem", "shade", "rgb_byte", "hro_colorado"])
def test_nodata_is_transparent_and_data_is_opaque(client, raster_city, layer):
    valid = _source_grid(raster_city, layer)[1]
    assert (~valid).any(), "this sample is chosen for its nodata"
    rng = np.random.default_rng(3)
    z = _maxzoom(client, layer) + 1  # tile pixels smaller than the source's
    for want_valid in (True, False):
        rows, cols = interior_pixels(valid, want_valid, 6, rng)
        assert rows.size
        for lon, lat in zip(*lonlat_of_pixels(raster_city, layer, rows, cols), strict=True):
            x, y, px, py = tile_pixel(lon, lat, z)
            for fmt in ("png", "webp"):
                image = _decode(client.get(f"/collections/{layer}/map/tiles/WebMercatorQuad/{z}/{y}/{x}.{fmt}"))
                assert image[py, px, 3] == (255 if want_valid else 0), (fmt, lon, lat)


@pytest.mark.parametrize("layer", DEMS)
def test_terrain_rgb_decodes_to_the_dem_within_a_tenth_of_a_metre(client, raster_city, layer):
    grid, valid = _source_grid(raster_city, layer)
    rows, cols = interior_pixels(valid, True, 12, np.random.default_rng(5))
    z = _maxzoom(client, layer) + 1
    for r, c, lon, lat in zip(rows, cols, *lonlat_of_pixels(raster_city, layer, rows, cols), strict=True):
        x, y, px, py = tile_pixel(lon, lat, z)
        response = client.get(f"/collections/{layer}/terrain/{z}/{y}/{x}.png")
        assert response.headers["content-type"] == "image/png"
        rgba = _decode(response).astype(np.int64)[py, px]
        height = -10000 + (rgba[0] * 65536 + rgba[1] * 256 + rgba[2]) * 0.1
        assert rgba[3] == 255
        assert abs(height - grid[r, c]) <= 0.1, (lon, lat)


def test_terrain_nodata_is_transparent(client, raster_city):
    valid = _source_grid(raster_city, "sfdem")[1]
    rows, cols = interior_pixels(valid, False, 4, np.random.default_rng(7))
    z = _maxzoom(client, "sfdem") + 1
    for lon, lat in zip(*lonlat_of_pixels(raster_city, "sfdem", rows, cols), strict=True):
        x, y, px, py = tile_pixel(lon, lat, z)
        assert _decode(client.get(f"/collections/sfdem/terrain/{z}/{y}/{x}.png"))[py, px, 3] == 0


@pytest.mark.parametrize("layer", ["sfdem", "rgb_byte", "cogeo_rgb"])
def test_tiles_agree_with_rio_tiler_reading_the_same_cog(client, raster_city, layer):
    from rio_tiler.io import Reader

    valid = _source_grid(raster_city, layer)[1]
    rows, cols = interior_pixels(valid, True, 1, np.random.default_rng(11))
    lon, lat = lonlat_of_pixels(raster_city, layer, rows, cols)
    z = _maxzoom(client, layer)
    x, y, _, _ = tile_pixel(lon[0], lat[0], z)
    ours = _decode(client.get(f"/collections/{layer}/map/tiles/WebMercatorQuad/{z}/{y}/{x}.png"))
    with Reader(str(cog_path(raster_city, layer))) as src:
        ref = src.tile(x, y, z, indexes=(1,) if src.dataset.count == 1 else (1, 2, 3))
    ref_alpha = ref.mask > 0
    ours_alpha = ours[..., 3] > 0
    assert (ref_alpha == ours_alpha).mean() > 0.99
    both = ref_alpha & ours_alpha
    if ref.count == 3:
        diff = np.abs(ours[..., :3].astype(int) - np.moveaxis(np.ma.getdata(ref.array), 0, -1).astype(int))
        assert np.median(diff[both]) == 0
    else:  # rendered by rio-tiler with the same range and colour map: the same colours
        from rio_tiler.colormap import cmap

        from serving.raster import raster_source

        low, high = raster_source(raster_city, raster_city.layer(layer)).ranges[0]
        ref.rescale(in_range=((low, high),))
        colours = np.asarray(Image.open(io.BytesIO(ref.render(img_format="PNG", colormap=cmap.get("terrain")))))
        # rio-tiler truncates the rescaled value, we round it: one colour-map step apart at most
        step = int(np.abs(np.diff(np.array([cmap.get("terrain")[i] for i in range(256)], int), axis=0)).max())
        same = (np.abs(colours[..., :3].astype(int) - ours[..., :3].astype(int)) <= step).all(axis=2)
        assert same[both].mean() > 0.99


def test_a_tile_outside_the_raster_is_204_and_bad_addresses_are_4xx(client):
    assert client.get("/collections/sfdem/map/tiles/WebMercatorQuad/12/0/0.png").status_code == 204
    assert client.get("/collections/sfdem/terrain/12/0/0.png").status_code == 204
    for url, status in [
        ("/collections/sfdem/map/tiles/WebMercatorQuad/25/0/0.png", 400),
        ("/collections/sfdem/map/tiles/WebMercatorQuad/3/8/0.png", 400),
        ("/collections/sfdem/map/tiles/WebMercatorQuad/3/0/-1.png", 400),
        ("/collections/sfdem/map/tiles/WebMercatorQuad/3/0/0.gif", 400),
        ("/collections/sfdem/map/tiles/WebMercatorQuad/3/0/0.png?rescale=nan,1", 400),
        ("/collections/sfdem/map/tiles/WebMercatorQuad/3/0/0.png?colormap=no_such_map", 400),
        ("/collections/rgb_byte/map/tiles/WebMercatorQuad/3/0/0.png?colormap=viridis", 400),
        ("/collections/rgb_byte/terrain/3/0/0.png", 400),
        ("/collections/nowhere/map/tiles/WebMercatorQuad/3/0/0.png", 404),
        ("/collections/secret_dem/map/tiles/WebMercatorQuad/3/0/0.png", 404),
    ]:
        response = client.get(url)
        assert response.status_code == status, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_an_unchanged_tile_answers_304_to_its_etag(client, raster_city):
    valid = _source_grid(raster_city, "sfdem")[1]
    rows, cols = interior_pixels(valid, True, 1, np.random.default_rng(2))
    lon, lat = lonlat_of_pixels(raster_city, "sfdem", rows, cols)
    x, y, _, _ = tile_pixel(lon[0], lat[0], 12)
    url = f"/collections/sfdem/map/tiles/WebMercatorQuad/12/{y}/{x}.png"
    first = client.get(url)
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = client.get(url + "?colormap=viridis", headers={"If-None-Match": first.headers["etag"]})
    assert other.status_code == 200


def test_a_restricted_raster_reaches_an_operator_no_finer_than_the_coarse_grid(client, raster_city):
    from cim.access import COARSE_GRID_M

    valid = _source_grid(raster_city, "secret_dem")[1]
    rows, cols = interior_pixels(valid, True, 1, np.random.default_rng(4))
    lon, lat = lonlat_of_pixels(raster_city, "secret_dem", rows, cols)
    z = 15  # 4.8 m pixels at 44° N: far finer than the coarse grid
    x, y, _, _ = tile_pixel(lon[0], lat[0], z)
    url = f"/collections/secret_dem/map/tiles/WebMercatorQuad/{z}/{y}/{x}.png"
    assert client.get(url).status_code == 404  # anonymous: hidden
    coarse = _decode(client.get(url, headers={"X-API-Key": "operator-key-0001"}))
    full = _decode(client.get(url, headers={"X-API-Key": "admin-key-00000001"}))
    metres_per_px = 40075016.686 / (256 << z) * np.cos(np.radians(lat[0]))
    cells = int(256 * metres_per_px / COARSE_GRID_M)  # coarse cells across the tile, at most

    def edges(image, axis):  # positions where the colour changes, anywhere along the other axis
        change = (np.diff(image[..., :3].astype(int), axis=axis) != 0).any(axis=2)
        return int(change.any(axis=1 - axis).sum())

    assert edges(coarse, 0) <= cells and edges(coarse, 1) <= cells
    assert edges(full, 0) > cells and edges(full, 1) > cells  # the check tells the two apart


def test_api_city_links_raster_layers_to_their_tiles(client):
    from cim.model.catalog import layer_info
    from tiles.routers.raster import layer_links

    info = layer_info(client.app.state.city, "sfdem", "anonymous")
    links = layer_links(info)
    assert links["raster_tiles"] == "/collections/sfdem/map/tiles/WebMercatorQuad/{z}/{y}/{x}.png"
    assert links["terrain_tiles"] == "/collections/sfdem/terrain/{z}/{y}/{x}.png"
    terrain = client.get("/collections/sfdem/terrain").json()
    assert terrain["encoding"] == "mapbox" and terrain["tiles"][0].endswith("/terrain/{z}/{y}/{x}.png")
