-- Extensions every module may use. Both ship with PGlite and with PostgreSQL's contrib.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is only STABLE; index expressions need an IMMUTABLE function.
CREATE OR REPLACE FUNCTION platform.unaccent(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

-- Lower-cased, accent-free, punctuation folded to spaces: the key for name look-ups.
CREATE OR REPLACE FUNCTION platform.fold(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT btrim(regexp_replace(lower(platform.unaccent($1)), '[^a-z0-9]+', ' ', 'g')) $$;

-- Great-circle distance in km (haversine, mean Earth radius 6371.0088 km).
CREATE OR REPLACE FUNCTION platform.distance_km(lat1 float8, lon1 float8, lat2 float8, lon2 float8) RETURNS float8
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT 2 * 6371.0088 * asin(sqrt(
      power(sin(radians(lat2 - lat1) / 2), 2)
      + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lon2 - lon1) / 2), 2))) $$;
