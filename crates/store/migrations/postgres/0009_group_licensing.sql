-- Group-based licensing (L6).

-- The plans the direct assignment turns off (NULL when the license is not assigned directly);
-- disabled_plans stays what the user holds: the plans every source turns off.
ALTER TABLE assignments ADD COLUMN direct_disabled_plans TEXT;
UPDATE assignments SET direct_disabled_plans = disabled_plans WHERE direct = 1;

-- Products assigned to a group: every member holds them with the group as a source. A group
-- with products cannot be deleted (its products are removed first).
CREATE TABLE group_licenses (
    group_id       TEXT NOT NULL REFERENCES groups(id),
    tenant_id      TEXT NOT NULL,
    sku_id         TEXT NOT NULL,
    disabled_plans TEXT NOT NULL,
    assigned_at    BIGINT NOT NULL,
    PRIMARY KEY (group_id, sku_id)
);
CREATE INDEX group_licenses_tenant ON group_licenses (tenant_id, sku_id);

-- A group as the source of a member's license: one row per member, group and product, in
-- state 'Active' (the license counts it as a source) or 'Error' (error says why; no seat).
CREATE TABLE license_sources (
    user_id        TEXT NOT NULL,
    group_id       TEXT NOT NULL,
    sku_id         TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    state          TEXT NOT NULL,
    error          TEXT,
    disabled_plans TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (user_id, group_id, sku_id)
);
CREATE INDEX license_sources_group ON license_sources (group_id, state, user_id);
CREATE INDEX license_sources_tenant_errors ON license_sources (tenant_id, state, group_id);

-- Background license processing (group assignments, bulk membership, reprocess), resumable:
-- each step commits its changes together with the cursor, under a claim with a lease.
CREATE TABLE license_jobs (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    group_id      TEXT,
    actor_id      TEXT,
    actor         TEXT NOT NULL,
    state         TEXT NOT NULL,
    total         BIGINT NOT NULL,
    processed     BIGINT NOT NULL DEFAULT 0,
    errors        BIGINT NOT NULL DEFAULT 0,
    cursor_at     BIGINT,
    cursor_user   TEXT,
    payload       TEXT,
    message       TEXT,
    claim_token   TEXT,
    claimed_until BIGINT,
    created_at    BIGINT NOT NULL,
    started_at    BIGINT,
    finished_at   BIGINT
);
CREATE INDEX license_jobs_open ON license_jobs (state, created_at);
CREATE INDEX license_jobs_tenant ON license_jobs (tenant_id, created_at);
CREATE INDEX license_jobs_group ON license_jobs (group_id, created_at);
CREATE INDEX group_members_order ON group_members (group_id, added_at, user_id);
