-- The `random` participatory-budget workflow (Decidim): each voter is assigned one budget of the
-- process at random, once; the assignment is kept so a voter cannot draw again or switch budget.
ALTER TABLE consultation.process DROP CONSTRAINT process_budget_workflow_check;
ALTER TABLE consultation.process ADD CONSTRAINT process_budget_workflow_check CHECK (budget_workflow IN ('one', 'random', 'all'));

CREATE TABLE consultation.budget_assignment (
  process_id uuid NOT NULL REFERENCES consultation.process(id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  budget_id uuid NOT NULL REFERENCES consultation.budget(id) ON DELETE CASCADE,
  assigned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (process_id, user_id)
);
CREATE INDEX budget_assignment_budget ON consultation.budget_assignment (budget_id);
