"""Which text encoding a Shapefile's .dbf uses: .cpg, then the DBF language driver id, then a look.

Why: in China most Shapefiles are GBK/GB18030 with no ``.cpg`` and language driver id 0, so
GDAL falls back to ISO-8859-1 and 黑龙江省 turns into ``ºÚÁú½\\xadÊ¡``. Mojibake must never be
ingested silently: we read the bytes, and refuse with the likely encoding when nothing declares it.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gis.errors import SourceError

# DBF language driver id (byte 29) -> code page, after ESRI's table (as GDAL uses it).
_LDID = {
    1: "CP437", 2: "CP850", 3: "CP1252", 4: "MAC_ROMAN", 8: "CP865", 9: "CP437", 10: "CP850",
    11: "CP437", 13: "CP437", 14: "CP850", 15: "CP437", 16: "CP850", 17: "CP437", 18: "CP850",
    19: "CP932", 20: "CP850", 21: "CP437", 22: "CP850", 23: "CP865", 24: "CP437", 25: "CP437",
    26: "CP850", 27: "CP437", 28: "CP863", 29: "CP850", 31: "CP852", 34: "CP852", 35: "CP852",
    36: "CP860", 37: "CP850", 38: "CP866", 55: "CP850", 64: "CP852", 77: "CP936", 78: "CP949",
    79: "CP950", 80: "CP874", 87: "CP1252", 88: "CP1252", 89: "CP1252", 100: "CP852", 101: "CP866",
    102: "CP865", 103: "CP861", 106: "CP737", 107: "CP857", 108: "CP863", 120: "CP950",
    121: "CP949", 122: "CP936", 123: "CP932", 124: "CP874", 134: "CP737", 135: "CP852",
    136: "CP857", 200: "CP1250", 201: "CP1251", 202: "CP1254", 203: "CP1253", 204: "CP1257",
}
_ANSI = 87  # "ANSI": the writer's Windows code page; cp1252 in the West, cp936 on Chinese Windows
_CPG_ALIASES = {"UTF8": "UTF-8", "65001": "UTF-8", "936": "CP936", "GBK": "CP936", "GB2312": "GB18030",
                "88591": "ISO-8859-1", "8859_1": "ISO-8859-1", "ANSI 1252": "CP1252", "1252": "CP1252"}
_MAX_CELLS = 200_000


@dataclass
class _Dbf:
    name: str
    data: np.ndarray  # the whole .dbf as uint8
    cpg: str | None


def shapefile_encoding(shp: str, dbf: _Dbf | None, given: str | None) -> str:
    """The encoding to read the .dbf with (a name GDAL/iconv and Python both know).

    Order: ``given`` (the caller's ``encoding=``), ``.cpg``, the LDID byte, else the text itself
    when it is ASCII or UTF-8; anything else is refused with a suggestion.
    """
    if given:
        return check_codec(given)
    if dbf is None:
        return "UTF-8"
    if dbf.cpg and dbf.cpg.strip():
        return _cpg_codec(dbf.cpg)
    ldid = int(dbf.data[29]) if dbf.data.size > 29 else 0
    if ldid in _LDID and ldid != _ANSI:
        return _LDID[ldid]
    cells = _non_ascii_cells(dbf.data)
    if not cells:
        return _LDID.get(ldid, "UTF-8")
    if _all_decode(cells, "utf-8"):
        return "UTF-8"
    guess = guess_encoding([c for _, _, c in cells])
    if ldid == _ANSI and guess != "GB18030":
        return _LDID[ldid]
    field, row, sample = cells[0]
    shown = sample.decode(guess, errors="replace").strip()
    declared = "says 'ANSI' (cp1252)" if ldid == _ANSI else "has no code page (LDID 0)"
    raise SourceError(
        f"{dbf.name} has no .cpg and its text is not UTF-8 (its language driver byte {declared}); "
        f"it looks like {guess} (field {field}, row {row}: {shown!r}): pass --encoding {guess} "
        f"(encoding='{guess}'), or put a .cpg file containing {guess} beside {Path(shp).name}"
    )


def _cpg_codec(text: str) -> str:
    """A .cpg's content ("UTF-8", "936", "ANSI 1252", "GB2312", "Big-5" …) as a codec name.

    Example:
        >>> _cpg_codec("ANSI 936"), _cpg_codec("65001"), _cpg_codec("1251"), _cpg_codec("Big-5")
        ('CP936', 'UTF-8', 'CP1251', 'big5')
    """
    name = text.strip().splitlines()[0].strip()
    key = name.upper()
    if key in _CPG_ALIASES:
        return _CPG_ALIASES[key]
    if key.startswith("ANSI "):
        key = key[5:].strip()
    return check_codec(f"CP{key}" if key.isdigit() else name)


#: spellings GDAL (iconv) accepts that Python's codec registry does not, normalised (upper case,
#: no '-', '_' or spaces) → the Python codec
_ICONV_NAMES = {"BIG5": "big5", "BIGFIVE": "big5", "CNBIG5": "big5", "CSBIG5": "big5", "CP950": "cp950",
                "MS950": "cp950", "WINDOWS950": "cp950", "BIG5HKSCS": "big5hkscs", "WINDOWS936": "gbk",
                "MS936": "gbk", "EUCCN": "gb2312", "GB180302000": "gb18030", "WINDOWS932": "cp932",
                "SHIFTJIS": "shift_jis", "SJIS": "shift_jis", "EUCKR": "euc_kr", "WINDOWS949": "cp949"}


def check_codec(name: str) -> str:
    """The encoding name if Python knows it, else the Python codec of a spelling GDAL's iconv accepts
    ("Big-5" → "big5"); an encoding neither knows is refused.

    Example:
        >>> check_codec("GB18030"), check_codec("Big-5"), check_codec("windows-936")
        ('GB18030', 'big5', 'gbk')
    """
    try:
        codecs.lookup(name)
        return name
    except LookupError:
        pass
    key = "".join(ch for ch in name.upper() if ch not in "-_ ")
    if key in _ICONV_NAMES:
        return _ICONV_NAMES[key]
    raise SourceError(f"unknown text encoding {name!r}: use e.g. UTF-8, GB18030, BIG5, CP1252")


def guess_encoding(samples: list[bytes]) -> str:
    """GB18030 when the bytes decode to mostly CJK text, else CP1252 (else ISO-8859-1).

    Example:
        >>> guess_encoding(["黑龙江省".encode("gb18030")]), guess_encoding(["Zürich".encode("cp1252")])
        ('GB18030', 'CP1252')
    """
    if _paired_share(samples) >= 0.8 and _all_decode(samples, "gb18030") and _cjk_share(samples) >= 0.8:
        return "GB18030"
    return "CP1252" if _all_decode(samples, "cp1252") else "ISO-8859-1"


def _paired_share(samples: list[bytes]) -> float:
    """Share of high bytes in runs of even length: Chinese double-byte text pairs them, while
    accented Latin letters (ü, é) stand alone between ASCII letters."""
    data = np.frombuffer(b"\n".join(samples), dtype=np.uint8)
    high = np.concatenate([[False], data >= 0x80, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(high))
    runs = edges[1::2] - edges[::2]
    return float((runs - runs % 2).sum() / runs.sum()) if runs.sum() else 0.0


def _cjk_share(samples: list[bytes]) -> float:
    text = "".join(codecs.getincrementaldecoder("gb18030")(errors="ignore").decode(s) for s in samples)
    wide = [ch for ch in text if ord(ch) > 127]
    cjk = [ch for ch in wide if 0x3000 <= ord(ch) <= 0x9FFF or 0xFF00 <= ord(ch) <= 0xFFEF]
    return len(cjk) / len(wide) if wide else 0.0


def _all_decode(cells: list, encoding: str) -> bool:
    """Strict decode of every cell; a multi-byte character cut by the field width is tolerated."""
    for cell in cells:
        raw = cell[2] if isinstance(cell, tuple) else cell
        try:
            codecs.getincrementaldecoder(encoding)().decode(raw, final=False)
        except UnicodeDecodeError:
            return False
    return True


def _non_ascii_cells(data: np.ndarray) -> list[tuple[str, int, bytes]]:
    """(field, 1-based row, raw bytes) of character cells holding bytes >= 0x80, up to a cap."""
    if data.size < 32:
        return []
    n_records = int(data[4:8].view("<u4")[0])
    header_len = int(data[8:10].view("<u2")[0])
    record_len = int(data[10:12].view("<u2")[0])
    if record_len == 0 or header_len >= data.size:
        return []
    n_records = min(n_records, (data.size - header_len) // record_len)
    records = data[header_len: header_len + n_records * record_len].reshape(n_records, record_len)
    cells: list[tuple[str, int, bytes]] = []
    for name, offset, width in _char_fields(data, header_len):
        block = records[:, offset: offset + width]
        for row in np.flatnonzero((block >= 0x80).any(axis=1))[: _MAX_CELLS - len(cells)]:
            cells.append((name, int(row) + 1, bytes(block[row]).rstrip(b" \x00")))
    return cells


def _char_fields(data: np.ndarray, header_len: int) -> list[tuple[str, int, int]]:
    fields, offset = [], 1  # byte 0 of each record is the deletion flag
    for start in range(32, header_len - 31, 32):
        if data[start] == 0x0D:
            break
        desc = bytes(data[start: start + 32])
        width = desc[16]
        if desc[11:12] == b"C":
            name = desc[:11].split(b"\x00")[0].decode("latin-1")
            fields.append((name, offset, width))
        offset += width
    return fields


def load_dbf(shp: Path) -> _Dbf | None:
    """The .dbf (and .cpg) beside a .shp, any suffix case; ``None`` when there is no .dbf."""
    dbf = _sibling(shp, ".dbf")
    if dbf is None:
        return None
    cpg = _sibling(shp, ".cpg")
    data = np.memmap(dbf, dtype=np.uint8, mode="r") if dbf.stat().st_size else np.zeros(0, np.uint8)
    return _Dbf(dbf.name, data, cpg.read_text("latin-1") if cpg else None)


def load_dbf_from_zip(archive: Path, member: str) -> _Dbf | None:
    """Same as :func:`load_dbf` for a Shapefile inside a .zip (``member`` is the .shp path)."""
    with zipfile.ZipFile(archive) as zf:
        names = {n.lower(): n for n in zf.namelist()}
        stem = member[: -len(".shp")].lower()
        dbf, cpg = names.get(stem + ".dbf"), names.get(stem + ".cpg")
        if dbf is None:
            return None
        data = np.frombuffer(zf.read(dbf), dtype=np.uint8)
        return _Dbf(Path(dbf).name, data, zf.read(cpg).decode("latin-1") if cpg else None)


def _sibling(shp: Path, suffix: str) -> Path | None:
    for candidate in (shp.with_suffix(suffix), shp.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None
