-- Users listed and searched by name whatever the case: name_lower is the display name in lower
-- case, written by the server (Unicode rules) with every insert and update of a user. It compares
-- by code point (COLLATE "C") whatever the database's collation, so that a prefix is one index
-- range and the order is the same as on SQLite. This fill uses lower(), which under the C
-- collation folds ASCII only; the server lower-cases the other names again right after this
-- migration. license_count is how many licenses the user holds, kept in the same transaction as
-- the assignments, so that "unlicensed" and "licensed" are index ranges.
ALTER TABLE users ADD COLUMN name_lower TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN license_count INTEGER NOT NULL DEFAULT 0;
UPDATE users SET name_lower = lower(display_name),
    license_count = (SELECT COUNT(*) FROM assignments a WHERE a.user_id = users.id);

DROP INDEX users_tenant_name;
-- Name order and name search: (name_lower, id) is the order and the paging key.
CREATE INDEX users_tenant_name ON users (tenant_id, name_lower, id);
-- Unlicensed users (license_count = 0), or any exact count, in name order.
CREATE INDEX users_tenant_license_count ON users (tenant_id, license_count, name_lower, id);
-- Licensed users in name order (queries say `license_count > 0` literally to use it).
CREATE INDEX users_tenant_licensed ON users (tenant_id, name_lower, id) WHERE license_count > 0;
-- Guests (or members) in name order.
CREATE INDEX users_tenant_type ON users (tenant_id, user_type, name_lower, id);
