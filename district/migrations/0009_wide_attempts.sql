-- A station's attempt number is an unsigned 32-bit integer on the wire:
-- stored whole, never cast into a signed 32-bit column (4294967295 was
-- stored as -1).
ALTER TABLE results ALTER COLUMN attempt TYPE BIGINT;
ALTER TABLE held_reports ALTER COLUMN attempt TYPE BIGINT;
ALTER TABLE stock_events ALTER COLUMN attempt TYPE BIGINT;
