"""PMTiles and MBTiles exports: the served tiles, tile for tile, in the role's view; directories that
split into leaves; identical tiles stored once; refusals; nothing half-written; the CLI."""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
from pathlib import Path

import mapbox_vector_tile
import pytest
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import zxy_to_tileid as reference_tileid

import cim
from cim.errors import LayerNotFound, ValidationError
from cim.model.catalog import layer_info
from serving.vector import served
from serving.vector.archive import export_archive
from serving.vector.pmtiles import PMTilesWriter, zxy_to_tileid
from tests.tiles.conftest import demo_path, file_copy  # noqa: F401 - the session demo city (fixture)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def city_path(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    return file_copy(demo_path, tmp_path_factory.mktemp("archives"))


@pytest.fixture(scope="module")
def city(city_path: Path):
    c = cim.open(city_path, read_only=True)
    yield c
    c.close()


def read_pmtiles(path: Path) -> tuple[dict, dict, dict[tuple[int, int, int], bytes]]:
    with open(path, "rb") as f:
        source = MmapSource(f)
        reader = Reader(source)
        return reader.header(), reader.metadata(), dict(all_tiles(source))


def test_tile_ids_are_the_reference_implementations():
    for z, x, y in [(0, 0, 0), (1, 1, 0), (5, 17, 9), (12, 3421, 1564), (16, 54646, 25745), (20, 1, 1048575)]:
        assert zxy_to_tileid(z, x, y) == reference_tileid(z, x, y)


def test_a_large_directory_is_split_into_leaves_and_identical_tiles_are_stored_once(tmp_path):
    writer = PMTilesWriter(tmp_path / "many.pmtiles")
    z = 9
    tiles = sorted(((x, y) for x in range(160) for y in range(160)), key=lambda t: zxy_to_tileid(z, *t))
    for i, (x, y) in enumerate(tiles):
        writer.add(z, x, y, gzip.compress(b"same" if i % 2 else f"tile {x} {y}".encode(), mtime=0))
    writer.finish({"vector_layers": []}, minzoom=z, maxzoom=z, bounds=(0, 0, 1, 1), center=(0.5, 0.5, z))
    header, _, read = read_pmtiles(tmp_path / "many.pmtiles")
    assert header["leaf_directory_length"] > 0 and header["root_length"] <= 16384 - 127
    assert header["addressed_tiles_count"] == len(tiles) == len(read)
    assert header["tile_contents_count"] == len(tiles) // 2 + 1
    assert gzip.decompress(read[(z, 5, 7)]) == (b"same" if tiles.index((5, 7)) % 2 else b"tile 5 7")


def test_tiles_out_of_order_are_refused(tmp_path):
    writer = PMTilesWriter(tmp_path / "x.pmtiles")
    writer.add(2, 0, 0, b"a")
    with pytest.raises(ValueError, match="tile-id order"):
        writer.add(1, 0, 0, b"b")
    writer.abort()
    assert not (tmp_path / "x.pmtiles").exists()


def test_the_archive_holds_exactly_the_tiles_the_server_sends(city, tmp_path):
    report = export_archive(city, tmp_path / "b.pmtiles", layers=["buildings"], maxzoom=16)
    header, metadata, tiles = read_pmtiles(tmp_path / "b.pmtiles")
    assert report.tiles == header["addressed_tiles_count"] == len(tiles) and report.layers == ("buildings",)
    assert header["min_zoom"] == 0 and header["max_zoom"] == 16 and header["tile_type"].value == 1
    assert [v["id"] for v in metadata["vector_layers"]] == ["buildings"]
    info = layer_info(city, "buildings", "anonymous")
    renderer = served.open_tiles(city)
    try:
        for (z, x, y), data in tiles.items():
            assert gzip.decompress(data) == served.tile(renderer, info, z, x, y), (z, x, y)
        for z in set(range(17)) - {z for z, _, _ in tiles}:  # zooms whose tiles drop every small building
            for x, y in {(x >> (16 - z), y >> (16 - z)) for zz, x, y in tiles if zz == 16}:
                assert served.tile(renderer, info, z, x, y) == b"", (z, x, y)
    finally:
        served.close(renderer)
    assert 16 in {z for z, _, _ in tiles}


def test_a_city_archive_has_every_public_vector_layer_and_nothing_restricted(city, tmp_path):
    report = export_archive(city, tmp_path / "city.pmtiles", maxzoom=14)
    assert {"buildings", "roads", "parcels"} <= set(report.layers)
    assert not set(report.layers) & {"pipes", "utility_tunnel", "inspections", "worksite_bim", "dem"}
    _, _, tiles = read_pmtiles(tmp_path / "city.pmtiles")
    names = set().union(*(mapbox_vector_tile.decode(gzip.decompress(t)).keys() for t in tiles.values()))
    assert names == set(report.layers)


def test_an_operator_archive_carries_the_desensitised_restricted_layer(city, tmp_path):
    with pytest.raises(LayerNotFound, match="anonymous"):
        export_archive(city, tmp_path / "p.pmtiles", layers=["pipes"])
    export_archive(city, tmp_path / "p.pmtiles", layers=["pipes"], role="operator", maxzoom=15)
    _, _, tiles = read_pmtiles(tmp_path / "p.pmtiles")
    fields = set()
    for data in tiles.values():
        for feature in mapbox_vector_tile.decode(gzip.decompress(data)).get("pipes", {}).get("features", []):
            fields |= set(feature["properties"])
    coarse = layer_info(city, "pipes", "operator")
    assert coarse.view == "coarse" and fields, "the operator's view has features"
    own = {f["name"] for f in coarse.fields} - {"id", "class", "name", "height", "z_min", "z_max"}
    from cim.access import OPEN_FIELDS

    assert fields & own <= set(OPEN_FIELDS), "masked attributes stay out"


def test_mbtiles_rows_are_flipped_as_the_format_wants_and_hold_the_same_tiles(city, tmp_path):
    export_archive(city, tmp_path / "b.pmtiles", layers=["roads"], maxzoom=15)
    export_archive(city, tmp_path / "b.mbtiles", layers=["roads"], maxzoom=15, fmt="mbtiles")
    _, _, tiles = read_pmtiles(tmp_path / "b.pmtiles")
    with sqlite3.connect(tmp_path / "b.mbtiles") as con:
        rows = {(z, x, (1 << z) - 1 - r): bytes(d) for z, x, r, d in
                con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")}
        meta = dict(con.execute("SELECT name, value FROM metadata"))
    assert rows == tiles
    assert meta["format"] == "pbf" and meta["maxzoom"] == "15" and '"roads"' in meta["json"]


def test_refusals_say_what_to_change_and_leave_nothing_behind(city, tmp_path, monkeypatch):
    with pytest.raises(ValidationError, match="raster"):
        export_archive(city, tmp_path / "d.pmtiles", layers=["dem"])
    with pytest.raises(ValidationError, match="max-zoom"):
        export_archive(city, tmp_path / "d.pmtiles", minzoom=5, maxzoom=4)
    (tmp_path / "taken.pmtiles").write_bytes(b"mine")
    with pytest.raises(ValidationError, match="--overwrite"):
        export_archive(city, tmp_path / "taken.pmtiles")
    assert (tmp_path / "taken.pmtiles").read_bytes() == b"mine"

    calls = []

    def failing(renderer, info, z, x, y):
        calls.append(z)
        if len(calls) > 5:
            raise RuntimeError("disk full")
        return b"\x1a\x00"

    monkeypatch.setattr(served, "tile", failing)
    for fmt in ("pmtiles", "mbtiles"):
        calls.clear()
        with pytest.raises(RuntimeError):
            export_archive(city, tmp_path / f"half.{fmt}", layers=["roads"], fmt=fmt)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("half")) == []


def test_cim_export_writes_one_archive_per_layer_into_a_folder(city_path, tmp_path):
    out = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "cim", "export", "pmtiles", str(city_path), str(out), "--per-layer",
                           "--layer", "buildings", "--layer", "roads", "--max-zoom", "14"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["buildings.pmtiles", "roads.pmtiles"]
    assert "buildings in" in done.stdout and "roads in" in done.stdout
    again = subprocess.run([sys.executable, "-m", "cim", "export", "mbtiles", str(city_path), str(out / "b.mbtiles"),
                            "--layer", "pipes"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "anonymous" in again.stderr and len(again.stderr.strip().splitlines()) == 1
