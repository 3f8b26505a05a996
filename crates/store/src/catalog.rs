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

/// SKUs that some tenant holds subscriptions of (a new catalog must keep them).
pub async fn skus_in_use(conn: &mut Conn) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT DISTINCT sku_id FROM subscriptions WHERE status <> 'Deleted'")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| get_str(r, "sku_id")).collect()
}
