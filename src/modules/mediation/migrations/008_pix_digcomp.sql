-- Pix campaign results mapped to DigComp 2.2 as well as the CRCN. A result row now says which
-- framework its competence code belongs to ('1.1' is a CRCN and a DigComp code), and which
-- session's import gave it (the session's territory counts the figures `pix_crcn` and
-- `pix_digcomp`, kept incrementally by the import).
ALTER TABLE mediation.competence_result ADD COLUMN framework text NOT NULL DEFAULT 'crcn' CHECK (framework IN ('crcn', 'digcomp'));
ALTER TABLE mediation.competence_result ADD COLUMN session_id uuid REFERENCES mediation.training_session(id) ON DELETE SET NULL;
ALTER TABLE mediation.competence_result DROP CONSTRAINT competence_result_pkey;
ALTER TABLE mediation.competence_result ADD PRIMARY KEY (learner_id, framework, competence, source);

-- The DigComp levels of the results already imported, by our correspondence (CRCN_TO_DIGCOMP in
-- model.ts, as in 007): per DigComp competence, the highest level of the CRCN competences mapped
-- to it. (Results imported before this migration carry no session: they are not in the figures.)
INSERT INTO mediation.competence_result (learner_id, framework, competence, level, source, measured_at)
SELECT r.learner_id, 'digcomp', map.d, max(r.level), r.source, max(r.measured_at)
  FROM mediation.competence_result r
  JOIN (VALUES ('1.1', '1.1'), ('1.1', '1.2'), ('1.2', '1.3'), ('1.3', '1.3'), ('2.1', '2.1'), ('2.2', '2.2'), ('2.3', '2.4'),
               ('2.4', '2.3'), ('2.4', '2.5'), ('2.4', '2.6'), ('3.1', '3.1'), ('3.2', '3.1'), ('3.3', '3.2'), ('3.3', '3.3'),
               ('3.4', '3.4'), ('4.1', '4.1'), ('4.2', '4.2'), ('4.3', '4.3'), ('4.3', '4.4'), ('5.1', '5.1'), ('5.1', '5.2'),
               ('5.2', '5.3'), ('5.2', '5.4')) map(crcn, d) ON map.crcn = r.competence
 WHERE r.framework = 'crcn'
 GROUP BY r.learner_id, map.d, r.source;
