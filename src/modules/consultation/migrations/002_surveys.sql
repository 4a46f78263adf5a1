-- Surveys (questionnaires): questions of eight types with display conditions, stored as JSON and
-- validated by the module (survey.ts); one response per participant; uploaded files kept apart
-- (never published). Results publish only the counts of the choice questions.
CREATE TABLE consultation.survey (
  id uuid PRIMARY KEY,
  process_id uuid NOT NULL REFERENCES consultation.process (id) ON DELETE CASCADE,
  slug text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,79}$'),
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  questions jsonb NOT NULL,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  results_published boolean NOT NULL DEFAULT false,
  responses int NOT NULL DEFAULT 0 CHECK (responses >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at),
  UNIQUE (process_id, slug)
);

-- One response per person and survey (the primary key refuses a second one, even under races).
CREATE TABLE consultation.survey_response (
  id uuid NOT NULL UNIQUE,
  survey_id uuid NOT NULL REFERENCES consultation.survey (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  answers jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (survey_id, user_id)
);

CREATE TABLE consultation.survey_file (
  id uuid PRIMARY KEY,
  response_id uuid NOT NULL REFERENCES consultation.survey_response (id) ON DELETE CASCADE,
  question_key text NOT NULL,
  file_name text NOT NULL,
  content_type text NOT NULL CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
  data bytea NOT NULL CHECK (length(data) <= 1000000)
);
CREATE INDEX survey_file_response ON consultation.survey_file (response_id);
