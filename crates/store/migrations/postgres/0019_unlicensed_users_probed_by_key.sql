-- The triggers that take users off the unlicensed list found them with a nested loop whose
-- outer side was a scan of the whole of unlicensed_users' key: the planner thinks that table
-- is nearly empty (it is, once a directory is licensed), but its index still holds an entry
-- for every user licensed since the last vacuum. After 100,000 users were licensed, each
-- license change spent 4.4 ms stepping over those entries. Now each of the statement's users
-- is looked up by the whole key (the subquery with OFFSET 0 is not flattened, so it runs once
-- per user with both columns bound), and the rows found are deleted by their location.
CREATE OR REPLACE FUNCTION unlicensed_users_license_in() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
BEGIN
    DELETE FROM unlicensed_users
        WHERE ctid = ANY (ARRAY(
            SELECT x.ctid FROM (SELECT DISTINCT tenant_id, user_id FROM new_licenses) n
            CROSS JOIN LATERAL (
                SELECT u.ctid FROM unlicensed_users u
                WHERE u.tenant_id = n.tenant_id AND u.user_id = n.user_id
                OFFSET 0) x));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION unlicensed_users_user_out() RETURNS trigger LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
BEGIN
    DELETE FROM unlicensed_users
        WHERE ctid = ANY (ARRAY(
            SELECT x.ctid FROM (SELECT DISTINCT tenant_id, id FROM old_users) o
            CROSS JOIN LATERAL (
                SELECT u.ctid FROM unlicensed_users u
                WHERE u.tenant_id = o.tenant_id AND u.user_id = o.id
                OFFSET 0) x));
    RETURN NULL;
END $$;
