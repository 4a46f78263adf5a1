-- DigComp 2.2 next to the CRCN: each training module is tagged with DigComp competences too
-- (typed by the provider, or derived from its CRCN competences by the module's correspondence,
-- CRCN_TO_DIGCOMP in model.ts). Existing modules get the derived ones.
ALTER TABLE mediation.training_module ADD COLUMN digcomp text[] NOT NULL DEFAULT '{}';

UPDATE mediation.training_module m SET digcomp = coalesce((
  SELECT array_agg(DISTINCT d ORDER BY d)
    FROM unnest(m.competences) c
    JOIN (VALUES ('1.1', '1.1'), ('1.1', '1.2'), ('1.2', '1.3'), ('1.3', '1.3'), ('2.1', '2.1'), ('2.2', '2.2'), ('2.3', '2.4'),
                 ('2.4', '2.3'), ('2.4', '2.5'), ('2.4', '2.6'), ('3.1', '3.1'), ('3.2', '3.1'), ('3.3', '3.2'), ('3.3', '3.3'),
                 ('3.4', '3.4'), ('4.1', '4.1'), ('4.2', '4.2'), ('4.3', '4.3'), ('4.3', '4.4'), ('5.1', '5.1'), ('5.1', '5.2'),
                 ('5.2', '5.3'), ('5.2', '5.4')) map(crcn, d) ON map.crcn = c), '{}');

-- The DigComp competences reached by the paths already completed (as completeRegistration counts
-- them from now on: per DigComp competence, the highest target level of the path's modules).
INSERT INTO mediation.stat_counter (scope, scope_id, month, metric, key, value)
SELECT sc.scope, sc.scope_id, to_char(r.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-01')::date, 'digcomp', x.d || ':' || x.level, count(*)
  FROM mediation.registration r
  JOIN mediation.training_session s ON s.id = r.session_id
  CROSS JOIN LATERAL (SELECT d, max(m.target_level) AS level FROM mediation.training_module m, unnest(m.digcomp) d WHERE m.path_id = s.path_id GROUP BY d) x
  CROSS JOIN LATERAL (VALUES ('all', ''), ('region', s.region), ('departement', s.departement), ('commune', s.commune_code)) sc(scope, scope_id)
 WHERE r.status = 'completed' AND r.completed_at IS NOT NULL AND sc.scope_id IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (scope, scope_id, month, metric, key) DO UPDATE SET value = mediation.stat_counter.value + EXCLUDED.value;

-- Competences reached at completion are now public figures (CRCN and DigComp): every stored
-- protected cube is stale.
UPDATE mediation.public_version SET version = version + 1;
