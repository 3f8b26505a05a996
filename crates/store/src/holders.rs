//! The users a batch of license changes names, with their licenses, those licenses' group
//! sources and how their pools stand, read in one statement (L1–L6, SUB3; on PostgreSQL after
//! one that locks the rows). A batch reads its users this way rather than in three
//! statements: on SQLite each statement is a round trip to the connection's thread, and those
//! round trips, not the reads, were most of a small batch's time.

use crate::group_licenses::{SOURCE_COLS, Source, map_source, sources_part};
use crate::subscriptions::{COVERAGE_COLS, PoolCoverage, coverage_part, map_coverage};
use crate::tokens::{CREDENTIAL_COLS, Credentials, credentials_part};
use crate::{Conn, Result, assignments, bulk, directory, subscriptions, tokens};
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::directory::User;
use seatkeeper_domain::{PoolId, TenantId, UserId};

/// What [`read`] returns: the users found (in id order), their licenses (per user in the
/// order they were assigned), their licenses' group sources, how the pools of their
/// licenses and the other pools asked for stand (in id order), and the credentials of the
/// tokens asked for, by hash (as [`tokens::credentials`] gives them).
#[derive(Debug, Default)]
pub struct Holders {
    pub users: Vec<User>,
    pub licenses: Vec<Assignment>,
    pub sources: Vec<Source>,
    pub pools: Vec<PoolCoverage>,
    pub credentials: Credentials,
}

/// The users of `tenant` among `ids` with their licenses and group sources, and how `pools`
/// (of `tenant`) and the pools of the users' licenses stand. Without `lock` (SQLite, whose one
/// writer excludes the others) in one statement. With it (PostgreSQL) the users' rows, then
/// the rows of `pools`, are locked first, in id order, in a statement of their own, until the
/// transaction ends; the read, a statement begun once the locks are held, then sees whatever
/// another transaction that held them committed (a statement that waits for a lock still reads
/// the other tables as they were when it began: one read would miss a license another server
/// had just given a user, and check the plans of the user's other licenses without it). Ids
/// of no user of `tenant` are left out, and so are their licenses and sources.
///
/// The credentials of the tokens stored under `hashes` (of any organization) are read in the
/// same statement: a batch of license changes whose bearers' organizations are known
/// authenticates them without a round trip of its own. Hashes of no token are left out.
///
/// With `begin` (SQLite, on a connection with no transaction open) the statement begins the
/// transaction first ([`crate::SQLITE_BEGIN`]), in the same round trip to the connection's
/// thread; `begin` is then set to false. With nothing to read it is left as it is and no
/// statement runs.
pub async fn read(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[UserId],
    pools: &[PoolId],
    lock: bool,
    begin: &mut bool,
    hashes: &[&str],
) -> Result<Holders> {
    if ids.is_empty() && pools.is_empty() && hashes.is_empty() {
        return Ok(Holders::default());
    }
    if lock && !(ids.is_empty() && pools.is_empty()) {
        lock_rows(conn, tenant, ids, pools).await?;
    }
    let mut parts = vec![
        directory::users_part(conn, ""),
        assignments::held_part(conn),
        sources_part(conn, 2),
        // The pools of the users' licenses too, for the answer's seat states.
        coverage_part(conn, 3, Some(assignments::HELD)),
    ];
    let mut cols = vec![
        directory::USER_COLS,
        assignments::COLS,
        SOURCE_COLS,
        COVERAGE_COLS,
    ];
    if !hashes.is_empty() {
        parts.push(credentials_part(conn, 4));
        cols.push(CREDENTIAL_COLS);
    }
    let sql = format!(
        "WITH {} {}",
        assignments::held_cte(conn),
        bulk::json_parts(&parts)
    );
    let sql = crate::begun(sql, begin);
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(bulk::text_list(ids))
        .bind(bulk::text_list(pools));
    if !hashes.is_empty() {
        q = q.bind(bulk::text_list(hashes));
    }
    let mut parts = bulk::fetch_parts(conn, q, &cols).await?.into_iter();
    let (Some(users), Some(licenses), Some(sources), Some(pools)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(sqlx::Error::Protocol("expected four parts".into()));
    };
    let credentials = match parts.next() {
        Some(rows) => tokens::by_hash(&rows)?,
        None => Credentials::new(),
    };
    let users = users
        .iter()
        .map(directory::map_user)
        .collect::<Result<Vec<_>>>()?;
    let found: std::collections::HashSet<UserId> = users.iter().map(|u| u.id).collect();
    let sources = sources
        .iter()
        .map(map_source)
        .filter(|s| s.as_ref().map_or(true, |s| found.contains(&s.user_id)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Holders {
        users,
        licenses: licenses
            .iter()
            .map(assignments::map)
            .collect::<Result<Vec<_>>>()?,
        sources,
        pools: pools.iter().map(map_coverage).collect::<Result<Vec<_>>>()?,
        credentials,
    })
}

/// Locks the rows of the users of `tenant` among `ids`, then those of `pools`, each in id
/// order, in one statement (PostgreSQL): concurrent changes of one user queue, and never
/// deadlock on these rows. The pools are locked in [`subscriptions::POOL_LOCK`]'s mode. The
/// pools' scan waits for the users' count (a condition evaluated once, before its first row),
/// so the users are locked first whatever order the select list runs in.
async fn lock_rows(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[UserId],
    pools: &[PoolId],
) -> Result<()> {
    let sql = format!(
        "WITH u AS (SELECT COUNT(*) AS n FROM (SELECT id FROM users WHERE tenant_id = $1 AND id IN ({}) ORDER BY id FOR UPDATE) AS locked)
         SELECT (SELECT n FROM u) AS users, (SELECT COUNT(*) FROM (SELECT id FROM pools WHERE tenant_id = $1 AND id IN ({}) AND (SELECT n FROM u) >= 0 ORDER BY id {}) AS locked) AS pools",
        bulk::texts(conn, 2),
        bulk::texts(conn, 3),
        subscriptions::POOL_LOCK
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(bulk::text_list(ids))
        .bind(bulk::text_list(pools))
        .execute(&mut *conn)
        .await?;
    Ok(())
}
