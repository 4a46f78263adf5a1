-- Accounts: users, sessions, single-use tokens, roles scoped to territories/objects, 2FA, OIDC.
CREATE SCHEMA IF NOT EXISTS accounts;

CREATE TABLE accounts.users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL,
  email_key text GENERATED ALWAYS AS (lower(email)) STORED UNIQUE,
  display_name text NOT NULL,
  password_hash text,
  email_verified_at timestamptz,
  pending_email text,
  -- invited: created, invitation not accepted yet; active; disabled: refused at sign-in;
  -- deleted: personal data wiped, row kept so audit entries still resolve.
  status text NOT NULL DEFAULT 'invited' CHECK (status IN ('invited', 'active', 'disabled', 'deleted')),
  totp_secret text,          -- encrypted (AES-256-GCM, SECRET_KEY)
  totp_pending_secret text,  -- encrypted, while the user is setting 2FA up
  totp_enabled_at timestamptz,
  totp_last_step bigint,     -- last accepted TOTP time step: a code is never accepted twice
  deletion_requested_at timestamptz,
  deletion_reason text,
  last_signin_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts.recovery_code (
  user_id uuid NOT NULL REFERENCES accounts.users (id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  used_at timestamptz,
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE accounts.session (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),  -- public handle (account page)
  token_hash text NOT NULL UNIQUE,                 -- SHA-256 of the cookie value
  user_id uuid NOT NULL REFERENCES accounts.users (id) ON DELETE CASCADE,
  -- full: signed in; mfa: password accepted, TOTP code expected; enrol: 2FA setup required first.
  stage text NOT NULL CHECK (stage IN ('full', 'mfa', 'enrol')),
  method text NOT NULL,
  ip text,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX session_by_user ON accounts.session (user_id) WHERE revoked_at IS NULL;

CREATE TABLE accounts.token (
  token_hash text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES accounts.users (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('invite', 'reset', 'magic', 'verify_email')),
  data jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX token_user ON accounts.token (user_id, purpose, created_at);

CREATE TABLE accounts.role_grant (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES accounts.users (id) ON DELETE CASCADE,
  role text NOT NULL,
  scope_kind text NOT NULL CHECK (scope_kind IN ('platform', 'region', 'departement', 'place')),
  scope_id text NOT NULL DEFAULT '',
  granted_by uuid,
  granted_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, role, scope_kind, scope_id)
);
CREATE INDEX role_grant_scope ON accounts.role_grant (scope_kind, scope_id);

CREATE TABLE accounts.identity (
  issuer text NOT NULL,
  subject text NOT NULL,
  user_id uuid NOT NULL REFERENCES accounts.users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (issuer, subject)
);

CREATE TABLE accounts.oidc_state (
  browser_hash text PRIMARY KEY,  -- SHA-256 of the random value in the browser's cookie
  state text NOT NULL,
  nonce text NOT NULL,
  code_verifier text NOT NULL,
  return_to text,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Failed sign-ins, by key ('email:<address>' or 'ip:<address>'): progressive delays and limits.
CREATE TABLE accounts.signin_failure (
  key text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signin_failure_key ON accounts.signin_failure (key, at);

-- Messages stored outside production (the development outbox; tests read it).
CREATE TABLE accounts.outbox (
  id bigserial PRIMARY KEY,
  recipient text NOT NULL,
  subject text NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
