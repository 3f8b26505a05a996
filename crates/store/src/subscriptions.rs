//! Subscriptions and license pools.

use crate::{
    Conn, Result, flag, get_bool, get_i64, get_id, get_opt, get_opt_id, get_str, get_time, us,
};
use seatkeeper_domain::kinds::{Origin, PolicyValue, PoolKind};
use seatkeeper_domain::lifecycle::{Addition, BillingFrequency, Lifecycle, Status};
pub use seatkeeper_domain::subscription::{Money, Subscription};
use seatkeeper_domain::{PoolId, SkuId, SubscriptionId, TenantId, Time};
use sqlx::Row;
use sqlx::any::AnyRow;

fn map(r: &AnyRow) -> Result<Subscription> {
    let decode =
        |what: &str| sqlx::Error::Decode(format!("bad {what} in subscriptions row").into());
    Ok(Subscription {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        sku_id: get_id(r, "sku_id")?,
        pool_id: get_id(r, "pool_id")?,
        origin: Origin::parse(&get_str(r, "origin")?).ok_or_else(|| decode("origin"))?,
        purchaser_id: get_opt_id(r, "purchaser_id")?,
        commerce_id: get_str(r, "commerce_id")?,
        quantity: get_i64(r, "quantity")?,
        is_trial: get_bool(r, "is_trial")?,
        cancel_reason: get_opt(r, "cancel_reason")?,
        created_at: get_time(r, "created_at")?,
        life: Lifecycle {
            status: Status::parse(&get_str(r, "status")?).ok_or_else(|| decode("status"))?,
            status_since: get_time(r, "status_since")?,
            frequency: BillingFrequency::parse(&get_str(r, "billing_frequency")?)
                .ok_or_else(|| decode("billing_frequency"))?,
            recurring: get_bool(r, "recurring")?,
            cancelled: get_bool(r, "cancelled")?,
            term_start: get_time(r, "term_start")?,
            term_end: get_time(r, "term_end")?,
            last_added_at: get_time(r, "last_added_at")?,
            anchor: match r.try_get::<Option<i64>, _>("term_anchor")? {
                Some(v) => crate::from_us(v),
                None => get_time(r, "term_start")?,
            },
            additions: additions_from_json(get_opt(r, "recent_additions")?.as_deref())
                .ok_or_else(|| decode("recent_additions"))?,
        },
        expiring_notice_for: r
            .try_get::<Option<i64>, _>("expiring_notice_for")?
            .map(crate::from_us),
        payment_method_id: get_opt_id(r, "payment_method_id")?,
        price: match (
            r.try_get::<Option<i64>, _>("price_minor")?,
            get_opt(r, "currency")?,
        ) {
            (Some(minor), Some(currency)) => Some(Money { minor, currency }),
            _ => None,
        },
        trial_policy: match get_opt(r, "trial_policy")? {
            Some(v) => Some(PolicyValue::parse(&v).ok_or_else(|| decode("trial_policy"))?),
            None => None,
        },
        cancel_feedback: get_opt(r, "cancel_feedback")?,
    })
}

/// Recent additions as stored: a JSON array of `[microseconds, count]` pairs.
fn additions_json(a: &[Addition]) -> String {
    serde_json::Value::from(
        a.iter()
            .map(|a| serde_json::json!([us(a.at), a.count]))
            .collect::<Vec<_>>(),
    )
    .to_string()
}

/// Reads [`additions_json`]; a missing value is no additions, a malformed one is `None`.
fn additions_from_json(text: Option<&str>) -> Option<Vec<Addition>> {
    let Some(text) = text else {
        return Some(Vec::new());
    };
    let pairs: Vec<(i64, i64)> = serde_json::from_str(text).ok()?;
    Some(
        pairs
            .into_iter()
            .map(|(at, count)| Addition {
                at: crate::from_us(at),
                count,
            })
            .collect(),
    )
}

pub async fn insert(conn: &mut Conn, s: &Subscription) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (id, tenant_id, sku_id, pool_id, origin, purchaser_id, commerce_id, quantity, billing_frequency, recurring, is_trial,
            status, status_since, cancelled, cancel_reason, created_at, term_start, term_end, last_added_at, expiring_notice_for,
            term_anchor, recent_additions, payment_method_id, price_minor, currency, began_as_trial, trial_policy, cancel_feedback)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)",
    )
    .bind(s.id.to_string())
    .bind(s.tenant_id.to_string())
    .bind(s.sku_id.to_string())
    .bind(s.pool_id.to_string())
    .bind(s.origin.as_str())
    .bind(s.purchaser_id.map(|p| p.to_string()))
    .bind(&s.commerce_id)
    .bind(s.quantity)
    .bind(s.life.frequency.as_str())
    .bind(flag(s.life.recurring))
    .bind(flag(s.is_trial))
    .bind(s.life.status.as_str())
    .bind(us(s.life.status_since))
    .bind(flag(s.life.cancelled))
    .bind(s.cancel_reason.clone())
    .bind(us(s.created_at))
    .bind(us(s.life.term_start))
    .bind(us(s.life.term_end))
    .bind(us(s.life.last_added_at))
    .bind(s.expiring_notice_for.map(us))
    .bind(us(s.life.anchor))
    .bind(additions_json(&s.life.additions))
    .bind(s.payment_method_id.map(|p| p.to_string()))
    .bind(s.price.as_ref().map(|p| p.minor))
    .bind(s.price.as_ref().map(|p| p.currency.clone()))
    .bind(flag(s.trial_policy.is_some()))
    .bind(s.trial_policy.map(|p| p.as_str()))
    .bind(s.cancel_feedback.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes `s` if the row still has status `expected` (optimistic guard for concurrent jobs).
pub async fn update(conn: &mut Conn, s: &Subscription, expected: Status) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE subscriptions SET quantity = $3, billing_frequency = $4, recurring = $5, status = $6, status_since = $7, cancelled = $8,
            cancel_reason = $9, term_start = $10, term_end = $11, last_added_at = $12, expiring_notice_for = $13,
            term_anchor = $15, recent_additions = $16, is_trial = $17, payment_method_id = $18, price_minor = $19, currency = $20,
            cancel_feedback = $21
         WHERE id = $1 AND tenant_id = $2 AND status = $14",
    )
    .bind(s.id.to_string())
    .bind(s.tenant_id.to_string())
    .bind(s.quantity)
    .bind(s.life.frequency.as_str())
    .bind(flag(s.life.recurring))
    .bind(s.life.status.as_str())
    .bind(us(s.life.status_since))
    .bind(flag(s.life.cancelled))
    .bind(s.cancel_reason.clone())
    .bind(us(s.life.term_start))
    .bind(us(s.life.term_end))
    .bind(us(s.life.last_added_at))
    .bind(s.expiring_notice_for.map(us))
    .bind(expected.as_str())
    .bind(us(s.life.anchor))
    .bind(additions_json(&s.life.additions))
    .bind(flag(s.is_trial))
    .bind(s.payment_method_id.map(|p| p.to_string()))
    .bind(s.price.as_ref().map(|p| p.minor))
    .bind(s.price.as_ref().map(|p| p.currency.clone()))
    .bind(s.cancel_feedback.clone())
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Takes the row lock of a subscription for the rest of the transaction (PostgreSQL; SQLite
/// write transactions are serialized anyway), so that concurrent job runs and admin changes queue.
pub async fn lock(conn: &mut Conn, id: SubscriptionId) -> Result<()> {
    sqlx::query("UPDATE subscriptions SET status = status WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn get(
    conn: &mut Conn,
    tenant: TenantId,
    id: SubscriptionId,
) -> Result<Option<Subscription>> {
    let r = sqlx::query("SELECT * FROM subscriptions WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map).transpose()
}

/// Finds a subscription by its id or its commerce id.
pub async fn find(conn: &mut Conn, tenant: TenantId, key: &str) -> Result<Option<Subscription>> {
    let r = sqlx::query(
        "SELECT * FROM subscriptions WHERE tenant_id = $1 AND (id = $2 OR commerce_id = $2)",
    )
    .bind(tenant.to_string())
    .bind(key.trim().to_lowercase())
    .fetch_optional(&mut *conn)
    .await?;
    r.as_ref().map(map).transpose()
}

/// All subscriptions of a tenant (Products page: one row per subscription), newest first.
pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    include_deleted: bool,
) -> Result<Vec<Subscription>> {
    let rows = sqlx::query("SELECT * FROM subscriptions WHERE tenant_id = $1 AND ($2 = 1 OR status <> 'Deleted') ORDER BY created_at DESC, id")
        .bind(tenant.to_string())
        .bind(flag(include_deleted))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map).collect()
}

/// Subscriptions whose next lifecycle step is due at `now`, or whose expiring notice is due.
pub async fn due(
    conn: &mut Conn,
    now: Time,
    notice_horizon: Time,
    limit: i64,
) -> Result<Vec<Subscription>> {
    let expired_before = now - chrono::Duration::days(seatkeeper_domain::lifecycle::EXPIRED_DAYS);
    let disabled_before = now - chrono::Duration::days(seatkeeper_domain::lifecycle::DISABLED_DAYS);
    let rows = sqlx::query(
        "SELECT * FROM subscriptions WHERE
            (status = 'Active' AND term_end <= $1)
         OR (status = 'Active' AND recurring = 0 AND term_end <= $2 AND (expiring_notice_for IS NULL OR expiring_notice_for <> term_end))
         OR (status = 'Expired' AND status_since <= $3)
         OR (status = 'Disabled' AND status_since <= $4)
         ORDER BY term_end LIMIT $5",
    )
    .bind(us(now))
    .bind(us(notice_horizon))
    .bind(us(expired_before))
    .bind(us(disabled_before))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map).collect()
}

// ----- pools -----

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: PoolId,
    pub tenant_id: TenantId,
    pub sku_id: SkuId,
    pub kind: PoolKind,
    pub total: i64,
    pub assigned: i64,
}

fn map_pool(r: &AnyRow) -> Result<Pool> {
    Ok(Pool {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        sku_id: get_id(r, "sku_id")?,
        kind: PoolKind::parse(&get_str(r, "kind")?)
            .ok_or_else(|| sqlx::Error::Decode("bad kind in pools row".into()))?,
        total: get_i64(r, "total")?,
        assigned: get_i64(r, "assigned")?,
    })
}

/// The tenant's central pool of a product, created empty if missing.
pub async fn ensure_central_pool(conn: &mut Conn, tenant: TenantId, sku: SkuId) -> Result<Pool> {
    sqlx::query("INSERT INTO pools (id, tenant_id, sku_id, kind, total, assigned) VALUES ($1, $2, $3, 'central', 0, 0) ON CONFLICT (tenant_id, sku_id) WHERE kind = 'central' DO NOTHING")
        .bind(PoolId::new().to_string())
        .bind(tenant.to_string())
        .bind(sku.to_string())
        .execute(&mut *conn)
        .await?;
    central_pool(conn, tenant, sku)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

pub async fn central_pool(conn: &mut Conn, tenant: TenantId, sku: SkuId) -> Result<Option<Pool>> {
    let r = sqlx::query(
        "SELECT * FROM pools WHERE tenant_id = $1 AND sku_id = $2 AND kind = 'central'",
    )
    .bind(tenant.to_string())
    .bind(sku.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    r.as_ref().map(map_pool).transpose()
}

pub async fn get_pool(conn: &mut Conn, id: PoolId) -> Result<Option<Pool>> {
    let r = sqlx::query("SELECT * FROM pools WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_pool).transpose()
}

pub async fn pools_of_tenant(conn: &mut Conn, tenant: TenantId) -> Result<Vec<Pool>> {
    let rows = sqlx::query("SELECT * FROM pools WHERE tenant_id = $1 ORDER BY sku_id")
        .bind(tenant.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map_pool).collect()
}

/// How one pool stands (SUB3): its licenses that work (`total`), the licenses assigned from
/// it, and the licenses of its Active and of its Expired subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolCoverage {
    pub id: PoolId,
    pub total: i64,
    pub assigned: i64,
    pub active: i64,
    pub expired: i64,
}

/// The columns of [`coverage_part`].
pub(crate) const COVERAGE_COLS: &[&str] = &["id", "total", "assigned", "active", "expired"];

/// A part ([`crate::bulk::json_parts`]) reading how pools of the tenant bound at `$1` stand
/// ([`PoolCoverage`], in id order): the pools whose ids are the JSON array at `$pools`, and
/// with `held` those of the licenses in the common table expression of that name
/// ([`crate::assignments::held_cte`]).
pub(crate) fn coverage_part(conn: &Conn, pools: usize, held: Option<&str>) -> String {
    let held = match held {
        Some(cte) => format!(" OR p.id IN (SELECT pool_id FROM {cte})"),
        None => String::new(),
    };
    let (active, expired, join, group) = if crate::bulk::sqlite(conn) {
        // Two sums of their own per pool, each a lookup by the subscriptions' product.
        let sum = |status: &str| {
            format!(
                "COALESCE((SELECT CAST(SUM(s.quantity) AS BIGINT) FROM subscriptions s
                  WHERE s.tenant_id = p.tenant_id AND s.sku_id = p.sku_id AND s.pool_id = p.id
                    AND s.status = '{status}'), 0)"
            )
        };
        (sum("Active"), sum("Expired"), "", "")
    } else {
        // One join over the pools' Active and Expired subscriptions, summed per pool: on
        // PostgreSQL the two subqueries per pool took 1.1 ms for 49 pools in the read of a
        // batch of license changes (the pools of 8 users' licenses), the join 0.6 ms, and the
        // batches' rate rose by about 17% (see the README). On SQLite the join was slower.
        let sum = |status: &str| {
            format!(
                "CAST(COALESCE(SUM(CASE WHEN s.status = '{status}' THEN s.quantity END), 0) AS BIGINT)"
            )
        };
        (
            sum("Active"),
            sum("Expired"),
            " LEFT JOIN subscriptions s ON s.tenant_id = p.tenant_id AND s.sku_id = p.sku_id
               AND s.pool_id = p.id AND s.status IN ('Active', 'Expired')",
            " GROUP BY p.id, p.total, p.assigned",
        )
    };
    let inner = format!(
        "SELECT p.id AS id, p.total AS total, p.assigned AS assigned, {active} AS active,
           {expired} AS expired
         FROM pools p{join} WHERE p.tenant_id = $1 AND (p.id IN ({}){held}){group}",
        crate::bulk::texts(conn, pools)
    );
    crate::bulk::json_rows(conn, &inner, COVERAGE_COLS, "id")
}

/// A row of [`coverage_part`].
pub(crate) fn map_coverage(r: &crate::bulk::JsonRow<'_>) -> Result<PoolCoverage> {
    Ok(PoolCoverage {
        id: get_id(r, "id")?,
        total: get_i64(r, "total")?,
        assigned: get_i64(r, "assigned")?,
        active: get_i64(r, "active")?,
        expired: get_i64(r, "expired")?,
    })
}

/// How `pools` of `tenant` stand, in one statement (SUB3), in id order. Pools of another
/// tenant, or of none, are left out.
pub async fn coverage_of(
    conn: &mut Conn,
    tenant: TenantId,
    pools: &[PoolId],
) -> Result<Vec<PoolCoverage>> {
    if pools.is_empty() {
        return Ok(Vec::new());
    }
    let sql = coverage_part(conn, 2, None);
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(crate::bulk::text_list(pools));
    crate::bulk::fetch_rows(conn, q, COVERAGE_COLS)
        .await?
        .iter()
        .map(map_coverage)
        .collect()
}

/// The statement of [`take_seats`]: binds the pool at `$1` and the seats at `$2`; it changes
/// no row when the pool has too few.
pub const TAKE_SEATS: &str =
    "UPDATE pools SET assigned = assigned + $2 WHERE id = $1 AND assigned + $2 <= total";

/// Takes `n` seats from a pool if that many are available; the check and the update are one
/// statement, so concurrent transactions can never take more than the pool's total.
pub async fn take_seats(conn: &mut Conn, pool: PoolId, n: i64) -> Result<bool> {
    let r = sqlx::query(TAKE_SEATS)
        .bind(pool.to_string())
        .bind(n)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Seats taken (positive) or given back (negative) in several pools, as the last part of `w`:
/// a pool takes its seats only if that many are available (the check and the update are one
/// statement). The part returns the ids of the pools changed: a pool missing from them did not
/// have the licenses, and the caller rolls the transaction back.
pub fn seats_part(w: &mut crate::bulk::Writes, seats: &[(PoolId, i64)]) {
    if seats.is_empty() {
        return;
    }
    let n = w.param();
    let list = if w.sqlite() {
        format!("SELECT value ->> 0 AS id, value ->> 1 AS n FROM jsonb_each(${n})")
    } else {
        format!(
            "SELECT r.v ->> 0 AS id, (r.v ->> 1)::bigint AS n FROM jsonb_array_elements(${n}::jsonb) AS r(v)"
        )
    };
    let sql = format!(
        "UPDATE pools SET assigned = pools.assigned + s.n FROM ({list}) AS s
         WHERE pools.id = s.id AND (s.n <= 0 OR pools.assigned + s.n <= pools.total)
         RETURNING pools.id AS id"
    );
    let rows = crate::bulk::row_list(seats.iter().map(|(pool, n)| (pool.to_string(), *n)));
    w.push(sql, vec![rows]);
}

pub async fn release_seats(conn: &mut Conn, pool: PoolId, n: i64) -> Result<()> {
    sqlx::query("UPDATE pools SET assigned = assigned - $2 WHERE id = $1")
        .bind(pool.to_string())
        .bind(n)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sets a pool's total to the licenses of its Active and Expired subscriptions (SUB3: the
/// licenses that work), computed by the database from the subscription rows in the same
/// transaction, and returns the pool. Call it after every change of a subscription's quantity
/// or status. `assigned` may exceed the new total (a subscription was disabled): the latest
/// holders then lose access until licenses are bought or it is reactivated.
pub async fn recount_total(conn: &mut Conn, pool: PoolId) -> Result<Pool> {
    let r = sqlx::query(
        "UPDATE pools SET total = (SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM subscriptions
            WHERE pool_id = $1 AND status IN ('Active', 'Expired')) WHERE id = $1 RETURNING *",
    )
    .bind(pool.to_string())
    .fetch_one(&mut *conn)
    .await?;
    map_pool(&r)
}

/// Locks a pool's row for the rest of the transaction and reads it.
pub async fn lock_pool(conn: &mut Conn, pool: PoolId) -> Result<Option<Pool>> {
    let r = sqlx::query("UPDATE pools SET assigned = assigned WHERE id = $1 RETURNING *")
        .bind(pool.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_pool).transpose()
}

/// How a license batch locks pool rows on PostgreSQL: as an `UPDATE` of their counters locks
/// them. That does not wait for a transaction that only keeps the pool from being deleted
/// (the `KEY SHARE` lock that writing a subscription takes on its pool, through the foreign
/// key). The lifecycle job holds one while it waits for the holders of a deleted
/// subscription's licenses, one of whom a batch may hold: `FOR UPDATE` would deadlock there.
pub const POOL_LOCK: &str = "FOR NO KEY UPDATE";

/// Locks a pool's row for the rest of the transaction and reads it, as [`lock_pool`] does, but
/// on PostgreSQL without waiting for another transaction that holds the row (in
/// [`POOL_LOCK`]'s mode): that fails at once with `lock_not_available` (55P03), a contention
/// error ([`crate::is_retryable`]). For a transaction that holds other
/// pools already: waiting for one more could deadlock with a transaction that holds it and
/// waits for one of those.
pub async fn lock_pool_nowait(conn: &mut Conn, pool: PoolId) -> Result<Option<Pool>> {
    if crate::bulk::sqlite(conn) {
        return lock_pool(conn, pool).await;
    }
    let sql = format!("SELECT * FROM pools WHERE id = $1 {POOL_LOCK} NOWAIT");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(pool.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_pool).transpose()
}

/// Licenses of a pool's subscriptions that are not Deleted (Active, Expired and Disabled: a
/// Disabled one can still be reactivated, so its holders are kept).
pub async fn reactivatable_licenses(conn: &mut Conn, pool: PoolId) -> Result<i64> {
    let r = sqlx::query(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS q FROM subscriptions WHERE pool_id = $1 AND status <> 'Deleted'",
    )
    .bind(pool.to_string())
    .fetch_one(&mut *conn)
    .await?;
    get_i64(&r, "q")
}

/// Per product and status: number of subscriptions, licenses and whether cancelled, for Graph's prepaidUnits.
#[derive(Debug, Clone)]
pub struct SkuStatusSum {
    pub sku_id: SkuId,
    pub status: Status,
    pub cancelled: bool,
    pub quantity: i64,
}

pub async fn sums_by_sku(conn: &mut Conn, tenant: TenantId) -> Result<Vec<SkuStatusSum>> {
    let rows = sqlx::query(
        "SELECT sku_id, status, cancelled, CAST(SUM(quantity) AS BIGINT) AS q FROM subscriptions WHERE tenant_id = $1 AND origin = 'admin' AND status <> 'Deleted' GROUP BY sku_id, status, cancelled",
    )
    .bind(tenant.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SkuStatusSum {
                sku_id: get_id(r, "sku_id")?,
                status: Status::parse(&get_str(r, "status")?).unwrap_or(Status::Active),
                cancelled: get_bool(r, "cancelled")?,
                quantity: get_i64(r, "q")?,
            })
        })
        .collect()
}

// ----- self-service (SS1–SS4) -----

/// Creates the pool of one self-service subscription (empty; [`recount_total`] fills it).
pub async fn create_self_service_pool(
    conn: &mut Conn,
    tenant: TenantId,
    sku: SkuId,
) -> Result<Pool> {
    let r = sqlx::query("INSERT INTO pools (id, tenant_id, sku_id, kind, total, assigned) VALUES ($1, $2, $3, 'self-service', 0, 0) RETURNING *")
        .bind(PoolId::new().to_string())
        .bind(tenant.to_string())
        .bind(sku.to_string())
        .fetch_one(&mut *conn)
        .await?;
    map_pool(&r)
}

/// The subscriptions one user bought or started as trials, newest first (SS2), Deleted ones
/// only when `include_deleted`.
pub async fn of_purchaser(
    conn: &mut Conn,
    tenant: TenantId,
    purchaser: seatkeeper_domain::UserId,
    include_deleted: bool,
) -> Result<Vec<Subscription>> {
    let rows = sqlx::query(
        "SELECT * FROM subscriptions WHERE tenant_id = $1 AND purchaser_id = $2 AND ($3 = 1 OR status <> 'Deleted') ORDER BY created_at DESC, id",
    )
    .bind(tenant.to_string())
    .bind(purchaser.to_string())
    .bind(flag(include_deleted))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map).collect()
}

/// The subscription of a product that `user` began as a trial, if any (one per user and
/// product, whatever became of it).
pub async fn trial_of(
    conn: &mut Conn,
    tenant: TenantId,
    user: seatkeeper_domain::UserId,
    sku: SkuId,
) -> Result<Option<Subscription>> {
    let r = sqlx::query(
        "SELECT * FROM subscriptions WHERE tenant_id = $1 AND purchaser_id = $2 AND sku_id = $3 AND began_as_trial = 1",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(sku.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    r.as_ref().map(map).transpose()
}

/// Marks whether the recurring billing of `id` was turned off because its purchaser left
/// (SS4), so that it comes back on when they return.
pub async fn set_stopped_for_departure(
    conn: &mut Conn,
    id: seatkeeper_domain::SubscriptionId,
    stopped: bool,
) -> Result<()> {
    sqlx::query("UPDATE subscriptions SET stopped_for_departure = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(flag(stopped))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The subscriptions of `purchaser` whose recurring billing was turned off because they left.
pub async fn stopped_for_departure(
    conn: &mut Conn,
    tenant: TenantId,
    purchaser: seatkeeper_domain::UserId,
) -> Result<Vec<seatkeeper_domain::SubscriptionId>> {
    let rows = sqlx::query(
        "SELECT id FROM subscriptions WHERE tenant_id = $1 AND purchaser_id = $2 AND stopped_for_departure = 1 ORDER BY created_at, id",
    )
    .bind(tenant.to_string())
    .bind(purchaser.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| get_id(r, "id")).collect()
}

/// Keeps the display name and user name of `user` when their account is deleted, if they
/// bought any self-service subscription or have a billing account (SS3, BILL1: admins still
/// see who bought it and whose billing account and cards it was).
pub async fn keep_deleted_purchaser(
    conn: &mut Conn,
    tenant: TenantId,
    user: seatkeeper_domain::UserId,
    display_name: &str,
    upn: &str,
    now: Time,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO deleted_purchasers (tenant_id, user_id, display_name, upn, deleted_at) \
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
         (SELECT 1 FROM subscriptions WHERE tenant_id = $1 AND purchaser_id = $2) \
         OR EXISTS (SELECT 1 FROM billing_accounts WHERE tenant_id = $1 AND owner_user_id = $2) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET display_name = excluded.display_name, \
         upn = excluded.upn, deleted_at = excluded.deleted_at",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(display_name)
    .bind(upn)
    .bind(us(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The kept (display name, user name) of purchasers among `users` whose accounts were
/// deleted.
pub async fn deleted_purchasers(
    conn: &mut Conn,
    tenant: TenantId,
    users: &[seatkeeper_domain::UserId],
) -> Result<Vec<(seatkeeper_domain::UserId, String, String)>> {
    let mut out = Vec::new();
    for id in users {
        let r = sqlx::query(
            "SELECT display_name, upn FROM deleted_purchasers WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = r {
            out.push((*id, get_str(&r, "display_name")?, get_str(&r, "upn")?));
        }
    }
    Ok(out)
}
