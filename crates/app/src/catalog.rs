//! The catalog in force: stored in the database so that every server process shares it.

use crate::operator::Operator;
use crate::{App, AppError, AppResult};
use seatkeeper_domain::catalog::{Catalog, DEMO_CATALOG};
use seatkeeper_store::catalog as stored;
use serde_json::json;
use std::sync::Arc;

/// What an import changed.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    /// The catalog's version now in force.
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
                let version = stored::put(&mut tx, "demo-catalog.toml", DEMO_CATALOG, now).await?;
                crate::operator::record(
                    &mut tx,
                    &Operator::system(),
                    now,
                    "catalog.import",
                    "catalog",
                    version,
                    "Demo catalog stored: no catalog had been imported",
                    None,
                    Some(json!({"name": "demo-catalog.toml", "version": version})),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
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

    /// Replaces the catalog (the operator only), recorded in the operator's audit log in the
    /// same transaction. Nothing changes if the file is bad, or if it drops a product that an
    /// organization still holds a subscription of.
    pub async fn import_catalog(
        &self,
        by: &Operator,
        name: &str,
        source: &str,
    ) -> AppResult<ImportSummary> {
        let c = Catalog::parse_named(name, source)
            .map_err(|e| AppError::invalid("invalidCatalog", format!("{name}: {e}")))?;
        let now = self.now();
        let c = &c;
        let summary = self.transact(move |tx| Box::pin(async move {
            for used in stored::skus_in_use(tx).await? {
                let id = seatkeeper_domain::SkuId::parse(&used.sku_id);
                if id.is_some_and(|id| c.product(id).is_some()) {
                    continue;
                }
                let old = self.catalog();
                let part = id
                    .and_then(|id| old.product(id).map(|p| p.sku_part_number.clone()))
                    .unwrap_or_else(|| used.sku_id.clone());
                let orgs = if used.tenants == 1 { "1 organization holds".to_string() } else { format!("{} organizations hold", used.tenants) };
                let subs = if used.subscriptions == 1 { "1 subscription".to_string() } else { format!("{} subscriptions", used.subscriptions) };
                return Err(AppError::conflict(
                    "productInUse",
                    format!("{name}: product {part} ({}) is missing, but {orgs} {subs} of it; keep it in the catalog", used.sku_id),
                ));
            }
            let before = stored::get(tx).await?;
            let version = stored::put(tx, name, source, now).await?;
            let s = ImportSummary { version, products: c.products.len(), plans: c.plans.len() };
            crate::operator::record(
                tx,
                by,
                now,
                "catalog.import",
                "catalog",
                version,
                format!("Catalog '{name}' imported: {} products, {} service plans (version {version})", s.products, s.plans),
                before.map(|b| json!({"name": b.name, "version": b.version})),
                Some(json!({"name": name, "version": version, "products": s.products, "plans": s.plans})),
            )
            .await?;
            Ok(s)
        })).await?;
        self.refresh_catalog().await?;
        Ok(summary)
    }
}

/// The catalog document in force, as it was imported.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogDocument {
    pub version: i64,
    pub name: String,
    pub source: String,
}

impl App {
    /// The catalog document in force, exactly as it was imported.
    pub async fn catalog_document(&self) -> AppResult<Option<CatalogDocument>> {
        let mut conn = self.read().await?;
        Ok(seatkeeper_store::catalog::get(&mut conn)
            .await?
            .map(|d| CatalogDocument {
                version: d.version,
                name: d.name,
                source: d.source,
            }))
    }
}
