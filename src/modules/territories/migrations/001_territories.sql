-- Territories: the Code officiel géographique (COG) from @etalab/decoupage-administratif, plus
-- commune centres and polygons from the shared geometry files. Other modules call the functions of
-- src/modules/territories/index.ts, never these tables.
CREATE SCHEMA IF NOT EXISTS territories;

-- One row: what is loaded, from where, and which geometry is present.
CREATE TABLE territories.meta (
  id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  cog_year integer NOT NULL,
  package_version text NOT NULL,
  source text NOT NULL,
  loaded_at timestamptz NOT NULL DEFAULT now(),
  centres_loaded boolean NOT NULL DEFAULT false,
  polygons_loaded boolean NOT NULL DEFAULT false,
  geometry_source text,
  counts jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE territories.region (
  code text PRIMARY KEY,
  name text NOT NULL,
  -- 'metro', 'drom', or 'com' (overseas collectivités, listed as régions by the COG package)
  zone text NOT NULL,
  chef_lieu text,
  population bigint NOT NULL DEFAULT 0,
  commune_count integer NOT NULL DEFAULT 0
);

CREATE TABLE territories.departement (
  code text PRIMARY KEY,
  name text NOT NULL,
  region text NOT NULL REFERENCES territories.region (code),
  zone text NOT NULL,
  chef_lieu text,
  population bigint NOT NULL DEFAULT 0,
  commune_count integer NOT NULL DEFAULT 0
);
CREATE INDEX departement_region_idx ON territories.departement (region);

CREATE TABLE territories.epci (
  code text PRIMARY KEY,           -- SIREN, 9 digits
  name text NOT NULL,
  kind text NOT NULL,              -- CC, CA, CU, METRO, MET69
  financing text,
  population bigint NOT NULL DEFAULT 0,
  commune_count integer NOT NULL DEFAULT 0
);

-- Current communes and the 45 municipal arrondissements of Paris, Lyon and Marseille.
-- Only load.ts writes these tables, in one transaction that checks every reference (parent,
-- département, région, EPCI) before committing; per-row foreign-key triggers would triple the load
-- time on the embedded database, so the references below are not declared as foreign keys.
CREATE TABLE territories.commune (
  code text PRIMARY KEY,
  name text NOT NULL,
  name_fold text NOT NULL,         -- platform.fold(name): lower-case, no accents, punctuation → spaces
  name_compact text NOT NULL,      -- name_fold without spaces ("lhay les roses" → "lhaylesroses")
  kind text NOT NULL CHECK (kind IN ('commune', 'arrondissement')),
  parent text,                     -- the commune of an arrondissement
  departement text NOT NULL,
  region text NOT NULL,
  epci text,                       -- SIREN of its EPCI (an arrondissement: its commune's)
  zone text NOT NULL,
  population integer NOT NULL DEFAULT 0,
  postal_codes text[] NOT NULL DEFAULT '{}',
  lat double precision,
  lon double precision,
  centre_method text,
  CHECK ((lat IS NULL) = (lon IS NULL)),
  CHECK ((kind = 'arrondissement') = (parent IS NOT NULL))
);
CREATE INDEX commune_departement_idx ON territories.commune (departement);
CREATE INDEX commune_region_idx ON territories.commune (region);
CREATE INDEX commune_epci_idx ON territories.commune (epci);
CREATE INDEX commune_parent_idx ON territories.commune (parent);
CREATE INDEX commune_postal_codes_idx ON territories.commune USING gin (postal_codes);
-- Word-prefix search: the padded folded name, LIKE '% word%' is served by the trigram index.
CREATE INDEX commune_name_trgm_idx ON territories.commune USING gin ((' ' || name_fold) gin_trgm_ops);
CREATE INDEX commune_name_compact_idx ON territories.commune (name_compact text_pattern_ops);

-- Former codes (communes déléguées / associées, codes changed) → the current commune.
CREATE TABLE territories.former_code (
  code text NOT NULL,
  current_code text NOT NULL,
  name text NOT NULL,
  kind text NOT NULL,              -- 'commune-deleguee', 'commune-associee', 'ancien-code'
  PRIMARY KEY (code, current_code, kind)
);
CREATE INDEX former_code_code_idx ON territories.former_code (code);

-- Commune polygons as rings. PostgreSQL's polygon type has no holes and no multi-parts: a
-- MultiPolygon becomes one row per part (ring_no = 0: outer ring) and each hole is a row of the
-- same (source_code, part) with ring_no > 0. A point is in a part when it is inside the outer ring
-- and inside none of that part's holes. Coordinates are stored in units of 1/10,000 degree
-- (x = longitude × 10⁴, y = latitude × 10⁴), the precision of the source file: integers parse
-- several times faster than decimals in the embedded database, which keeps the load fast.
CREATE TABLE territories.commune_ring (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  commune_code text NOT NULL,
  source_code text NOT NULL,       -- the code in the geometry file (COG 2018)
  part integer NOT NULL,
  ring_no integer NOT NULL,
  ring polygon NOT NULL,            -- in 1/10,000 degree
  bbox box NOT NULL,                -- in 1/10,000 degree
  area double precision NOT NULL   -- of the part (outer minus holes), in square degrees
);
CREATE INDEX commune_ring_bbox_idx ON territories.commune_ring USING gist (bbox) WHERE ring_no = 0;
CREATE INDEX commune_ring_holes_idx ON territories.commune_ring (source_code, part) WHERE ring_no > 0;
CREATE INDEX commune_ring_commune_idx ON territories.commune_ring (commune_code);

-- For SQL written inside this module (and read-only reporting): commune centres, null when unknown.
CREATE VIEW territories.commune_centre AS
  SELECT code, kind, parent, lat, lon, centre_method FROM territories.commune;

-- The commune containing a point (degrees), or NULL. Prefers the smallest part, so an enclave wins
-- over the commune around it even where the simplified geometry lacks the hole.
CREATE FUNCTION territories.commune_at(p_lat double precision, p_lon double precision) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE STRICT
  AS $$
    SELECT o.commune_code
      FROM territories.commune_ring o
     WHERE o.ring_no = 0
       AND o.bbox @> box(point(p_lon * 10000, p_lat * 10000), point(p_lon * 10000, p_lat * 10000))
       AND o.ring @> point(p_lon * 10000, p_lat * 10000)
       AND NOT EXISTS (
         SELECT 1 FROM territories.commune_ring h
          WHERE h.ring_no > 0 AND h.source_code = o.source_code AND h.part = o.part
            AND h.ring @> point(p_lon * 10000, p_lat * 10000))
     ORDER BY o.area, o.commune_code
     LIMIT 1
  $$;
