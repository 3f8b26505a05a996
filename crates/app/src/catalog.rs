//! The catalog in force: stored in the database so that every server process shares it.

use crate::{App, AppError, AppResult};
use seatkeeper_domain::catalog::{Catalog, DEMO_CATALOG};
use seatkeeper_store::catalog as stored;
use std::sync::Arc;

/// What an import changed.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    pub version: i64,
    pub products: usize,
    pub plans: usize,
}

impl App {
    /// Loads the stored catalog; stores the demo catalog if there is none yet.
    pub(crate) async fn ensure_catalog(&self) -> anyhow::Result<()> {
        let mut conn = self.db.reader().acquire().await?;
        if stored::version(&mut conn).await?.is_none() {
            drop(conn);
            let now = self.now();
            let mut tx = self.db.begin().await?;
            if stored::version(&mut tx).await?.is_none() {
                stored::put(&mut tx, "demo-catalog.toml", DEMO_CATALOG, now).await?;
            }
            tx.commit().await?;
        }
        self.refresh_catalog().await?;
        Ok(())
    }

    /// Picks up a catalog imported by another process. Cheap when nothing changed.
    pub async fn refresh_catalog(&self) -> anyhow::Result<()> {
        let mut conn = self.db.reader().acquire().await?;
        let Some(v) = stored::version(&mut conn).await? else {
            return Ok(());
        };
        let current = self.catalog.read().map(|g| g.0).unwrap_or(0);
        if v == current {
            return Ok(());
        }
        let Some(doc) = stored::get(&mut conn).await? else {
            return Ok(());
        };
        let c = Catalog::parse_named(&doc.name, &doc.source).map_err(|e| {
            anyhow::anyhow!("the stored catalog '{}' no longer parses: {e}", doc.name)
        })?;
        if let Ok(mut g) = self.catalog.write() {
            *g = (doc.version, Arc::new(c));
        }
        Ok(())
    }

    /// Validates and stores a new catalog. Nothing changes if it is bad, or if it drops a
    /// product that a tenant still holds a subscription of.
    pub async fn import_catalog(&self, name: &str, source: &str) -> AppResult<ImportSummary> {
        let c = Catalog::parse_named(name, source)
            .map_err(|e| AppError::invalid("invalidCatalog", format!("{name}: {e}")))?;
        let now = self.now();
        let summary = crate::write!(self, tx => {
            for sku in stored::skus_in_use(tx).await? {
                let keep = seatkeeper_domain::SkuId::parse(&sku).is_some_and(|id| c.product(id).is_some());
                if !keep {
                    let old = self.catalog();
                    let part = seatkeeper_domain::SkuId::parse(&sku)
                        .and_then(|id| old.product(id).map(|p| p.sku_part_number.clone()))
                        .unwrap_or_else(|| sku.clone());
                    return Err(AppError::conflict(
                        "productInUse",
                        format!("{name}: product {part} ({sku}) is missing, but subscriptions of it exist; keep it in the catalog"),
                    ));
                }
            }
            let version = stored::put(tx, name, source, now).await?;
            Ok(ImportSummary { version, products: c.products.len(), plans: c.plans.len() })
        })?;
        self.refresh_catalog().await?;
        Ok(summary)
    }
}
