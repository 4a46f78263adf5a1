-- Error reports sent by visitors from a place page ("Signaler une erreur"), for the place's managers.
CREATE SCHEMA IF NOT EXISTS site;

CREATE TABLE site.error_report (
  id bigserial PRIMARY KEY,
  place_uid text NOT NULL,
  message text NOT NULL CHECK (char_length(message) BETWEEN 10 AND 2000),
  contact text CHECK (contact IS NULL OR char_length(contact) <= 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'resolved', 'rejected'))
);

CREATE INDEX error_report_place_idx ON site.error_report (place_uid, created_at DESC);
CREATE INDEX error_report_status_idx ON site.error_report (status, created_at DESC);
