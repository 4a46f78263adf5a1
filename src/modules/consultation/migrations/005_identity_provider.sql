-- "Who may vote": an OpenID Connect identity provider configured per process (issue #21).
-- The provider's settings: the client secret and the key of the subjects' hashes are sealed under
-- SECRET_KEY (accounts' sealSecret), never stored in clear; `required_for` lists what needs a check.
CREATE TABLE consultation.identity_provider (
  process_id uuid PRIMARY KEY REFERENCES consultation.process(id) ON DELETE CASCADE,
  label text NOT NULL CHECK (length(label) BETWEEN 1 AND 80),
  issuer text NOT NULL CHECK (length(issuer) BETWEEN 8 AND 300),
  client_id text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 200),
  client_secret_sealed text NOT NULL,
  subject_key_sealed text NOT NULL,
  scopes text NOT NULL CHECK (length(scopes) BETWEEN 6 AND 300),
  required_claim text NOT NULL DEFAULT 'none' CHECK (required_claim IN ('none', 'birthdate', 'postal_code')),
  required_for text[] NOT NULL DEFAULT '{}' CHECK (required_for <@ ARRAY['votes', 'proposals', 'supports', 'comments', 'surveys']::text[]),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A check in progress: bound to the signed-in account and the process, short-lived, used once.
-- Only a hash of the state is kept (the state itself travels in the browser's URL).
CREATE TABLE consultation.identity_flow (
  id uuid PRIMARY KEY,
  process_id uuid NOT NULL REFERENCES consultation.process(id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  state_hash text NOT NULL UNIQUE,
  nonce text NOT NULL,
  code_verifier text NOT NULL,
  return_to text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz
);
CREATE INDEX identity_flow_created ON consultation.identity_flow (created_at);

-- One person, one account per process: the provider's subject as a keyed hash (HMAC under the
-- process's sealed key), unique per process; one check per account and process, never replaced.
-- `min_age_checked`: the age limit the provider's birthdate met (null: none checked);
-- `departement`: the département of the provider's postal code, when residence was checked by it.
CREATE TABLE consultation.identity_check (
  process_id uuid NOT NULL REFERENCES consultation.process(id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  issuer text NOT NULL,
  sub_hash text NOT NULL,
  min_age_checked integer,
  departement text,
  checked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (process_id, user_id),
  CONSTRAINT identity_check_one_person UNIQUE (process_id, sub_hash)
);
