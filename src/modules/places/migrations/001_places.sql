-- Places offering digital help: the 32 fields of the national standard v1.0.2 under their
-- published names, plus what the platform needs (natural key, precision, derived search columns).
CREATE SCHEMA IF NOT EXISTS places;

CREATE TABLE places.place (
  uid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Natural key: the dataset the record came from + the producer's own id.
  import_source text NOT NULL,
  id text NOT NULL,
  pivot text NOT NULL,
  nom text NOT NULL,
  commune text NOT NULL,
  code_postal text NOT NULL,
  code_insee text,
  adresse text NOT NULL,
  complement_adresse text,
  latitude double precision,
  longitude double precision,
  typologie text[] NOT NULL DEFAULT '{}',
  telephone text,
  courriels text[] NOT NULL DEFAULT '{}',
  site_web text[] NOT NULL DEFAULT '{}',
  horaires text,
  presentation_resume text,
  presentation_detail text,
  source text,
  itinerance text[] NOT NULL DEFAULT '{}',
  structure_parente text,
  date_maj date NOT NULL,
  services text[] NOT NULL DEFAULT '{}',
  publics_specifiquement_adresses text[] NOT NULL DEFAULT '{}',
  prise_en_charge_specifique text[] NOT NULL DEFAULT '{}',
  frais_a_charge text[] NOT NULL DEFAULT '{}',
  dispositif_programmes_nationaux text[] NOT NULL DEFAULT '{}',
  formations_labels text[] NOT NULL DEFAULT '{}',
  autres_formations_labels text,
  modalites_acces text[] NOT NULL DEFAULT '{}',
  modalites_accompagnement text[] NOT NULL DEFAULT '{}',
  fiche_acces_libre text,
  prise_rdv text,
  -- Platform fields.
  coordinates_precision text NOT NULL CHECK (coordinates_precision IN ('given', 'commune', 'missing')),
  commune_code text,            -- the current commune (parent commune for a municipal arrondissement)
  departement text,
  region text,
  epci text,
  geo point,                    -- (longitude, latitude), for the spatial index
  tags text[] NOT NULL DEFAULT '{}',  -- 'field=value' for every enum value: one GIN index serves all filters
  hours_week int4multirange,    -- minutes of the week (Monday 00:00 = 0) when open, for purely weekly rules
  hours_exact boolean NOT NULL DEFAULT false, -- true when hours_week answers "open at t" for any date
  closed_on_ph boolean NOT NULL DEFAULT false, -- weekly rules + "PH off": closed on French public holidays
  open_horizon tstzmultirange,  -- other date-dependent rules: open intervals over a rolling horizon
  open_weekend boolean NOT NULL DEFAULT false,
  name_folded text NOT NULL,
  search tsvector NOT NULL,
  content_hash text NOT NULL,
  visible boolean NOT NULL DEFAULT true,
  merged_into uuid,             -- set when a person merged this record into another (then hidden)
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT place_natural_key UNIQUE (import_source, id),
  CONSTRAINT place_latitude CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90),
  CONSTRAINT place_longitude CHECK (longitude IS NULL OR longitude BETWEEN -180 AND 180)
);

CREATE INDEX place_geo ON places.place USING gist (geo);
CREATE INDEX place_search ON places.place USING gin (search);
CREATE INDEX place_name_trgm ON places.place USING gin (name_folded gin_trgm_ops);
CREATE INDEX place_tags ON places.place USING gin (tags);
CREATE INDEX place_commune ON places.place (commune_code);
CREATE INDEX place_departement ON places.place (departement);
CREATE INDEX place_region ON places.place (region);
CREATE INDEX place_epci ON places.place (epci);
CREATE INDEX place_name_sort ON places.place (name_folded, uid);
CREATE INDEX place_pivot ON places.place (pivot);
CREATE INDEX place_open_horizon ON places.place USING gist (open_horizon) WHERE open_horizon IS NOT NULL;

CREATE TABLE places.settings (
  key text PRIMARY KEY,
  value jsonb NOT NULL
);

-- Every import: who, when, which file, what came of it.
CREATE TABLE places.import_run (
  run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  import_source text NOT NULL,
  file_name text,
  file_sha256 text,
  actor text NOT NULL,
  format text,
  version text,
  encoding text,
  replace_source boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  rows_read integer NOT NULL DEFAULT 0,
  inserted integer NOT NULL DEFAULT 0,
  updated integer NOT NULL DEFAULT 0,
  unchanged integer NOT NULL DEFAULT 0,
  refused integer NOT NULL DEFAULT 0,
  removed integer NOT NULL DEFAULT 0,
  warnings integer NOT NULL DEFAULT 0
);

CREATE TABLE places.import_issue (
  run_id bigint NOT NULL REFERENCES places.import_run (run_id) ON DELETE CASCADE,
  line integer,
  field text,
  value text,
  message text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('error', 'warning')),
  code text NOT NULL
);
CREATE INDEX import_issue_run ON places.import_issue (run_id, line);

-- Pairs a person has decided on, so they are not proposed again.
CREATE TABLE places.duplicate_decision (
  uid_a uuid NOT NULL,
  uid_b uuid NOT NULL,
  decision text NOT NULL CHECK (decision IN ('not_duplicate', 'merged')),
  decided_by text NOT NULL,
  decided_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (uid_a, uid_b),
  CHECK (uid_a < uid_b)
);
