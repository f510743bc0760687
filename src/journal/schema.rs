//! Versioned migrations. `PRAGMA user_version` holds the number of
//! migrations applied; a journal from a newer cetak is refused.

/// Each entry moves the schema one version up. Never edit a shipped entry:
/// add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the foundation.
    r#"
    CREATE TABLE jobs (
        job_id       TEXT PRIMARY KEY,
        seq          INTEGER NOT NULL UNIQUE,
        kode_wilayah TEXT,
        priority     TEXT NOT NULL CHECK (priority IN ('urgent', 'normal')),
        source       TEXT NOT NULL CHECK (source IN ('local', 'district')),
        state        TEXT NOT NULL,
        approved     INTEGER NOT NULL DEFAULT 0,
        spoils       INTEGER NOT NULL DEFAULT 0,
        reject_code  TEXT,
        reject_field TEXT,
        key_day      TEXT,
        payload      BLOB,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
    );
    CREATE INDEX jobs_by_state ON jobs (state, priority, seq);
    CREATE TABLE job_events (
        id         INTEGER PRIMARY KEY,
        job_id     TEXT NOT NULL REFERENCES jobs (job_id),
        from_state TEXT,
        to_state   TEXT NOT NULL,
        at         INTEGER NOT NULL,
        detail     TEXT
    );
    CREATE TABLE attempts (
        id             INTEGER PRIMARY KEY,
        job_id         TEXT NOT NULL REFERENCES jobs (job_id),
        attempt        INTEGER NOT NULL,
        printer        TEXT NOT NULL,
        printer_serial TEXT NOT NULL,
        counter_before INTEGER NOT NULL,
        k_hash         TEXT,
        started_at     INTEGER NOT NULL,
        outcome        TEXT CHECK (outcome IN ('printed', 'spoiled', 'not_fed', 'uncertain')),
        fault          TEXT,
        panels_done    INTEGER,
        counter_after  INTEGER,
        ended_at       INTEGER,
        UNIQUE (job_id, attempt)
    );
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY,
        kind       TEXT NOT NULL,
        job_id     TEXT,
        body       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        acked_at   INTEGER
    );
    CREATE TABLE ledger (
        id        INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        location  TEXT NOT NULL,
        item      TEXT NOT NULL,
        quantity  INTEGER NOT NULL,
        job_id    TEXT,
        attempt   INTEGER,
        detail    TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL UNIQUE
    );
    CREATE TABLE printers (
        name         TEXT PRIMARY KEY,
        serial       TEXT NOT NULL,
        model        TEXT NOT NULL,
        last_counter INTEGER NOT NULL,
        adopted_at   INTEGER NOT NULL
    );
    CREATE TABLE pauses (
        printer TEXT PRIMARY KEY,
        reason  TEXT NOT NULL,
        detail  TEXT NOT NULL,
        since   INTEGER NOT NULL
    );
    CREATE TABLE station_status (
        printer TEXT PRIMARY KEY,
        state   TEXT NOT NULL,
        detail  TEXT NOT NULL,
        since   INTEGER NOT NULL
    );
    CREATE TABLE operator_actions (
        id     INTEGER PRIMARY KEY,
        at     INTEGER NOT NULL,
        uid    INTEGER NOT NULL,
        action TEXT NOT NULL,
        job_id TEXT,
        detail TEXT NOT NULL
    );
    "#,
    // 2: the district. A job's assignment (epoch, signed envelope, issue
    // time, whether the district knows we stored it), the station's
    // enrolment, the link's state for "offline since", and the district's
    // commands already carried out.
    r#"
    ALTER TABLE jobs ADD COLUMN epoch INTEGER;
    ALTER TABLE jobs ADD COLUMN envelope TEXT;
    ALTER TABLE jobs ADD COLUMN issued_at INTEGER;
    ALTER TABLE jobs ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE enrolment (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        district    TEXT NOT NULL,
        station     TEXT NOT NULL,
        token       TEXT NOT NULL,
        regions     TEXT NOT NULL,
        keys        TEXT NOT NULL,
        enrolled_at INTEGER NOT NULL
    );
    CREATE TABLE district_link (
        id               INTEGER PRIMARY KEY CHECK (id = 1),
        online           INTEGER NOT NULL,
        since            INTEGER NOT NULL,
        last_contact     INTEGER,
        last_district_ms INTEGER,
        skew_ms          INTEGER NOT NULL DEFAULT 0,
        -- The newest ledger event the district has stored.
        stock_head       TEXT
    );
    CREATE TABLE commands_done (
        id     INTEGER PRIMARY KEY,
        kind   TEXT NOT NULL,
        job_id TEXT,
        at     INTEGER NOT NULL
    );
    "#,
    // 3: the district's TLS CA, stored at enrolment: the only root the
    // station trusts for its district.
    r#"
    ALTER TABLE enrolment ADD COLUMN ca_pem TEXT;
    "#,
    // 4: when the district client retries next and why the last call
    // failed, for `cetak status`.
    r#"
    ALTER TABLE district_link ADD COLUMN next_retry_at INTEGER;
    ALTER TABLE district_link ADD COLUMN last_error TEXT;
    "#,
    // 5: the write-ahead also records that the feed command was sent (a
    // printer that counts at eject cannot tell afterwards); and a counter
    // epoch, stepped by each service reset of a printer's card counter, so
    // a card is named by (serial, epoch, counter) even after a reset.
    r#"
    ALTER TABLE attempts ADD COLUMN feed_sent INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE attempts ADD COLUMN counter_epoch INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE printers ADD COLUMN counter_epoch INTEGER NOT NULL DEFAULT 0;
    "#,
    // 6: given back is not finished. A job released unprinted stays
    // `released` once acknowledged (its payload went at the release), so the
    // district may assign it here again; only finished jobs become `purged`
    // tombstones. Given-back jobs purged by an older version are given back
    // again. An outbox message the district refused alone (`not_yours`) is
    // kept flagged for the operator.
    r#"
    UPDATE jobs SET state = 'released'
    WHERE state IN ('reported', 'purged') AND payload IS NULL
      AND (SELECT to_state FROM job_events e WHERE e.job_id = jobs.job_id
           AND to_state IN ('printed', 'failed', 'rejected', 'released') ORDER BY id DESC LIMIT 1) = 'released';
    ALTER TABLE outbox ADD COLUMN flag TEXT;
    "#,
    // 7: the write-ahead also records the printer's panel counter, a second
    // witness beside the card counter: a service reset of the card counter
    // between a crash and the restart can bring it back to exactly the
    // value before the card, but the panels printed still show (NULL:
    // written by an older version, unknown).
    r#"
    ALTER TABLE attempts ADD COLUMN panels_before INTEGER;
    "#,
    // 8: who acted, as a `cetak_model::Actor` (JSON): the district's own
    // commands (a resume) are the district's, not uid 0's, so `uid` may be
    // empty. Rows of earlier versions were users, named by their uid.
    r#"
    CREATE TABLE operator_actions_8 (
        id     INTEGER PRIMARY KEY,
        at     INTEGER NOT NULL,
        uid    INTEGER,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        job_id TEXT,
        detail TEXT NOT NULL
    );
    INSERT INTO operator_actions_8 (id, at, uid, actor, action, job_id, detail)
        SELECT id, at, uid, json_object('kind', 'user', 'uid', uid, 'name', CAST(uid AS TEXT)), action, job_id, detail
        FROM operator_actions;
    DROP TABLE operator_actions;
    ALTER TABLE operator_actions_8 RENAME TO operator_actions;
    "#,
];
