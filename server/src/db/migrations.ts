// Versioned schema migrations, applied in order at start inside one transaction each.
// Never edit a migration that has shipped; add a new one.

export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'accounts-projects-images',
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX sessions_user ON sessions(user_id);
      CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        last_used_at TEXT
      );
      CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE TABLE project_members (
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'annotator', 'reviewer', 'owner')),
        added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (project_id, user_id)
      );
      CREATE INDEX project_members_user ON project_members(user_id);
      CREATE TABLE label_classes (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        color TEXT NOT NULL,
        shortcut TEXT,
        position INTEGER NOT NULL,
        UNIQUE (project_id, name)
      );
      CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        page INTEGER NOT NULL DEFAULT 0,
        page_count INTEGER NOT NULL DEFAULT 1,
        format TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        channels INTEGER NOT NULL,
        dtype TEXT NOT NULL,
        stats_json TEXT NOT NULL,
        raw_key TEXT NOT NULL,
        display_key TEXT NOT NULL,
        thumbnail_key TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'new',
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (project_id, sha256, page)
      );
      CREATE INDEX images_project ON images(project_id, id);
    `,
  },
  {
    version: 3,
    name: 'image-display-tiles',
    sql: `ALTER TABLE images ADD COLUMN tiles_json TEXT NOT NULL DEFAULT '{"tileSize":0,"columns":0,"rows":0,"keys":[]}';`,
  },
  {
    version: 4,
    name: 'collaboration-documents-and-index',
    sql: `
      CREATE TABLE doc_snapshots (
        room TEXT PRIMARY KEY,
        state BLOB NOT NULL,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE TABLE doc_updates (
        id INTEGER PRIMARY KEY,
        room TEXT NOT NULL,
        data BLOB NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX doc_updates_room ON doc_updates(room, id);
      CREATE TABLE image_index (
        image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        annotation_count INTEGER NOT NULL,
        counts_by_class TEXT NOT NULL,
        suggestion_count INTEGER NOT NULL,
        invalid_count INTEGER NOT NULL,
        last_editor INTEGER REFERENCES users(id) ON DELETE SET NULL,
        last_change INTEGER
      );
    `,
  },
  {
    // Image ids are reused (INTEGER PRIMARY KEY without AUTOINCREMENT): a deleted image's
    // document must go with it, or a later image with its id would open with its annotations.
    version: 5,
    name: 'drop-documents-of-deleted-images',
    sql: `
      CREATE TRIGGER images_drop_documents AFTER DELETE ON images BEGIN
        DELETE FROM doc_updates WHERE room = 'image:' || old.id;
        DELETE FROM doc_snapshots WHERE room = 'image:' || old.id;
      END;
      DELETE FROM doc_updates
        WHERE room NOT IN (SELECT 'image:' || id FROM images);
      DELETE FROM doc_snapshots
        WHERE room NOT IN (SELECT 'image:' || id FROM images);
    `,
  },
  {
    // Before room names were canonical, `image:05` opened a document apart from `image:5`;
    // such documents belong to no image and no client can reach them any more.
    version: 6,
    name: 'drop-non-canonical-documents',
    sql: `
      DELETE FROM doc_updates
        WHERE room NOT IN (SELECT 'image:' || id FROM images);
      DELETE FROM doc_snapshots
        WHERE room NOT IN (SELECT 'image:' || id FROM images);
    `,
  },
  {
    // Login throttling state (auth/SqliteLoginThrottleStore.ts) lives here, not in memory, so
    // that every server process on this database counts the same attempts.
    version: 7,
    name: 'login-throttle',
    sql: `
      CREATE TABLE login_throttle (
        key TEXT PRIMARY KEY,
        failures TEXT NOT NULL,
        lockouts INTEGER NOT NULL,
        locked_until INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX login_throttle_expiry ON login_throttle(expires_at);
    `,
  },
  {
    // The learning loop (ARCHITECTURE decisions 5 and 7): model versions as project data (files
    // in the blob store by sha256; project_id NULL for the shipped base versions), the version
    // each project's browsers load, the durable training queue, frozen training sets and the
    // tokens workers pull with.
    version: 8,
    name: 'learning-loop',
    sql: `
      CREATE TABLE model_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        parent_id INTEGER REFERENCES model_versions(id) ON DELETE SET NULL,
        state TEXT NOT NULL CHECK (state IN ('candidate', 'current', 'retired')),
        card_json TEXT NOT NULL,
        files_json TEXT NOT NULL,
        metrics_json TEXT NOT NULL DEFAULT '{}',
        training_images INTEGER NOT NULL DEFAULT 0,
        training_objects INTEGER NOT NULL DEFAULT 0,
        training_set_hash TEXT,
        job_id INTEGER,
        triggered_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE UNIQUE INDEX model_versions_name ON model_versions(coalesce(project_id, 0), name);
      CREATE UNIQUE INDEX model_versions_job ON model_versions(job_id) WHERE job_id IS NOT NULL;
      ALTER TABLE projects ADD COLUMN model_version_id INTEGER REFERENCES model_versions(id) ON DELETE SET NULL;
      ALTER TABLE projects ADD COLUMN settings_json TEXT NOT NULL DEFAULT '{}';
      CREATE TABLE model_promotions (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
        reason TEXT NOT NULL,
        by_user INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX model_promotions_project ON model_promotions(project_id, id);
      CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'running', 'succeeded', 'failed', 'cancelled')),
        payload_json TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        not_before INTEGER NOT NULL DEFAULT 0,
        lease_holder TEXT,
        lease_expires_at INTEGER,
        progress_json TEXT,
        history_json TEXT NOT NULL DEFAULT '[]',
        log_tail TEXT NOT NULL DEFAULT '',
        checkpoint_key TEXT,
        artifacts_json TEXT NOT NULL DEFAULT '{}',
        result_json TEXT,
        error TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        triggered_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER
      );
      CREATE INDEX jobs_project ON jobs(project_id, id);
      CREATE INDEX jobs_ready ON jobs(state, not_before, id);
      CREATE UNIQUE INDEX jobs_one_active ON jobs(project_id, kind)
        WHERE state IN ('queued', 'leased', 'running');
      CREATE TABLE training_sets (
        job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        hash TEXT NOT NULL,
        summary_json TEXT NOT NULL,
        items_json TEXT NOT NULL
      );
      CREATE TABLE worker_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        last_used_at TEXT,
        revoked_at TEXT
      );
    `,
  },
  {
    version: 9,
    name: 'active-learning',
    sql: `
      -- How a version ranked the images nobody had finished when it was trained (rank 1 first).
      CREATE TABLE version_scorings (
        version_id INTEGER PRIMARY KEY REFERENCES model_versions(id) ON DELETE CASCADE,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        strategy TEXT NOT NULL,
        seconds REAL NOT NULL,
        scored_at INTEGER NOT NULL
      );
      CREATE TABLE image_scores (
        version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        score REAL NOT NULL,
        rank INTEGER NOT NULL,
        PRIMARY KEY (version_id, image_id)
      );
      CREATE INDEX image_scores_rank ON image_scores(version_id, rank);
      -- Next's time-limited claims: one holder per image.
      CREATE TABLE image_claims (
        image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        claimed_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX image_claims_project ON image_claims(project_id, expires_at);
      -- What people did with each model suggestion (accepted, edited, rejected) and with each
      -- click-tool mask (clicks), by the version that made it: suggestions deleted on rejection
      -- would otherwise leave no trace.
      CREATE TABLE suggestion_outcomes (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL,
        annotation_id TEXT NOT NULL,
        model_version TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'edited', 'rejected', 'clicked')),
        clicks INTEGER,
        user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
        at INTEGER NOT NULL,
        UNIQUE (image_id, annotation_id, outcome)
      );
      CREATE INDEX suggestion_outcomes_version ON suggestion_outcomes(project_id, model_version);
    `,
  },
  {
    version: 10,
    name: 'instrument-streams',
    sql: `
      -- Bearer credentials of instruments: one project each, good for the stream API only; only
      -- the sha256 of the token is stored.
      CREATE TABLE instrument_tokens (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        last_used_at TEXT,
        revoked_at TEXT
      );
      CREATE INDEX instrument_tokens_project ON instrument_tokens(project_id);
      -- A project's instrument streams: drop policy, whether flagged frames are kept, the rules
      -- (a JSON array of shared/schemas/streams.ts Rule).
      CREATE TABLE streams (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        backpressure TEXT NOT NULL DEFAULT 'latest',
        keep_flagged INTEGER NOT NULL DEFAULT 0,
        rules_json TEXT NOT NULL DEFAULT '[]',
        next_rule_id INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (project_id, name)
      );
      -- Every feedback event sent (event_json is the FeedbackEvent without its id).
      CREATE TABLE stream_events (
        id INTEGER PRIMARY KEY,
        stream_id INTEGER NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
        series_id TEXT NOT NULL,
        frame INTEGER NOT NULL,
        action TEXT NOT NULL,
        event_json TEXT NOT NULL,
        at TEXT NOT NULL
      );
      CREATE INDEX stream_events_stream ON stream_events(stream_id, id);
      -- Frames stored as images (Keep, or a flagged frame when the stream keeps them): one image
      -- per frame.
      CREATE TABLE stream_kept_frames (
        stream_id INTEGER NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
        series_id TEXT NOT NULL,
        frame INTEGER NOT NULL,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        PRIMARY KEY (stream_id, series_id, frame)
      );
    `,
  },
]
