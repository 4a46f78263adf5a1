-- The places back office: claims of a place by a structure, every version of a listing, edits
-- waiting for moderation, the per-territory moderation setting, and data sources (producers and
-- their column-mapping files).

-- A person asks to manage a place: verified by a link e-mailed to an address of the place, or
-- decided by the territory's staff.
CREATE TABLE places.claim (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  place_uid uuid NOT NULL REFERENCES places.place (uid) ON DELETE CASCADE,
  user_id uuid NOT NULL,                  -- accounts.users.id (another module: no foreign key)
  method text NOT NULL CHECK (method IN ('email', 'staff')),
  email text,                             -- the place's address the link was sent to (method email)
  token_hash text UNIQUE,                 -- SHA-256 of the e-mailed token (method email)
  message text,                           -- the claimant's words to the staff
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,                 -- of the e-mailed link
  decided_at timestamptz,
  decided_by uuid,                        -- null when confirmed through the e-mailed link
  decision_note text
);
CREATE INDEX claim_pending ON places.claim (status, created_at) WHERE status = 'pending';
CREATE INDEX claim_place ON places.claim (place_uid);
-- One open claim per person and place.
CREATE UNIQUE INDEX claim_open_once ON places.claim (place_uid, user_id) WHERE status = 'pending';

-- Every state of a listing the back office wrote or saw: the standard record as JSON.
CREATE TABLE places.place_version (
  place_uid uuid NOT NULL REFERENCES places.place (uid) ON DELETE CASCADE,
  version integer NOT NULL,
  record jsonb NOT NULL,
  -- initial: the listing before its first back-office change; outside: changed by an import since
  -- the previous version; edit, restore, moderation, merge: written by the back office.
  reason text NOT NULL CHECK (reason IN ('initial', 'outside', 'edit', 'restore', 'moderation', 'merge')),
  actor_id uuid,
  note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (place_uid, version)
);

-- Edits by place managers waiting for a moderator (when the place's territory asks for it).
CREATE TABLE places.pending_edit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  place_uid uuid NOT NULL REFERENCES places.place (uid) ON DELETE CASCADE,
  base_version integer NOT NULL,          -- the version the manager edited
  record jsonb NOT NULL,                  -- the proposed standard record
  kind text NOT NULL DEFAULT 'edit' CHECK (kind IN ('edit', 'restore')),
  submitted_by uuid NOT NULL,
  submitted_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'superseded')),
  decided_by uuid,
  decided_at timestamptz,
  decision_note text
);
CREATE INDEX pending_edit_open ON places.pending_edit (status, submitted_at) WHERE status = 'pending';
CREATE INDEX pending_edit_place ON places.pending_edit (place_uid);

-- Whether managers' edits wait for moderation, per région or département (a département's
-- setting overrides its région's; no setting = published at once).
CREATE TABLE places.moderation_setting (
  level text NOT NULL CHECK (level IN ('region', 'departement')),
  code text NOT NULL,
  moderated boolean NOT NULL,
  updated_by uuid,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (level, code)
);

-- Data producers: the import_source key of their places, who they are, and their mapping file.
CREATE TABLE places.source (
  name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.:@ -]{1,100}$'),
  label text NOT NULL,
  producer text,
  contact text,
  url text,
  mapping jsonb,                          -- a valid mapping file (model/mapping.ts), or null
  mapping_file_name text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
