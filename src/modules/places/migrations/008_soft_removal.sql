-- « Replace the source » no longer deletes: a place absent from a source's new file is hidden and
-- marked with the import run that removed it, so `maillage import undo RUN` (or the imports page)
-- restores it, and a later import that names it again brings it back under the same uid (public
-- /lieux/<uid> links, claims, managers and versions survive a bad import and its repair).
ALTER TABLE places.place ADD COLUMN removed_run bigint;
CREATE INDEX place_removed_run ON places.place (removed_run) WHERE removed_run IS NOT NULL;

-- What an import would have removed when it kept the places (file not read completely, too many
-- refused rows…), why, and whether its removals were undone.
ALTER TABLE places.import_run
  ADD COLUMN would_remove integer NOT NULL DEFAULT 0,
  ADD COLUMN replace_kept_reasons text[],
  ADD COLUMN unreadable integer NOT NULL DEFAULT 0,
  ADD COLUMN undone_at timestamptz,
  ADD COLUMN undone_by text,
  ADD COLUMN quality jsonb;

-- Which territories may feed a source through the back office (entries 'region:84',
-- 'departement:69'); empty = administrators only. A source first created by a browser import is
-- tied to the importing territory.
ALTER TABLE places.source ADD COLUMN territories text[] NOT NULL DEFAULT '{}';
