-- Habilitation requests of structures (with a message thread), the référent of a structure,
-- helpers' Pix score, physical TOTP cards, and remote consent by SMS.

-- A structure applies: draft → processing → validated / refused / changes_required (then back to
-- processing when the référent submits again). Validation creates the structure (structure_id).
CREATE TABLE mandates.structure_request (
  id uuid PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('draft', 'processing', 'validated', 'refused', 'changes_required')),
  referent_user_id text NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  siret text NOT NULL CHECK (siret ~ '^[0-9]{14}$'),
  kind text NOT NULL CHECK (kind IN ('france_services', 'ccas', 'mairie', 'association', 'mediatheque', 'centre_social', 'tiers_lieu', 'autre')),
  address text NOT NULL CHECK (length(address) BETWEEN 1 AND 300),
  place_uid text NOT NULL,
  commune_code text,
  departement text,
  region text,
  france_services boolean NOT NULL,
  public_description text NOT NULL CHECK (length(public_description) BETWEEN 1 AND 2000),
  created_at timestamptz NOT NULL,
  submitted_at timestamptz,
  decided_at timestamptz,
  decided_by text,
  structure_id uuid REFERENCES mandates.structure(id),
  CHECK ((state = 'validated') = (structure_id IS NOT NULL))
);
CREATE INDEX structure_request_referent ON mandates.structure_request (referent_user_id, created_at DESC);
CREATE INDEX structure_request_territory ON mandates.structure_request (state, region, departement);
-- One open request per SIRET (a refused or validated one may be followed by a new one).
CREATE UNIQUE INDEX structure_request_open_siret ON mandates.structure_request (siret) WHERE state IN ('draft', 'processing', 'changes_required');

CREATE TABLE mandates.request_message (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id uuid NOT NULL REFERENCES mandates.structure_request(id),
  author_user_id text NOT NULL,
  author_kind text NOT NULL CHECK (author_kind IN ('referent', 'staff')),
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
  at timestamptz NOT NULL
);
CREATE INDEX request_message_request ON mandates.request_message (request_id, id);

-- What the request said, kept on the structure it created; its référent adds helpers.
ALTER TABLE mandates.structure ADD COLUMN referent_user_id text;
ALTER TABLE mandates.structure ADD COLUMN kind text;
ALTER TABLE mandates.structure ADD COLUMN address text;
ALTER TABLE mandates.structure ADD COLUMN france_services boolean;
CREATE INDEX structure_referent ON mandates.structure (referent_user_id) WHERE referent_user_id IS NOT NULL;

-- A helper's habilitation: the Pix test (score in pix, and its date), recorded with the training.
ALTER TABLE mandates.helper ADD COLUMN pix_score integer CHECK (pix_score BETWEEN 0 AND 1024);
ALTER TABLE mandates.helper ADD COLUMN pix_on date;

-- Physical TOTP cards, imported by serial number and seed (encrypted under SECRET_KEY, never
-- shown back), in a structure's stock, associated to one of its helpers (the second factor).
CREATE TABLE mandates.totp_card (
  id uuid PRIMARY KEY,
  serial text NOT NULL UNIQUE CHECK (serial ~ '^[A-Za-z0-9-]{4,40}$'),
  seed_box text NOT NULL,
  structure_id uuid NOT NULL REFERENCES mandates.structure(id),
  imported_at timestamptz NOT NULL,
  imported_by text,
  user_id text,
  associated_at timestamptz,
  last_step bigint,
  -- A lost or broken card is withdrawn: never usable again (its helper may get another one).
  withdrawn_at timestamptz,
  CHECK ((user_id IS NULL) = (associated_at IS NULL))
);
-- One card per helper account.
CREATE UNIQUE INDEX totp_card_user ON mandates.totp_card (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX totp_card_structure ON mandates.totp_card (structure_id, serial);

-- Remote consent by SMS: the summary sent to the person's phone, answered "OUI <code>".
ALTER TABLE mandates.mandate DROP CONSTRAINT mandate_consent_method_check;
ALTER TABLE mandates.mandate ADD CONSTRAINT mandate_consent_method_check CHECK (consent_method IN ('in_person', 'sms'));

CREATE TABLE mandates.sms_consent (
  id uuid PRIMARY KEY,
  structure_id uuid NOT NULL REFERENCES mandates.structure(id),
  helper_user_id text NOT NULL,
  -- The phone (E.164) and the mandate to create: personal data, emptied once answered or expired.
  phone text,
  draft jsonb,
  code_hash text NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'accepted', 'refused', 'expired', 'failed')),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  answered_at timestamptz,
  provider_message_id text,
  mandate_id uuid REFERENCES mandates.mandate(id),
  CHECK ((state = 'pending') = (phone IS NOT NULL AND draft IS NOT NULL))
);
CREATE INDEX sms_consent_pending ON mandates.sms_consent (phone) WHERE state = 'pending';
CREATE INDEX sms_consent_helper ON mandates.sms_consent (helper_user_id, created_at DESC);

-- The development outbox: SMS are stored here instead of being sent (outside production).
CREATE TABLE mandates.sms_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient text NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
