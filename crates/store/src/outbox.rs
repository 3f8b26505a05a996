//! The e-mail outbox: written in the same transaction as the change that causes the message,
//! delivered by a worker that claims one message at a time with a lease.

use crate::{Conn, Result, get_i64, get_id, get_opt, get_str, get_time, us};
use seatkeeper_domain::kinds::{MailKind, OutboxStatus};
use seatkeeper_domain::{TenantId, Time};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// Makes a notice idempotent: a second message with the same key is not written.
    pub dedupe_key: Option<String>,
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: Time,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub next_attempt_at: Time,
    pub sent_at: Option<Time>,
    pub last_error: Option<String>,
}

fn map(r: &AnyRow) -> Result<Message> {
    Ok(Message {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        dedupe_key: get_opt(r, "dedupe_key")?,
        kind: MailKind::parse(&get_str(r, "kind")?)
            .ok_or_else(|| sqlx::Error::Decode("bad kind in outbox row".into()))?,
        to: get_str(r, "to_addr")?,
        subject: get_str(r, "subject")?,
        text_body: get_str(r, "text_body")?,
        html_body: get_str(r, "html_body")?,
        created_at: get_time(r, "created_at")?,
        status: OutboxStatus::parse(&get_str(r, "status")?)
            .ok_or_else(|| sqlx::Error::Decode("bad status in outbox row".into()))?,
        attempts: get_i64(r, "attempts")?,
        next_attempt_at: get_time(r, "next_attempt_at")?,
        sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(crate::from_us),
        last_error: get_opt(r, "last_error")?,
    })
}

/// Writes a message; false if one with the same dedupe key exists already.
pub async fn enqueue(conn: &mut Conn, m: &Message) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO outbox (id, tenant_id, dedupe_key, kind, to_addr, subject, text_body, html_body, created_at, status, attempts, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10) ON CONFLICT DO NOTHING",
    )
    .bind(m.id.to_string())
    .bind(m.tenant_id.to_string())
    .bind(m.dedupe_key.clone())
    .bind(m.kind.as_str())
    .bind(&m.to)
    .bind(&m.subject)
    .bind(&m.text_body)
    .bind(&m.html_body)
    .bind(us(m.created_at))
    .bind(us(m.next_attempt_at))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Ids of pending messages due at `now` whose lease (if any) has run out.
pub async fn due(conn: &mut Conn, now: Time, limit: i64) -> Result<Vec<Uuid>> {
    let rows = sqlx::query(
        "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(us(now))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| get_id(r, "id")).collect()
}

/// Claims a message for delivery until `lease_until` under `token` (random, one per claim);
/// None if another worker holds an unexpired claim or the message is no longer pending.
pub async fn claim(
    conn: &mut Conn,
    id: Uuid,
    token: &str,
    now: Time,
    lease_until: Time,
) -> Result<Option<Message>> {
    let r = sqlx::query(
        "UPDATE outbox SET claimed_until = $3, claim_token = $4, attempts = attempts + 1 WHERE id = $1 AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < $2)",
    )
    .bind(id.to_string())
    .bind(us(now))
    .bind(us(lease_until))
    .bind(token)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() != 1 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT * FROM outbox WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&mut *conn)
        .await?;
    map(&row).map(Some)
}

/// Marks a message sent, if the claim `token` still holds it; false (and nothing changed)
/// when the claim was lost to another worker.
pub async fn mark_sent(conn: &mut Conn, id: Uuid, token: &str, at: Time) -> Result<bool> {
    let r = sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $3, claimed_until = NULL, claim_token = NULL, last_error = NULL WHERE id = $1 AND claim_token = $2 AND status = 'pending'")
        .bind(id.to_string())
        .bind(token)
        .bind(us(at))
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Records a failed attempt under the claim `token`: retry at `retry_at`, or give up
/// (`status = failed`) when None. False (and nothing changed) when the claim was lost.
pub async fn mark_failed(
    conn: &mut Conn,
    id: Uuid,
    token: &str,
    error: &str,
    retry_at: Option<Time>,
) -> Result<bool> {
    let r = sqlx::query("UPDATE outbox SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at), claimed_until = NULL, claim_token = NULL, last_error = $5 WHERE id = $1 AND claim_token = $2 AND status = 'pending'")
        .bind(id.to_string())
        .bind(token)
        .bind(if retry_at.is_some() { "pending" } else { "failed" })
        .bind(retry_at.map(us))
        .bind(error)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A tenant's messages, newest first.
pub async fn list(conn: &mut Conn, tenant: TenantId, limit: i64) -> Result<Vec<Message>> {
    let rows = sqlx::query(
        "SELECT * FROM outbox WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT $2",
    )
    .bind(tenant.to_string())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map).collect()
}
