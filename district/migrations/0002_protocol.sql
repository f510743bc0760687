-- The /v1 protocol: stations and their tokens, one-time enrolment codes,
-- the envelope-signing keys, assignments with epochs, results, held
-- reports, station events, stock reports and officer commands.

-- The PRR is kept as the exact line imported: the envelope signs its hash.
ALTER TABLE jobs ADD COLUMN prr TEXT;
UPDATE jobs SET prr = payload::text;
ALTER TABLE jobs DROP COLUMN payload;

ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('held', 'pending', 'assigned', 'done', 'cancelled'));
ALTER TABLE jobs ADD COLUMN station TEXT;
ALTER TABLE jobs ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN assigned_at TIMESTAMPTZ;
-- The assignment reached the station (it asked for the next ones).
ALTER TABLE jobs ADD COLUMN delivered BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN envelope JSONB;
ALTER TABLE jobs ADD COLUMN result TEXT;
ALTER TABLE jobs ADD COLUMN finished_at TIMESTAMPTZ;
-- Stations that returned this job unprinted are not given it again.
ALTER TABLE jobs ADD COLUMN released_by TEXT[] NOT NULL DEFAULT '{}';
CREATE INDEX jobs_by_station ON jobs (station, state);

CREATE TABLE signing_keys (
    key_id     TEXT PRIMARY KEY,
    secret     BYTEA NOT NULL,
    public     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);

CREATE TABLE stations (
    station      TEXT PRIMARY KEY,
    regions      TEXT[] NOT NULL,
    token_sha256 TEXT UNIQUE,
    enrolled_at  TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_seen    TIMESTAMPTZ,
    last_status  JSONB
);

CREATE TABLE enroll_codes (
    code_sha256 TEXT PRIMARY KEY,
    station     TEXT NOT NULL,
    regions     TEXT[] NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);

-- Every assignment ever made: a station may only report on its own.
CREATE TABLE assignments (
    job_id      TEXT NOT NULL REFERENCES jobs (job_id),
    epoch       BIGINT NOT NULL,
    station     TEXT NOT NULL,
    assigned_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, epoch)
);

CREATE TABLE results (
    job_id      TEXT NOT NULL,
    station     TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    attempt     INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    code        TEXT,
    -- Stored but not applied: the card is withheld at collection.
    flagged     TEXT,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, station, epoch, attempt)
);

CREATE TABLE held_reports (
    job_id      TEXT NOT NULL,
    station     TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    attempt     INTEGER NOT NULL,
    fault       TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, station, epoch)
);

CREATE TABLE station_events (
    station     TEXT NOT NULL,
    id          BIGINT NOT NULL,
    body        JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (station, id)
);

CREATE TABLE stock_reports (
    id          BIGSERIAL PRIMARY KEY,
    station     TEXT NOT NULL,
    head        TEXT NOT NULL,
    events      JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE commands (
    id         BIGSERIAL PRIMARY KEY,
    station    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    job_id     TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    acked_at   TIMESTAMPTZ
);
CREATE INDEX commands_open ON commands (station) WHERE acked_at IS NULL;
