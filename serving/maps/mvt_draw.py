"""Draw a vector tile (MVT bytes, as the server sends it) into a 256 px RGBA picture.

Why: WMTS and WMS clients want images, and the picture of a vector layer must show exactly the
features its vector tiles carry (the same generalisation, the same role's view). So the picture
is drawn from the tile itself: a small MVT reader (protobuf wire format, geometry commands of
MVT 2.1) and PIL. Polygons are filled (holes cut) with a thin darker outline, lines stroked,
points drawn as dots; one colour per layer (``LayerStyle``).

Example:
    >>> rgba = draw_tile(mvt_bytes, LayerStyle.for_layer("buildings", "Building", "polygon"))  # doctest: +SKIP
    >>> rgba.shape
    (256, 256, 4)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = ["LayerStyle", "decode_geometries", "draw_tile", "SIZE"]

SIZE = 256
_SUPERSAMPLE = 2  # drawn at 512 px and reduced: smooth edges without an anti-aliasing rasteriser

#: fill colours of well-known feature classes; other layers get one from their name
CLASS_COLOURS = {
    "Building": (217, 130, 43), "Road": (120, 120, 120), "Parcel": (94, 129, 172), "Block": (150, 150, 170),
    "GreenSpace": (96, 170, 90), "ParkingLot": (160, 160, 200), "Pipe": (30, 120, 200),
    "UtilityTunnel": (130, 60, 160), "Inspection": (200, 40, 40),
}
_PALETTE = [(228, 26, 28), (55, 126, 184), (77, 175, 74), (152, 78, 163), (255, 127, 0), (166, 86, 40),
            (247, 129, 191), (102, 194, 165)]


@dataclass(frozen=True)
class LayerStyle:
    """How a layer is drawn: an RGB colour and whether polygons are filled."""

    colour: tuple[int, int, int]
    fill_alpha: int = 150
    line_width: float = 1.5
    point_radius: float = 3.0

    @classmethod
    def for_layer(cls, name: str, feature_class: str | None, geometry: str | None) -> LayerStyle:
        """The style of a layer: by feature class when known, else a colour picked by its name."""
        colour = CLASS_COLOURS.get(feature_class or "")
        if colour is None:
            colour = _PALETTE[hashlib.blake2b(name.encode(), digest_size=1).digest()[0] % len(_PALETTE)]
        return cls(colour, fill_alpha=90 if feature_class in ("Parcel", "Block") else 150)


# -- reading MVT ------------------------------------------------------------------------------------
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):  # noqa: ANN202 - yields (field number, wire type, value)
    """Protobuf fields of a message: (number, wire type, int or bytes)."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            length, i = _varint(buf, i)
            value, i = buf[i:i + length], i + length
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _packed(buf: bytes) -> list[int]:
    out, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        out.append(v)
    return out


def _rings(commands: list[int]) -> list[list[tuple[int, int]]]:
    """MoveTo/LineTo/ClosePath → parts (a part per MoveTo), in tile coordinates."""
    parts: list[list[tuple[int, int]]] = []
    x = y = i = 0
    while i < len(commands):
        cmd, count = commands[i] & 7, commands[i] >> 3
        i += 1
        if cmd == 7:  # ClosePath
            continue
        for _ in range(count):
            dx, dy = commands[i], commands[i + 1]
            i += 2
            x += (dx >> 1) ^ -(dx & 1)
            y += (dy >> 1) ^ -(dy & 1)
            if cmd == 1:
                parts.append([(x, y)])
            else:
                parts[-1].append((x, y))
    return parts


def decode_geometries(data: bytes) -> list[tuple[str, int, int, list[list[tuple[int, int]]]]]:
    """(layer name, extent, geometry type 1/2/3, parts) of every feature of an MVT tile."""
    out = []
    for number, _, layer in _fields(data):
        if number != 3:
            continue
        name, extent, features = "", 4096, []
        for n, _, value in _fields(layer):
            if n == 1:
                name = value.decode("utf-8")
            elif n == 5:
                extent = value
            elif n == 2:
                features.append(value)
        for feature in features:
            kind, commands = 0, []
            for n, _, value in _fields(feature):
                if n == 3:
                    kind = value
                elif n == 4:
                    commands = _packed(value)
            out.append((name, extent, kind, _rings(commands)))
    return out


# -- drawing -----------------------------------------------------------------------------------------
def _area(ring: list[tuple[int, int]]) -> float:
    xs, ys = np.asarray(ring, dtype=float).T
    return float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1)))


def draw_tile(data: bytes, style: LayerStyle) -> np.ndarray:
    """The RGBA picture (256 × 256 × 4, uint8) of an MVT tile drawn in ``style``; transparent when empty."""
    from PIL import Image, ImageDraw

    size = SIZE * _SUPERSAMPLE
    fill = Image.new("L", (size, size), 0)
    ink = Image.new("L", (size, size), 0)
    fill_draw, ink_draw = ImageDraw.Draw(fill), ImageDraw.Draw(ink)
    width = max(1, round(style.line_width * _SUPERSAMPLE))
    for _, extent, kind, parts in decode_geometries(data) if data else []:
        k = size / extent
        scaled = [[(px * k, py * k) for px, py in part] for part in parts]
        if kind == 3:
            for ring, pts in zip(parts, scaled, strict=True):
                if len(pts) >= 3:  # exterior rings have positive area in tile coordinates (y down)
                    fill_draw.polygon(pts, fill=255 if _area(ring) > 0 else 0)
                    ink_draw.line(pts + pts[:1], fill=255, width=max(1, width // 2))
        elif kind == 2:
            for pts in scaled:
                if len(pts) >= 2:
                    ink_draw.line(pts, fill=255, width=width, joint="curve")
        elif kind == 1:
            r = style.point_radius * _SUPERSAMPLE
            for pts in scaled:
                for px, py in pts:
                    ink_draw.ellipse((px - r, py - r, px + r, py + r), fill=255)
    alpha_fill = np.asarray(fill, dtype=np.float32) / 255 * (style.fill_alpha / 255)
    alpha_ink = np.asarray(ink, dtype=np.float32) / 255
    return _compose(style.colour, alpha_fill, alpha_ink)


def _compose(colour: tuple[int, int, int], alpha_fill: np.ndarray, alpha_ink: np.ndarray) -> np.ndarray:
    """Fill under a darker ink, reduced by ``_SUPERSAMPLE`` (mean over each block: smooth edges)."""
    rgb = np.asarray(colour, dtype=np.float32)
    dark = rgb * 0.6
    a = alpha_ink + alpha_fill * (1 - alpha_ink)
    with np.errstate(invalid="ignore", divide="ignore"):
        mix = np.where(a[..., None] > 0, (dark * alpha_ink[..., None] + rgb * (alpha_fill * (1 - alpha_ink))[..., None])
                       / a[..., None], 0)
    premult = np.concatenate([mix * a[..., None], a[..., None]], axis=-1)
    s = _SUPERSAMPLE
    small = premult.reshape(SIZE, s, SIZE, s, 4).mean(axis=(1, 3))
    alpha = small[..., 3:4]
    with np.errstate(invalid="ignore", divide="ignore"):
        colour_out = np.where(alpha > 0, small[..., :3] / alpha, 0)
    out = np.concatenate([colour_out, alpha * 255], axis=-1)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
