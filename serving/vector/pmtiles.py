"""A PMTiles v3 writer: one file any static host or CDN serves with HTTP range requests.

Why our own: the format is small (a 127-byte header, varint directories, gzip) and writing it here
keeps the exporter free of another dependency. Tiles are given in tile-id order (Hilbert order
within a zoom, zooms ascending), so the archive is *clustered*; identical tiles (the sea, the same
block pattern) are stored once; a root directory that would pass 16 KiB is split into leaves as
the specification asks.

Example:
    >>> zxy_to_tileid(0, 0, 0), zxy_to_tileid(1, 1, 0), zxy_to_tileid(2, 0, 0)
    (0, 4, 5)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from serving.vector.encode import varint_bytes

__all__ = ["PMTilesWriter", "zxy_to_tileid", "hilbert_order", "HEADER_SIZE", "ROOT_MAX"]

HEADER_SIZE = 127
ROOT_MAX = 16384 - HEADER_SIZE
_GZIP, _MVT = 2, 1


def _rotate(n: int, x: int, y: int, rx: int, ry: int) -> tuple[int, int]:
    if ry == 0:
        if rx == 1:
            x, y = n - 1 - x, n - 1 - y
        return y, x
    return x, y


def zxy_to_tileid(z: int, x: int, y: int) -> int:
    """The PMTiles tile id: tiles of lower zooms first, then the Hilbert index of (x, y) at ``z``."""
    base = ((1 << (2 * z)) - 1) // 3
    n = 1 << z
    d, s = 0, n >> 1
    while s > 0:
        rx, ry = int(x & s > 0), int(y & s > 0)
        d += s * s * ((3 * rx) ^ ry)
        x, y = _rotate(n, x, y, rx, ry)
        s >>= 1
    return base + d


def hilbert_order(z: int, tiles: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(x, y) tiles of zoom ``z`` sorted by tile id (the order a clustered archive stores them in)."""
    return sorted(tiles, key=lambda t: zxy_to_tileid(z, t[0], t[1]))


@dataclass
class _Entry:
    tile_id: int
    offset: int
    length: int
    run_length: int


def _directory(entries: list[_Entry]) -> bytes:
    """A directory, serialised (columns of varints) and gzipped."""
    out = bytearray()
    out += varint_bytes(len(entries))
    last = 0
    for e in entries:
        out += varint_bytes(e.tile_id - last)
        last = e.tile_id
    for e in entries:
        out += varint_bytes(e.run_length)
    for e in entries:
        out += varint_bytes(e.length)
    for i, e in enumerate(entries):
        if i > 0 and e.offset == entries[i - 1].offset + entries[i - 1].length:
            out += varint_bytes(0)
        else:
            out += varint_bytes(e.offset + 1)
    return gzip.compress(bytes(out), compresslevel=9, mtime=0)


def _directories(entries: list[_Entry]) -> tuple[bytes, bytes]:
    """(root directory, leaf directories): leaves only when the root alone would pass ``ROOT_MAX``."""
    root = _directory(entries)
    if len(root) <= ROOT_MAX:
        return root, b""
    leaf_size = 4096
    while True:
        leaves, pointers = bytearray(), []
        for i in range(0, len(entries), leaf_size):
            chunk = entries[i:i + leaf_size]
            data = _directory(chunk)
            pointers.append(_Entry(chunk[0].tile_id, len(leaves), len(data), 0))
            leaves += data
        root = _directory(pointers)
        if len(root) <= ROOT_MAX:
            return root, bytes(leaves)
        leaf_size *= 2


@dataclass
class PMTilesWriter:
    """Collects gzipped MVT tiles in tile-id order and writes the archive (atomically) on ``finish``."""

    path: Path
    entries: list[_Entry] = field(default_factory=list)
    addressed: int = 0
    _spool: BinaryIO | None = None
    _seen: dict[bytes, tuple[int, int]] = field(default_factory=dict)
    _size: int = 0
    _last_id: int = -1

    def add(self, z: int, x: int, y: int, gzipped: bytes) -> None:
        """Add one tile (its gzipped MVT bytes); tiles must come in increasing tile id."""
        tile_id = zxy_to_tileid(z, x, y)
        if tile_id <= self._last_id:
            raise ValueError(f"tile {z}/{x}/{y} comes after a tile with a higher id: add tiles in tile-id order")
        self._last_id = tile_id
        if self._spool is None:
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - kept open across add() calls, closed by finish/abort
        digest = hashlib.blake2b(gzipped, digest_size=16).digest()
        offset, length = self._seen.get(digest, (-1, len(gzipped)))
        if offset < 0:
            offset = self._size
            self._spool.write(gzipped)
            self._size += length
            self._seen[digest] = (offset, length)
        self.addressed += 1
        last = self.entries[-1] if self.entries else None
        if last and last.offset == offset and last.tile_id + last.run_length == tile_id:
            last.run_length += 1
        else:
            self.entries.append(_Entry(tile_id, offset, length, 1))

    def abort(self) -> None:
        """Drop what was collected (nothing is written to ``path``)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def finish(self, metadata: dict[str, Any], *, minzoom: int, maxzoom: int,
               bounds: tuple[float, float, float, float], center: tuple[float, float, int]) -> int:
        """Write the archive to ``path`` (through a temporary file beside it); returns its size in bytes."""
        root, leaves = _directories(self.entries)
        meta = gzip.compress(json.dumps(metadata, ensure_ascii=False).encode("utf-8"), compresslevel=9, mtime=0)
        offsets = [HEADER_SIZE, HEADER_SIZE + len(root)]
        offsets += [offsets[1] + len(meta), offsets[1] + len(meta) + len(leaves)]
        e7 = [round(v * 1e7) for v in bounds]
        header = b"PMTiles" + struct.pack(
            "<BQQQQQQQQQQQBBBBBBiiiiBii", 3, offsets[0], len(root), offsets[1], len(meta), offsets[2], len(leaves),
            offsets[3], self._size, self.addressed, len(self.entries), len(self._seen), 1, _GZIP, _GZIP, _MVT,
            minzoom, maxzoom, *e7, center[2], round(center[0] * 1e7), round(center[1] * 1e7))
        assert len(header) == HEADER_SIZE
        part = self.path.with_name(self.path.name + ".part")
        try:
            with open(part, "wb") as out:
                out.write(header + root + meta + leaves)
                if self._spool is not None:
                    self._spool.seek(0)
                    shutil.copyfileobj(self._spool, out, 1 << 20)
            part.replace(self.path)
        finally:
            part.unlink(missing_ok=True)
            if self._spool is not None:
                self._spool.close()
        return offsets[3] + self._size
