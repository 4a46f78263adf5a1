-- Speed and the person's side of the lifecycle.
-- The journal is verified in one pass over the audit chain: rows are read by the range of audit
-- entries that seal them.
CREATE INDEX journal_audit_seq ON mandates.journal (audit_seq);
