-- Cheaper writes (imports rewrite thousands of rows at a time).
-- 1. A place's row is about 2 KB, just above the size (~2 KB) at which PostgreSQL starts
--    compressing its largest values (open intervals, tags) with pglz on every write. That saves
--    little space and costs ~30 µs a row on PostgreSQL, more on PGlite: rows are now compressed
--    only when they exceed a whole page.
ALTER TABLE places.place SET (toast_tuple_target = 8160);
-- 2. Territory filters use the tags GIN index (migration 004) and per-territory counts read the
--    whole table once per data version (then cached): nothing looks places up by region or
--    département through a B-tree.
DROP INDEX IF EXISTS places.place_departement;
DROP INDEX IF EXISTS places.place_region;
