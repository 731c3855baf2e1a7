-- PostgreSQL plans lookups by id, layer and time with B-tree indexes (DuckDB uses zone maps).
CREATE INDEX IF NOT EXISTS features_id ON features (id);
-- No B-tree on features.layer: the planner would AND it with the GiST index in every spatial join
-- probe, four times slower than filtering the few rows the GiST index returns.
CREATE INDEX IF NOT EXISTS features_parent ON features (parent) WHERE parent IS NOT NULL;
CREATE INDEX IF NOT EXISTS meshes_layer_version ON meshes (layer, version);
CREATE INDEX IF NOT EXISTS meshes_feature ON meshes (feature_id);
CREATE INDEX IF NOT EXISTS rejects_layer_version ON rejects (layer, version);
CREATE INDEX IF NOT EXISTS iot_observations_stream_time ON iot_observations (datastream_id, phenomenon_time);
CREATE INDEX IF NOT EXISTS iot_locations_thing ON iot_locations (thing_id);
CREATE INDEX IF NOT EXISTS iot_alerts_stream ON iot_alerts (datastream_id, rule_id);
