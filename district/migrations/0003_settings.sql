-- Settings the service records for the officers' commands: the TLS CA
-- (its fingerprint goes with every enrolment code).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
