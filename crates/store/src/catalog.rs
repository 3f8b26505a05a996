//! The catalog document in force (one per instance), with a version that other processes poll.

use crate::{Conn, Result, get_i64, get_str, us};
use seatkeeper_domain::Time;

#[derive(Debug, Clone)]
pub struct StoredCatalog {
    pub version: i64,
    pub name: String,
    pub source: String,
}

pub async fn get(conn: &mut Conn) -> Result<Option<StoredCatalog>> {
    let r = sqlx::query("SELECT version, name, source FROM catalog WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    r.map(|r| {
        Ok(StoredCatalog {
            version: get_i64(&r, "version")?,
            name: get_str(&r, "name")?,
            source: get_str(&r, "source")?,
        })
    })
    .transpose()
}

pub async fn version(conn: &mut Conn) -> Result<Option<i64>> {
    let r = sqlx::query("SELECT version FROM catalog WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    r.map(|r| get_i64(&r, "version")).transpose()
}

/// Stores a new catalog document and returns its version.
pub async fn put(conn: &mut Conn, name: &str, source: &str, at: Time) -> Result<i64> {
    let v = version(conn).await?.unwrap_or(0) + 1;
    sqlx::query(
        "INSERT INTO catalog (id, version, name, source, loaded_at) VALUES (1, $1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, name = excluded.name, source = excluded.source, loaded_at = excluded.loaded_at",
    )
    .bind(v)
    .bind(name)
    .bind(source)
    .bind(us(at))
    .execute(&mut *conn)
    .await?;
    Ok(v)
}

/// A product that organizations hold subscriptions of (a new catalog must keep it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuInUse {
    pub sku_id: String,
    /// How many organizations hold subscriptions of it.
    pub tenants: i64,
    /// How many subscriptions of it exist, across organizations.
    pub subscriptions: i64,
}

/// Products that some tenant holds subscriptions of, with counts across tenants.
pub async fn skus_in_use(conn: &mut Conn) -> Result<Vec<SkuInUse>> {
    let rows = sqlx::query(
        "SELECT sku_id, COUNT(DISTINCT tenant_id) AS tenants, COUNT(*) AS subscriptions
         FROM subscriptions WHERE status <> 'Deleted' GROUP BY sku_id ORDER BY sku_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SkuInUse {
                sku_id: get_str(r, "sku_id")?,
                tenants: get_i64(r, "tenants")?,
                subscriptions: get_i64(r, "subscriptions")?,
            })
        })
        .collect()
}
