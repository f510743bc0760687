-- Offices as they are, the district side.
-- A station's refusal of a job (a replay, a payload it cannot read, a bad
-- envelope) is never the job's final result: the job waits in 'refused',
-- with the station's reason, for an officer to reissue or close it.
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('held', 'pending', 'assigned', 'done', 'cancelled', 'refused'));
ALTER TABLE jobs ADD COLUMN refusal TEXT;
ALTER TABLE jobs ADD COLUMN refused_by TEXT;
-- A replaced print PC starts its ledger from zero: an officer's
-- 'stations reset-stock' begins a new chain; the events and alarms of the
-- old one stay for the audit, out of the fleet's stock.
ALTER TABLE stations ADD COLUMN stock_chain INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stock_events ADD COLUMN chain INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stock_alarms ADD COLUMN chain INTEGER NOT NULL DEFAULT 0;
-- A job signed anew (its key revoked) is sent again; a station's
-- confirmation of the earlier delivery, crossing it, must not count for it.
ALTER TABLE jobs ADD COLUMN resend BOOLEAN NOT NULL DEFAULT false;
