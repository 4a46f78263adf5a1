-- Every statement that writes places bumps the data version, whoever runs it (imports, the back
-- office, merges, the opening-hours refresh, SQL by hand): ETags, cached aggregates and the
-- coverage module rely on it never missing a change.
CREATE FUNCTION places.bump_data_version() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO places.settings (key, value) VALUES ('data_version', to_jsonb(1))
  ON CONFLICT (key) DO UPDATE SET value = to_jsonb((places.settings.value #>> '{}')::bigint + 1);
  RETURN NULL;
END $$;

CREATE TRIGGER place_data_version
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON places.place
  FOR EACH STATEMENT EXECUTE FUNCTION places.bump_data_version();
