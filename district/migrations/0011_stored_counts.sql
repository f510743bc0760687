-- What each station has stored of its events and of its stock ledger,
-- counted as they are taken, so a report is checked against the station's
-- quotas without counting its rows every time.
ALTER TABLE stations ADD COLUMN events_stored BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stations ADD COLUMN stock_events_stored BIGINT NOT NULL DEFAULT 0;
UPDATE stations s SET
    events_stored = (SELECT count(*) FROM station_events e WHERE e.station = s.station),
    stock_events_stored = (SELECT count(*) FROM stock_events e WHERE e.station = s.station);
