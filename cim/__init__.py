"""cim — a city information model: GIS, BIM and IoT in one DuckDB-spatial file.

Example:
    >>> import cim
    >>> city = cim.create("qingdao.duckdb")  # doctest: +SKIP
    >>> city.ingest("parcels.gpkg")           # doctest: +SKIP
"""

from cim.city import City, create, open  # noqa: A004 - cim.open mirrors io.open, like gzip.open
from cim.errors import (
    CIMError,
    CityExists,
    CityNotFound,
    CRSError,
    FeatureNotFound,
    GeoreferenceError,
    LayerNotFound,
    QueryError,
    SchemaTooNew,
    SourceError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "City",
    "create",
    "open",
    "CIMError",
    "CityExists",
    "CityNotFound",
    "CRSError",
    "FeatureNotFound",
    "GeoreferenceError",
    "LayerNotFound",
    "QueryError",
    "SchemaTooNew",
    "SourceError",
    "ValidationError",
]
