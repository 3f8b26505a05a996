//! The database alone: the writes of one `assignLicense` (read the user, read their licenses,
//! insert the license, append to the audit log, take the seat) committed straight through the
//! store with no HTTP and no rules, one per transaction and then many per transaction: the
//! ceiling the server's throughput is compared with. On SQLite the same statements also run
//! through SQLite's C interface on the calling thread ([`crate::raw`]), without sqlx's
//! connection thread: what SQLite itself commits on this machine.

use crate::raw::{self, Value};
use anyhow::Context;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::audit::{AuditAction, AuditEntry};
use seatkeeper_domain::{AssignmentId, PoolId, SkuId, TenantId, UserId};
use seatkeeper_store::{Db, assignments, audit, directory, subscriptions, us};
use std::path::Path;
use std::time::{Duration, Instant};

/// One license's writes, in the server's order.
async fn write_one(
    tx: &mut seatkeeper_store::Conn,
    tenant: TenantId,
    user: UserId,
    sku: SkuId,
    pool: PoolId,
    now: seatkeeper_domain::Time,
) -> anyhow::Result<()> {
    let u = directory::get_user(tx, tenant, user)
        .await?
        .context("user")?;
    let held = assignments::of_user(tx, user).await?;
    anyhow::ensure!(!held.iter().any(|a| a.sku_id == sku), "already held");
    let a = Assignment {
        id: AssignmentId::new(),
        tenant_id: tenant,
        user_id: user,
        sku_id: sku,
        pool_id: pool,
        disabled_plans: vec![],
        direct: true,
        direct_disabled_plans: vec![],
        assigned_at: now,
        updated_at: now,
    };
    assignments::insert(tx, &a).await?;
    audit::append(
        tx,
        &AuditEntry {
            id: 0,
            tenant_id: tenant,
            at: now,
            actor_id: None,
            actor: "bench".into(),
            action: AuditAction::LicenseAssign,
            target_type: "user".into(),
            target_id: user.to_string(),
            summary: format!("{}: assigned a license", u.upn),
            before: Some(format!("{} licenses", held.len())),
            after: Some(format!("{} licenses", held.len() + 1)),
        },
    )
    .await?;
    anyhow::ensure!(
        subscriptions::take_seats(tx, pool, 1).await?,
        "no seat left"
    );
    Ok(())
}

/// `users` in transactions of `per_tx`, until `seconds` have passed.
fn timed_chunks(users: &[UserId], per_tx: usize, seconds: u64) -> impl Iterator<Item = &[UserId]> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    users
        .chunks(per_tx)
        .take_while(move |_| Instant::now() < deadline)
}

/// Runs the writes for `users` for about `seconds`, `per_tx` licenses per transaction, and
/// returns how many were committed and how long it took.
#[allow(clippy::too_many_arguments)]
async fn run(
    db: &Db,
    tenant: TenantId,
    users: &[UserId],
    sku: SkuId,
    pool: PoolId,
    per_tx: usize,
    seconds: u64,
    now: seatkeeper_domain::Time,
) -> anyhow::Result<(usize, Duration)> {
    let t = Instant::now();
    let mut done = 0;
    for chunk in timed_chunks(users, per_tx, seconds) {
        let mut tx = db.begin().await?;
        for u in chunk {
            write_one(&mut tx, tenant, *u, sku, pool, now).await?;
        }
        tx.commit().await?;
        done += chunk.len();
    }
    Ok((done, t.elapsed()))
}

/// [`run`] through SQLite's C interface on this thread: the statements the store's
/// functions run in [`write_one`], prepared once, `per_tx` licenses per transaction.
#[allow(clippy::too_many_arguments)]
fn run_raw(
    path: &Path,
    tenant: TenantId,
    users: &[UserId],
    sku: SkuId,
    pool: PoolId,
    per_tx: usize,
    seconds: u64,
    now: seatkeeper_domain::Time,
) -> anyhow::Result<(usize, Duration)> {
    let conn = raw::Connection::open(path)?;
    for p in seatkeeper_store::sqlite_pragmas(true) {
        conn.execute(p)?;
    }
    let mut user = conn.prepare(directory::USER_BY_ID)?;
    let mut held = conn.prepare(assignments::OF_USER)?;
    let mut insert = conn.prepare(assignments::INSERT)?;
    let mut append = conn.prepare(audit::APPEND)?;
    let mut take = conn.prepare(subscriptions::TAKE_SEATS)?;
    let (tenant, sku, pool, at) = (
        tenant.to_string(),
        sku.to_string(),
        pool.to_string(),
        us(now),
    );
    let action = AuditAction::LicenseAssign.as_str();
    let t = Instant::now();
    let mut done = 0;
    for chunk in timed_chunks(users, per_tx, seconds) {
        conn.execute(seatkeeper_store::SQLITE_BEGIN)?;
        for u in chunk {
            let u = u.to_string();
            anyhow::ensure!(
                user.run(&[Value::Text(&tenant), Value::Text(&u)])? == 1,
                "user"
            );
            let n = held.run(&[Value::Text(&u)])?;
            let id = AssignmentId::new().to_string();
            insert.run(&[
                Value::Text(&id),
                Value::Text(&tenant),
                Value::Text(&u),
                Value::Text(&sku),
                Value::Text(&pool),
                Value::Text(""),
                Value::Int(1),
                Value::Int(at),
                Value::Int(at),
                Value::Text(""),
            ])?;
            append.run(&[
                Value::Text(&tenant),
                Value::Int(at),
                Value::Null,
                Value::Text("bench"),
                Value::Text(action),
                Value::Text("user"),
                Value::Text(&u),
                Value::Text(&format!("{u}: assigned a license")),
                Value::Text(&format!("{n} licenses")),
                Value::Text(&format!("{} licenses", n + 1)),
            ])?;
            take.run(&[Value::Text(&pool), Value::Int(1)])?;
            anyhow::ensure!(conn.changes() == 1, "no seat left");
        }
        conn.execute("COMMIT")?;
        done += chunk.len();
    }
    Ok((done, t.elapsed()))
}

/// Prints the ceiling, one license per transaction and `batch` per transaction, using users
/// from the end of `users` (the HTTP phase takes them from the start): through the store
/// (sqlx), and for a SQLite database (`sqlite_file`) also through SQLite's C interface. Each
/// run has users of its own, and stops after `seconds` or when they run out.
#[allow(clippy::too_many_arguments)]
pub async fn report(
    db: &Db,
    sqlite_file: Option<&Path>,
    tenant: TenantId,
    users: &[String],
    sku: &str,
    batch: usize,
    seconds: u64,
    now: seatkeeper_domain::Time,
) -> anyhow::Result<()> {
    let sku = SkuId(uuid::Uuid::parse_str(sku)?);
    let ids: Vec<UserId> = users
        .iter()
        .rev()
        .map(|u| uuid::Uuid::parse_str(u).map(UserId))
        .collect::<Result<_, _>>()?;
    let mut conn = db.reader().acquire().await?;
    let pool = subscriptions::central_pool(&mut conn, tenant, sku)
        .await?
        .context("pool")?
        .id;
    drop(conn);
    // Through sqlx a fifth of the users each when the C interface (several times as fast)
    // runs too, and half each otherwise.
    let share = if sqlite_file.is_some() { 5 } else { 2 };
    let (by_sqlx, by_c) = ids.split_at(ids.len() / share * 2);
    let mut lists = by_sqlx
        .chunks(by_sqlx.len().div_ceil(2).max(1))
        .chain(by_c.chunks(by_c.len().div_ceil(2).max(1)));
    let print = |how: &str, per_tx: usize, n: usize, took: Duration| {
        println!(
            "The database alone{how}, the same writes as assignLicense, {per_tx} per transaction: {n} in {:.1} s = {:.0}/s",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
    };
    for per_tx in [1, batch] {
        let list = lists.next().unwrap_or_default();
        let (n, took) = run(db, tenant, list, sku, pool, per_tx, seconds, now).await?;
        print("", per_tx, n, took);
    }
    if let Some(path) = sqlite_file {
        // The server's write connection is held meanwhile, as the license writer holds it: the
        // background checkpoint's `RESTART` queues for it rather than contending with this
        // second writer for SQLite's write lock.
        let _held = db.hold_write_connection().await?;
        for per_tx in [1, batch] {
            let list = lists.next().unwrap_or_default().to_vec();
            let path = path.to_path_buf();
            let (n, took) = tokio::task::spawn_blocking(move || {
                run_raw(&path, tenant, &list, sku, pool, per_tx, seconds, now)
            })
            .await??;
            print(" through SQLite's C interface", per_tx, n, took);
        }
    }
    Ok(())
}
