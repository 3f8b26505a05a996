//! The self-service purchase policy (POL1): the organization's default and the products it set.

use crate::{Conn, Result, get_str, us};
use seatkeeper_domain::kinds::PolicyValue;
use seatkeeper_domain::{SkuId, TenantId, Time};
use sqlx::Row;
use std::collections::HashMap;

fn value(s: &str) -> Result<PolicyValue> {
    PolicyValue::parse(s).ok_or_else(|| {
        sqlx::Error::Decode(format!("unknown purchase policy value '{s}' in the database").into())
    })
}

/// The organization's default for products it has not set (`Enabled` until changed).
pub async fn default_value(conn: &mut Conn, tenant: TenantId) -> Result<PolicyValue> {
    let r = sqlx::query("SELECT purchase_policy_default FROM tenants WHERE id = $1")
        .bind(tenant.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    match r {
        Some(r) => value(&get_str(&r, "purchase_policy_default")?),
        None => Ok(PolicyValue::Enabled),
    }
}

/// Sets the organization's default.
pub async fn set_default(conn: &mut Conn, tenant: TenantId, v: PolicyValue) -> Result<()> {
    sqlx::query("UPDATE tenants SET purchase_policy_default = $2 WHERE id = $1")
        .bind(tenant.to_string())
        .bind(v.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The products the organization set explicitly.
pub async fn explicit(conn: &mut Conn, tenant: TenantId) -> Result<HashMap<SkuId, PolicyValue>> {
    let rows = sqlx::query("SELECT sku_id, value FROM purchase_policies WHERE tenant_id = $1")
        .bind(tenant.to_string())
        .fetch_all(&mut *conn)
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let sku: String = r.try_get("sku_id")?;
        if let Some(id) = SkuId::parse(&sku) {
            out.insert(id, value(&get_str(r, "value")?)?);
        }
    }
    Ok(out)
}

/// The value one product was set to, if it was.
pub async fn get(conn: &mut Conn, tenant: TenantId, sku: SkuId) -> Result<Option<PolicyValue>> {
    let r = sqlx::query("SELECT value FROM purchase_policies WHERE tenant_id = $1 AND sku_id = $2")
        .bind(tenant.to_string())
        .bind(sku.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.map(|r| value(&get_str(&r, "value")?)).transpose()
}

/// Sets one product's value.
pub async fn set(
    conn: &mut Conn,
    tenant: TenantId,
    sku: SkuId,
    v: PolicyValue,
    at: Time,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO purchase_policies (tenant_id, sku_id, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, sku_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(tenant.to_string())
    .bind(sku.to_string())
    .bind(v.as_str())
    .bind(us(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
