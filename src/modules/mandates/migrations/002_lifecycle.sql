-- Speed and the person's side of the lifecycle.
-- The journal is verified in one pass over the audit chain: rows are read by the range of audit
-- entries that seal them.
CREATE INDEX journal_audit_seq ON mandates.journal (audit_seq);

-- Renewal (a new mandate with a new consent, for the same person, without a new identity check)
-- and transfer (a new mandate of another structure, with the person's consent): the new mandate
-- names the one it replaces, which ends (end_reason) when still in force.
ALTER TABLE mandates.mandate ADD COLUMN replaces uuid REFERENCES mandates.mandate(id);
ALTER TABLE mandates.mandate ADD COLUMN replaces_kind text CHECK (replaces_kind IN ('renewal', 'transfer'));
ALTER TABLE mandates.mandate ADD CONSTRAINT mandate_replaces_kind CHECK ((replaces IS NULL) = (replaces_kind IS NULL));
ALTER TABLE mandates.mandate ADD COLUMN end_reason text CHECK (end_reason IN ('renewed', 'transferred'));
-- A mandate is replaced at most once (two concurrent renewals: one wins).
CREATE UNIQUE INDEX mandate_replaces ON mandates.mandate (replaces) WHERE replaces IS NOT NULL;
-- Expiry reminders to the structure's helpers (once per mandate).
ALTER TABLE mandates.mandate ADD COLUMN reminded_at timestamptz;
CREATE INDEX mandate_reminder_pending ON mandates.mandate (expires_at) WHERE reminded_at IS NULL AND revoked_at IS NULL;
-- Helpers idle for 6 months: warned by e-mail, then deactivated.
ALTER TABLE mandates.helper ADD COLUMN idle_warned_at timestamptz;
