-- Times are microseconds since the Unix epoch (UTC); ids are UUID text; flags are 0/1.
CREATE TABLE catalog (
    id        BIGINT PRIMARY KEY CHECK (id = 1),
    version   BIGINT NOT NULL,
    name      TEXT NOT NULL,
    source    TEXT NOT NULL,
    loaded_at BIGINT NOT NULL
);

CREATE TABLE tenants (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    default_usage_location TEXT,
    currency               TEXT NOT NULL,
    created_at             BIGINT NOT NULL
);

CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    upn              TEXT NOT NULL,
    upn_lower        TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    given_name       TEXT,
    surname          TEXT,
    mail             TEXT,
    mail_nickname    TEXT,
    job_title        TEXT,
    department       TEXT,
    user_type        TEXT NOT NULL,
    usage_location   TEXT,
    account_enabled  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, upn_lower)
);
CREATE INDEX users_tenant_id ON users (tenant_id, id);
CREATE INDEX users_tenant_name ON users (tenant_id, display_name);

CREATE TABLE user_roles (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE groups (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    display_name     TEXT NOT NULL,
    description      TEXT,
    mail_nickname    TEXT,
    mail_enabled     BIGINT NOT NULL,
    security_enabled BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX groups_tenant ON groups (tenant_id, id);

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    added_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX tokens_user ON tokens (user_id);

-- A pool is where seats come from: one central pool per tenant and product, one per self-service subscription.
-- total = licenses of its Active and Expired subscriptions; assigned is kept in the same transaction as assignments.
CREATE TABLE pools (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    sku_id    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    total     BIGINT NOT NULL DEFAULT 0 CHECK (total >= 0),
    assigned  BIGINT NOT NULL DEFAULT 0 CHECK (assigned >= 0)
);
CREATE UNIQUE INDEX pools_central ON pools (tenant_id, sku_id) WHERE kind = 'central';

CREATE TABLE subscriptions (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants(id),
    sku_id               TEXT NOT NULL,
    pool_id              TEXT NOT NULL REFERENCES pools(id),
    origin               TEXT NOT NULL,
    purchaser_id         TEXT,
    commerce_id          TEXT NOT NULL,
    quantity             BIGINT NOT NULL CHECK (quantity >= 0),
    billing_frequency    TEXT NOT NULL,
    recurring            BIGINT NOT NULL,
    is_trial             BIGINT NOT NULL,
    status               TEXT NOT NULL,
    status_since         BIGINT NOT NULL,
    cancelled            BIGINT NOT NULL,
    cancel_reason        TEXT,
    created_at           BIGINT NOT NULL,
    term_start           BIGINT NOT NULL,
    term_end             BIGINT NOT NULL,
    last_added_at        BIGINT NOT NULL,
    expiring_notice_for  BIGINT
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id, sku_id);
CREATE INDEX subscriptions_due ON subscriptions (status, term_end);

CREATE TABLE assignments (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id),
    sku_id         TEXT NOT NULL,
    -- No foreign key to pools: on PostgreSQL every insert would share-lock the one hot pool
    -- row that the same transaction updates. The app writes the pool it resolved.
    pool_id        TEXT NOT NULL,
    disabled_plans TEXT NOT NULL,
    direct         BIGINT NOT NULL,
    assigned_at    BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (user_id, sku_id)
);
CREATE INDEX assignments_sku ON assignments (tenant_id, sku_id, user_id);
CREATE INDEX assignments_pool ON assignments (pool_id, assigned_at);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
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
CREATE INDEX audit_tenant ON audit_log (tenant_id, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    dedupe_key      TEXT UNIQUE,
    kind            TEXT NOT NULL,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    sent_at         BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_tenant ON outbox (tenant_id, created_at);
