-- Debates: a question put to participants, who answer with arguments for or against and comments
-- (threaded), reported and moderated like proposals' comments. Open while the process's current
-- phase opens comments, and until the debate is closed (with a conclusion) by staff.
CREATE TABLE consultation.debate (
  id uuid PRIMARY KEY,
  process_id uuid NOT NULL REFERENCES consultation.process (id) ON DELETE CASCADE,
  slug text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,79}$'),
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  closed_at timestamptz,
  conclusion text,
  arguments_for int NOT NULL DEFAULT 0 CHECK (arguments_for >= 0),
  arguments_against int NOT NULL DEFAULT 0 CHECK (arguments_against >= 0),
  comments int NOT NULL DEFAULT 0 CHECK (comments >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (process_id, slug)
);

CREATE TABLE consultation.debate_contribution (
  id uuid PRIMARY KEY,
  debate_id uuid NOT NULL REFERENCES consultation.debate (id) ON DELETE CASCADE,
  parent_id uuid REFERENCES consultation.debate_contribution (id) ON DELETE CASCADE,
  stance text NOT NULL CHECK (stance IN ('for', 'against', 'comment')),
  author_id uuid,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  hidden_at timestamptz,
  hidden_reason text
);
CREATE INDEX debate_contribution_page ON consultation.debate_contribution (debate_id, created_at, id);

-- Reports now also cover debate contributions.
ALTER TABLE consultation.report DROP CONSTRAINT report_target_kind_check;
ALTER TABLE consultation.report ADD CONSTRAINT report_target_kind_check CHECK (target_kind IN ('proposal', 'comment', 'contribution'));
