-- A helper joins a structure only with their own consent (outside review, session 12): adding an
-- account by its e-mail (the référent, territory staff) now creates a PENDING helper (accepted_at
-- NULL), never active, until the person accepts from their own session; a decline deletes the row.
-- Helpers added before this migration were active helpers: they stay accepted (at their addition).
ALTER TABLE mandates.helper ADD COLUMN accepted_at timestamptz;
UPDATE mandates.helper SET accepted_at = added_at;
ALTER TABLE mandates.helper ADD CONSTRAINT helper_pending_inactive CHECK (accepted_at IS NOT NULL OR NOT active);
