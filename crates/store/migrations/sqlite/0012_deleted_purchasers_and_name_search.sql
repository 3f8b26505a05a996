-- Who bought a self-service subscription, kept when their account is deleted (SS3: admins
-- still see "Ada Lovelace (deleted user)" on the subscriptions they bought).
CREATE TABLE deleted_purchasers (
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    display_name TEXT NOT NULL,
    upn          TEXT NOT NULL,
    deleted_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
