-- Attempt counters (sign-in by password, 2FA codes, e-mailed link requests), one row per key
-- ("email:…", "ip:…", "mfa:<user>", "reset:…"…), counted in a fixed window that starts with the
-- first attempt. An attempt is reserved atomically BEFORE the password or code is checked
-- (INSERT … ON CONFLICT DO UPDATE … RETURNING), so concurrent requests, on one instance or
-- several sharing the database, can never evaluate more guesses than the limit.
CREATE TABLE accounts.attempt (
  key text PRIMARY KEY,
  window_start timestamptz NOT NULL DEFAULT now(),
  count integer NOT NULL
);
CREATE INDEX attempt_window ON accounts.attempt (window_start);

-- The former failure log (read, then checked, then recorded: concurrent requests passed together).
DROP TABLE accounts.signin_failure;
