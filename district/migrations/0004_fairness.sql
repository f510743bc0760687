-- Part two of the queue: a station's printer readiness (from its last
-- heartbeat) for fair shares, and a sister's request that a station give
-- back jobs it has not rendered yet.
ALTER TABLE stations ADD COLUMN ready BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE jobs ADD COLUMN release_asked BOOLEAN NOT NULL DEFAULT false;
