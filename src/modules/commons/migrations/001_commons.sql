-- The software commons catalogue and the metadata of the code index.
-- The trigram postings and blob contents live in index shards under DATA_DIR/commons/index
-- (see docs/decisions/0001-code-search-index.md); this schema says which shards are live.
CREATE SCHEMA IF NOT EXISTS commons;

CREATE TABLE commons.software (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slug text NOT NULL UNIQUE,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  licence text,
  repository_url text NOT NULL,
  status text,
  languages text[] NOT NULL DEFAULT '{}',
  topics text[] NOT NULL DEFAULT '{}',
  maintainers text[] NOT NULL DEFAULT '{}',
  users text[] NOT NULL DEFAULT '{}',
  contact text,
  homepage text,
  readme text,
  readme_path text,
  -- Metadata as read from the repository, kept verbatim.
  publiccode jsonb,
  codemeta jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE commons.repository (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  software_id bigint NOT NULL REFERENCES commons.software(id) ON DELETE CASCADE,
  name text NOT NULL UNIQUE,
  -- As given by the user: a git URL or a local path.
  source text NOT NULL,
  default_branch text,
  status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'indexing', 'indexed', 'failed')),
  error text,
  indexed_at timestamptz
);

CREATE TABLE commons.revision (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  repository_id bigint NOT NULL REFERENCES commons.repository(id) ON DELETE CASCADE,
  ref_name text NOT NULL,
  ref_kind text NOT NULL CHECK (ref_kind IN ('head', 'tag')),
  commit_sha char(40) NOT NULL,
  tree_sha char(40) NOT NULL,
  committed_at timestamptz,
  message text,
  -- The revision searches cover (the default branch head); tags are kept and browsable.
  is_current boolean NOT NULL DEFAULT false,
  indexed_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (repository_id, ref_name, commit_sha)
);
CREATE INDEX revision_current_idx ON commons.revision (repository_id) WHERE is_current;

-- Content-addressed: one row per distinct blob, whatever the repositories and revisions.
CREATE TABLE commons.blob (
  sha char(40) PRIMARY KEY,
  size bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('indexed', 'binary', 'too_large')),
  shard text,
  lines integer
);

CREATE TABLE commons.file (
  revision_id bigint NOT NULL REFERENCES commons.revision(id) ON DELETE CASCADE,
  path text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('file', 'executable', 'symlink', 'dir', 'submodule')),
  sha char(40) NOT NULL,
  size bigint,
  lang text,
  -- Why the file is not searchable: binary, too_large, vendored, generated (null: searchable).
  skipped text,
  PRIMARY KEY (revision_id, path)
);
CREATE INDEX file_sha_idx ON commons.file (sha);

CREATE TABLE commons.shard (
  name text PRIMARY KEY,
  docs integer NOT NULL,
  bytes bigint NOT NULL,
  postings bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Bumped whenever the searchable set changes, so every process reloads its snapshot.
CREATE TABLE commons.state (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  generation bigint NOT NULL DEFAULT 0
);
INSERT INTO commons.state (id, generation) VALUES (true, 0);
