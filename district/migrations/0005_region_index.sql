-- Fair shares look up a region's stations on every poll: with thousands of
-- stations that must not scan them all.
CREATE INDEX stations_by_region ON stations USING GIN (regions);
