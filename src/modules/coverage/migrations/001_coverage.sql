-- Coverage analytics: per-commune measures, the places they were computed from, and run state.
CREATE SCHEMA IF NOT EXISTS coverage;

-- One row per current commune (with or without a centre). The commune's attributes are copied from
-- the territories module at compute time so that reads need no other module.
CREATE TABLE coverage.commune_measure (
  code text PRIMARY KEY,
  name text NOT NULL,
  departement text NOT NULL,
  region text NOT NULL,
  epci text,
  population integer NOT NULL,
  lat double precision,
  lon double precision,
  nearest_km double precision,
  nearest_uid text,
  -- One entry per service of the standard, in the order of coverage.state.services.
  service_km double precision[] NOT NULL,
  service_uid text[] NOT NULL,
  saturday_km double precision,
  saturday_uid text,
  within_5 integer,
  within_10 integer,
  within_20 integer,
  places_in_commune integer NOT NULL DEFAULT 0,
  computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX commune_measure_departement ON coverage.commune_measure (departement);
CREATE INDEX commune_measure_region ON coverage.commune_measure (region);
CREATE INDEX commune_measure_epci ON coverage.commune_measure (epci);

-- The places the measures were computed from, to find what changed (incremental recompute).
-- mask: bit i = service i of coverage.state.services; bit 30 = open on Saturday.
CREATE TABLE coverage.place_snapshot (
  uid text PRIMARY KEY,
  lat double precision NOT NULL,
  lon double precision NOT NULL,
  mask integer NOT NULL,
  commune_code text
);

-- A single row: what the stored measures correspond to.
CREATE TABLE coverage.state (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  version bigint NOT NULL DEFAULT 0,
  services text[] NOT NULL,
  places_version bigint,
  last_kind text,
  last_run_at timestamptz,
  last_duration_ms integer,
  last_updated_communes integer,
  places integer,
  unattributed_places integer NOT NULL DEFAULT 0
);
