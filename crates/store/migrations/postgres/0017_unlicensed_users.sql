-- The Licensed / Unlicensed filters of Active users no longer read a count kept on the user:
-- every license written or removed made a new version of the user's row (the count was
-- indexed, so an entry in each of the table's eight indexes), random pages that were most of
-- the work of licensing a large group. Instead, the users who hold no license are listed in a
-- narrow table keyed by user: licensing a user removes one small entry there (in user-id order
-- in a group job), and "are there unlicensed users at all" is one index probe. The triggers
-- keep it whatever writes users or licenses (the server, a directory sync, a seed), once per
-- statement over the rows it wrote.
DROP INDEX users_tenant_licensed;
DROP INDEX users_tenant_license_count;
ALTER TABLE users DROP COLUMN license_count;

CREATE TABLE unlicensed_users (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
INSERT INTO unlicensed_users (tenant_id, user_id)
    SELECT u.tenant_id, u.id FROM users u
    WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = u.id);

-- The functions that join the statement's rows with a table probe that table's keys, one per
-- row: without the SET clauses the planner reads the whole table into a hash for each
-- statement (100,000 users, or a million licenses, for a step of 5,000 members).

-- A new user holds nothing yet (a license needs its user first).
CREATE FUNCTION unlicensed_users_user_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO unlicensed_users (tenant_id, user_id)
        SELECT tenant_id, id FROM new_users ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER unlicensed_users_user_in AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_users FOR EACH STATEMENT EXECUTE FUNCTION unlicensed_users_user_in();

CREATE FUNCTION unlicensed_users_user_out() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
BEGIN
    DELETE FROM unlicensed_users x USING old_users o
        WHERE x.tenant_id = o.tenant_id AND x.user_id = o.id;
    RETURN NULL;
END $$;
CREATE TRIGGER unlicensed_users_user_out AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_users FOR EACH STATEMENT EXECUTE FUNCTION unlicensed_users_user_out();

-- A license makes its user licensed; removing the last one makes them unlicensed again.
-- The user is still there: the foreign key keeps a user who holds licenses from being deleted. Every
-- change of a user's licenses holds that user's row lock (see `users_by_ids_locked`), so two
-- transactions never remove a user's last licenses at once without seeing each other.
CREATE FUNCTION unlicensed_users_license_in() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
BEGIN
    DELETE FROM unlicensed_users x USING new_licenses n
        WHERE x.tenant_id = n.tenant_id AND x.user_id = n.user_id;
    RETURN NULL;
END $$;
CREATE TRIGGER unlicensed_users_license_in AFTER INSERT ON assignments
    REFERENCING NEW TABLE AS new_licenses FOR EACH STATEMENT EXECUTE FUNCTION unlicensed_users_license_in();

CREATE FUNCTION unlicensed_users_license_out() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
BEGIN
    INSERT INTO unlicensed_users (tenant_id, user_id)
        SELECT DISTINCT o.tenant_id, o.user_id FROM old_licenses o
        WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = o.user_id)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER unlicensed_users_license_out AFTER DELETE ON assignments
    REFERENCING OLD TABLE AS old_licenses FOR EACH STATEMENT EXECUTE FUNCTION unlicensed_users_license_out();
