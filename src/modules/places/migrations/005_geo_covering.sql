-- Near-me and map queries read only the position, the uid, the name key and visibility of the
-- places in a box: a covering GiST index answers them from the index alone (no heap visit per
-- place once the table is vacuumed).
DROP INDEX IF EXISTS places.place_geo;
CREATE INDEX place_geo ON places.place USING gist (geo) INCLUDE (uid, name_folded, visible);
