-- The district queue, first part: imported jobs, refused records, and the
-- audit trail of every import and officer action.

CREATE TABLE audit (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    job_id  TEXT,
    detail  JSONB NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE jobs (
    job_id         TEXT PRIMARY KEY,
    kode_wilayah   TEXT NOT NULL,
    priority       TEXT NOT NULL CHECK (priority IN ('urgent', 'normal')),
    -- held: waits for an officer's approval; pending: may be assigned.
    state          TEXT NOT NULL CHECK (state IN ('held', 'pending', 'assigned', 'done')),
    needs_approval BOOLEAN NOT NULL DEFAULT false,
    approved_by    TEXT,
    approved_at    TIMESTAMPTZ,
    payload        JSONB,
    imported_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    imported_by    TEXT NOT NULL
);
CREATE INDEX jobs_pending ON jobs (state, priority, imported_at);

-- Records an import refused: invalid, or outside the district's regency.
CREATE TABLE import_refusals (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    file    TEXT NOT NULL,
    line    INTEGER NOT NULL,
    job_id  TEXT,
    code    TEXT NOT NULL,
    field   TEXT NOT NULL
);
