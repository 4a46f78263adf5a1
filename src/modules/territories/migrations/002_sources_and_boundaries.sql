-- The reference geography comes from its official published sources (or a stand-in): what was
-- received from each (address, licence, date, size, SHA-256) is recorded with the load, and the
-- département and région boundaries are kept with it (the basemap and the coverage maps draw them).
ALTER TABLE territories.meta ADD COLUMN sources jsonb NOT NULL DEFAULT '[]'::jsonb;

-- One GeoJSON geometry per département or région, written only by load.ts in its transaction.
CREATE TABLE territories.boundary (
  level text NOT NULL CHECK (level IN ('region', 'departement')),
  code text NOT NULL,
  name text NOT NULL,
  geometry text NOT NULL,
  PRIMARY KEY (level, code)
);
