//! The database alone: the writes of one `assignLicense` (read the user, read their licenses,
//! insert the license, append to the audit log, take the seat) committed straight through the
//! store with no HTTP and no rules, one per transaction and then many per transaction: the
//! ceiling the server's throughput is compared with.

use anyhow::Context;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::audit::{AuditAction, AuditEntry};
use seatkeeper_domain::{AssignmentId, PoolId, SkuId, TenantId, UserId};
use seatkeeper_store::{Db, assignments, audit, directory, subscriptions};
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

/// Runs the writes for `users` for about `seconds`, `per_tx` licenses per transaction, and
/// returns how many were committed and how long it took.
async fn run(
    db: &Db,
    tenant: TenantId,
    users: &[UserId],
    sku: SkuId,
    per_tx: usize,
    seconds: u64,
    now: seatkeeper_domain::Time,
) -> anyhow::Result<(usize, Duration)> {
    let mut conn = db.reader().acquire().await?;
    let pool = subscriptions::central_pool(&mut conn, tenant, sku)
        .await?
        .context("pool")?
        .id;
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t = Instant::now();
    let mut done = 0;
    for chunk in users.chunks(per_tx) {
        if Instant::now() >= deadline {
            break;
        }
        let mut tx = db.begin().await?;
        for u in chunk {
            write_one(&mut tx, tenant, *u, sku, pool, now).await?;
        }
        tx.commit().await?;
        done += chunk.len();
    }
    Ok((done, t.elapsed()))
}

/// Prints the ceiling, one license per transaction and `batch` per transaction, using users
/// from the end of `users` (the HTTP phase takes them from the start).
pub async fn report(
    db: &Db,
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
    let half = ids.len() / 2;
    let (one, many) = ids.split_at(half);
    for (per_tx, list) in [(1, one), (batch, many)] {
        let (n, took) = run(db, tenant, list, sku, per_tx, seconds, now).await?;
        println!(
            "The database alone, the same writes as assignLicense, {per_tx} per transaction: {n} in {:.1} s = {:.0}/s",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
    }
    Ok(())
}
