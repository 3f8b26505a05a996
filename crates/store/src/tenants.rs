//! Tenants.

use crate::{Conn, Result, get_id, get_opt, get_str, get_time, us};
use seatkeeper_domain::TenantId;
pub use seatkeeper_domain::tenant::{Tenant, name_key};
use sqlx::any::AnyRow;

fn map(r: &AnyRow) -> Result<Tenant> {
    Ok(Tenant {
        id: get_id(r, "id")?,
        name: get_str(r, "name")?,
        default_usage_location: get_opt(r, "default_usage_location")?,
        currency: get_str(r, "currency")?,
        created_at: get_time(r, "created_at")?,
    })
}

/// Inserts a tenant. A name that another tenant has (see [`name_key`]) is a unique violation.
pub async fn insert(conn: &mut Conn, t: &Tenant) -> Result<()> {
    sqlx::query("INSERT INTO tenants (id, name, name_key, default_usage_location, currency, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(t.id.to_string())
        .bind(&t.name)
        .bind(name_key(&t.name))
        .bind(t.default_usage_location.clone())
        .bind(&t.currency)
        .bind(us(t.created_at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: TenantId) -> Result<Option<Tenant>> {
    let r = sqlx::query("SELECT * FROM tenants WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map).transpose()
}

/// The tenant with this name, ignoring case and surrounding whitespace.
pub async fn get_by_name(conn: &mut Conn, name: &str) -> Result<Option<Tenant>> {
    let r = sqlx::query("SELECT * FROM tenants WHERE name_key = $1")
        .bind(name_key(name))
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map).transpose()
}

/// Locks the tenant's row for the rest of the transaction (PostgreSQL row lock; SQLite write
/// transactions are serialized anyway), so that checks over the whole organization (its last
/// Global admin) cannot interleave. False if there is no such tenant.
pub async fn lock(conn: &mut Conn, id: TenantId) -> Result<bool> {
    // A column outside every index: PostgreSQL takes the row lock that does not block the
    // foreign-key checks of rows inserted for the tenant.
    let r = sqlx::query("UPDATE tenants SET currency = currency WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn list(conn: &mut Conn) -> Result<Vec<Tenant>> {
    let rows = sqlx::query("SELECT * FROM tenants ORDER BY created_at")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map).collect()
}

pub async fn update(conn: &mut Conn, t: &Tenant) -> Result<()> {
    sqlx::query(
        "UPDATE tenants SET name = $2, name_key = $5, default_usage_location = $3, currency = $4 WHERE id = $1",
    )
    .bind(t.id.to_string())
    .bind(&t.name)
    .bind(t.default_usage_location.clone())
    .bind(&t.currency)
    .bind(name_key(&t.name))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
