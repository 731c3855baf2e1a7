-- 3D geometry per feature (BIM elements, CityJSON shells): triangle meshes in the city CRS.
CREATE TABLE IF NOT EXISTS meshes (
    feature_id VARCHAR NOT NULL,
    layer      VARCHAR NOT NULL,
    version    INTEGER NOT NULL,
    origin_x   DOUBLE NOT NULL,                 -- city CRS grid metres; vertices are offsets from it
    origin_y   DOUBLE NOT NULL,
    origin_z   DOUBLE NOT NULL,
    vertices   BLOB NOT NULL,                   -- float32 little-endian (n, 3): dx, dy, dz
    faces      BLOB NOT NULL,                   -- uint32 little-endian (m, 3)
    vertex_count INTEGER NOT NULL,
    face_count INTEGER NOT NULL,
    color      FLOAT[4],                        -- RGBA 0..1 of the element's main surface style
    z_min      DOUBLE,
    z_max      DOUBLE
);
