-- Stations' consumables ledgers as the district holds them: every event
-- received, chained; the head each station's chain has reached; and alarms
-- when a report does not grow from that head (a rewritten history).
CREATE TABLE stock_events (
    station   TEXT NOT NULL,
    seq       BIGSERIAL,
    hash      TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    location  TEXT NOT NULL,
    item      TEXT NOT NULL,
    quantity  BIGINT NOT NULL,
    job_id    TEXT,
    attempt   INTEGER,
    detail    TEXT NOT NULL,
    PRIMARY KEY (station, hash)
);
ALTER TABLE stations ADD COLUMN stock_head TEXT;
CREATE TABLE stock_alarms (
    station     TEXT NOT NULL,
    bad_hash    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (station, bad_hash)
);
