-- People, land and housing: named users with hashed API keys, and the append-only audit trail.
-- Housing units, residents and land-use rights themselves are layers of ``features`` (versioned like
-- every layer; parent chain resident → unit → building → parcel).
CREATE TABLE IF NOT EXISTS users (
    id           VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    organisation VARCHAR,
    role         VARCHAR NOT NULL,
    key_id       VARCHAR NOT NULL,
    key_salt     VARCHAR NOT NULL,
    key_hash     VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    rotated_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS users_key_id ON users (key_id);

CREATE TABLE IF NOT EXISTS audit (
    at_time   TIMESTAMPTZ NOT NULL,
    actor     VARCHAR,
    role      VARCHAR NOT NULL,
    action    VARCHAR NOT NULL,
    path      VARCHAR NOT NULL,
    layer     VARCHAR,
    filter    VARCHAR,
    fields    VARCHAR,
    row_count BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (at_time);

-- append-only: the database itself turns an update or delete of an entry into nothing
CREATE OR REPLACE RULE audit_no_update AS ON UPDATE TO audit DO INSTEAD NOTHING;
CREATE OR REPLACE RULE audit_no_delete AS ON DELETE TO audit DO INSTEAD NOTHING;
