-- Self sign-up of residents (no staff role): an account is created "unverified" (no password yet)
-- and becomes "active" when the e-mailed link is used; the password chosen at sign-up waits, as an
-- argon2id hash, in the data of that single-use "signup" token (so a second sign-up with the same
-- address cannot change the password of the first: only the link the mailbox owner opens counts).
-- Unverified accounts are deleted after a retention limit (accounts.purgeUnverified).
ALTER TABLE accounts.users DROP CONSTRAINT users_status_check;
ALTER TABLE accounts.users ADD CONSTRAINT users_status_check CHECK (status IN ('invited', 'unverified', 'active', 'disabled', 'deleted'));
ALTER TABLE accounts.token DROP CONSTRAINT token_purpose_check;
ALTER TABLE accounts.token ADD CONSTRAINT token_purpose_check CHECK (purpose IN ('invite', 'reset', 'magic', 'verify_email', 'signup'));
CREATE INDEX users_unverified ON accounts.users (created_at) WHERE status = 'unverified';
