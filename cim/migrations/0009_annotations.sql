-- Annotations (批注): a note on a point or an area of the city, written by someone in a role and
-- read only by roles at or above its minimum role (cim/access.py). Versioned like features: an edit
-- or a deletion closes the current row (valid_to) and an edit adds the next version.
CREATE TABLE IF NOT EXISTS annotations (
    id         VARCHAR NOT NULL,             -- stable across versions
    version    INTEGER NOT NULL,
    kind       VARCHAR NOT NULL,             -- point | area
    geometry   VARCHAR NOT NULL,             -- GeoJSON Point or Polygon, lon/lat (EPSG:4326)
    text       VARCHAR NOT NULL,
    author     VARCHAR NOT NULL,             -- who wrote this version (a user, or the caller's role)
    role       VARCHAR NOT NULL,             -- the role it was written in
    min_role   VARCHAR NOT NULL,             -- the lowest role that may read it
    feature    VARCHAR,                      -- the feature it is about, if any
    created_at TIMESTAMPTZ NOT NULL,         -- when the first version was written
    valid_from TIMESTAMPTZ NOT NULL,
    valid_to   TIMESTAMPTZ,                  -- NULL while current
    closed_by  VARCHAR,                      -- who edited or deleted it
    PRIMARY KEY (id, version)
);
