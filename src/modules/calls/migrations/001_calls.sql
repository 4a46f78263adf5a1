-- Calls for projects (AAP, AMI, label campaigns), their versioned forms, the applications to them,
-- instruction and review (with conflict-of-interest declarations), committee decisions, grants and
-- their payments. Money in euros, numeric(14,2).
CREATE SCHEMA IF NOT EXISTS calls;

CREATE TABLE calls.call (
  id uuid PRIMARY KEY,
  slug text NOT NULL UNIQUE,
  kind text NOT NULL CHECK (kind IN ('aap', 'ami', 'label')),
  title text NOT NULL,
  summary text NOT NULL DEFAULT '',
  rules text NOT NULL DEFAULT '',
  eligible_types text[] NOT NULL DEFAULT '{}',
  region text NOT NULL,
  departements text[] NOT NULL DEFAULT '{}',
  stages smallint NOT NULL DEFAULT 1 CHECK (stages IN (1, 2)),
  opens_at timestamptz NOT NULL,
  closes_at timestamptz NOT NULL,
  time_zone text NOT NULL DEFAULT 'Europe/Paris',
  instruction_on date,
  committee_on date,
  envelope numeric(14, 2) NOT NULL DEFAULT 0 CHECK (envelope >= 0),
  committed numeric(14, 2) NOT NULL DEFAULT 0 CHECK (committed >= 0),
  paid numeric(14, 2) NOT NULL DEFAULT 0 CHECK (paid >= 0),
  ceilings jsonb NOT NULL DEFAULT '{}',
  roadmap_envelope_id uuid,
  anonymised boolean NOT NULL DEFAULT false,
  -- The awarding body, for the SCDL « Subventions » export.
  funder_name text NOT NULL DEFAULT '',
  funder_siret text,
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'archived')),
  form_version integer NOT NULL DEFAULT 1,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (closes_at > opens_at),
  CHECK (committed <= envelope)
);
CREATE INDEX call_status_closes ON calls.call (status, closes_at);

-- A call's form, versioned: questions, criteria and documents asked for. An application keeps the
-- version it answered.
CREATE TABLE calls.form_version (
  call_id uuid NOT NULL REFERENCES calls.call (id) ON DELETE CASCADE,
  version integer NOT NULL,
  questions jsonb NOT NULL,
  criteria jsonb NOT NULL,
  documents jsonb NOT NULL DEFAULT '[]',
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (call_id, version)
);

CREATE TABLE calls.organisation (
  id uuid PRIMARY KEY,
  siret text NOT NULL UNIQUE,
  name text NOT NULL,
  kind text NOT NULL,
  departement text,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE calls.organisation_member (
  organisation_id uuid NOT NULL REFERENCES calls.organisation (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, user_id)
);
CREATE INDEX organisation_member_user ON calls.organisation_member (user_id);

-- States as in Démarches simplifiées: brouillon → en_construction ⇄ en_instruction → accepte /
-- refuse / sans_suite; `stage` 2 for the invited second stage of a two-stage call.
CREATE TABLE calls.application (
  id uuid PRIMARY KEY,
  number integer NOT NULL,
  call_id uuid NOT NULL REFERENCES calls.call (id),
  form_version integer NOT NULL,
  organisation_id uuid NOT NULL REFERENCES calls.organisation (id),
  created_by uuid NOT NULL,
  title text NOT NULL DEFAULT '',
  departement text,
  state text NOT NULL DEFAULT 'brouillon' CHECK (state IN ('brouillon', 'en_construction', 'en_instruction', 'accepte', 'refuse', 'sans_suite')),
  stage smallint NOT NULL DEFAULT 1,
  answers jsonb NOT NULL DEFAULT '{}',
  amount_requested numeric(14, 2),
  submitted_at timestamptz,
  fingerprint text,
  correction_reason text,
  correction_due date,
  decided_amount numeric(14, 2),
  decision_motivation text,
  decided_at timestamptz,
  committee_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (call_id, number)
);
CREATE INDEX application_call_state ON calls.application (call_id, state);
CREATE INDEX application_org ON calls.application (organisation_id);

-- The dossier's history: every transition and correction, with who and why.
CREATE TABLE calls.application_event (
  id bigserial PRIMARY KEY,
  application_id uuid NOT NULL REFERENCES calls.application (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor_id uuid,
  kind text NOT NULL,
  from_state text,
  to_state text,
  note text,
  for_applicant boolean NOT NULL DEFAULT true
);
CREATE INDEX application_event_app ON calls.application_event (application_id, id);

-- Receipts: what was submitted, when, and its fingerprint (SHA-256 of the answers' canonical JSON).
CREATE TABLE calls.receipt (
  id uuid PRIMARY KEY,
  application_id uuid NOT NULL REFERENCES calls.application (id) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  fingerprint text NOT NULL,
  answers jsonb NOT NULL
);
CREATE INDEX receipt_app ON calls.receipt (application_id, at);

-- Instructors of a call, optionally limited to départements.
CREATE TABLE calls.instructor (
  call_id uuid NOT NULL REFERENCES calls.call (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  departements text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (call_id, user_id)
);

-- A reviewer assigned to an application: conflict declaration first (none, soft, hard), then scores.
CREATE TABLE calls.review (
  application_id uuid NOT NULL REFERENCES calls.application (id) ON DELETE CASCADE,
  reviewer_id uuid NOT NULL,
  assigned_by uuid,
  assigned_at timestamptz NOT NULL DEFAULT now(),
  conflict text CHECK (conflict IN ('none', 'soft', 'hard')),
  conflict_note text,
  declared_at timestamptz,
  waived_by uuid,
  waiver_reason text,
  waived_at timestamptz,
  scores jsonb,
  recommendation text CHECK (recommendation IN ('favorable', 'reserve', 'defavorable')),
  comment text,
  submitted_at timestamptz,
  PRIMARY KEY (application_id, reviewer_id)
);
CREATE INDEX review_reviewer ON calls.review (reviewer_id);

CREATE TABLE calls.committee (
  id uuid PRIMARY KEY,
  call_id uuid NOT NULL REFERENCES calls.call (id) ON DELETE CASCADE,
  held_on date NOT NULL,
  title text NOT NULL,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- An accepted application's grant: convention, schedule, payments, closure.
CREATE TABLE calls.grant (
  id uuid PRIMARY KEY,
  application_id uuid NOT NULL UNIQUE REFERENCES calls.application (id),
  call_id uuid NOT NULL REFERENCES calls.call (id),
  reference text NOT NULL UNIQUE,
  convention_on date,
  amount numeric(14, 2) NOT NULL CHECK (amount > 0),
  paid numeric(14, 2) NOT NULL DEFAULT 0 CHECK (paid >= 0),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
  closed_at timestamptz,
  closing_note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (paid <= amount)
);
CREATE INDEX grant_call ON calls.grant (call_id);

CREATE TABLE calls.instalment (
  grant_id uuid NOT NULL REFERENCES calls.grant (id) ON DELETE CASCADE,
  seq smallint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('avance', 'acompte', 'solde')),
  amount numeric(14, 2) NOT NULL CHECK (amount > 0),
  due_on date,
  condition text NOT NULL DEFAULT '',
  PRIMARY KEY (grant_id, seq)
);

CREATE TABLE calls.payment (
  id uuid PRIMARY KEY,
  grant_id uuid NOT NULL REFERENCES calls.grant (id) ON DELETE CASCADE,
  seq smallint NOT NULL,
  amount numeric(14, 2) NOT NULL CHECK (amount > 0),
  paid_on date NOT NULL,
  reference text NOT NULL DEFAULT '',
  recorded_by uuid,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (grant_id, seq)
);
