-- One row per plan: a version bumped by every write to what its barometer shows, and a snapshot of
-- that barometer (tree skeleton, rolled-up progress, indicators' progress, money, envelopes) tagged
-- with the version it was computed at. Pages use the snapshot only while its version is the plan's
-- current one, so every instance on the database sees a change at once, whoever writes (the app,
-- the live job, another module drawing an envelope, SQL by hand). Replaces the single data version
-- of roadmap.state, which invalidated every plan on any write and serialised all roadmap writers.
CREATE TABLE roadmap.plan_cache (
  plan_id uuid PRIMARY KEY REFERENCES roadmap.plan (id) ON DELETE CASCADE,
  version bigint NOT NULL DEFAULT 1,
  snapshot_version bigint,
  snapshot text,
  -- The transaction that bumped the version last (pg_current_xact_id), so a write can refresh the
  -- snapshots of the plans it changed before it commits.
  bumped_by text
);
INSERT INTO roadmap.plan_cache (plan_id) SELECT id FROM roadmap.plan;

CREATE FUNCTION roadmap.bump_plans(ids uuid[]) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  IF ids IS NULL OR cardinality(ids) = 0 THEN
    RETURN;
  END IF;
  -- Rows locked in one order: two statements bumping the same plans cannot deadlock each other.
  PERFORM 1 FROM roadmap.plan_cache WHERE plan_id = ANY (ids) ORDER BY plan_id FOR UPDATE;
  UPDATE roadmap.plan_cache SET version = version + 1, snapshot = NULL, snapshot_version = NULL, bumped_by = pg_current_xact_id()::text
   WHERE plan_id = ANY (ids);
END $$;

-- Statement triggers with the changed rows as a transition table named "changed" (NEW rows for
-- INSERT and UPDATE, OLD rows for DELETE): which plans a statement touched.
CREATE FUNCTION roadmap.touch_plans() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM roadmap.bump_plans(ARRAY(SELECT plan_id FROM roadmap.plan_cache));
  ELSIF TG_TABLE_NAME IN ('node', 'budget', 'envelope') THEN
    PERFORM roadmap.bump_plans(ARRAY(SELECT DISTINCT plan_id FROM changed));
  ELSIF TG_TABLE_NAME IN ('budget_year', 'cofinancing') THEN
    PERFORM roadmap.bump_plans(ARRAY(SELECT DISTINCT b.plan_id FROM changed c JOIN roadmap.budget b ON b.id = c.budget_id));
  ELSIF TG_TABLE_NAME = 'indicator_link' THEN
    PERFORM roadmap.bump_plans(ARRAY(SELECT DISTINCT n.plan_id FROM changed c JOIN roadmap.node n ON n.id = c.node_id));
  ELSIF TG_TABLE_NAME = 'indicator' THEN
    PERFORM roadmap.bump_plans(ARRAY(
      SELECT DISTINCT n.plan_id FROM changed c JOIN roadmap.indicator_link l ON l.indicator_id = c.id JOIN roadmap.node n ON n.id = l.node_id));
  ELSIF TG_TABLE_NAME = 'series_summary' THEN
    -- A series is one indicator in one territory: only the plans of that territory linking it.
    PERFORM roadmap.bump_plans(ARRAY(
      SELECT DISTINCT n.plan_id
        FROM changed c
        JOIN roadmap.indicator_link l ON l.indicator_id = c.indicator_id
        JOIN roadmap.node n ON n.id = l.node_id
        JOIN roadmap.plan p ON p.id = n.plan_id AND p.territory_level = c.territory_level AND p.territory_code = c.territory_code));
  END IF;
  RETURN NULL;
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['node', 'budget', 'budget_year', 'cofinancing', 'envelope', 'indicator', 'indicator_link', 'series_summary'] LOOP
    EXECUTE format('DROP TRIGGER %I ON roadmap.%I', t || '_version', t);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON roadmap.%I REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION roadmap.touch_plans()', t || '_plans_ins', t);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON roadmap.%I REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION roadmap.touch_plans()', t || '_plans_upd', t);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON roadmap.%I REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION roadmap.touch_plans()', t || '_plans_del', t);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON roadmap.%I FOR EACH STATEMENT EXECUTE FUNCTION roadmap.touch_plans()', t || '_plans_trunc', t);
  END LOOP;
END $$;

-- A new plan gets its row (a write can only bump a row that exists).
CREATE FUNCTION roadmap.plan_cache_rows() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO roadmap.plan_cache (plan_id) SELECT id FROM changed ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER plan_cache_ins AFTER INSERT ON roadmap.plan REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION roadmap.plan_cache_rows();

DROP TRIGGER plan_version ON roadmap.plan;
DROP TABLE roadmap.state;
DROP FUNCTION roadmap.bump_version();
