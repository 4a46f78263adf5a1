-- Double opt-in of public registrations: a registration typed on the public page is only a
-- request until the person confirms it from the link e-mailed to the address typed (token stored
-- as a SHA-256 hash). Nothing about the person is kept as a learner before that; an unconfirmed
-- request is deleted when it expires.
CREATE TABLE mediation.registration_request (
  id uuid PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES mediation.training_session (id) ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  name text NOT NULL,
  email text NOT NULL,
  birth_year int,
  commune_code text,
  status text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  -- Set by the click that confirms (one only), cleared again if the registration then fails.
  confirming_at timestamptz
);
CREATE INDEX registration_request_expiry ON mediation.registration_request (expires_at);
