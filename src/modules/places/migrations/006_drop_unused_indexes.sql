-- Territory filters now go through the tags GIN index (migration 004); nothing looks places up by
-- EPCI, commune code or pivot through a B-tree any more (duplicate detection pairs places by
-- position). Each index removed is one less to maintain on every imported row.
DROP INDEX IF EXISTS places.place_epci;
DROP INDEX IF EXISTS places.place_commune;
DROP INDEX IF EXISTS places.place_pivot;
