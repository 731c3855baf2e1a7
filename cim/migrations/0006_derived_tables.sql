-- Derived data kept in the city's own store (cim/model/derived.py): rebuilt from the model on
-- demand, never copied or exported. Each derived dataset is one catalogue row naming the tables it
-- made (derived_<...>, dropped with it); rendered vector tiles share one table.
CREATE TABLE IF NOT EXISTS derived_tables (
    key        VARCHAR PRIMARY KEY,          -- what it was derived from, hashed (layer version, view, options)
    kind       VARCHAR NOT NULL,             -- vector_tiles
    layer      VARCHAR NOT NULL,
    version    INTEGER NOT NULL,             -- the layer version it was derived from
    view       VARCHAR NOT NULL,             -- full | coarse
    tables     VARCHAR NOT NULL,             -- its tables, comma-separated
    meta       JSON,                         -- whatever its reader needs (zoom rules, extent)
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS derived_tiles (
    tile VARCHAR PRIMARY KEY,                -- <key>/<z>/<x>/<y>
    key  VARCHAR NOT NULL,
    z    INTEGER NOT NULL,
    x    INTEGER NOT NULL,
    y    INTEGER NOT NULL,
    gz   BLOB NOT NULL                       -- the tile, gzipped
);
