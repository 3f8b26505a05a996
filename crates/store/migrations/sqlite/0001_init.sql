-- Times are microseconds since the Unix epoch (UTC); ids are UUID text; flags are 0/1.
CREATE TABLE catalog (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    version   INTEGER NOT NULL,
    name      TEXT NOT NULL,
    source    TEXT NOT NULL,
    loaded_at INTEGER NOT NULL
);

CREATE TABLE tenants (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    default_usage_location TEXT,
    currency               TEXT NOT NULL,
    created_at             INTEGER NOT NULL
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
    account_enabled  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    version          INTEGER NOT NULL DEFAULT 0,
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
    mail_enabled     INTEGER NOT NULL,
    security_enabled INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX groups_tenant ON groups (tenant_id, id);

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX tokens_user ON tokens (user_id);

-- A pool is where seats come from: one central pool per tenant and product, one per self-service subscription.
-- total = licenses of its Active and Expired subscriptions; assigned is kept in the same transaction as assignments.
CREATE TABLE pools (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    sku_id    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    total     INTEGER NOT NULL DEFAULT 0 CHECK (total >= 0),
    assigned  INTEGER NOT NULL DEFAULT 0 CHECK (assigned >= 0)
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
    quantity             INTEGER NOT NULL CHECK (quantity >= 0),
    billing_frequency    TEXT NOT NULL,
    recurring            INTEGER NOT NULL,
    is_trial             INTEGER NOT NULL,
    status               TEXT NOT NULL,
    status_since         INTEGER NOT NULL,
    cancelled            INTEGER NOT NULL,
    cancel_reason        TEXT,
    created_at           INTEGER NOT NULL,
    term_start           INTEGER NOT NULL,
    term_end             INTEGER NOT NULL,
    last_added_at        INTEGER NOT NULL,
    expiring_notice_for  INTEGER
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
    direct         INTEGER NOT NULL,
    assigned_at    INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (user_id, sku_id)
);
CREATE INDEX assignments_sku ON assignments (tenant_id, sku_id, user_id);
CREATE INDEX assignments_pool ON assignments (pool_id, assigned_at);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    at          INTEGER NOT NULL,
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
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    dedupe_key      TEXT UNIQUE,
    kind            TEXT NOT NULL,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    sent_at         INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_tenant ON outbox (tenant_id, created_at);
