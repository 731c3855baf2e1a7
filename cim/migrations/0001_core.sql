-- The city's core: metadata, layer catalogue, features with versions, history, rejects.
CREATE TABLE IF NOT EXISTS cim_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS layers (
    name           VARCHAR PRIMARY KEY,
    kind           VARCHAR NOT NULL,          -- vector | raster | bim | cityjson | sensor
    phase          VARCHAR NOT NULL,          -- plan | build | manage | operate
    classification VARCHAR NOT NULL,          -- public | internal | restricted
    feature_class  VARCHAR,                   -- default class of its features (Parcel, Building, ...)
    source         VARCHAR,
    source_crs     VARCHAR,
    checksum       VARCHAR,
    version        INTEGER NOT NULL,
    feature_count  BIGINT NOT NULL,
    minx DOUBLE, miny DOUBLE, maxx DOUBLE, maxy DOUBLE,
    fields         JSON,                      -- [{"name":..., "type":...}] of its properties
    properties     JSON,                      -- kind-specific extras (raster path, bands, ...)
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS layer_versions (
    layer       VARCHAR NOT NULL,
    version     INTEGER NOT NULL,
    checksum    VARCHAR,
    source      VARCHAR,
    read        BIGINT NOT NULL,
    stored      BIGINT NOT NULL,
    repaired    BIGINT NOT NULL,
    rejected    BIGINT NOT NULL,
    actor       VARCHAR,
    ingested_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (layer, version)
);

CREATE TABLE IF NOT EXISTS features (
    id             VARCHAR NOT NULL,          -- stable across versions
    layer          VARCHAR NOT NULL,
    class          VARCHAR NOT NULL,
    name           VARCHAR,
    cim_level      TINYINT,                   -- CJJ/T 315 CIM1..CIM7
    lod            VARCHAR,
    phase          VARCHAR NOT NULL,
    geom           GEOMETRY,                  -- 2D, storage CRS
    z_min          DOUBLE,                    -- metres; negative = underground
    z_max          DOUBLE,
    height         DOUBLE,
    properties     JSON,
    parent         VARCHAR,
    classification VARCHAR NOT NULL,
    version        INTEGER NOT NULL,
    valid_from     TIMESTAMPTZ NOT NULL,
    valid_to       TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS features_geom_rtree ON features USING RTREE (geom);

CREATE TABLE IF NOT EXISTS rejects (
    layer    VARCHAR NOT NULL,
    version  INTEGER NOT NULL,
    source   VARCHAR NOT NULL,
    row_ref  VARCHAR NOT NULL,                -- row number or GlobalId
    reason   VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS history (
    at_time TIMESTAMPTZ NOT NULL,
    actor   VARCHAR,
    action  VARCHAR NOT NULL,                 -- create | ingest | edit | delete | migrate
    layer   VARCHAR,
    version INTEGER,
    details JSON
);
