-- A helper may leave a structure from their own session (session 13): deactivated, and marked as
-- having left so that nobody reactivates them without asking: « Réactiver » is refused and « Ajouter »
-- sends a new invitation, which they accept or decline.
ALTER TABLE mandates.helper ADD COLUMN left_at timestamptz;
