-- Mandates (Aidants Connect model): structures whose trained helpers act for a person under a
-- consented, scoped (per administrative procedure), time-limited mandate of the STRUCTURE; the
-- person's identity kept minimal and deleted after the retention period; an append-only journal
-- of every event, each entry sealed in the platform audit chain.
CREATE SCHEMA IF NOT EXISTS mandates;

-- A structure habilitated to hold mandates, at a directory place (its territory comes from it).
CREATE TABLE mandates.structure (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  siret text CHECK (siret ~ '^[0-9]{14}$'),
  place_uid text NOT NULL,
  commune_code text,
  departement text,
  region text,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX structure_siret ON mandates.structure (siret) WHERE siret IS NOT NULL;
CREATE INDEX structure_territory ON mandates.structure (region, departement);

-- A helper (aidant): an account attached to a structure, with their training. Only an active,
-- trained helper may create mandates or act under them.
CREATE TABLE mandates.helper (
  structure_id uuid NOT NULL REFERENCES mandates.structure(id),
  user_id text NOT NULL,
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  trained_on date,
  training_ref text CHECK (length(training_ref) <= 200),
  active boolean NOT NULL DEFAULT true,
  added_at timestamptz NOT NULL DEFAULT now(),
  deactivated_at timestamptz,
  last_act_at timestamptz,
  PRIMARY KEY (structure_id, user_id)
);
CREATE INDEX helper_user ON mandates.helper (user_id);

-- The person (usager), as known to one structure: the minimum to identify them on the
-- attestation. Emptied (purged_at set) once the retention period after their last mandate ends.
CREATE TABLE mandates.person (
  id uuid PRIMARY KEY,
  structure_id uuid NOT NULL REFERENCES mandates.structure(id),
  given_name text CHECK (length(given_name) BETWEEN 1 AND 100),
  family_name text CHECK (length(family_name) BETWEEN 1 AND 100),
  birth_date date,
  identity_check text CHECK (identity_check IN ('document')),
  created_at timestamptz NOT NULL,
  purged_at timestamptz,
  CHECK ((purged_at IS NULL) = (given_name IS NOT NULL AND family_name IS NOT NULL AND birth_date IS NOT NULL AND identity_check IS NOT NULL))
);
CREATE INDEX person_structure ON mandates.person (structure_id);

CREATE TABLE mandates.mandate (
  id uuid PRIMARY KEY,
  reference text NOT NULL UNIQUE,
  structure_id uuid NOT NULL REFERENCES mandates.structure(id),
  person_id uuid NOT NULL REFERENCES mandates.person(id),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL,
  duration text NOT NULL CHECK (duration IN ('1d', '1m', '6m', '1y')),
  expires_at timestamptz NOT NULL,
  consent_at timestamptz NOT NULL,
  consent_method text NOT NULL CHECK (consent_method IN ('in_person')),
  template_version text NOT NULL,
  attestation_salt text NOT NULL,
  attestation_hash text NOT NULL,
  revocation_code_hash text NOT NULL,
  revoked_at timestamptz,
  revoked_by_kind text CHECK (revoked_by_kind IN ('helper', 'person', 'staff')),
  revoked_by text,
  expiry_noted_at timestamptz,
  CHECK (expires_at > created_at),
  CHECK ((revoked_at IS NULL) = (revoked_by_kind IS NULL))
);
CREATE INDEX mandate_structure ON mandates.mandate (structure_id, expires_at DESC);
CREATE INDEX mandate_person ON mandates.mandate (person_id);
CREATE INDEX mandate_expiry_pending ON mandates.mandate (expires_at) WHERE expiry_noted_at IS NULL AND revoked_at IS NULL;

-- One authorisation per procedure (démarche), revocable one by one.
CREATE TABLE mandates.mandate_procedure (
  mandate_id uuid NOT NULL REFERENCES mandates.mandate(id),
  procedure text NOT NULL,
  revoked_at timestamptz,
  PRIMARY KEY (mandate_id, procedure)
);
CREATE INDEX mandate_procedure_procedure ON mandates.mandate_procedure (procedure);

-- The journal: one row per event, with no personal data; each row's digest is sealed in the
-- platform audit chain (entry audit_seq), so editing, deleting or inserting rows is detected.
CREATE TABLE mandates.journal (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  event text NOT NULL,
  structure_id uuid NOT NULL,
  mandate_id uuid,
  actor_kind text NOT NULL CHECK (actor_kind IN ('helper', 'person', 'staff', 'system')),
  actor_id text,
  procedure text,
  detail jsonb,
  audit_seq bigint NOT NULL,
  digest text NOT NULL
);
CREATE INDEX journal_mandate ON mandates.journal (mandate_id, id);
CREATE INDEX journal_structure ON mandates.journal (structure_id, id DESC);

CREATE FUNCTION mandates.journal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'mandates.journal is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON mandates.journal
  FOR EACH ROW EXECUTE FUNCTION mandates.journal_refuse_change();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON mandates.journal
  FOR EACH STATEMENT EXECUTE FUNCTION mandates.journal_refuse_change();

-- Tokens of partner tools acting for a helper through the JSON API (stored hashed).
CREATE TABLE mandates.api_token (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  user_id text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
