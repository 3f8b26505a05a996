-- The Licensed / Unlicensed filters of Active users no longer read a count kept on the user:
-- every license written or removed rewrote the user's row and its entries in two name-ordered
-- indexes, random pages that were most of the work of licensing a large group. Instead, the
-- users who hold no license are listed in a narrow table keyed by user: licensing a user
-- removes one small entry there (in user-id order in a group job), and "are there unlicensed
-- users at all" is one index probe. The triggers keep it whatever writes users or licenses
-- (the server, a directory sync, a seed), in the same statement.
DROP INDEX users_tenant_licensed;
DROP INDEX users_tenant_license_count;
ALTER TABLE users DROP COLUMN license_count;

CREATE TABLE unlicensed_users (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
) WITHOUT ROWID;
INSERT INTO unlicensed_users (tenant_id, user_id)
    SELECT u.tenant_id, u.id FROM users u
    WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = u.id);

-- A new user holds nothing yet (a license needs its user first).
CREATE TRIGGER unlicensed_users_user_in AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO unlicensed_users (tenant_id, user_id) VALUES (NEW.tenant_id, NEW.id);
END;
CREATE TRIGGER unlicensed_users_user_out AFTER DELETE ON users BEGIN
    DELETE FROM unlicensed_users WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id;
END;
-- A license makes its user licensed; removing the last one makes them unlicensed again.
-- The user is still there: the foreign key keeps a user who holds licenses from being deleted.
CREATE TRIGGER unlicensed_users_license_in AFTER INSERT ON assignments BEGIN
    DELETE FROM unlicensed_users WHERE tenant_id = NEW.tenant_id AND user_id = NEW.user_id;
END;
CREATE TRIGGER unlicensed_users_license_out AFTER DELETE ON assignments
WHEN NOT EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = OLD.user_id) BEGIN
    INSERT OR IGNORE INTO unlicensed_users (tenant_id, user_id) VALUES (OLD.tenant_id, OLD.user_id);
END;
