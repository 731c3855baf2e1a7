"""``City``: one city information model, opened from its store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa

from cim import migrations
from cim.analysis import check_compliance, indicators
from cim.errors import CIMError, CityExists, CRSError, domain_errors
from cim.ingest import ingest
from cim.iot.settings import DEFAULT_TIMEZONE, check_timezone
from cim.map import city_map
from cim.model import catalog
from cim.model import history as city_history
from cim.model.diff import LayerDiff, diff_layer, list_versions
from cim.model.reads import get_feature, nearest, run_sql, select_features, spatial_filter, spatial_join
from cim.model.vocabulary import DEFAULT_CRS
from cim.store import Store, is_url, open_store
from cim.terrain import base_elevations
from gis.crs import crs_label, not_in_metres, parse_crs

if TYPE_CHECKING:
    import geopandas as gpd

    from cim.ingest.report import IngestReport

Output = Literal["geopandas", "arrow", "pandas"]


class City:
    """A city model: layers of features (GIS, BIM, sensors) in one store, in one projected CRS.

    Errors of the readers underneath (``gis``, ``bim``) leave its methods as ``cim`` errors
    (``cim.errors.reader_errors``), so ``except cim.CIMError`` is enough.

    Example:
        >>> city = cim.create("qingdao.duckdb")          # doctest: +SKIP
        >>> city.ingest("parcels.gpkg", layer="parcels")  # doctest: +SKIP
        >>> city.features("parcels", where="far_limit > 2.5")  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.crs: str = self.meta("crs") or DEFAULT_CRS

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release the store."""
        self.store.close()

    def __enter__(self) -> City:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<City {self.store.location} crs={self.crs}>"

    @property
    def location(self) -> str:
        """Where the city is kept (file path or URL)."""
        return self.store.location

    @property
    def data_dir(self) -> Path:
        """Folder for rasters and other large side files: beside a city file; for a database city
        ``$CIM_DATA_DIR/<host>-<database>-<schema>`` (default ``~/.local/share/cim``)."""
        return self.store.data_dir

    def meta(self, key: str) -> str | None:
        """A city-wide setting (crs, name, created_at, …)."""
        return city_history.meta(self.store, key)

    # -- catalogue ---------------------------------------------------------------------------
    @property
    def layers(self) -> pd.DataFrame:
        """The layer catalogue: one row per layer with kind, phase, classification, counts, bbox."""
        return catalog.catalogue(self.store).to_pandas()

    def layer(self, name: str) -> dict[str, Any]:
        """One layer's catalogue row, with its ``profile`` (what the layer is, a ``LayerProfile``, or
        None); ``LayerNotFound`` lists the layers there are."""
        return catalog.layer_row(self.store, name)

    def history(self, layer: str | None = None) -> pd.DataFrame:
        """Every ingest and edit, newest first (who, when, what, counts)."""
        return city_history.history(self.store, layer).to_pandas()

    def rejects(self, layer: str, version: int | None = None) -> pd.DataFrame:
        """Rows refused by an ingest of ``layer`` (latest version by default), with reasons."""
        version = version or self.layer(layer)["version"]
        return city_history.rejects(self.store, layer, version).to_pandas()

    def versions(self, layer: str | None = None) -> pd.DataFrame:
        """Every version of ``layer`` (or of every layer), newest first: when it became valid
        (``created_at``), when the next replaced it (``valid_to``), its source and counts."""
        if layer is not None:
            self.layer(layer)  # LayerNotFound names the layers there are
        return pd.DataFrame(list_versions(self, layer))

    @domain_errors
    def diff(self, layer: str, from_: int | str | datetime, to: int | str | datetime | None = None, *,
             limit: int | None = None, ignore: Sequence[str] = ()) -> LayerDiff:
        """What differs in ``layer`` between two versions, each a version number or a time (the
        version valid then; ``to`` defaults to the current version): added, removed and modified
        features by id, attribute changes old → new, area/height deltas, centroid move, Hausdorff
        distance (docs/compare.md). ``ignore`` names attributes whose changes do not count (``fid``)."""
        self.layer(layer)
        return diff_layer(self, layer, from_, self.layer(layer)["version"] if to is None else to, limit=limit,
                          ignore=ignore)

    # -- reads -------------------------------------------------------------------------------
    @domain_errors
    def features(
        self,
        layer: str | None = None,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        bbox_crs: str | None = None,
        where: str | None = None,
        as_of: datetime | str | None = None,
        limit: int | None = None,
        output: Output = "geopandas",
    ) -> gpd.GeoDataFrame | pa.Table | pd.DataFrame:
        """Features of a layer (or of all layers), filtered, as a GeoDataFrame or Arrow table.

        ``bbox`` is in the city's CRS unless ``bbox_crs`` says otherwise; ``where`` is a SQL
        predicate over the feature columns and the layer's own fields (``"far_limit > 2.5"``);
        ``as_of`` reads the city as it was at that time.
        """

        return select_features(
            self, layer, bbox=bbox, bbox_crs=bbox_crs, where=where, as_of=as_of, limit=limit, output=output
        )

    @domain_errors
    def feature(self, feature_id: str, *, as_of: datetime | str | None = None) -> dict[str, Any]:
        """One feature by its stable id, with its parent chain."""

        return get_feature(self, feature_id, as_of=as_of)

    @domain_errors
    def sql(self, query: str, params: list[Any] | None = None, *, output: Output = "arrow") -> Any:
        """Run SQL against the city (read it; writes go through ingest/edit so history is kept)."""

        return run_sql(self, query, params, output=output)

    # spatial questions planners ask ------------------------------------------------------------
    @domain_errors
    def within(self, geometry: Any, layer: str | None = None, **kw: Any) -> Any:
        """Features wholly inside a geometry (shapely, WKT) or inside another feature (its id)."""

        return spatial_filter(self, "within", geometry, layer, **kw)

    @domain_errors
    def intersecting(self, geometry: Any, layer: str | None = None, **kw: Any) -> Any:
        """Features that intersect a geometry or another feature."""

        return spatial_filter(self, "intersects", geometry, layer, **kw)

    @domain_errors
    def within_distance(self, geometry: Any, distance: float, layer: str | None = None, **kw: Any) -> Any:
        """Features within ``distance`` metres of a geometry or feature."""

        return spatial_filter(self, "dwithin", geometry, layer, distance=distance, **kw)

    @domain_errors
    def nearest(self, geometry: Any, n: int = 5, layer: str | None = None, **kw: Any) -> Any:
        """The ``n`` nearest features to a geometry or feature, with their distance in metres."""

        return nearest(self, geometry, n, layer, **kw)

    @domain_errors
    def spatial_join(self, left: str, right: str, *, predicate: str = "contains", **kw: Any) -> Any:
        """Id pairs of ``left`` and ``right`` features where ``predicate`` holds (parcel ⊃ building)."""

        return spatial_join(self, left, right, predicate=predicate, **kw)

    @domain_errors
    def base_elevations(self, layer: str, *, dem: str | None = None, stat: str = "min") -> pd.DataFrame:
        """Ground height under each feature of ``layer`` from the city's DEM (``id``, ``base_elevation``)."""

        return base_elevations(self, layer, dem=dem, stat=stat)

    # planning analysis and maps (cim.analysis, cim.map) ------------------------------------------
    @domain_errors
    def indicators(self, by: str = "parcel", **kw: Any) -> Any:
        """容积率, 建筑密度, 绿地率, max height and counts per parcel/block/district; see cim.analysis.indicators."""

        return indicators(self, by=by, **kw)

    @domain_errors
    def check(self, **kw: Any) -> Any:
        """Planning-rule compliance of every building and parcel; see cim.analysis.check_compliance."""

        return check_compliance(self, **kw)

    @domain_errors
    def map(self, layers: Any = None, **kw: Any) -> Any:
        """An interactive deck.gl map that renders offline (Jupyter or HTML); see cim.map.city_map."""

        return city_map(self, layers, **kw)

    # -- writes ------------------------------------------------------------------------------
    @domain_errors
    def ingest(self, path: str | Path, **options: Any) -> IngestReport | list[IngestReport]:
        """Put a source (vector, raster, IFC, CityJSON, …) into the city; see ``cim ingest --help``."""

        return ingest(self, path, **options)

    def record(self, action: str, *, layer: str | None = None, version: int | None = None,
               details: dict[str, Any] | None = None, actor: str | None = None) -> None:
        """Append to the history (inside the caller's transaction)."""
        city_history.record(self.store, action, layer=layer, version=version, details=details, actor=actor)


@domain_errors
def create(location: str | Path, crs: str = DEFAULT_CRS, *, name: str | None = None,
           exist_ok: bool = False, timezone: str | None = None) -> City:
    """Create a new city in ``location`` with one projected storage CRS and a time zone (default
    Asia/Shanghai; its local midnight is where the city's days begin).

    Example:
        >>> city = cim.create("qingdao.duckdb", crs="EPSG:4549")  # doctest: +SKIP
    """

    zone = check_timezone(timezone or DEFAULT_TIMEZONE)
    parsed = parse_crs(crs)
    if not parsed.is_projected:
        raise CRSError(
            f"{crs} is not a projected CRS; a city stores metric coordinates: "
            "use e.g. EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)"
        )
    feet = not_in_metres(parsed)
    if feet:
        raise CRSError(feet)
    if is_url(location):
        store = open_store(location, must_exist=False)
        label = store.location
        if store.has_table("schema_migrations"):
            if not exist_ok:
                store.close()
                raise CityExists(f"{label} already holds a city: open it with cim.open(), or use another schema")
            store.close()
            return open(location)
        default_name = label.rsplit("/", 1)[-1].split("?", 1)[0] or "city"
        path = None
    else:
        path = Path(location)
        if path.exists():
            if not exist_ok:
                raise CityExists(f"{path} already exists: open it with cim.open(), or choose another path")
            return open(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        store = open_store(path, must_exist=False)
        default_name = path.stem
    try:
        now = datetime.now(UTC).isoformat()
        with store.transaction():  # all of it or nothing, on either backend
            migrations.migrate(store)
            settings = (("crs", crs_label(parsed)), ("name", name or default_name), ("created_at", now),
                        ("timezone", zone))
            for key, value in settings:
                store.execute("INSERT INTO cim_meta VALUES (?, ?)", [key, value])
            city = City(store)
            city.record("create", details={"crs": city.crs})
    except BaseException:
        store.close()
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    return city


@domain_errors
def open(location: str | Path, *, read_only: bool = False) -> City:  # noqa: A001 - cim.open mirrors io.open
    """Open an existing city; pending schema migrations are applied (unless read-only)."""
    store = open_store(location, read_only=read_only)
    try:
        if read_only:
            current = migrations.current_version(store)
            if current > migrations.latest_version():
                migrations.migrate(store)  # raises SchemaTooNew
        else:
            migrations.migrate(store)
        if migrations.current_version(store) == 0:
            raise CIMError(f"{store.location} is not a city (it has no cim schema): create one with `cim init`")
    except BaseException:
        store.close()
        raise
    return City(store)
