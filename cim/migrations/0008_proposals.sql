-- Planning proposals (方案): named sets of buildings (a BIM model's, or a massing's) kept beside the
-- city and evaluated with it, never written into its layers (cim/model/proposals.py).
CREATE TABLE IF NOT EXISTS proposals (
    name       VARCHAR PRIMARY KEY,
    kind       VARCHAR NOT NULL,             -- bim | massing
    source     VARCHAR NOT NULL,             -- the file it was read from
    parcel     VARCHAR,                      -- the parcel it stands on, when given or found
    note       VARCHAR,
    buildings  INTEGER NOT NULL,
    actor      VARCHAR,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS proposal_buildings (
    proposal VARCHAR NOT NULL,
    id       VARCHAR NOT NULL,               -- proposal.<name>.<building>
    name     VARCHAR,
    geom     GEOMETRY NOT NULL,              -- footprint, 2D, storage CRS
    height   DOUBLE NOT NULL,                -- metres above its base
    floors   DOUBLE NOT NULL,
    use      VARCHAR,
    PRIMARY KEY (proposal, id)
);
