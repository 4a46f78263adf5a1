-- The territory of each of a mediator's places (commune, département, région), resolved when the
-- profile is saved, so recording an activity needs no look-up in the directory.
ALTER TABLE mediation.mediator ADD COLUMN place_territories jsonb NOT NULL DEFAULT '{}';
