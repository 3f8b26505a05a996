//! The users a batch of license changes names, with their licenses, those licenses' group
//! sources and how their pools stand, read in one statement (L1–L6, SUB3). A batch reads its users this way rather than in
//! three statements: on SQLite each statement is a round trip to the connection's thread, and
//! those round trips, not the reads, were most of a small batch's time.

use crate::group_licenses::{SOURCE_COLS, Source, map_source, sources_part};
use crate::subscriptions::{COVERAGE_COLS, PoolCoverage, coverage_part, map_coverage};
use crate::{Conn, Result, assignments, bulk, directory};
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
/// (of `tenant`) stand, in one statement. With `lock` the users' rows, then the pools' rows,
/// are locked in id order until the transaction ends (PostgreSQL); without it (SQLite, whose
/// one writer excludes the others) the pools of the users' licenses are read too. Ids of no user of
/// `tenant` are left out, and so are their licenses and sources.
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
    let lock_rows = if lock {
        directory::lock_in_id_order(conn)
    } else {
        ""
    };
    let sql = bulk::json_parts(&[
        directory::users_part(conn, lock_rows),
        assignments::of_users_part(conn),
        sources_part(conn, 2),
        // Unlocked (SQLite), the pools of the users' licenses too, for the answer's seat
        // states; locked (PostgreSQL), only the pools asked for.
        coverage_part(conn, 3, (!lock).then_some(2), lock_rows),
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
