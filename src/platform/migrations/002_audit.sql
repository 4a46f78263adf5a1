-- Tamper-evident audit trail: an append-only, hash-chained log of every change that matters.
-- See src/platform/audit/README.md.

CREATE TABLE platform.audit_entry (
  seq bigint PRIMARY KEY,
  at timestamptz NOT NULL,
  actor_id text,
  action text NOT NULL,
  object_type text NOT NULL,
  object_id text,
  before jsonb,
  after jsonb,
  meta jsonb,
  prev_hash text NOT NULL,
  hash text NOT NULL UNIQUE
);
CREATE INDEX audit_entry_object ON platform.audit_entry (object_type, object_id, seq);
CREATE INDEX audit_entry_actor ON platform.audit_entry (actor_id, seq);

-- The chain head: one row, locked (SELECT … FOR UPDATE) by every append so that appends are
-- serialised and the chain never forks, whatever the number of concurrent writers.
CREATE TABLE platform.audit_head (
  id smallint PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  hash text NOT NULL
);
INSERT INTO platform.audit_head (id, seq, hash) VALUES (1, 0, repeat('0', 64));

CREATE FUNCTION platform.audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'platform.audit_entry is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON platform.audit_entry
  FOR EACH ROW EXECUTE FUNCTION platform.audit_refuse_change();
CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON platform.audit_entry
  FOR EACH STATEMENT EXECUTE FUNCTION platform.audit_refuse_change();

-- The head only moves forward, one entry at a time, and always to an entry that exists.
CREATE FUNCTION platform.audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'UPDATE' THEN
    RAISE EXCEPTION 'platform.audit_head: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.seq <> OLD.seq + 1 OR NOT EXISTS (SELECT 1 FROM platform.audit_entry e WHERE e.seq = NEW.seq AND e.hash = NEW.hash AND e.prev_hash = OLD.hash) THEN
    RAISE EXCEPTION 'platform.audit_head may only advance to the next appended entry' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON platform.audit_head
  FOR EACH ROW EXECUTE FUNCTION platform.audit_head_guard();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON platform.audit_head
  FOR EACH STATEMENT EXECUTE FUNCTION platform.audit_refuse_change();
-- An entry may only be appended right after the head (no back-dated inserts, no forks).
CREATE FUNCTION platform.audit_entry_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE head record;
BEGIN
  SELECT seq, hash INTO head FROM platform.audit_head WHERE id = 1;
  IF NEW.seq <> head.seq + 1 OR NEW.prev_hash <> head.hash THEN
    RAISE EXCEPTION 'platform.audit_entry: entries are appended after the chain head only' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_entry_append_at_head BEFORE INSERT ON platform.audit_entry
  FOR EACH ROW EXECUTE FUNCTION platform.audit_entry_insert_guard();
