"""Run by Debian's /usr/bin/python3 (python3-qgis), headless: the docs' QGIS console recipe against a
server, then what QGIS made of each layer, written as JSON for tests/clients/test_qgis.py.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/clients/qgis_probe.py RECIPE.py OUT.json

For the vector tile layer the map is rendered as QGIS draws it, through a renderer that also counts
the features QGIS decoded in each tile, so the test can compare them with the server's tiles.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapRendererCustomPainterJob,
    QgsMapSettings,
    QgsProject,
    QgsVectorTileBasicRenderer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage, QPainter


class CountingRenderer(QgsVectorTileBasicRenderer):
    """QGIS's own vector tile renderer, noting how many features of each layer every tile held."""

    def __init__(self, counts: dict[str, dict[str, int]]) -> None:
        super().__init__()
        self.counts = counts

    def clone(self) -> CountingRenderer:
        twin = CountingRenderer(self.counts)
        twin.setStyles(self.styles())
        return twin

    def renderTile(self, tile, context) -> None:
        t = tile.id()
        key = f"{t.zoomLevel()}/{t.column()}/{t.row()}"
        self.counts[key] = {name: len(tile.layerFeatures(name)) for name in tile.layers()}
        super().renderTile(tile, context)


def render(layers: list, extent, size: int = 1024) -> tuple[QImage, dict]:
    """Draw ``layers`` over ``extent`` (EPSG:3857) the way a QGIS map canvas does."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(extent)
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    image = QImage(QSize(size, size), QImage.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.renderSynchronously()
    painter.end()
    return image, {"errors": [e.message for e in job.errors()]}


def drawn_share(image: QImage) -> float:
    """Share of pixels with any alpha (sampled every 4th pixel)."""
    seen = total = 0
    for y in range(0, image.height(), 4):
        for x in range(0, image.width(), 4):
            total += 1
            seen += QColor.fromRgba(image.pixel(x, y)).alpha() > 0
    return seen / total


def main(recipe_path: str) -> dict:
    namespace: dict = {}
    source = Path(recipe_path).read_text(encoding="utf-8")
    exec(compile(source, "docs/clients.md", "exec"), namespace)  # noqa: S102 - runs the docs' own recipe
    buildings, roads, dem = namespace["buildings"], namespace["roads"], namespace["dem"]
    out: dict = {"valid": {"buildings": buildings.isValid(), "roads": roads.isValid(), "dem": dem.isValid()}}
    out["oapif_ids"] = sorted(str(f["id"]) for f in buildings.getFeatures())
    out["oapif_feature_count"] = buildings.featureCount()
    to_mercator = QgsCoordinateTransform(buildings.crs(), QgsCoordinateReferenceSystem("EPSG:3857"),
                                         QgsProject.instance())
    extent = to_mercator.transformBoundingBox(buildings.extent())
    counts: dict[str, dict[str, int]] = {}
    renderer = CountingRenderer(counts)
    renderer.setStyles(roads.renderer().styles())
    roads.setRenderer(renderer)
    image, job = render([roads], extent)
    out["tile_counts"], out["roads_drawn"], out["roads_errors"] = counts, drawn_share(image), job["errors"]
    image, job = render([dem], extent, 512)
    out["dem_drawn"], out["dem_errors"], out["dem_crs"] = drawn_share(image), job["errors"], dem.crs().authid()
    return out


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    try:
        result = main(sys.argv[1])
    finally:
        app.exitQgis()
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(result, f)
