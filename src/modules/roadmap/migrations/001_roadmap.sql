-- The roadmap: governance bodies, voted plans as trees of any depth, their versions, money
-- (AP/CP, co-financing, envelopes) and indicators (definitions, dated series, summaries).
-- Territories are referenced by level and COG code; other modules' objects by stable id (values).
CREATE SCHEMA IF NOT EXISTS roadmap;

-- Governance: committees of a territory and their members (organisations, SIRET when known).
CREATE TABLE roadmap.body (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  territory_level text NOT NULL,
  territory_code text NOT NULL,
  name text NOT NULL,
  kind text NOT NULL,
  frequency text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (territory_level, territory_code, name)
);

CREATE TABLE roadmap.body_member (
  body_id uuid NOT NULL REFERENCES roadmap.body (id) ON DELETE CASCADE,
  position int NOT NULL,
  organisation text NOT NULL,
  siret char(14),
  role text NOT NULL,
  PRIMARY KEY (body_id, position)
);

CREATE TABLE roadmap.plan (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL UNIQUE,
  territory_level text NOT NULL,
  territory_code text NOT NULL,
  -- Cached from the territories module when the plan is written (for permission checks).
  region text,
  departement text,
  title text NOT NULL,
  period_start date NOT NULL,
  period_end date NOT NULL,
  published boolean NOT NULL DEFAULT false,
  vote_date date,
  deliberation_ref text,
  deliberation_url text,
  votes_for int,
  votes_against int,
  votes_abstention int,
  context text NOT NULL DEFAULT '',
  -- The voting authority, for the SCDL « Budget » export (BGT_SIRET, BGT_NOM).
  authority_name text,
  authority_siret char(14),
  documents jsonb NOT NULL DEFAULT '[]',
  revision int NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (period_end >= period_start)
);
CREATE INDEX plan_territory ON roadmap.plan (territory_level, territory_code);

-- One node of a plan's tree: axe, objectif, action or sous-action (any depth).
CREATE TABLE roadmap.node (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  plan_id uuid NOT NULL REFERENCES roadmap.plan (id) ON DELETE CASCADE,
  parent_id uuid REFERENCES roadmap.node (id) ON DELETE CASCADE,
  position int NOT NULL,
  kind text NOT NULL,
  number text NOT NULL DEFAULT '',
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  leads text[] NOT NULL DEFAULT '{}',
  partners text[] NOT NULL DEFAULT '{}',
  publics text[] NOT NULL DEFAULT '{}',
  start_date date,
  end_date date,
  status text NOT NULL DEFAULT 'a_venir',
  priority text NOT NULL DEFAULT 'normale',
  tags text[] NOT NULL DEFAULT '{}',
  links jsonb NOT NULL DEFAULT '[]',
  weight numeric NOT NULL DEFAULT 1 CHECK (weight >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date)
);
CREATE INDEX node_plan ON roadmap.node (plan_id, parent_id, position);
CREATE INDEX node_parent ON roadmap.node (parent_id);

-- Every change of a plan or a node: the full state after it (NULL after a deletion), who and when.
-- The plan as it stood on a date is the last state of each object at or before that date.
CREATE TABLE roadmap.change (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  plan_id uuid NOT NULL REFERENCES roadmap.plan (id) ON DELETE CASCADE,
  object_type text NOT NULL, -- 'plan' | 'node'
  object_id uuid NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  actor_id text,
  action text NOT NULL,
  summary text NOT NULL DEFAULT '',
  before jsonb,
  after jsonb
);
CREATE INDEX change_plan ON roadmap.change (plan_id, seq);
CREATE INDEX change_object ON roadmap.change (object_id, seq);

-- Money. An authorisation of programme (AP) on a node (an action or a group), split into yearly
-- payment credits (CP); per year what was voted (BP + DM), committed and paid.
CREATE TABLE roadmap.budget (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  plan_id uuid NOT NULL REFERENCES roadmap.plan (id) ON DELETE CASCADE,
  node_id uuid NOT NULL REFERENCES roadmap.node (id) ON DELETE CASCADE,
  label text NOT NULL,
  ap numeric(16, 2) NOT NULL CHECK (ap >= 0),
  nature text NOT NULL DEFAULT 'investissement', -- 'investissement' | 'fonctionnement' (SCDL BGT_SECTION)
  -- Budget nomenclature, when known (SCDL BGT_CONTNAT / BGT_NATURE and their labels).
  account_code text,
  account_label text,
  chapter_code text,
  chapter_label text,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (node_id, label)
);
CREATE INDEX budget_plan ON roadmap.budget (plan_id);

CREATE TABLE roadmap.budget_year (
  budget_id uuid NOT NULL REFERENCES roadmap.budget (id) ON DELETE CASCADE,
  year int NOT NULL,
  cp numeric(16, 2) NOT NULL DEFAULT 0 CHECK (cp >= 0),
  voted_bp numeric(16, 2) NOT NULL DEFAULT 0 CHECK (voted_bp >= 0),
  voted_dm numeric(16, 2) NOT NULL DEFAULT 0,
  committed numeric(16, 2) NOT NULL DEFAULT 0 CHECK (committed >= 0),
  paid numeric(16, 2) NOT NULL DEFAULT 0 CHECK (paid >= 0),
  PRIMARY KEY (budget_id, year)
);

CREATE TABLE roadmap.cofinancing (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  budget_id uuid NOT NULL REFERENCES roadmap.budget (id) ON DELETE CASCADE,
  funder_kind text NOT NULL, -- 'etat' | 'ue' | 'region' | 'departement' | 'epci' | 'commune' | 'autre'
  funder_name text NOT NULL,
  amount numeric(16, 2) NOT NULL CHECK (amount >= 0),
  UNIQUE (budget_id, funder_name)
);

-- Envelopes with a ceiling per territory, drawn by grants (the calls module) through index.ts.
CREATE TABLE roadmap.envelope (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  plan_id uuid NOT NULL REFERENCES roadmap.plan (id) ON DELETE CASCADE,
  node_id uuid REFERENCES roadmap.node (id) ON DELETE SET NULL,
  territory_level text NOT NULL,
  territory_code text NOT NULL,
  label text NOT NULL,
  year int,
  ceiling numeric(16, 2) NOT NULL CHECK (ceiling >= 0),
  drawn numeric(16, 2) NOT NULL DEFAULT 0 CHECK (drawn >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (drawn <= ceiling),
  UNIQUE (plan_id, territory_level, territory_code, label)
);

CREATE TABLE roadmap.envelope_draw (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  envelope_id uuid NOT NULL REFERENCES roadmap.envelope (id) ON DELETE CASCADE,
  amount numeric(16, 2) NOT NULL CHECK (amount > 0),
  reference text NOT NULL, -- the drawing object's stable id, e.g. 'calls:grant:…'
  label text NOT NULL DEFAULT '',
  actor_id text,
  at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (envelope_id, reference)
);

-- Indicators: definitions (live ones are computed by code a module registered, by id).
CREATE TABLE roadmap.indicator (
  id text PRIMARY KEY,
  title text NOT NULL,
  unit text NOT NULL,
  direction text NOT NULL DEFAULT 'up', -- 'up' (higher is better) | 'down'
  min_value numeric,
  max_value numeric,
  method text NOT NULL DEFAULT '',
  source text NOT NULL DEFAULT '',
  live boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (min_value IS NULL OR max_value IS NULL OR min_value <= max_value)
);

CREATE TABLE roadmap.indicator_link (
  node_id uuid NOT NULL REFERENCES roadmap.node (id) ON DELETE CASCADE,
  indicator_id text NOT NULL REFERENCES roadmap.indicator (id) ON DELETE CASCADE,
  weight numeric NOT NULL DEFAULT 1 CHECK (weight >= 0),
  PRIMARY KEY (node_id, indicator_id)
);
CREATE INDEX indicator_link_indicator ON roadmap.indicator_link (indicator_id);

-- Dated values of one series (indicator × territory): results, targets, estimates.
CREATE TABLE roadmap.indicator_value (
  indicator_id text NOT NULL REFERENCES roadmap.indicator (id) ON DELETE CASCADE,
  territory_level text NOT NULL,
  territory_code text NOT NULL,
  kind text NOT NULL, -- 'result' | 'target' | 'estimate'
  on_date date NOT NULL,
  value numeric NOT NULL,
  source text NOT NULL, -- 'saisie' | 'import' | 'calcul'
  note text NOT NULL DEFAULT '',
  actor_id text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (indicator_id, territory_level, territory_code, kind, on_date)
);

-- Per series: first and last result and the last target, kept current with every value written
-- (progress and roll-ups read this, never the whole series).
CREATE TABLE roadmap.series_summary (
  indicator_id text NOT NULL REFERENCES roadmap.indicator (id) ON DELETE CASCADE,
  territory_level text NOT NULL,
  territory_code text NOT NULL,
  initial_value numeric,
  initial_date date,
  latest_value numeric,
  latest_date date,
  target_value numeric,
  target_date date,
  value_count int NOT NULL DEFAULT 0,
  PRIMARY KEY (indicator_id, territory_level, territory_code)
);

-- A counter bumped by every statement that writes what barometers show (trees, money, indicators,
-- values): cached barometers are keyed by it, whoever writes (the app, the job, SQL by hand).
CREATE TABLE roadmap.state (
  id int PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO roadmap.state (id, version) VALUES (1, 1);

CREATE FUNCTION roadmap.bump_version() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  UPDATE roadmap.state SET version = version + 1 WHERE id = 1;
  RETURN NULL;
END $$;

CREATE TRIGGER plan_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roadmap.plan FOR EACH STATEMENT EXECUTE FUNCTION roadmap.bump_version();
CREATE TRIGGER node_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roadmap.node FOR EACH STATEMENT EXECUTE FUNCTION roadmap.bump_version();
CREATE TRIGGER budget_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roadmap.budget FOR EACH STATEMENT EXECUTE FUNCTION roadmap.bump_version();
CREATE TRIGGER budget_year_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roadmap.budget_year FOR EACH STATEMENT EXECUTE FUNCTION roadmap.bump_version();
CREATE TRIGGER cofinancing_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roadmap.cofinancing FOR EACH STATEMENT EXECUTE FUNCTION roadmap.bump_version();
CREATE TRIGGER envelope_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roadmap.envelope FOR EACH STATEMENT EXECUTE FUNCTION roadmap.bump_version();
CREATE TRIGGER indicator_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roadmap.indicator FOR EACH STATEMENT EXECUTE FUNCTION roadmap.bump_version();
CREATE TRIGGER indicator_link_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roadmap.indicator_link FOR EACH STATEMENT EXECUTE FUNCTION roadmap.bump_version();
CREATE TRIGGER series_summary_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roadmap.series_summary FOR EACH STATEMENT EXECUTE FUNCTION roadmap.bump_version();
