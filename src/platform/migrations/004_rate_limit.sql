-- Request rate limits shared by every instance of the application (see
-- src/platform/http/rate-limit-store.ts): one counter per route and client, counted atomically.
CREATE TABLE platform.rate_limit (
  key text PRIMARY KEY,
  count integer NOT NULL,
  reset_at timestamptz NOT NULL
);
CREATE INDEX rate_limit_reset ON platform.rate_limit (reset_at);
