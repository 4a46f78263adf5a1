-- Issue #18, the audit visit of a label application: the programme's criteria (yes/no,
-- thresholds, documents), and the visits an instructor records on a dossier of the label
-- campaign (date, visitor, the place visited, each criterion met or not with a comment).
-- Visits are append-only (a later visit supersedes an earlier one for the label decision).
ALTER TABLE calls.label_programme ADD COLUMN criteria jsonb NOT NULL DEFAULT '[]'::jsonb;

CREATE TABLE calls.label_visit (
  id bigserial PRIMARY KEY,
  programme_id uuid NOT NULL REFERENCES calls.label_programme (id),
  application_id uuid NOT NULL REFERENCES calls.application (id),
  place_uid text NOT NULL,
  visited_on date NOT NULL,
  visitor text NOT NULL CHECK (length(visitor) BETWEEN 1 AND 200),
  items jsonb NOT NULL,
  unmet_required integer NOT NULL CHECK (unmet_required >= 0),
  recorded_by uuid,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX label_visit_place ON calls.label_visit (programme_id, place_uid, id);
CREATE INDEX label_visit_application ON calls.label_visit (application_id, id);

CREATE FUNCTION calls.label_visit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'calls.label_visit is append-only';
END;
$$;
CREATE TRIGGER label_visit_append_only BEFORE UPDATE OR DELETE ON calls.label_visit
  FOR EACH ROW EXECUTE FUNCTION calls.label_visit_append_only();
