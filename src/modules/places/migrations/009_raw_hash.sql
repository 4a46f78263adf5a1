-- The hash of the file's own record (its values as read, before validation) with what turned it
-- into this row (the reader's mapping, the validator's version, the territories loaded): a
-- re-import finds a record it wrote before by this hash alone and skips its validation, enrichment
-- and write. Set only when the record raised no issue (so that skipping it loses no warning);
-- every other write (back office, merge of duplicates) clears it.
ALTER TABLE places.place ADD COLUMN raw_hash text;
