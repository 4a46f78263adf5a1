-- Consultation: participatory processes with dated phases, proposals with supports, threaded
-- comments and moderation, official answers, participatory budgets with baskets checked out once,
-- meetings, and results (what became of it). Who voted what is never published: only totals.
CREATE SCHEMA IF NOT EXISTS consultation;

CREATE TABLE consultation.process (
  id uuid PRIMARY KEY,
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,79}$'),
  title text NOT NULL CHECK (length(title) BETWEEN 3 AND 200),
  description text NOT NULL DEFAULT '',
  -- the territory it runs for (région or département); staff of that territory manage it
  region text NOT NULL,
  departement text,
  published boolean NOT NULL DEFAULT false,
  -- who may take part (checked on the server at each support, proposal, comment and vote)
  residence_required boolean NOT NULL DEFAULT false,
  min_age int CHECK (min_age IS NULL OR min_age BETWEEN 0 AND 120),
  min_account_days int NOT NULL DEFAULT 0 CHECK (min_account_days BETWEEN 0 AND 365),
  -- participatory budgets: one budget per person among several, or all
  budget_workflow text NOT NULL DEFAULT 'one' CHECK (budget_workflow IN ('one', 'all')),
  categories text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consultation.phase (
  id uuid PRIMARY KEY,
  process_id uuid NOT NULL REFERENCES consultation.process (id) ON DELETE CASCADE,
  position int NOT NULL,
  title text NOT NULL,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  proposals_open boolean NOT NULL DEFAULT false,
  supports_open boolean NOT NULL DEFAULT false,
  comments_open boolean NOT NULL DEFAULT false,
  votes_open boolean NOT NULL DEFAULT false,
  CHECK (ends_at > starts_at),
  UNIQUE (process_id, position)
);
CREATE INDEX phase_process ON consultation.phase (process_id, starts_at);

-- Custom states: a public label over one of the base states (e.g. « Retenue pour étude technique »).
CREATE TABLE consultation.custom_state (
  process_id uuid NOT NULL REFERENCES consultation.process (id) ON DELETE CASCADE,
  key text NOT NULL CHECK (key ~ '^[a-z0-9_]{1,40}$'),
  label text NOT NULL,
  base text NOT NULL CHECK (base IN ('evaluating', 'accepted', 'rejected')),
  PRIMARY KEY (process_id, key)
);

CREATE TABLE consultation.proposal (
  id uuid PRIMARY KEY,
  process_id uuid NOT NULL REFERENCES consultation.process (id) ON DELETE CASCADE,
  number int NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  category text,
  commune_code text,
  place_uid text,
  author_id uuid,
  state text NOT NULL DEFAULT 'not_answered' CHECK (state IN ('not_answered', 'evaluating', 'accepted', 'rejected', 'withdrawn')),
  custom_state text,
  answer text,
  answered_at timestamptz,
  supports int NOT NULL DEFAULT 0 CHECK (supports >= 0),
  comments int NOT NULL DEFAULT 0 CHECK (comments >= 0),
  hidden_at timestamptz,
  hidden_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (process_id, number)
);
CREATE INDEX proposal_list ON consultation.proposal (process_id, created_at DESC, id DESC);
CREATE INDEX proposal_author ON consultation.proposal (author_id);

-- One support per person and proposal: the primary key makes a second one impossible.
CREATE TABLE consultation.support (
  proposal_id uuid NOT NULL REFERENCES consultation.proposal (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (proposal_id, user_id)
);

CREATE TABLE consultation.follower (
  proposal_id uuid NOT NULL REFERENCES consultation.proposal (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  PRIMARY KEY (proposal_id, user_id)
);

CREATE TABLE consultation.valuator (
  proposal_id uuid NOT NULL REFERENCES consultation.proposal (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  PRIMARY KEY (proposal_id, user_id)
);

-- Private notes of valuators and staff (never public, never exported).
CREATE TABLE consultation.note (
  id uuid PRIMARY KEY,
  proposal_id uuid NOT NULL REFERENCES consultation.proposal (id) ON DELETE CASCADE,
  author_id uuid NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consultation.comment (
  id uuid PRIMARY KEY,
  proposal_id uuid NOT NULL REFERENCES consultation.proposal (id) ON DELETE CASCADE,
  parent_id uuid REFERENCES consultation.comment (id) ON DELETE CASCADE,
  author_id uuid,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  hidden_at timestamptz,
  hidden_reason text
);
CREATE INDEX comment_page ON consultation.comment (proposal_id, created_at, id);

-- Reports of a proposal or a comment: one per person and object; resolved by hiding or dismissing.
CREATE TABLE consultation.report (
  id uuid PRIMARY KEY,
  target_kind text NOT NULL CHECK (target_kind IN ('proposal', 'comment')),
  target_id uuid NOT NULL,
  process_id uuid NOT NULL REFERENCES consultation.process (id) ON DELETE CASCADE,
  reporter_id uuid NOT NULL,
  reason text NOT NULL CHECK (reason IN ('spam', 'offensive', 'personal_data', 'off_topic', 'other')),
  details text,
  created_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  resolution text CHECK (resolution IN ('hidden', 'dismissed')),
  UNIQUE (target_kind, target_id, reporter_id)
);
CREATE INDEX report_open ON consultation.report (process_id) WHERE resolved_at IS NULL;

-- Participatory budgets (by département, or one for the territory).
CREATE TABLE consultation.budget (
  id uuid PRIMARY KEY,
  process_id uuid NOT NULL REFERENCES consultation.process (id) ON DELETE CASCADE,
  slug text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,79}$'),
  title text NOT NULL,
  departement text,
  amount_cents bigint NOT NULL CHECK (amount_cents > 0),
  rule text NOT NULL CHECK (rule IN ('threshold', 'minimum', 'range')),
  threshold_pct int NOT NULL DEFAULT 70 CHECK (threshold_pct BETWEEN 0 AND 100),
  min_projects int NOT NULL DEFAULT 1 CHECK (min_projects >= 0),
  max_projects int CHECK (max_projects IS NULL OR max_projects >= 1),
  UNIQUE (process_id, slug)
);

CREATE TABLE consultation.project (
  id uuid PRIMARY KEY,
  budget_id uuid NOT NULL REFERENCES consultation.budget (id) ON DELETE CASCADE,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  cost_cents bigint NOT NULL CHECK (cost_cents > 0),
  commune_code text,
  proposal_id uuid REFERENCES consultation.proposal (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX project_budget ON consultation.project (budget_id);

-- A basket is built, then checked out once; after checkout it is final.
CREATE TABLE consultation.basket (
  id uuid PRIMARY KEY,
  budget_id uuid NOT NULL REFERENCES consultation.budget (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  checked_out_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (budget_id, user_id)
);

CREATE TABLE consultation.basket_item (
  basket_id uuid NOT NULL REFERENCES consultation.basket (id) ON DELETE CASCADE,
  project_id uuid NOT NULL REFERENCES consultation.project (id) ON DELETE CASCADE,
  PRIMARY KEY (basket_id, project_id)
);
CREATE INDEX basket_item_project ON consultation.basket_item (project_id);
-- The tally counts checked-out baskets per project (no shared counter row: checkouts never wait on each other).
CREATE INDEX basket_checked_out ON consultation.basket (budget_id) INCLUDE (id) WHERE checked_out_at IS NOT NULL;

-- The ballot: one row per person and voting scope (the process when one budget per person, the
-- budget when all): the unique key is what makes a second vote impossible, even under races.
CREATE TABLE consultation.ballot (
  scope_id uuid NOT NULL,
  user_id uuid NOT NULL,
  basket_id uuid NOT NULL REFERENCES consultation.basket (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope_id, user_id)
);

CREATE TABLE consultation.meeting (
  id uuid PRIMARY KEY,
  process_id uuid NOT NULL REFERENCES consultation.process (id) ON DELETE CASCADE,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  departement text,
  place_uid text,
  address text,
  online_url text,
  capacity int CHECK (capacity IS NULL OR capacity > 0),
  registered int NOT NULL DEFAULT 0,
  minutes text,
  CHECK (ends_at > starts_at),
  CHECK (registered >= 0 AND (capacity IS NULL OR registered <= capacity))
);
CREATE INDEX meeting_process ON consultation.meeting (process_id, starts_at);

CREATE TABLE consultation.registration (
  meeting_id uuid NOT NULL REFERENCES consultation.meeting (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (meeting_id, user_id)
);

-- What became of it: results from accepted proposals and projects, with progress rolled up from
-- children, optionally tied to an action of a roadmap (plan slug and node id, resolved by roadmap).
CREATE TABLE consultation.result (
  id uuid PRIMARY KEY,
  process_id uuid NOT NULL REFERENCES consultation.process (id) ON DELETE CASCADE,
  parent_id uuid REFERENCES consultation.result (id) ON DELETE CASCADE,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  proposal_id uuid REFERENCES consultation.proposal (id) ON DELETE SET NULL,
  project_id uuid REFERENCES consultation.project (id) ON DELETE SET NULL,
  progress int CHECK (progress IS NULL OR progress BETWEEN 0 AND 100),
  status text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'ongoing', 'done', 'dropped')),
  roadmap_plan text,
  roadmap_node text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX result_process ON consultation.result (process_id);
