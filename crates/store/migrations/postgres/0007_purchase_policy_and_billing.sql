-- Self-service purchase policy (POL1): the organization's default for products it has not set,
-- and the products it has set. Products are kept by skuId; the catalog gives their productId.
ALTER TABLE tenants ADD COLUMN purchase_policy_default TEXT NOT NULL DEFAULT 'Enabled';

CREATE TABLE purchase_policies (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    sku_id     TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sku_id)
);

-- Cards (BILL2): what the payment provider returned and what the card holder typed, never the
-- full number or the security code. owner_user_id NULL: the organization's central account.
CREATE TABLE payment_methods (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    owner_user_id       TEXT REFERENCES users(id) ON DELETE CASCADE,
    brand               TEXT NOT NULL,
    last4               TEXT NOT NULL,
    expiry_month        BIGINT NOT NULL,
    expiry_year         BIGINT NOT NULL,
    name_on_card        TEXT NOT NULL,
    address_line1       TEXT NOT NULL,
    address_city        TEXT NOT NULL,
    address_postal_code TEXT NOT NULL,
    address_country     TEXT NOT NULL,
    provider_token      TEXT NOT NULL,
    created_at          BIGINT NOT NULL
);
CREATE INDEX payment_methods_owner ON payment_methods (tenant_id, owner_user_id);

-- Billing accounts (BILL1): the organization's central one (owner_user_id NULL) and one per
-- self-service purchaser, each with its billing profile.
CREATE TABLE billing_accounts (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    owner_user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, owner_user_id)
);
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
    created_at          BIGINT NOT NULL
);
CREATE INDEX billing_profiles_method ON billing_profiles (payment_method_id);
