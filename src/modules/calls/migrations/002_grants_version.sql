-- A version of the published grants (SCDL export): bumped in the same transaction as every
-- write that can change an exported row — grants, their instalments, the beneficiary
-- organisation, the call (funder, title), and the title of an application that has a grant.
-- The public export is computed once per version and reused by every request (and every
-- instance compares the version in the database, so a cache never outlives a change).
CREATE TABLE calls.grants_version (
  id smallint PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO calls.grants_version (id, version) VALUES (1, 1);

CREATE FUNCTION calls.bump_grants_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE calls.grants_version SET version = version + 1 WHERE id = 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER grant_grants_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON calls.grant
  FOR EACH STATEMENT EXECUTE FUNCTION calls.bump_grants_version();
CREATE TRIGGER instalment_grants_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON calls.instalment
  FOR EACH STATEMENT EXECUTE FUNCTION calls.bump_grants_version();
CREATE TRIGGER organisation_grants_version AFTER UPDATE OR DELETE OR TRUNCATE ON calls.organisation
  FOR EACH STATEMENT EXECUTE FUNCTION calls.bump_grants_version();
CREATE TRIGGER call_grants_version AFTER UPDATE OR DELETE OR TRUNCATE ON calls.call
  FOR EACH STATEMENT EXECUTE FUNCTION calls.bump_grants_version();

-- Applicants save their answers (and title) often: only a change of title of an application
-- that already has a grant counts.
CREATE FUNCTION calls.bump_grants_version_on_title() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM calls.grant WHERE application_id = NEW.id) THEN
    UPDATE calls.grants_version SET version = version + 1 WHERE id = 1;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER application_grants_version AFTER UPDATE OF title ON calls.application
  FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title) EXECUTE FUNCTION calls.bump_grants_version_on_title();
