-- Maillage as an OpenID Connect provider towards partner services (provider.ts): a partner lets a
-- helper sign in "for" a person under a mandate of the helper's structure, for ONE démarche.

-- A registered partner service (an OIDC client). The secret is shown once and stored as its
-- SHA-256 (it is 32 random bytes: a hash is enough); redirect URIs match exactly.
CREATE TABLE mandates.partner (
  client_id text PRIMARY KEY CHECK (client_id ~ '^mp_[A-Za-z0-9_-]{16,64}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  secret_hash text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
  redirect_uris text[] NOT NULL CHECK (cardinality(redirect_uris) BETWEEN 1 AND 10),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text,
  revoked_at timestamptz
);

-- oidc-provider's storage (sessions, interactions, authorisation codes, access tokens, grants...)
-- so that several instances share it: one row per (model, id); `consumed_at` makes a code
-- single-use on every instance; expired rows are deleted by the hourly lifecycle job.
CREATE TABLE mandates.oidc_payload (
  model text NOT NULL CHECK (length(model) <= 40),
  id text NOT NULL CHECK (length(id) <= 200),
  payload jsonb NOT NULL,
  grant_id text,
  uid text,
  user_code text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payload_grant ON mandates.oidc_payload (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payload_uid ON mandates.oidc_payload (uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payload_expiry ON mandates.oidc_payload (expires_at) WHERE expires_at IS NOT NULL;

-- The provider's signing keys (private JWK, AES-256-GCM encrypted under SECRET_KEY): the newest
-- signs, the older ones are still published (tokens they signed verify) until retired.
CREATE TABLE mandates.oidc_key (
  kid text PRIMARY KEY CHECK (length(kid) BETWEEN 8 AND 100),
  sealed_jwk text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  retired_at timestamptz
);

-- The installation's secret behind the pairwise subjects partners see (random, sealed like the
-- keys): independent of SECRET_KEY, so rotating SECRET_KEY does not change anyone's subject.
CREATE TABLE mandates.oidc_secret (
  name text PRIMARY KEY CHECK (name IN ('subject')),
  sealed text NOT NULL
);
