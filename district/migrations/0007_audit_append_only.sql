-- The audit trail takes inserts only. No role may change or delete a row,
-- the application's own included: a trigger refuses UPDATE, DELETE and
-- TRUNCATE (only the table's owner could drop it, and that shows in the
-- database's own log), and the privileges are revoked from everyone.

CREATE FUNCTION audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM PUBLIC;
