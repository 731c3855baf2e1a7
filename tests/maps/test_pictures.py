"""Map pictures: an MVT tile drawn (holes cut, lines and points), pictures composed from tiles in other
grids, and the tile matrix sets' arithmetic."""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from cim.errors import ValidationError
from serving.maps import LayerStyle, compose, decode_geometries, draw_tile
from serving.tilegrid import HALF_WORLD
from serving.wmts import CGCS2000, WEB_MERCATOR, OWSError

STYLE = LayerStyle((200, 100, 50))


def mvt(*geoms: shapely.Geometry, name: str = "layer") -> bytes:
    """An MVT tile of ``geoms`` given in tile coordinates (0..4096, y down)."""
    features = [{"geometry": g.wkt, "properties": {"n": i}} for i, g in enumerate(geoms)]
    return mapbox_vector_tile.encode([{"name": name, "features": features}],
                                     default_options={"y_coord_down": True, "quantize_bounds": None})


def test_decoding_gives_back_the_encoded_rings_in_tile_coordinates():
    square = shapely.box(1024, 1024, 3072, 3072)
    (name, extent, kind, parts), = decode_geometries(mvt(square, name="parcels"))
    assert (name, extent, kind) == ("parcels", 4096, 3)
    assert shapely.Polygon(parts[0]).equals(square)


def test_a_polygon_is_filled_except_its_hole_and_outlined_in_a_darker_colour():
    outer = shapely.box(512, 512, 3584, 3584)
    donut = outer.difference(shapely.box(1536, 1536, 2560, 2560))
    rgba = draw_tile(mvt(donut), STYLE)
    assert rgba.shape == (256, 256, 4)
    assert rgba[128, 128, 3] == 0, "the hole is transparent"
    assert rgba[64, 128, 3] == STYLE.fill_alpha and tuple(rgba[64, 128, :3]) == STYLE.colour
    assert rgba[5, 5, 3] == 0, "outside is transparent"
    edge = rgba[32, 128]
    assert edge[3] > STYLE.fill_alpha and edge[0] < STYLE.colour[0], "the outline is darker and more opaque"


def test_lines_and_points_are_drawn_and_an_empty_tile_is_transparent():
    line = draw_tile(mvt(shapely.LineString([(0, 2048), (4096, 2048)])), STYLE)
    assert line[128, :, 3].min() > 0 and line[20, :, 3].max() == 0
    point = draw_tile(mvt(shapely.Point(2048, 2048)), STYLE)
    assert point[128, 128, 3] == 255 and point[128, 140, 3] == 0
    assert draw_tile(b"", STYLE)[..., 3].max() == 0


def test_a_style_follows_the_feature_class_or_else_the_layer_name():
    assert LayerStyle.for_layer("b", "Building", "polygon").colour == (217, 130, 43)
    one = LayerStyle.for_layer("custom_layer", None, "line")
    assert one == LayerStyle.for_layer("custom_layer", None, "line"), "the same layer keeps its colour"


def coloured_tiles(z_wanted: list[int]):
    """A tile source painting each tile one colour from its x and y, noting the zooms asked for."""

    def tile(z: int, x: int, y: int) -> np.ndarray:
        z_wanted.append(z)
        out = np.zeros((256, 256, 4), dtype=np.uint8)
        out[...] = (x % 256, y % 256, z, 255)
        return out

    return tile


def test_a_picture_of_exactly_one_tile_is_that_tile():
    asked: list[int] = []
    z, x, y = 14, 13661, 6436
    size = 2 * HALF_WORLD / 2**z
    left, top = -HALF_WORLD + x * size, HALF_WORLD - y * size
    picture = compose(coloured_tiles(asked), "EPSG:3857", (left, top - size, left + size, top), 256, 256,
                      max_zoom=20)
    assert set(asked) == {14}
    assert (picture == (x % 256, y % 256, 14, 255)).all()


def test_a_geographic_picture_maps_each_pixel_to_the_tile_under_it():
    asked: list[int] = []
    lon0, lat0, lon1, lat1 = 120.10, 35.90, 120.30, 36.00
    picture = compose(coloured_tiles(asked), "EPSG:4490", (lon0, lat0, lon1, lat1), 400, 200, max_zoom=20)
    z = asked[0]
    assert 9 <= z <= 12 and set(asked) == {z}
    for row, col in ((10, 10), (100, 200), (190, 390)):
        lon = lon0 + (col + 0.5) * (lon1 - lon0) / 400
        lat = lat1 - (row + 0.5) * (lat1 - lat0) / 200
        tx = int((lon + 180) / 360 * 2**z)
        ty = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
        assert tuple(picture[row, col]) == (tx % 256, ty % 256, z, 255)


def test_a_picture_never_reads_more_than_the_tile_budget_and_refuses_an_empty_box():
    asked: list[int] = []
    compose(coloured_tiles(asked), "EPSG:4326", (100.0, 20.0, 130.0, 45.0), 2048, 2048, max_zoom=20)
    assert len(asked) <= 64
    with pytest.raises(ValidationError):
        compose(coloured_tiles([]), "EPSG:4326", (1.0, 1.0, 1.0, 2.0), 10, 10, max_zoom=5)


def test_the_matrix_sets_follow_their_definitions():
    assert WEB_MERCATOR.scale_denominator(0) == pytest.approx(559082264.0287178)
    assert CGCS2000.scale_denominator(1) == pytest.approx(279541132.0143589)
    assert CGCS2000.matrix_size(1) == (2, 1) and CGCS2000.matrix_size(3) == (8, 4)
    assert WEB_MERCATOR.corner() == "-20037508.342789244 20037508.342789244"
    assert CGCS2000.corner() == "90.0 -180.0", "latitude first, as EPSG:4490 orders its axes"
    assert CGCS2000.covering(2, (120.1, 35.9, 120.3, 36.0)) == (3, 0, 3, 0)
    with pytest.raises(OWSError) as caught:
        CGCS2000.check(0, 0, 0)
    assert caught.value.locator == "TileMatrix"
