-- The person's identity through OpenID Connect (FranceConnect in production, a local provider in
-- development and tests), the person's own sign-in, and the attestation's public verification id.

-- An identity check in progress, then its verified result. `purpose` create: a helper creating a
-- mandate (their structure and the scope chosen in `draft`); person: the person signing in to see
-- and revoke their mandates. The browser that started it is bound by a cookie (its hash here); the
-- state, nonce and PKCE verifier are checked on the callback, which fills the identity once
-- (verified_at); the mandate created with it deletes it in the same transaction (used once).
-- Unused rows are deleted after a day (personal data kept no longer than the check needs).
CREATE TABLE mandates.identity_flow (
  id uuid PRIMARY KEY,
  purpose text NOT NULL CHECK (purpose IN ('create', 'person')),
  browser_hash text NOT NULL,
  state text NOT NULL UNIQUE,
  nonce text NOT NULL,
  code_verifier text NOT NULL,
  helper_id text,
  structure_id uuid REFERENCES mandates.structure(id),
  draft jsonb,
  created_at timestamptz NOT NULL,
  verified_at timestamptz,
  issuer text,
  sub_hash text,
  given_name text CHECK (length(given_name) BETWEEN 1 AND 100),
  family_name text CHECK (length(family_name) BETWEEN 1 AND 100),
  birth_date date,
  CHECK (purpose = 'person' OR (helper_id IS NOT NULL AND structure_id IS NOT NULL)),
  CHECK ((verified_at IS NULL) = (sub_hash IS NULL))
);
CREATE INDEX identity_flow_browser ON mandates.identity_flow (browser_hash);
CREATE INDEX identity_flow_created ON mandates.identity_flow (created_at);

-- The person as verified by the provider: its issuer and the hash of its subject (`sub`), so the
-- person's own page finds all their mandates; emptied by the purge with the rest of the identity.
ALTER TABLE mandates.person DROP CONSTRAINT person_identity_check_check;
ALTER TABLE mandates.person ADD CONSTRAINT person_identity_check_check CHECK (identity_check IN ('document', 'oidc'));
ALTER TABLE mandates.person ADD COLUMN idp_issuer text;
ALTER TABLE mandates.person ADD COLUMN idp_sub_hash text;
ALTER TABLE mandates.person ADD CONSTRAINT person_oidc_subject CHECK ((identity_check = 'oidc') = (idp_sub_hash IS NOT NULL));
ALTER TABLE mandates.person ADD CONSTRAINT person_oidc_issuer CHECK ((idp_sub_hash IS NULL) = (idp_issuer IS NULL));
ALTER TABLE mandates.person ADD CONSTRAINT person_purged_subject CHECK (purged_at IS NULL OR idp_sub_hash IS NULL);
CREATE INDEX person_idp_sub ON mandates.person (idp_sub_hash) WHERE idp_sub_hash IS NOT NULL;

-- The attestation's QR code opens /mandats/verifier/<verify_id>: 244 random bits, unguessable,
-- distinct from the reference (which people read out and type).
ALTER TABLE mandates.mandate ADD COLUMN verify_id text NOT NULL DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
CREATE UNIQUE INDEX mandate_verify_id ON mandates.mandate (verify_id);
