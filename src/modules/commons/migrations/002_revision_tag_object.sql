-- Annotated tags: the tag object's hash, which is the release's SWHID (swh:1:rel:<tag_sha>).
-- NULL for branch heads and lightweight tags (they point at the commit directly).
ALTER TABLE commons.revision ADD COLUMN tag_sha text;
