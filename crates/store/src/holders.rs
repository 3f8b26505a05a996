//! The users a batch of license changes names, with their licenses, those licenses' group
//! sources and how their pools stand, read in one statement (L1–L6, SUB3; on PostgreSQL after
//! one that locks the rows). A batch reads its users this way rather than in three
//! statements: on SQLite each statement is a round trip to the connection's thread, and those
//! round trips, not the reads, were most of a small batch's time.

use crate::group_licenses::{SOURCE_COLS, Source, map_source, sources_part};
use crate::subscriptions::{COVERAGE_COLS, PoolCoverage, coverage_part, map_coverage};
use crate::{Conn, Result, assignments, bulk, directory, subscriptions};
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::directory::User;
use seatkeeper_domain::{PoolId, TenantId, UserId};

/// What [`read`] returns: the users found (in id order), their licenses (per user in the
/// order they were assigned), their licenses' group sources, and how the pools of their
/// licenses and the other pools asked for stand (in id order).
#[derive(Debug, Default)]
pub struct Holders {
    pub users: Vec<User>,
    pub licenses: Vec<Assignment>,
    pub sources: Vec<Source>,
    pub pools: Vec<PoolCoverage>,
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
) -> Result<Holders> {
    if ids.is_empty() && pools.is_empty() {
        return Ok(Holders::default());
    }
    if lock {
        lock_rows(conn, tenant, ids, pools).await?;
    }
    let sql = bulk::json_parts(&[
        directory::users_part(conn, ""),
        assignments::of_users_part(conn),
        sources_part(conn, 2),
        // The pools of the users' licenses too, for the answer's seat states.
        coverage_part(conn, 3, Some(2)),
    ]);
    let sql = crate::begun(sql, begin);
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(bulk::text_list(ids))
        .bind(bulk::text_list(pools));
    let parts = bulk::fetch_parts(
        conn,
        q,
        &[
            directory::USER_COLS,
            assignments::COLS,
            SOURCE_COLS,
            COVERAGE_COLS,
        ],
    )
    .await?;
    let [users, licenses, sources, pools] = <[_; 4]>::try_from(parts)
        .map_err(|_| sqlx::Error::Protocol("expected four parts".into()))?;
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
