-- Learner e-mails: a reminder is sent once per confirmed registration before its session starts.
ALTER TABLE mediation.registration ADD COLUMN reminded_at timestamptz;
CREATE INDEX registration_to_remind ON mediation.registration (session_id) WHERE status = 'confirmed' AND reminded_at IS NULL;
