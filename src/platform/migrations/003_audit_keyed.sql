-- The audit chain becomes keyed: every entry appended from now on carries the id of the key that
-- signed it (HMAC-SHA-256 with a key kept outside the database: AUDIT_KEY, or one derived from
-- SECRET_KEY). Entries written before this migration were hashed with plain SHA-256; they are
-- marked here, once, as the legacy prefix and are verified as before. See src/platform/audit/README.md.

ALTER TABLE platform.audit_entry ADD COLUMN key_id text;

CREATE TABLE platform.audit_legacy (
  id smallint PRIMARY KEY CHECK (id = 1),
  -- The last entry hashed without a key (0: none).
  last_seq bigint NOT NULL,
  marked_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO platform.audit_legacy (id, last_seq) SELECT 1, seq FROM platform.audit_head WHERE id = 1;

CREATE TRIGGER audit_legacy_frozen BEFORE UPDATE OR DELETE ON platform.audit_legacy
  FOR EACH ROW EXECUTE FUNCTION platform.audit_refuse_change();
CREATE TRIGGER audit_legacy_no_truncate BEFORE TRUNCATE ON platform.audit_legacy
  FOR EACH STATEMENT EXECUTE FUNCTION platform.audit_refuse_change();

-- After the legacy prefix, an entry without a key id is refused.
CREATE FUNCTION platform.audit_entry_keyed_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.key_id IS NULL AND NEW.seq > (SELECT last_seq FROM platform.audit_legacy WHERE id = 1) THEN
    RAISE EXCEPTION 'platform.audit_entry: entries after the legacy prefix must carry a key id' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_entry_keyed BEFORE INSERT ON platform.audit_entry
  FOR EACH ROW EXECUTE FUNCTION platform.audit_entry_keyed_guard();
