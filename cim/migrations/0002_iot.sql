-- IoT: SensorThings-shaped sensors bound to city features, observations, latest values, rules, alerts.
CREATE TABLE IF NOT EXISTS iot_things (
    id          INTEGER PRIMARY KEY,
    key         VARCHAR UNIQUE,               -- optional stable name users and files refer to
    name        VARCHAR NOT NULL,
    description VARCHAR,
    feature_id  VARCHAR NOT NULL,             -- the city feature it is bound to (features.id)
    feature_class VARCHAR,                    -- that feature's class when bound, for per-class rules
    properties  JSON,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS iot_locations (
    id          INTEGER PRIMARY KEY,
    thing_id    INTEGER NOT NULL,
    name        VARCHAR,
    description VARCHAR,
    geom        GEOMETRY NOT NULL,            -- point in the city CRS
    z           DOUBLE,                       -- metres; negative = underground
    lon         DOUBLE NOT NULL,              -- EPSG:4326, for JSON clients
    lat         DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS iot_sensors (
    id            INTEGER PRIMARY KEY,
    key           VARCHAR UNIQUE,
    name          VARCHAR NOT NULL,
    description   VARCHAR,
    encoding_type VARCHAR NOT NULL,
    metadata      VARCHAR
);

CREATE TABLE IF NOT EXISTS iot_properties (
    id          INTEGER PRIMARY KEY,
    key         VARCHAR UNIQUE NOT NULL,      -- pm10, noise, water_level ...
    name        VARCHAR NOT NULL,
    definition  VARCHAR,
    description VARCHAR,
    dimension   VARCHAR NOT NULL              -- what units fit: mass_concentration, pressure ...
);

CREATE TABLE IF NOT EXISTS iot_datastreams (
    id               INTEGER PRIMARY KEY,
    key              VARCHAR UNIQUE,
    name             VARCHAR NOT NULL,
    description      VARCHAR,
    thing_id         INTEGER NOT NULL,
    sensor_id        INTEGER NOT NULL,
    property_id      INTEGER NOT NULL,
    unit             VARCHAR NOT NULL,        -- UCUM code
    observation_type VARCHAR NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS iot_observations (
    datastream_id   INTEGER NOT NULL,
    phenomenon_time TIMESTAMPTZ NOT NULL,
    result          DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS iot_latest (
    datastream_id   INTEGER PRIMARY KEY,
    phenomenon_time TIMESTAMPTZ NOT NULL,
    result          DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS iot_units (
    code      VARCHAR PRIMARY KEY,            -- UCUM code allowed in this city beyond the built-in table
    name      VARCHAR NOT NULL,
    dimension VARCHAR NOT NULL,
    factor    DOUBLE NOT NULL                 -- to the dimension's base unit
);

CREATE TABLE IF NOT EXISTS iot_rules (
    id            INTEGER PRIMARY KEY,
    name          VARCHAR UNIQUE NOT NULL,
    kind          VARCHAR NOT NULL,           -- above | below | rate | stale
    level         VARCHAR NOT NULL,           -- warn | alarm
    datastream_id INTEGER,                    -- one datastream, or
    feature_class VARCHAR,                    -- every datastream on features of this class
    property      VARCHAR,                    -- and/or of this observed property
    threshold     DOUBLE,                     -- above/below: raise level; rate: units per minute
    clear         DOUBLE,                     -- above/below: level that ends the alert (hysteresis)
    minutes       DOUBLE,                     -- stale: minutes without data
    message       VARCHAR,
    enabled       BOOLEAN NOT NULL,
    source        VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS iot_alerts (
    id              BIGINT PRIMARY KEY,
    rule_id         INTEGER NOT NULL,
    datastream_id   INTEGER NOT NULL,
    level           VARCHAR NOT NULL,
    state           VARCHAR NOT NULL,         -- open | acknowledged | closed
    active          BOOLEAN NOT NULL,         -- the condition still holds
    value           DOUBLE,
    message         VARCHAR NOT NULL,
    opened_at       TIMESTAMPTZ NOT NULL,     -- observation time that raised it
    cleared_at      TIMESTAMPTZ,              -- observation time the condition ended
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by VARCHAR,
    closed_at       TIMESTAMPTZ,
    closed_by       VARCHAR
);

CREATE TABLE IF NOT EXISTS iot_batches (
    id           BIGINT PRIMARY KEY,
    kind         VARCHAR NOT NULL,            -- file | mqtt | http | python
    source       VARCHAR,
    actor        VARCHAR,
    read         BIGINT NOT NULL,
    stored       BIGINT NOT NULL,
    duplicates   BIGINT NOT NULL,
    rejected     BIGINT NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS iot_rejects (
    batch_id BIGINT NOT NULL,
    ref      VARCHAR NOT NULL,                -- row, cell, message or array index
    reason   VARCHAR NOT NULL
);
