-- The operator: tokens that may change what belongs to the whole instance (the catalog), and
-- an instance-level audit log of what the operator did, append-only like the tenants' log.
CREATE TABLE operator_tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE operator_audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    summary     TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
CREATE FUNCTION operator_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the operator audit log is append-only';
END;
$$;
CREATE TRIGGER operator_audit_log_no_change BEFORE UPDATE OR DELETE ON operator_audit_log
    FOR EACH ROW EXECUTE FUNCTION operator_audit_log_append_only();

-- Organization names are unique, ignoring case and surrounding spaces. Older databases may hold
-- duplicates: every duplicate but the oldest gets its tenant id appended to its name, and the
-- rename is recorded in that organization's audit log.
ALTER TABLE tenants ADD COLUMN name_key TEXT NOT NULL DEFAULT '';

INSERT INTO audit_log (tenant_id, at, actor_id, actor, action, target_type, target_id, summary, before_json, after_json)
SELECT t.id, (extract(epoch FROM now()) * 1000000)::BIGINT, NULL, 'system', 'tenant.update', 'tenant', t.id,
       'Organization renamed to ''' || t.name || ' (' || t.id || ')'': another organization has the same name, and names are unique now',
       json_build_object('name', t.name)::TEXT, json_build_object('name', t.name || ' (' || t.id || ')')::TEXT
FROM tenants t
WHERE EXISTS (SELECT 1 FROM tenants o WHERE lower(trim(o.name)) = lower(trim(t.name))
              AND (o.created_at < t.created_at OR (o.created_at = t.created_at AND o.id < t.id)));

UPDATE tenants SET name = name || ' (' || id || ')'
WHERE EXISTS (SELECT 1 FROM tenants o WHERE lower(trim(o.name)) = lower(trim(tenants.name))
              AND (o.created_at < tenants.created_at OR (o.created_at = tenants.created_at AND o.id < tenants.id)));

UPDATE tenants SET name_key = lower(trim(name));
CREATE UNIQUE INDEX tenants_name_key ON tenants (name_key);
