"""Many sources at once: folders expanded into their files, and a YAML profile saying what each is.

Why: a city's data arrives as a folder of files that each need a word or two (this one's height
counts floors, that one's 限高 is the height limit). A profile file says it once for the folder,
next to the data, instead of in a long command line per file::

    # profile.yaml
    defaults:                  # every source (options a kind does not take are left out)
      phase: manage
    sources:                   # file name or glob → ingest options; the first match applies
      "*footprints*.geojson":
        class: Building
        height: 层数:floors
      zoning.shp:
        class: Parcel
        encoding: GB18030
        map: {限高: height_limit, 容积率: far_limit}

Keys are the options of ``cim ingest`` (``class`` or ``feature_class``, ``name-field`` or
``name_field``, ``map`` for ``--map``).

Example:
    >>> ingest_sources(city, ["data/"], profile="data/profile.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cim.errors import ValidationError, first_line
from cim.ingest.options import OPTIONS, flag
from cim.ingest.source import (
    CITYJSON_SUFFIXES,
    IFC_SUFFIXES,
    RASTER_SUFFIXES,
    VECTOR_SUFFIXES,
    source_kind,
    split_gdal_name,
)

if TYPE_CHECKING:
    from cim.city import City
    from cim.ingest.report import IngestReport

#: files of a folder that are parts of another file (a Shapefile's sidecars, GDAL's aux files)
_PARTS = {".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".aux", ".ovr", ".qmd"}
_SUFFIXES = VECTOR_SUFFIXES | RASTER_SUFFIXES | IFC_SUFFIXES | CITYJSON_SUFFIXES


@dataclass(frozen=True)
class SourceProfiles:
    """A profile file: options for every source, and options per file-name pattern."""

    source: str
    defaults: dict[str, Any]
    entries: tuple[tuple[str, dict[str, Any]], ...]

    def options_for(self, path: Path, kind: str) -> dict[str, Any]:
        """The options the profile gives ``path`` (a source of ``kind``): defaults the kind takes,
        then the first entry whose pattern matches the file name."""
        takes = {f.name for f in dataclasses.fields(OPTIONS[kind])}
        options = {k: v for k, v in self.defaults.items() if k in takes}
        return options | self.entry_for(path)

    def entry_for(self, path: Path) -> dict[str, Any]:
        """The options of the first entry whose pattern matches ``path`` (empty when none does)."""
        for pattern, entry in self.entries:
            if fnmatch.fnmatch(path.name, pattern) or fnmatch.fnmatch(str(path), pattern):
                return entry
        return {}

    def unmatched(self, paths: list[Path]) -> list[str]:
        """Patterns that match none of ``paths`` (a typo in the profile, most likely)."""
        return [p for p, _ in self.entries
                if not any(fnmatch.fnmatch(x.name, p) or fnmatch.fnmatch(str(x), p) for x in paths)]


def load_profiles(path: str | Path) -> SourceProfiles:
    """Read a profile file (see the module docstring); a key no source kind takes is refused."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"profile {path} not found: give a YAML file with `sources:` (see docs/ingest.md)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(f"profile {path} is not valid YAML ({first_line(exc)})") from exc
    if not isinstance(raw, dict) or set(raw) - {"defaults", "sources"}:
        raise ValidationError(f"profile {path} must be a mapping with `defaults:` and/or `sources:` at the top")
    entries = tuple((str(pattern), _options(path, str(pattern), entry))
                    for pattern, entry in (raw.get("sources") or {}).items())
    return SourceProfiles(str(path), _options(path, "defaults", raw.get("defaults")), entries)


def _options(path: Path, where: str, entry: Any) -> dict[str, Any]:
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        raise ValidationError(f"profile {path}: {where} must be a mapping of ingest options")
    known = {f.name for cls in OPTIONS.values() for f in dataclasses.fields(cls)}
    out = {}
    for key, value in entry.items():
        name = {"class": "feature_class", "map": "zoning"}.get(str(key), str(key).replace("-", "_"))
        if name not in known:
            flags = sorted({flag(n) for n in known})
            raise ValidationError(f"profile {path}: {where}: unknown option {key!r}; options are {', '.join(flags)}")
        out[name] = value
    return out


def expand_sources(paths: list[Path]) -> list[Path]:
    """Each file as given; each folder's files cim can ingest, in name order (sidecars skipped)."""
    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and _is_source(p))
        if not found:
            raise ValidationError(f"{path} is a directory with no source cim can ingest "
                                  f"({' '.join(sorted(_SUFFIXES))})")
        out += found
    return out


def _is_source(path: Path) -> bool:
    name = path.name.lower()
    return (not name.startswith(".") and path.suffix.lower() not in _PARTS
            and (path.suffix.lower() in _SUFFIXES or name.endswith(".city.json")))


def plan_sources(paths: list[Path], *, profiles: SourceProfiles | None = None,
                 **given: Any) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """(file, kind, options) for every source among ``paths`` (folders expanded): the profile's
    options for the file, overridden by ``given`` (the command line's)."""
    given = {k: v for k, v in given.items() if v is not None}
    for named in expand_sources(paths):
        file, options = split_gdal_name(named, given)
        part = options.get("source_layer") or (profiles.entry_for(file).get("source_layer") if profiles else None)
        kind = source_kind(file, part=part)  # a GeoPackage's raster table, named here or in the profile
        yield file, kind, (profiles.options_for(file, kind) if profiles is not None else {}) | options


def ingest_sources(city: City, paths: list[str | Path], *, profile: str | Path | None = None,
                   **given: Any) -> list[IngestReport]:
    """Ingest files and folders (each source atomic), with a profile file's options per source.

    Example:
        >>> ingest_sources(city, ["survey/"], profile="survey/profile.yaml")  # doctest: +SKIP
    """
    profiles = load_profiles(profile) if profile is not None else None
    reports: list[IngestReport] = []
    for file, kind, options in plan_sources([Path(p) for p in paths], profiles=profiles, **given):
        result = city.ingest(file, kind=kind, **options)
        reports += result if isinstance(result, list) else [result]
    return reports


__all__ = ["SourceProfiles", "load_profiles", "expand_sources", "plan_sources", "ingest_sources"]
