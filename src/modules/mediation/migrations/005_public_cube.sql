-- The protected public figures (disclosure.ts) of a région and a year, built once per change of
-- their counters instead of once per request.
-- public_version: bumped in the transaction of every write to a région's counters (applyCounters,
-- the counter rebuild), so every app instance on the database sees the change at commit.
CREATE TABLE mediation.public_version (
  region text NOT NULL,
  year int NOT NULL,
  version bigint NOT NULL,
  PRIMARY KEY (region, year)
);

-- public_cube: the protected cells of one territory of the cube (the région or one of its
-- départements), as built from the counters of `version` (read in the same snapshot). A row whose
-- version is not the current one is stale and rebuilt on the next read.
CREATE TABLE mediation.public_cube (
  region text NOT NULL,
  year int NOT NULL,
  territory text NOT NULL,
  version bigint NOT NULL,
  cells jsonb NOT NULL,
  built_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (region, year, territory)
);
