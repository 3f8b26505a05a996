//! Local sign-in: password hashes, server-side sessions and the sign-in throttle.
//!
//! Password hashes live in their own table and are read only by the functions here that say so;
//! no user query returns them.

use crate::{Conn, Result, flag, get_bool, get_i64, get_id, get_opt, get_str, get_time, us};
use seatkeeper_domain::roles::Role;
use seatkeeper_domain::{SessionId, TenantId, Time, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

// ----- passwords -----

/// A user's stored password: an argon2id PHC string. Never rendered, never logged (`Debug`
/// hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordRecord {
    pub user_id: UserId,
    pub password_hash: String,
    /// The user must choose a new password before anything else.
    pub force_change: bool,
    pub changed_at: Time,
}

impl std::fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordRecord")
            .field("user_id", &self.user_id)
            .field("password_hash", &"***")
            .field("force_change", &self.force_change)
            .field("changed_at", &self.changed_at)
            .finish()
    }
}

/// Sets (or replaces) a user's password hash.
pub async fn set_password(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    password_hash: &str,
    force_change: bool,
    at: Time,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO credentials (user_id, tenant_id, password_hash, force_change, changed_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, force_change = excluded.force_change, changed_at = excluded.changed_at",
    )
    .bind(user.to_string())
    .bind(tenant.to_string())
    .bind(password_hash)
    .bind(flag(force_change))
    .bind(us(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Sets whether the user must change their password; false if they have none.
pub async fn set_force_change(conn: &mut Conn, user: UserId, force_change: bool) -> Result<bool> {
    let r = sqlx::query("UPDATE credentials SET force_change = $2 WHERE user_id = $1")
        .bind(user.to_string())
        .bind(flag(force_change))
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The user's stored password, if they have one.
pub async fn password_of(conn: &mut Conn, user: UserId) -> Result<Option<PasswordRecord>> {
    let r = sqlx::query("SELECT * FROM credentials WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref()
        .map(|r| {
            Ok(PasswordRecord {
                user_id: get_id(r, "user_id")?,
                password_hash: get_str(r, "password_hash")?,
                force_change: get_bool(r, "force_change")?,
                changed_at: get_time(r, "changed_at")?,
            })
        })
        .transpose()
}

/// An account that a user name may sign in to (user names are unique per organization only).
#[derive(Clone)]
pub struct SignInCandidate {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub upn: String,
    pub account_enabled: bool,
    /// None: no password set.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for SignInCandidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInCandidate")
            .field("user_id", &self.user_id)
            .field("tenant_id", &self.tenant_id)
            .field("upn", &self.upn)
            .field("account_enabled", &self.account_enabled)
            .finish_non_exhaustive()
    }
}

/// Every account in any organization whose user name is `name_lower`, with its password hash.
pub async fn sign_in_candidates(conn: &mut Conn, name_lower: &str) -> Result<Vec<SignInCandidate>> {
    let rows = sqlx::query(
        "SELECT u.id, u.tenant_id, t.name AS tenant_name, u.upn, u.account_enabled, c.password_hash
         FROM users u JOIN tenants t ON t.id = u.tenant_id LEFT JOIN credentials c ON c.user_id = u.id
         WHERE u.upn_lower = $1 ORDER BY u.created_at, u.id",
    )
    .bind(name_lower)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SignInCandidate {
                user_id: get_id(r, "id")?,
                tenant_id: get_id(r, "tenant_id")?,
                tenant_name: get_str(r, "tenant_name")?,
                upn: get_str(r, "upn")?,
                account_enabled: get_bool(r, "account_enabled")?,
                password_hash: get_opt(r, "password_hash")?,
            })
        })
        .collect()
}

// ----- sessions -----

/// A stored session (the secret itself is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub csrf_token: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Time,
    pub last_seen_at: Time,
}

fn map_session(r: &AnyRow) -> Result<SessionRow> {
    Ok(SessionRow {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        user_id: get_id(r, "user_id")?,
        csrf_token: get_str(r, "csrf_token")?,
        client_ip: get_opt(r, "client_ip")?,
        user_agent: get_opt(r, "user_agent")?,
        created_at: get_time(r, "created_at")?,
        last_seen_at: get_time(r, "last_seen_at")?,
    })
}

pub async fn insert_session(conn: &mut Conn, s: &SessionRow, hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, user_id, hash, csrf_token, client_ip, user_agent, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(s.id.to_string())
    .bind(s.tenant_id.to_string())
    .bind(s.user_id.to_string())
    .bind(hash)
    .bind(&s.csrf_token)
    .bind(s.client_ip.clone())
    .bind(s.user_agent.clone())
    .bind(us(s.created_at))
    .bind(us(s.last_seen_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What a request needs to know about its session, read in one query.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub session: SessionRow,
    pub upn: String,
    pub account_enabled: bool,
    pub must_change_password: bool,
    pub roles: Vec<Role>,
}

pub async fn session_by_hash(conn: &mut Conn, hash: &str) -> Result<Option<SessionView>> {
    let rows = sqlx::query(
        "SELECT s.*, u.upn AS user_upn, u.account_enabled AS user_enabled, c.force_change AS user_force_change, r.role AS user_role
         FROM sessions s JOIN users u ON u.id = s.user_id
         LEFT JOIN credentials c ON c.user_id = u.id LEFT JOIN user_roles r ON r.user_id = u.id
         WHERE s.hash = $1",
    )
    .bind(hash)
    .fetch_all(&mut *conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut roles: Vec<Role> = rows
        .iter()
        .filter_map(|r| get_opt(r, "user_role").ok().flatten())
        .filter_map(|s| Role::parse(&s))
        .collect();
    roles.sort();
    roles.dedup();
    Ok(Some(SessionView {
        session: map_session(first)?,
        upn: get_str(first, "user_upn")?,
        account_enabled: get_bool(first, "user_enabled")?,
        must_change_password: first
            .try_get::<Option<i64>, _>("user_force_change")?
            .is_some_and(|v| v != 0),
        roles,
    }))
}

/// Records that the session was used at `at`.
pub async fn touch_session(conn: &mut Conn, id: SessionId, at: Time) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(us(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn delete_session(conn: &mut Conn, id: SessionId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends every session of `user`, except `keep`; returns how many ended.
pub async fn delete_sessions_of(
    conn: &mut Conn,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user.to_string())
        .bind(keep.map(|k| k.to_string()).unwrap_or_default())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// Deletes sessions last used before `before` (idle too long).
pub async fn purge_idle_sessions(conn: &mut Conn, before: Time) -> Result<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1")
        .bind(us(before))
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

// ----- throttle -----

/// Recent failed sign-ins for one user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub failures: i64,
    pub last_failed_at: Time,
    pub locked_until: Option<Time>,
}

pub async fn throttle(conn: &mut Conn, name_key: &str) -> Result<Option<Throttle>> {
    let r = sqlx::query("SELECT * FROM sign_in_throttle WHERE name_key = $1")
        .bind(name_key)
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref()
        .map(|r| {
            Ok(Throttle {
                failures: get_i64(r, "failures")?,
                last_failed_at: get_time(r, "last_failed_at")?,
                locked_until: r
                    .try_get::<Option<i64>, _>("locked_until")?
                    .map(crate::from_us),
            })
        })
        .transpose()
}

pub async fn put_throttle(conn: &mut Conn, name_key: &str, t: &Throttle) -> Result<()> {
    sqlx::query(
        "INSERT INTO sign_in_throttle (name_key, failures, last_failed_at, locked_until) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name_key) DO UPDATE SET failures = excluded.failures, last_failed_at = excluded.last_failed_at, locked_until = excluded.locked_until",
    )
    .bind(name_key)
    .bind(t.failures)
    .bind(us(t.last_failed_at))
    .bind(t.locked_until.map(us))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn clear_throttle(conn: &mut Conn, name_key: &str) -> Result<()> {
    sqlx::query("DELETE FROM sign_in_throttle WHERE name_key = $1")
        .bind(name_key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Forgets failures last seen before `before` whose wait (if any) is over.
pub async fn purge_throttle(conn: &mut Conn, before: Time) -> Result<u64> {
    let r = sqlx::query(
        "DELETE FROM sign_in_throttle WHERE last_failed_at < $1 AND (locked_until IS NULL OR locked_until < $1)",
    )
    .bind(us(before))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}
