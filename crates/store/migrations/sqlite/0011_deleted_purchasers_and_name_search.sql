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

-- The words a user is found by besides the start of their display name and user name: every
-- word of the display name (lower case) and their mail address (lower case), each searched by
-- prefix. Written only by the store's directory module; filled for existing users after this
-- migration runs.
CREATE TABLE user_words (
    tenant_id TEXT NOT NULL,
    word      TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, word, user_id)
);
CREATE INDEX user_words_user ON user_words (user_id);
