//! License assignments (a license held by a user).

use crate::{Conn, Result, bulk, flag, get_bool, get_id, get_str, get_time, us};
pub use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::{AssignmentId, PlanId, PoolId, TenantId, Time, UserId};

pub fn encode_plans(p: &[PlanId]) -> String {
    p.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn decode_plans(s: &str) -> Vec<PlanId> {
    s.split(',').filter_map(PlanId::parse).collect()
}

/// The columns of a license that [`map`] reads.
pub(crate) const COLS: &[&str] = &[
    "id",
    "tenant_id",
    "user_id",
    "sku_id",
    "pool_id",
    "disabled_plans",
    "direct",
    "direct_disabled_plans",
    "assigned_at",
    "updated_at",
];

pub(crate) fn map(r: &impl crate::Fields) -> Result<Assignment> {
    Ok(Assignment {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        user_id: get_id(r, "user_id")?,
        sku_id: get_id(r, "sku_id")?,
        pool_id: get_id(r, "pool_id")?,
        disabled_plans: decode_plans(&get_str(r, "disabled_plans")?),
        direct: get_bool(r, "direct")?,
        direct_disabled_plans: decode_plans(
            &crate::get_opt(r, "direct_disabled_plans")?.unwrap_or_default(),
        ),
        assigned_at: get_time(r, "assigned_at")?,
        updated_at: get_time(r, "updated_at")?,
    })
}

/// The statement of [`of_user`]: binds the user's id at `$1`.
pub const OF_USER: &str =
    "SELECT * FROM assignments WHERE user_id = $1 ORDER BY assigned_at, sku_id";

pub async fn of_user(conn: &mut Conn, user: UserId) -> Result<Vec<Assignment>> {
    let rows = sqlx::query(OF_USER)
        .bind(user.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map).collect()
}

/// The licenses of the users of the tenant bound at `$1` whose ids are the JSON list at `$2`
/// (columns [`COLS`], unordered).
fn of_users_select(conn: &Conn) -> String {
    format!(
        "SELECT {} FROM assignments WHERE {} = $1 AND user_id IN ({})",
        COLS.join(", "),
        bulk::unindexed(conn, "tenant_id"),
        bulk::texts(conn, 2)
    )
}

/// The read of [`of_users`] ([`bulk::json_rows`], columns [`COLS`]): binds the tenant at `$1`
/// and the users' ids as a JSON list at `$2`.
pub(crate) fn of_users_part(conn: &Conn) -> String {
    as_rows(conn, &of_users_select(conn))
}

/// The licenses `inner` selects (columns [`COLS`]) as [`bulk::json_rows`], per user in the
/// order they were assigned.
fn as_rows(conn: &Conn, inner: &str) -> String {
    bulk::json_rows(conn, inner, COLS, "assigned_at, sku_id")
}

/// The name of the common table expression of [`held_cte`].
pub(crate) const HELD: &str = "held";

/// A common table expression named [`HELD`] holding the licenses [`of_users_part`] reads
/// (same bindings), computed once for a statement that reads them more than once: the
/// licenses themselves ([`held_part`]) and the pools they are taken from
/// ([`crate::subscriptions::coverage_part`]), one index lookup per user instead of two.
pub(crate) fn held_cte(conn: &Conn) -> String {
    format!("{HELD} AS MATERIALIZED ({})", of_users_select(conn))
}

/// [`of_users_part`] reading [`held_cte`]'s licenses.
pub(crate) fn held_part(conn: &Conn) -> String {
    as_rows(conn, &format!("SELECT {} FROM {HELD}", COLS.join(", ")))
}

/// Assignments of many users at once (a page of users), in one query.
pub async fn of_users(
    conn: &mut Conn,
    tenant: TenantId,
    users: &[UserId],
) -> Result<Vec<Assignment>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let sql = of_users_part(conn);
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(bulk::text_list(users));
    bulk::fetch_rows(conn, q, COLS)
        .await?
        .iter()
        .map(map)
        .collect()
}

/// The statement of [`insert`]: binds id, tenant, user, product, pool, disabled plans (see
/// `encode_plans`), direct (1 or 0), assigned and updated at (UTC microseconds) and the direct
/// disabled plans (NULL when not direct) at `$1`…`$10`.
pub const INSERT: &str = "INSERT INTO assignments (id, tenant_id, user_id, sku_id, pool_id, disabled_plans, direct, assigned_at, updated_at, direct_disabled_plans) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub async fn insert(conn: &mut Conn, a: &Assignment) -> Result<()> {
    sqlx::query(INSERT)
        .bind(a.id.to_string())
        .bind(a.tenant_id.to_string())
        .bind(a.user_id.to_string())
        .bind(a.sku_id.to_string())
        .bind(a.pool_id.to_string())
        .bind(encode_plans(&a.disabled_plans))
        .bind(flag(a.direct))
        .bind(us(a.assigned_at))
        .bind(us(a.updated_at))
        .bind(a.direct.then(|| encode_plans(&a.direct_disabled_plans)))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts many assignments with a few multi-row statements (group-based licensing). Rows must
/// be of distinct (user, product).
///
/// Nothing is written to the users' rows: whether a user holds any license is kept by the
/// database itself (migration 0017's triggers remove the user from `unlicensed_users`), so
/// every write of a batch is keyed by user id.
pub async fn insert_many(conn: &mut Conn, list: &[Assignment]) -> Result<()> {
    let mut w = bulk::Writes::new(conn);
    insert_part(&mut w, list);
    w.run(conn).await?;
    Ok(())
}

/// [`insert_many`] as a part of `w`; nothing for an empty list.
pub fn insert_part(w: &mut bulk::Writes, list: &[Assignment]) {
    use bulk::Col::{Int, Text};
    if list.is_empty() {
        return;
    }
    let sql = format!(
        "INSERT INTO assignments (id, tenant_id, user_id, sku_id, pool_id, disabled_plans, direct, assigned_at, updated_at, direct_disabled_plans) {}",
        w.rows(
            w.param(),
            &[Text, Text, Text, Text, Text, Text, Int, Int, Int, Text]
        )
    );
    let rows = bulk::row_list(list.iter().map(|a| {
        (
            a.id.to_string(),
            a.tenant_id.to_string(),
            a.user_id.to_string(),
            a.sku_id.to_string(),
            a.pool_id.to_string(),
            encode_plans(&a.disabled_plans),
            flag(a.direct),
            us(a.assigned_at),
            us(a.updated_at),
            a.direct.then(|| encode_plans(&a.direct_disabled_plans)),
        )
    }));
    w.push(sql, vec![rows]);
}

/// Deletes many assignments by id and returns the rows deleted (a concurrent change may have
/// taken some first: release seats only for these). Users left without a license are listed
/// as unlicensed by the database (migration 0017).
pub async fn delete_many(conn: &mut Conn, ids: &[AssignmentId]) -> Result<Vec<Assignment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = bulk::text_list(ids);
    let where_ids = format!("id IN ({})", bulk::texts(conn, 1));
    if bulk::sqlite(conn) {
        // SQLite has no DELETE in a subquery: the rows are read first, in the same
        // transaction (which holds the database's write lock).
        let inner = format!(
            "SELECT {} FROM assignments WHERE {where_ids}",
            COLS.join(", ")
        );
        let sql = bulk::json_rows(conn, &inner, COLS, "id");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(list.clone());
        let rows = bulk::fetch_rows(conn, q, COLS)
            .await?
            .iter()
            .map(map)
            .collect::<Result<Vec<Assignment>>>()?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM assignments WHERE {where_ids}"
        )))
        .bind(list)
        .execute(&mut *conn)
        .await?;
        Ok(rows)
    } else {
        let inner = format!("DELETE FROM assignments WHERE {where_ids} RETURNING *");
        let sql = format!(
            "WITH d AS ({inner}) {}",
            bulk::json_rows(conn, "SELECT * FROM d", COLS, "id")
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(list);
        bulk::fetch_rows(conn, q, COLS)
            .await?
            .iter()
            .map(map)
            .collect()
    }
}

/// Sets what a license is made of: the plans the user holds off, whether it is assigned
/// directly and with which plans off.
pub async fn set_sources(
    conn: &mut Conn,
    id: AssignmentId,
    disabled: &[PlanId],
    direct: Option<&[PlanId]>,
    at: Time,
) -> Result<()> {
    sqlx::query("UPDATE assignments SET disabled_plans = $2, direct = $3, direct_disabled_plans = $4, updated_at = $5 WHERE id = $1")
        .bind(id.to_string())
        .bind(encode_plans(disabled))
        .bind(flag(direct.is_some()))
        .bind(direct.map(encode_plans))
        .bind(us(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_disabled_plans(
    conn: &mut Conn,
    id: AssignmentId,
    plans: &[PlanId],
    at: Time,
) -> Result<()> {
    sqlx::query("UPDATE assignments SET disabled_plans = $2, updated_at = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(encode_plans(plans))
        .bind(us(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Moves one assignment from pool `from` to pool `to` (the seats are the caller's to release
/// and take); false when it is no longer in `from`.
pub async fn move_to_pool(
    conn: &mut Conn,
    id: AssignmentId,
    from: PoolId,
    to: PoolId,
    now: Time,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE assignments SET pool_id = $3, updated_at = $4 WHERE id = $1 AND pool_id = $2",
    )
    .bind(id.to_string())
    .bind(from.to_string())
    .bind(to.to_string())
    .bind(us(now))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes one assignment; returns whether a row was deleted (a concurrent change may have
/// taken it first: release a seat only for a row this call deleted).
pub async fn delete(conn: &mut Conn, id: AssignmentId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM assignments WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// PostgreSQL: locks the rows of the users who hold the `n` most recently assigned
/// assignments of a pool, in id order, until the transaction ends (nothing on SQLite, whose
/// one writer excludes the others). A transaction that will take those licenses back locks
/// their holders this way before it locks the pool: a license batch locks its users first and
/// the pools after, so the other order could deadlock with it.
pub async fn lock_newest_holders(conn: &mut Conn, pool: PoolId, n: i64) -> Result<()> {
    if !bulk::sqlite(conn) && n > 0 {
        sqlx::query(
            "SELECT id FROM users WHERE id IN (SELECT user_id FROM assignments WHERE pool_id = $1 ORDER BY assigned_at DESC, id DESC LIMIT $2) ORDER BY id FOR UPDATE",
        )
        .bind(pool.to_string())
        .bind(n)
        .fetch_all(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Deletes the `n` most recently assigned assignments of a pool in one statement and returns
/// the rows it deleted (SUB3: a deleted subscription takes the latest-assigned licenses first).
pub async fn delete_newest_in_pool(
    conn: &mut Conn,
    pool: PoolId,
    n: i64,
) -> Result<Vec<Assignment>> {
    // On PostgreSQL the holders' rows are locked first, in id order, as every other change of
    // a user's licenses locks them (see `directory::users_by_ids_locked`): the database lists
    // a user whose last license goes as unlicensed, which needs the user's changes in turn.
    lock_newest_holders(conn, pool, n).await?;
    let rows = sqlx::query(
        "DELETE FROM assignments WHERE id IN (SELECT id FROM assignments WHERE pool_id = $1 ORDER BY assigned_at DESC, id DESC LIMIT $2) RETURNING *",
    )
    .bind(pool.to_string())
    .bind(n)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map).collect()
}

/// The position that splits a pool's holders: the `n`-th most recently assigned assignment
/// (`n` ≥ 1) as (assigned_at, id), or `None` when the pool has fewer. Holders at or after it,
/// in (assigned_at, id) order, are the `n` latest.
pub async fn nth_newest_in_pool(
    conn: &mut Conn,
    pool: PoolId,
    n: i64,
) -> Result<Option<(Time, AssignmentId)>> {
    let r = sqlx::query(
        "SELECT assigned_at, id FROM assignments WHERE pool_id = $1 ORDER BY assigned_at DESC, id DESC LIMIT 1 OFFSET $2",
    )
    .bind(pool.to_string())
    .bind(n - 1)
    .fetch_optional(&mut *conn)
    .await?;
    match r {
        Some(r) => Ok(Some((get_time(&r, "assigned_at")?, get_id(&r, "id")?))),
        None => Ok(None),
    }
}

/// Which of `ids` (assignments of `pool`) are at or after `from` in (assigned_at, id) order,
/// compared by the database itself so that the order is the one [`nth_newest_in_pool`] used.
pub async fn at_or_after_in_pool(
    conn: &mut Conn,
    pool: PoolId,
    from: (Time, AssignmentId),
    ids: &[AssignmentId],
) -> Result<Vec<AssignmentId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id FROM assignments WHERE pool_id = $1 AND (assigned_at > $2 OR (assigned_at = $2 AND id >= $3)) AND id IN ({})",
        bulk::texts(conn, 4)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(pool.to_string())
        .bind(us(from.0))
        .bind(from.1.to_string())
        .bind(bulk::text_list(ids))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| get_id(r, "id"))
        .collect()
}

/// Every assignment of a pool (consistency checks; pools can be large).
pub async fn of_pool(conn: &mut Conn, pool: PoolId) -> Result<Vec<Assignment>> {
    let rows = sqlx::query("SELECT * FROM assignments WHERE pool_id = $1 ORDER BY assigned_at, id")
        .bind(pool.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map).collect()
}

/// Counts assignments per pool (for consistency checks in tests and `doctor`).
pub async fn count_in_pool(conn: &mut Conn, pool: PoolId) -> Result<i64> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM assignments WHERE pool_id = $1")
        .bind(pool.to_string())
        .fetch_one(&mut *conn)
        .await?;
    crate::get_i64(&r, "n")
}
