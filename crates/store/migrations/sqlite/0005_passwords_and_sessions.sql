-- Local sign-in. A user's password as an argon2id PHC string, kept apart from the users table so
-- that no query of users can return it; force_change: the user must choose a new one first.
CREATE TABLE credentials (
    user_id       TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    password_hash TEXT NOT NULL,
    force_change  INTEGER NOT NULL,
    changed_at    INTEGER NOT NULL
);

-- Server-side sessions of the admin center. Only a SHA-256 hash of the cookie's secret is stored.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash         TEXT NOT NULL UNIQUE,
    csrf_token   TEXT NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Failed sign-ins per lower-cased user name (known or not), for slowing down guessing.
CREATE TABLE sign_in_throttle (
    name_key       TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,
    last_failed_at INTEGER NOT NULL,
    locked_until   INTEGER
);
CREATE INDEX sign_in_throttle_last ON sign_in_throttle (last_failed_at);

-- Sign-in looks a user name up across organizations.
CREATE INDEX users_upn_lower ON users (upn_lower);
