-- Partners (SPEC section 2): a user of another organization acting on behalf of a customer
-- organization with the roles its Global admin delegated to them there. Revoking is deleting
-- the rows; a deleted partner user takes their delegations with them.
CREATE TABLE partner_roles (
    customer_tenant_id TEXT NOT NULL REFERENCES tenants(id),
    partner_user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role               TEXT NOT NULL,
    granted_at         BIGINT NOT NULL,
    PRIMARY KEY (customer_tenant_id, partner_user_id, role)
);
CREATE INDEX partner_roles_user ON partner_roles (partner_user_id);

-- A partner's token acts in this customer organization (NULL: in the user's own).
ALTER TABLE tokens ADD COLUMN acting_tenant_id TEXT REFERENCES tenants(id);
