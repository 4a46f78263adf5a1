-- Issue #18, what was missing: files as answers (content-addressed, in the database), private
-- annotations and confidential opinions, the message thread of a dossier, ceilings per
-- département inside a call's envelope, and the reminders already sent (each sent once).

-- File contents, addressed by their SHA-256: the same file uploaded twice is stored once.
CREATE TABLE calls.blob (
  sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size integer NOT NULL CHECK (size > 0),
  data bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Every file a dossier received (append-only: a receipt keeps pointing to what was submitted);
-- the answer to a file question names the current one.
CREATE TABLE calls.application_file (
  id uuid PRIMARY KEY,
  application_id uuid NOT NULL REFERENCES calls.application (id) ON DELETE CASCADE,
  question_id text NOT NULL,
  sha256 text NOT NULL REFERENCES calls.blob (sha256),
  name text NOT NULL,
  kind text NOT NULL,
  size integer NOT NULL,
  uploaded_by uuid NOT NULL,
  uploaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX application_file_app ON calls.application_file (application_id, question_id);

-- Instructors' private annotations and reviewers' confidential opinions: never shown to the applicant.
CREATE TABLE calls.annotation (
  id bigserial PRIMARY KEY,
  application_id uuid NOT NULL REFERENCES calls.application (id) ON DELETE CASCADE,
  author_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('note', 'avis')),
  body text NOT NULL CHECK (length(body) > 0),
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX annotation_app ON calls.annotation (application_id, id);

-- The message thread between the applicant and the instructors of a dossier.
CREATE TABLE calls.message (
  id bigserial PRIMARY KEY,
  application_id uuid NOT NULL REFERENCES calls.application (id) ON DELETE CASCADE,
  author_id uuid NOT NULL,
  from_applicant boolean NOT NULL,
  body text NOT NULL CHECK (length(body) > 0),
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX message_app ON calls.message (application_id, id);
CREATE INDEX message_author ON calls.message (author_id, at);

-- Ceilings per département inside a call's envelope: what is committed there never exceeds it.
CREATE TABLE calls.ceiling (
  call_id uuid NOT NULL REFERENCES calls.call (id) ON DELETE CASCADE,
  departement text NOT NULL,
  amount numeric(14, 2) NOT NULL CHECK (amount >= 0),
  committed numeric(14, 2) NOT NULL DEFAULT 0 CHECK (committed >= 0),
  PRIMARY KEY (call_id, departement),
  CHECK (committed <= amount)
);

-- Reminders sent (closing soon, correction deadline, instalment due, label expiry): claimed by
-- inserting the row, so a reminder goes out once whatever the number of instances.
CREATE TABLE calls.reminder_sent (
  kind text NOT NULL,
  key text NOT NULL,
  recipient text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, key, recipient)
);
