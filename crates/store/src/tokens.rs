//! Bearer tokens, stored as SHA-256 hashes.

use crate::{Conn, Fields, Result, bulk, get_id, get_str, get_time, us};
use seatkeeper_domain::{TenantId, Time, TokenId, UserId};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: TokenId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub name: String,
    pub created_at: Time,
    pub expires_at: Option<Time>,
    pub revoked_at: Option<Time>,
    /// For a partner's token: the customer organization it acts in (see `partners`).
    pub acting_tenant_id: Option<TenantId>,
}

fn map(r: &impl Fields) -> Result<Token> {
    Ok(Token {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        user_id: get_id(r, "user_id")?,
        name: get_str(r, "name")?,
        created_at: get_time(r, "created_at")?,
        expires_at: r.opt_int("expires_at")?.map(crate::from_us),
        revoked_at: r.opt_int("revoked_at")?.map(crate::from_us),
        acting_tenant_id: crate::get_opt_id(r, "acting_tenant_id")?,
    })
}

pub async fn insert(conn: &mut Conn, t: &Token, hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO tokens (id, tenant_id, user_id, hash, name, created_at, expires_at, acting_tenant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(t.id.to_string())
        .bind(t.tenant_id.to_string())
        .bind(t.user_id.to_string())
        .bind(hash)
        .bind(&t.name)
        .bind(us(t.created_at))
        .bind(t.expires_at.map(us))
        .bind(t.acting_tenant_id.map(|a| a.to_string()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, tenant: TenantId, id: TokenId) -> Result<Option<Token>> {
    let r = sqlx::query("SELECT * FROM tokens WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map).transpose()
}

pub async fn list_for_user(conn: &mut Conn, tenant: TenantId, user: UserId) -> Result<Vec<Token>> {
    let rows = sqlx::query(
        "SELECT * FROM tokens WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map).collect()
}

pub async fn revoke(conn: &mut Conn, id: TokenId, at: Time) -> Result<bool> {
    let r = sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id.to_string())
        .bind(us(at))
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes every token with which `user` (a partner) acts for organization `customer`; how
/// many were revoked.
pub async fn revoke_acting(
    conn: &mut Conn,
    user: UserId,
    customer: TenantId,
    at: Time,
) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE tokens SET revoked_at = $3 WHERE user_id = $1 AND acting_tenant_id = $2 AND revoked_at IS NULL",
    )
    .bind(user.to_string())
    .bind(customer.to_string())
    .bind(us(at))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// What a request needs to know about its bearer token, read in one query.
#[derive(Debug, Clone)]
pub struct Credential {
    pub token: Token,
    pub upn: String,
    pub account_enabled: bool,
    pub roles: Vec<seatkeeper_domain::roles::Role>,
}

impl Token {
    /// The organization the token acts in: the customer's for a partner's token, otherwise
    /// its own. It never changes.
    pub fn acts_in(&self) -> TenantId {
        self.acting_tenant_id.unwrap_or(self.tenant_id)
    }
}

/// Credentials by the hash of their token.
pub type Credentials = HashMap<String, Credential>;

/// The credential of the token stored under `hash`, if there is one.
pub async fn credential(conn: &mut Conn, hash: &str) -> Result<Option<Credential>> {
    Ok(credentials(conn, &[hash], &mut false).await?.remove(hash))
}

/// The credentials of the tokens stored under `hashes`, by hash, in one statement; hashes of
/// no token are left out. With `begin` (SQLite, on a connection with no transaction open) the
/// statement begins the transaction first ([`crate::SQLITE_BEGIN`]); `begin` is then set to
/// false. With no hashes it is left as it is and no statement runs.
pub async fn credentials(
    conn: &mut Conn,
    hashes: &[&str],
    begin: &mut bool,
) -> Result<Credentials> {
    if hashes.is_empty() {
        return Ok(HashMap::new());
    }
    // One token (every request's own authentication) is looked up by the key itself; a list
    // (a batch of license changes) is bound as one JSON array.
    let (matching, list) = match hashes {
        [one] => ("= $1".to_string(), one.to_string()),
        _ => (
            format!("IN ({})", bulk::texts(conn, 1)),
            bulk::text_list(hashes),
        ),
    };
    let sql = format!("{CREDENTIAL_SELECT} WHERE t.hash {matching}");
    let sql = crate::begun(sql, begin);
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(list)
        .fetch_all(&mut *conn)
        .await?;
    by_hash(&rows)
}

/// The columns of a credential's rows, one per role of its user ([`credentials_part`]).
pub(crate) const CREDENTIAL_COLS: &[&str] = &[
    "id",
    "tenant_id",
    "user_id",
    "hash",
    "name",
    "created_at",
    "expires_at",
    "revoked_at",
    "acting_tenant_id",
    "user_upn",
    "user_enabled",
    "user_role",
];

/// A token with its user's name, whether their account is enabled and one of their roles
/// (a row per role, none for a user without one).
const CREDENTIAL_SELECT: &str = "SELECT t.id, t.tenant_id, t.user_id, t.hash, t.name, t.created_at, t.expires_at, t.revoked_at, t.acting_tenant_id, u.upn AS user_upn, u.account_enabled AS user_enabled, r.role AS user_role
         FROM tokens t JOIN users u ON u.id = t.user_id LEFT JOIN user_roles r ON r.user_id = u.id";

/// A part of a read of several parts ([`bulk::json_parts`]): the rows of the credentials of
/// the tokens whose hashes are in the JSON array bound at `$n`, with [`CREDENTIAL_COLS`]. Read
/// them with [`by_hash`].
pub(crate) fn credentials_part(conn: &Conn, n: usize) -> String {
    let inner = format!(
        "{CREDENTIAL_SELECT} WHERE t.hash IN ({})",
        bulk::texts(conn, n)
    );
    bulk::json_rows(conn, &inner, CREDENTIAL_COLS, "hash, user_role")
}

/// The credentials in `rows` (a row per token and role of its user), by hash.
pub(crate) fn by_hash(rows: &[impl Fields]) -> Result<Credentials> {
    let mut out = Credentials::new();
    for r in rows {
        let role =
            crate::get_opt(r, "user_role")?.and_then(|s| seatkeeper_domain::roles::Role::parse(&s));
        match out.entry(get_str(r, "hash")?) {
            Entry::Occupied(mut c) => c.get_mut().roles.extend(role),
            Entry::Vacant(v) => {
                v.insert(Credential {
                    token: map(r)?,
                    upn: get_str(r, "user_upn")?,
                    account_enabled: crate::get_bool(r, "user_enabled")?,
                    roles: role.into_iter().collect(),
                });
            }
        }
    }
    for c in out.values_mut() {
        c.roles.sort();
        c.roles.dedup();
    }
    Ok(out)
}
