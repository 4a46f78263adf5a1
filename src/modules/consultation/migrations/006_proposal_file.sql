-- One file attached to a proposal by its author (PDF, PNG or JPEG, read from the content), removed
-- with the proposal; served as a download to whoever may read the proposal, never exported.
CREATE TABLE consultation.proposal_file (
  proposal_id uuid PRIMARY KEY REFERENCES consultation.proposal (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind text NOT NULL CHECK (kind IN ('pdf', 'png', 'jpeg')),
  size int NOT NULL CHECK (size > 0 AND size <= 5242880),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  data bytea NOT NULL,
  uploaded_by uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
