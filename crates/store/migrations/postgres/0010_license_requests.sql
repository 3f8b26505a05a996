-- License requests (REQ1–REQ6).

-- The organization's request settings: its own request process (REQ2), how long share links
-- work (REQ5) and how long requests are kept (REQ6). No row: the defaults.
CREATE TABLE license_request_settings (
    tenant_id                TEXT PRIMARY KEY,
    use_organization_process BIGINT NOT NULL DEFAULT 0,
    message                  TEXT,
    documentation_url        TEXT,
    link_expiry_days         BIGINT NOT NULL DEFAULT 14,
    retention_months         BIGINT NOT NULL DEFAULT 12,
    updated_at BIGINT NOT NULL
);

-- A request: who asked for which product, and (once Completed) the decision.
CREATE TABLE license_requests (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    sku_id            TEXT NOT NULL,
    requester_id      TEXT NOT NULL,
    requester_upn     TEXT NOT NULL,
    note              TEXT,
    status            TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by        TEXT,
    outcome           TEXT,
    decision_sku_id   TEXT,
    decision_message  TEXT,
    decision_group_id TEXT
);
-- One open request per requester and product.
CREATE UNIQUE INDEX license_requests_open ON license_requests (tenant_id, requester_id, sku_id)
    WHERE status = 'Pending';
CREATE INDEX license_requests_list ON license_requests (tenant_id, status, created_at, id);
CREATE INDEX license_requests_all ON license_requests (tenant_id, created_at, id);
CREATE INDEX license_requests_requester ON license_requests (requester_id, created_at);

-- The users on a request (the requester first), with the decision for each.
CREATE TABLE license_request_users (
    request_id TEXT NOT NULL REFERENCES license_requests(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    upn        TEXT NOT NULL,
    position   BIGINT NOT NULL,
    verdict    TEXT,
    PRIMARY KEY (request_id, user_id)
);

-- A share link (REQ5): one per recipient and share, single use; the recommendation it gave.
CREATE TABLE license_request_links (
    id             TEXT PRIMARY KEY,
    request_id     TEXT NOT NULL REFERENCES license_requests(id) ON DELETE CASCADE,
    tenant_id      TEXT NOT NULL,
    recipient_id   TEXT NOT NULL,
    recipient_upn  TEXT NOT NULL,
    shared_by      TEXT NOT NULL,
    shared_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    verdict        TEXT,
    comment        TEXT
);
CREATE INDEX license_request_links_request ON license_request_links (request_id, shared_at);

-- Secrets every server of the deployment shares (the share links' signing key).
CREATE TABLE deployment_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Share recipients are found by e-mail address.
CREATE INDEX users_mail_lower ON users (tenant_id, LOWER(mail));
