-- Billing records outlive their owner (BILL1, BILL2): a purchaser's billing account, its
-- billing profile and their cards are kept when their user account is deleted, so admins still
-- see who paid for what and with which card. owner_user_id stays the deleted user's id; their
-- name is kept in deleted_purchasers. SQLite cannot drop a foreign key, so the two owned tables
-- are rebuilt without it (the profiles are set aside first: dropping a referenced table would
-- run its ON DELETE actions on them).
CREATE TABLE billing_profiles_kept AS SELECT * FROM billing_profiles;
DROP TABLE billing_profiles;

CREATE TABLE payment_methods_new (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    owner_user_id       TEXT,
    brand               TEXT NOT NULL,
    last4               TEXT NOT NULL,
    expiry_month        INTEGER NOT NULL,
    expiry_year         INTEGER NOT NULL,
    name_on_card        TEXT NOT NULL,
    address_line1       TEXT NOT NULL,
    address_city        TEXT NOT NULL,
    address_postal_code TEXT NOT NULL,
    address_country     TEXT NOT NULL,
    provider_token      TEXT NOT NULL,
    created_at          INTEGER NOT NULL
);
INSERT INTO payment_methods_new (id, tenant_id, owner_user_id, brand, last4, expiry_month, expiry_year,
    name_on_card, address_line1, address_city, address_postal_code, address_country, provider_token, created_at)
SELECT id, tenant_id, owner_user_id, brand, last4, expiry_month, expiry_year,
    name_on_card, address_line1, address_city, address_postal_code, address_country, provider_token, created_at
FROM payment_methods;
DROP TABLE payment_methods;
ALTER TABLE payment_methods_new RENAME TO payment_methods;
CREATE INDEX payment_methods_owner ON payment_methods (tenant_id, owner_user_id);

CREATE TABLE billing_accounts_new (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    owner_user_id TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, owner_user_id)
);
INSERT INTO billing_accounts_new (id, tenant_id, owner_user_id, created_at)
SELECT id, tenant_id, owner_user_id, created_at FROM billing_accounts;
DROP TABLE billing_accounts;
ALTER TABLE billing_accounts_new RENAME TO billing_accounts;
CREATE UNIQUE INDEX billing_accounts_central ON billing_accounts (tenant_id) WHERE owner_user_id IS NULL;

CREATE TABLE billing_profiles (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    account_id          TEXT NOT NULL UNIQUE REFERENCES billing_accounts(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    address_line1       TEXT NOT NULL,
    address_city        TEXT NOT NULL,
    address_postal_code TEXT NOT NULL,
    address_country     TEXT NOT NULL,
    currency            TEXT NOT NULL,
    invoice_email       TEXT NOT NULL,
    payment_method_id   TEXT REFERENCES payment_methods(id) ON DELETE SET NULL,
    created_at          INTEGER NOT NULL
);
INSERT INTO billing_profiles (id, tenant_id, account_id, name, address_line1, address_city,
    address_postal_code, address_country, currency, invoice_email, payment_method_id, created_at)
SELECT id, tenant_id, account_id, name, address_line1, address_city,
    address_postal_code, address_country, currency, invoice_email, payment_method_id, created_at
FROM billing_profiles_kept;
DROP TABLE billing_profiles_kept;
CREATE INDEX billing_profiles_method ON billing_profiles (payment_method_id);

-- The owners of billing accounts whose user accounts were deleted before this migration are
-- already gone with their records; from now on deleted_purchasers keeps the name of anyone
-- who bought a subscription or has a billing account.
