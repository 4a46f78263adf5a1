-- Labels (issue #18): a label programme (run through a label campaign, a call of kind 'label'),
-- and the append-only history of the label for places of the directory: granted, renewed,
-- withdrawn (with a reason). The current label of a place is its latest event for the programme
-- when that event is a grant or a renewal still valid today.
CREATE TABLE calls.label_programme (
  id uuid PRIMARY KEY,
  slug text NOT NULL UNIQUE,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  region text NOT NULL,
  validity_months smallint NOT NULL CHECK (validity_months BETWEEN 1 AND 120),
  call_id uuid UNIQUE REFERENCES calls.call (id),
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE calls.label_event (
  id bigserial PRIMARY KEY,
  programme_id uuid NOT NULL REFERENCES calls.label_programme (id),
  place_uid text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('granted', 'renewed', 'withdrawn')),
  valid_from date,
  valid_until date,
  application_id uuid REFERENCES calls.application (id),
  reason text,
  actor_id uuid,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (kind = 'withdrawn' OR (valid_from IS NOT NULL AND valid_until > valid_from)),
  CHECK (kind <> 'withdrawn' OR length(coalesce(reason, '')) > 0)
);
CREATE INDEX label_event_place ON calls.label_event (place_uid, programme_id, id);
CREATE INDEX label_event_programme ON calls.label_event (programme_id, place_uid, id);

-- History is append-only: no update, no delete.
CREATE FUNCTION calls.label_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'calls.label_event is append-only';
END;
$$;
CREATE TRIGGER label_event_append_only BEFORE UPDATE OR DELETE ON calls.label_event
  FOR EACH ROW EXECUTE FUNCTION calls.label_event_append_only();
