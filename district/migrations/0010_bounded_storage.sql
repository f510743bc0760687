-- A station's raw stock reports were kept whole, every copy, even those
-- that raised a chain alarm: the events live in stock_events, and a report
-- that raises an alarm is kept once, with the alarm, as its evidence.
ALTER TABLE stock_alarms ADD COLUMN evidence JSONB;
DROP TABLE stock_reports;
