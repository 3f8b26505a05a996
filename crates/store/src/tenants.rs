//! Tenants.

use crate::{Conn, Result, get_id, get_opt, get_str, get_time, us};
use seatkeeper_domain::{TenantId, Time};
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub default_usage_location: Option<String>,
    pub currency: String,
    pub created_at: Time,
}

fn map(r: &AnyRow) -> Result<Tenant> {
    Ok(Tenant {
        id: get_id(r, "id")?,
        name: get_str(r, "name")?,
        default_usage_location: get_opt(r, "default_usage_location")?,
        currency: get_str(r, "currency")?,
        created_at: get_time(r, "created_at")?,
    })
}

pub async fn insert(conn: &mut Conn, t: &Tenant) -> Result<()> {
    sqlx::query("INSERT INTO tenants (id, name, default_usage_location, currency, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(t.id.to_string())
        .bind(&t.name)
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

pub async fn list(conn: &mut Conn) -> Result<Vec<Tenant>> {
    let rows = sqlx::query("SELECT * FROM tenants ORDER BY created_at")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map).collect()
}

pub async fn update(conn: &mut Conn, t: &Tenant) -> Result<()> {
    sqlx::query(
        "UPDATE tenants SET name = $2, default_usage_location = $3, currency = $4 WHERE id = $1",
    )
    .bind(t.id.to_string())
    .bind(&t.name)
    .bind(t.default_usage_location.clone())
    .bind(&t.currency)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
