//! The operator of the instance: tokens (stored as SHA-256 hashes, revocable) and the
//! instance-level audit log (append-only: the database refuses updates and deletes).

use crate::{Conn, Result, get_i64, get_id, get_opt, get_str, get_time, us};
use seatkeeper_domain::Time;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

/// An operator token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorToken {
    pub id: Uuid,
    pub name: String,
    pub created_at: Time,
    pub expires_at: Option<Time>,
    pub revoked_at: Option<Time>,
}

fn map_token(r: &AnyRow) -> Result<OperatorToken> {
    Ok(OperatorToken {
        id: get_id(r, "id")?,
        name: get_str(r, "name")?,
        created_at: get_time(r, "created_at")?,
        expires_at: r
            .try_get::<Option<i64>, _>("expires_at")?
            .map(crate::from_us),
        revoked_at: r
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(crate::from_us),
    })
}

/// Stores a new operator token under the hash of its secret.
pub async fn insert_token(conn: &mut Conn, t: &OperatorToken, hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO operator_tokens (id, hash, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(t.id.to_string())
        .bind(hash)
        .bind(&t.name)
        .bind(us(t.created_at))
        .bind(t.expires_at.map(us))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The token with this secret's hash, revoked or not.
pub async fn token_by_hash(conn: &mut Conn, hash: &str) -> Result<Option<OperatorToken>> {
    let r = sqlx::query("SELECT * FROM operator_tokens WHERE hash = $1")
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_token).transpose()
}

/// The operator token with this id.
pub async fn get_token(conn: &mut Conn, id: Uuid) -> Result<Option<OperatorToken>> {
    let r = sqlx::query("SELECT * FROM operator_tokens WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_token).transpose()
}

/// Every operator token, oldest first.
pub async fn list_tokens(conn: &mut Conn) -> Result<Vec<OperatorToken>> {
    let rows = sqlx::query("SELECT * FROM operator_tokens ORDER BY created_at, id")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map_token).collect()
}

/// Revokes a token; false if it was revoked already.
pub async fn revoke_token(conn: &mut Conn, id: Uuid, at: Time) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE operator_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id.to_string())
    .bind(us(at))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// One entry of the operator's audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub at: Time,
    /// The operator token's id; none at the command line.
    pub actor_id: Option<String>,
    /// Who, as a person reads it: "operator (cli)" or "operator token 'name'".
    pub actor: String,
    /// Dotted verb, e.g. `catalog.import`, `operator.token.create`.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub summary: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

fn map_entry(r: &AnyRow) -> Result<Entry> {
    Ok(Entry {
        id: get_i64(r, "id")?,
        at: get_time(r, "at")?,
        actor_id: get_opt(r, "actor_id")?,
        actor: get_str(r, "actor")?,
        action: get_str(r, "action")?,
        target_type: get_str(r, "target_type")?,
        target_id: get_str(r, "target_id")?,
        summary: get_str(r, "summary")?,
        before: get_opt(r, "before_json")?,
        after: get_opt(r, "after_json")?,
    })
}

/// Appends one entry to the operator's audit log.
pub async fn append(conn: &mut Conn, e: &Entry) -> Result<()> {
    sqlx::query(
        "INSERT INTO operator_audit_log (at, actor_id, actor, action, target_type, target_id, summary, before_json, after_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(us(e.at))
    .bind(e.actor_id.clone())
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.target_type)
    .bind(&e.target_id)
    .bind(&e.summary)
    .bind(e.before.clone())
    .bind(e.after.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The newest `limit` entries, newest first; `action` filters by prefix (`catalog.`).
pub async fn list(conn: &mut Conn, action: Option<&str>, limit: i64) -> Result<Vec<Entry>> {
    let like = action.map(|a| {
        let e: String = a.chars().filter(|c| !matches!(c, '%' | '_')).collect();
        format!("{e}%")
    });
    let rows = sqlx::query(
        "SELECT * FROM operator_audit_log WHERE ($1 IS NULL OR action LIKE $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(like)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map_entry).collect()
}
