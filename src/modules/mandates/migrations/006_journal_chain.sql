-- Journal format 2 (issue #20, verification at 20 million entries): the journal is its own
-- hash chain, checked in SQL, and keyed through checkpoints. Rows of format 1 (before this
-- migration) keep their digest sealed entry by entry in the platform audit chain and are verified
-- as before. See README.md « Journal integrity ».
--
-- A format-2 row carries its place in the chain (`seq`, 1, 2, 3… without gaps) and
-- `hash` = SHA-256(hash of entry seq-1 ‖ mandates.journal_body(row)), computed by PostgreSQL
-- when the row is inserted. The chain's start (entry 0) is the genesis checkpoint, which also
-- records how many format-1 rows exist and the last audit entry that seals one of them.
ALTER TABLE mandates.journal ADD COLUMN format smallint NOT NULL DEFAULT 1;
ALTER TABLE mandates.journal ADD COLUMN seq bigint;
ALTER TABLE mandates.journal ADD COLUMN hash bytea;
ALTER TABLE mandates.journal ALTER COLUMN digest DROP NOT NULL;
ALTER TABLE mandates.journal ADD CONSTRAINT journal_format CHECK (
  (format = 1 AND digest IS NOT NULL AND seq IS NULL AND hash IS NULL)
  OR (format = 2 AND seq IS NOT NULL AND hash IS NOT NULL));
CREATE UNIQUE INDEX journal_seq ON mandates.journal (seq) WHERE seq IS NOT NULL;

-- The bytes a format-2 entry's hash covers: every column a reader sees (and the audit entry
-- recorded with it) in their binary forms: numbers as 8-byte big-endian integers, the time as
-- PostgreSQL's microseconds since 2000-01-01 UTC (timestamptz_send), uuids as 16 bytes, texts as
-- their UTF-8 bytes prefixed by their length (a null text: length -1; a null mandate: one 0 byte),
-- `detail` in jsonb's own normalised text: no separator can be forged, nothing depends on the
-- session's time zone or date style. Used both when appending and when verifying, so Node never
-- re-serialises a row. STABLE (convert_to is), so PostgreSQL inlines it into the verifying query.
CREATE FUNCTION mandates.journal_field(v text) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT coalesce(int4send(octet_length(v)) || convert_to(v, 'UTF8'), '\xffffffff'::bytea) $$;
CREATE FUNCTION mandates.journal_body(seq bigint, at timestamptz, event text, structure_id uuid, mandate_id uuid,
    actor_kind text, actor_id text, procedure text, detail jsonb, audit_seq bigint) RETURNS bytea
  LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT '\x6d6a32'::bytea || int8send(seq) || timestamptz_send(at) || mandates.journal_field(event) || uuid_send(structure_id)
    || coalesce('\x01'::bytea || uuid_send(mandate_id), '\x00'::bytea) || mandates.journal_field(actor_kind)
    || mandates.journal_field(actor_id) || mandates.journal_field(procedure) || mandates.journal_field(detail::text) || int8send(audit_seq)
$$;

-- Keyed checkpoints: every CHECKPOINT_EVERY entries (and entry 0, the genesis), an HMAC under a
-- key derived from the audit key (outside the database) over the entry's number and hash.
CREATE TABLE mandates.journal_checkpoint (
  seq bigint PRIMARY KEY,
  hash bytea NOT NULL,
  genesis text,
  key_id text NOT NULL,
  mac bytea NOT NULL
);
CREATE TRIGGER journal_checkpoint_append_only BEFORE UPDATE OR DELETE ON mandates.journal_checkpoint
  FOR EACH ROW EXECUTE FUNCTION mandates.journal_refuse_change();
CREATE TRIGGER journal_checkpoint_no_truncate BEFORE TRUNCATE ON mandates.journal_checkpoint
  FOR EACH STATEMENT EXECUTE FUNCTION mandates.journal_refuse_change();

-- The keyed head, rewritten at each append (its row lock serialises appends): the last entry's
-- number and hash, and their HMAC. It covers the entries after the last checkpoint.
CREATE TABLE mandates.journal_head (
  id int PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  hash bytea NOT NULL,
  key_id text NOT NULL,
  mac bytea NOT NULL
);
