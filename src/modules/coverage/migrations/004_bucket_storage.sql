-- The snapshot buckets are not compressed: compressing 256 values of ~60 kB on every full write
-- costs more than the space it saves.
ALTER TABLE coverage.place_bucket ALTER COLUMN data SET STORAGE EXTERNAL;
