-- People, land and housing: named users with hashed API keys, and the append-only audit trail.
-- Housing units, residents and land-use rights themselves are layers of ``features`` (versioned like
-- every layer; parent chain resident → unit → building → parcel).
CREATE TABLE IF NOT EXISTS users (
    id           VARCHAR PRIMARY KEY,         -- short handle, e.g. "wang.li"
    name         VARCHAR NOT NULL,
    organisation VARCHAR,
    role         VARCHAR NOT NULL,            -- one of cim.access.ROLES
    key_id       VARCHAR NOT NULL,            -- public part of the key: finds the row
    key_salt     VARCHAR NOT NULL,            -- per-key random salt (hex)
    key_hash     VARCHAR NOT NULL,            -- sha256(salt || secret) (hex)
    created_at   TIMESTAMPTZ NOT NULL,
    rotated_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS audit (
    at_time   TIMESTAMPTZ NOT NULL,
    actor     VARCHAR,                        -- user id, or NULL for a bare role
    role      VARCHAR NOT NULL,
    action    VARCHAR NOT NULL,               -- read | write | refused
    path      VARCHAR NOT NULL,               -- python | cli | http:<route>
    layer     VARCHAR,
    filter    VARCHAR,                        -- JSON of what was asked
    fields    VARCHAR,                        -- person-level fields returned (comma-separated)
    row_count BIGINT NOT NULL
);
