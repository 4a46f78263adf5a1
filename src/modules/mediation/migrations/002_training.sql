-- Training paths: providers' catalogue (paths of modules tagged with CRCN competences and target
-- levels), sessions in directory places, learners, registrations with a waiting list, attendance,
-- completion certificates, and competence results (e.g. imported from a Pix campaign).
CREATE TABLE mediation.training_provider (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  siret text CHECK (siret ~ '^\d{14}$'),
  manager_ids text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mediation.training_path (
  id uuid PRIMARY KEY,
  provider_id uuid NOT NULL REFERENCES mediation.training_provider(id),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '',
  audience text NOT NULL DEFAULT 'all',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mediation.training_module (
  id uuid PRIMARY KEY,
  path_id uuid NOT NULL REFERENCES mediation.training_path(id) ON DELETE CASCADE,
  position int NOT NULL,
  title text NOT NULL,
  hours numeric(5,1) NOT NULL CHECK (hours > 0),
  competences text[] NOT NULL,
  target_level int NOT NULL CHECK (target_level BETWEEN 1 AND 8),
  UNIQUE (path_id, position)
);

CREATE TABLE mediation.training_session (
  id uuid PRIMARY KEY,
  path_id uuid NOT NULL REFERENCES mediation.training_path(id),
  starts_on date NOT NULL,
  ends_on date NOT NULL CHECK (ends_on >= starts_on),
  place_uid text,
  commune_code text,
  departement text,
  region text,
  capacity int NOT NULL CHECK (capacity BETWEEN 1 AND 10000),
  seats_taken int NOT NULL DEFAULT 0,
  price_cents int NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
  funding text NOT NULL DEFAULT '',
  audience text NOT NULL DEFAULT 'all',
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (seats_taken BETWEEN 0 AND capacity)
);
CREATE INDEX training_session_path ON mediation.training_session (path_id, starts_on);

CREATE TABLE mediation.learner (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL,
  email_key text NOT NULL UNIQUE,
  birth_year int,
  commune_code text,
  status text NOT NULL DEFAULT 'resident',
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mediation.registration (
  id uuid PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES mediation.training_session(id),
  learner_id uuid NOT NULL REFERENCES mediation.learner(id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('confirmed', 'waiting', 'cancelled', 'completed')),
  seq bigserial NOT NULL,
  registered_by text,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  certificate_code text UNIQUE,
  UNIQUE (session_id, learner_id)
);
CREATE INDEX registration_waiting ON mediation.registration (session_id, seq) WHERE status = 'waiting';

CREATE TABLE mediation.attendance (
  registration_id uuid NOT NULL REFERENCES mediation.registration(id) ON DELETE CASCADE,
  module_id uuid NOT NULL REFERENCES mediation.training_module(id) ON DELETE CASCADE,
  present boolean NOT NULL,
  PRIMARY KEY (registration_id, module_id)
);

CREATE TABLE mediation.competence_result (
  learner_id uuid NOT NULL REFERENCES mediation.learner(id) ON DELETE CASCADE,
  competence text NOT NULL,
  level int NOT NULL CHECK (level BETWEEN 0 AND 8),
  source text NOT NULL,
  measured_at date NOT NULL,
  PRIMARY KEY (learner_id, competence, source)
);
