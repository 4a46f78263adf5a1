-- Mediation: activity records of digital mediators (one row per beneficiary per activity), the
-- followed beneficiaries, teams led by coordinators, statistics counters kept up to date in the
-- same transaction as each record, and training paths (catalogue, sessions, registrations).
CREATE SCHEMA IF NOT EXISTS mediation;

-- A team of mediators, led by a coordinator (an account id).
CREATE TABLE mediation.team (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  coordinator_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX team_coordinator ON mediation.team (coordinator_id);

-- A mediator's working profile: employer, team, the directory places they work in.
CREATE TABLE mediation.mediator (
  user_id text PRIMARY KEY,
  display_name text NOT NULL DEFAULT '',
  employer text NOT NULL DEFAULT '',
  team_id uuid REFERENCES mediation.team(id) ON DELETE SET NULL,
  place_uids text[] NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mediator_team ON mediation.mediator (team_id);

-- A followed beneficiary (with consent). Anonymous people have no row here.
CREATE TABLE mediation.beneficiary (
  id uuid PRIMARY KEY,
  mediator_id text NOT NULL,
  alias text NOT NULL CHECK (length(alias) BETWEEN 1 AND 120),
  alias_key text NOT NULL,
  birth_year int CHECK (birth_year BETWEEN 1900 AND 2100),
  commune_code text,
  contact text,
  gender text,
  status text,
  consent_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_activity_on date
);
CREATE INDEX beneficiary_mediator ON mediation.beneficiary (mediator_id, alias_key);
CREATE INDEX beneficiary_last_activity ON mediation.beneficiary (last_activity_on);

-- An activity: one individual or collective session.
CREATE TABLE mediation.activity (
  id uuid PRIMARY KEY,
  mediator_id text NOT NULL,
  team_id uuid,
  kind text NOT NULL CHECK (kind IN ('individual', 'collective')),
  date date NOT NULL,
  duration_min int NOT NULL CHECK (duration_min > 0 AND duration_min <= 1440),
  place_kind text NOT NULL,
  place_uid text,
  commune_code text,
  departement text,
  region text,
  themes text[] NOT NULL,
  admin_themes text[] NOT NULL DEFAULT '{}',
  equipment text,
  autonomy text,
  orientation text,
  notes text,
  workshop_title text,
  workshop_level text,
  participants int NOT NULL CHECK (participants >= 1),
  anonymous jsonb,
  idempotency_key text,
  source text NOT NULL DEFAULT 'form',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX activity_idempotency ON mediation.activity (mediator_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX activity_mediator_date ON mediation.activity (mediator_id, date DESC, created_at DESC);

-- One row per beneficiary per activity; beneficiary_id NULL for an anonymous person.
CREATE TABLE mediation.activity_beneficiary (
  activity_id uuid NOT NULL REFERENCES mediation.activity(id) ON DELETE CASCADE,
  seq int NOT NULL,
  beneficiary_id uuid REFERENCES mediation.beneficiary(id) ON DELETE SET NULL,
  gender text,
  age_band text,
  status text,
  PRIMARY KEY (activity_id, seq)
);
CREATE INDEX activity_beneficiary_person ON mediation.activity_beneficiary (beneficiary_id) WHERE beneficiary_id IS NOT NULL;

-- Statistics counters: (scope, scope id, month, metric, key) → value, incremented in the
-- transaction that writes (or removes) an activity. Scopes: all, region, departement, commune,
-- place, mediator, team.
CREATE TABLE mediation.stat_counter (
  scope text NOT NULL,
  scope_id text NOT NULL,
  month date NOT NULL,
  metric text NOT NULL,
  key text NOT NULL,
  value bigint NOT NULL,
  PRIMARY KEY (scope, scope_id, month, metric, key)
);

-- Clients of the JSON API (token hash, scopes).
CREATE TABLE mediation.api_client (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  scopes text[] NOT NULL,
  mediator_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
