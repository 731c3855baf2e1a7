-- IoT: the layer and classification of the feature a Thing is bound to, so sensor outputs follow
-- the same visibility and desensitisation as the feature itself.
ALTER TABLE iot_things ADD COLUMN layer VARCHAR;
ALTER TABLE iot_things ADD COLUMN classification VARCHAR;
