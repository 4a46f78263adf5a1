-- Reads go through the per-process cache of all measures (service.ts), never through these
-- indexes; dropping them makes the full recompute's bulk insert cheaper.
DROP INDEX IF EXISTS coverage.commune_measure_departement;
DROP INDEX IF EXISTS coverage.commune_measure_region;
DROP INDEX IF EXISTS coverage.commune_measure_epci;
