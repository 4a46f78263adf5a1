-- The snapshot of places moves from one row per place to 256 buckets (places grouped by a hash of
-- their uid, each bucket one text value): a full recompute writes 256 rows instead of one row per
-- place (200,000 rows took seconds on the embedded database), and an incremental refresh rewrites
-- only the buckets of the places that changed. The stored measures are recomputed from scratch
-- (the state row goes, so the next read or refresh runs a full recompute).
DROP TABLE IF EXISTS coverage.place_snapshot;
CREATE TABLE coverage.place_bucket (
  bucket integer PRIMARY KEY CHECK (bucket >= 0 AND bucket < 256),
  places integer NOT NULL,
  -- One line per place: uid, latitude, longitude, mask, commune code (empty: none), tab-separated.
  -- mask: bit i = service i of coverage.state.services; bit 30 = open on Saturday.
  data text NOT NULL
);
DELETE FROM coverage.state;
TRUNCATE coverage.commune_measure;
