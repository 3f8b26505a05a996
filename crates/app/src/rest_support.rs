//! Use cases behind REST endpoints that the other modules do not cover: importing the catalog
//! as a signed-in Global admin, the development clock and job runs, and changing a
//! subscription's number of licenses and recurring billing together in one transaction.

use crate::catalog::ImportSummary;
use crate::jobs::JobReport;
use crate::subscriptions::subscription_json;
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::{DomainError, Time};
use seatkeeper_store::subscriptions::{self as subs, Subscription};
use serde_json::json;

fn no_dev_clock() -> AppError {
    AppError::not_found(
        "The development clock is off: start the server with --dev-clock to move time.",
    )
}

impl App {
    /// Replaces the operator's catalog (Global admin only), and records it in the caller's
    /// audit log.
    pub async fn import_catalog_as(
        &self,
        actor: &Actor,
        name: &str,
        source: &str,
    ) -> AppResult<ImportSummary> {
        actor.require(Action::ManageTenant)?;
        let summary = self.import_catalog(name, source).await?;
        let now = self.now();
        let s = summary.clone();
        crate::write!(self, tx => {
            audit::record(
                tx,
                actor,
                now,
                "catalog.import",
                "catalog",
                s.version,
                format!("Catalog '{name}' imported: {} products, {} service plans (version {})", s.products, s.plans, s.version),
                None,
                Some(json!({"name": name, "version": s.version, "products": s.products, "plans": s.plans})),
            )
            .await?;
            Ok(())
        })?;
        Ok(summary)
    }

    /// The development clock's current time (Global admin only).
    pub fn dev_clock(&self, actor: &Actor) -> AppResult<Time> {
        actor.require(Action::ManageTenant)?;
        if !self.clock.is_dev() {
            return Err(no_dev_clock());
        }
        Ok(self.now())
    }

    /// Sets the development clock (Global admin only); the jobs act on the new time at once.
    pub async fn set_dev_clock(&self, actor: &Actor, to: Time) -> AppResult<Time> {
        actor.require(Action::ManageTenant)?;
        let before = self.now();
        if !self.clock.set(to) {
            return Err(no_dev_clock());
        }
        let now = self.now();
        crate::write!(self, tx => {
            audit::record(
                tx,
                actor,
                now,
                "clock.set",
                "clock",
                "dev",
                format!("Development clock set to {}", to.to_rfc3339()),
                Some(json!({"now": before.to_rfc3339()})),
                Some(json!({"now": to.to_rfc3339()})),
            )
            .await?;
            Ok(())
        })?;
        Ok(now)
    }

    /// Runs the background jobs once, now (Global admin only; development clock only).
    pub async fn run_jobs_as(&self, actor: &Actor) -> AppResult<JobReport> {
        actor.require(Action::ManageTenant)?;
        if !self.clock.is_dev() {
            return Err(no_dev_clock());
        }
        self.run_jobs().await
    }

    /// Changes the number of licenses, recurring billing, or both in one transaction: either
    /// both changes are made or neither.
    pub async fn update_subscription(
        &self,
        actor: &Actor,
        key: &str,
        quantity: Option<i64>,
        recurring: Option<bool>,
    ) -> AppResult<Subscription> {
        actor.require(Action::ManageSubscriptions)?;
        let (quantity, recurring) = match (quantity, recurring) {
            (None, None) => {
                return Err(AppError::invalid(
                    "nothingToChange",
                    "Give quantity (the new total number of licenses), recurringBilling (true or false), or both.",
                ));
            }
            (Some(q), None) => return self.set_quantity(actor, key, q).await,
            (None, Some(r)) => return self.set_recurring(actor, key, r).await,
            (Some(q), Some(r)) => (q, r),
        };
        let now = self.now();
        let catalog = self.catalog();
        crate::write!(self, tx => {
            let before = self.load_for_change(tx, actor, key).await?;
            let part = catalog
                .product(before.sku_id)
                .map(|p| p.sku_part_number.clone())
                .unwrap_or_else(|| before.sku_id.to_string());
            let mut s = before.clone();
            s.life.check_quantity_change(now, s.quantity, quantity)?;
            s.life.set_recurring(recurring)?;
            let delta = quantity - before.quantity;
            if delta != 0 && !subs::change_total(tx, s.pool_id, delta, false).await? {
                let pool = subs::get_pool(tx, s.pool_id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("pool of {key} is missing"))?;
                return Err(DomainError::BelowAssigned {
                    product: part.clone(),
                    assigned: pool.assigned,
                    total_after: pool.total + delta,
                    minimum: before.quantity - (pool.total - pool.assigned),
                }
                .into());
            }
            if delta > 0 {
                s.life.add_licenses(now);
            }
            s.quantity = quantity;
            if s == before {
                return Ok(s);
            }
            subs::update(tx, &s, before.life.status).await?;
            if delta != 0 {
                let mut mid = before.clone();
                mid.quantity = s.quantity;
                mid.life.last_added_at = s.life.last_added_at;
                let verb = if delta > 0 { format!("Added {delta}") } else { format!("Removed {}", -delta) };
                audit::record(tx, actor, now, "subscription.quantity", "subscription", s.id, format!("{verb} {part} licenses: {} → {quantity}", before.quantity), Some(subscription_json(&before)), Some(subscription_json(&mid))).await?;
                if mid != s {
                    audit::record(tx, actor, now, "subscription.recurring", "subscription", s.id, format!("Recurring billing {} for {part}", if recurring { "on" } else { "off" }), Some(subscription_json(&mid)), Some(subscription_json(&s))).await?;
                }
            } else {
                audit::record(tx, actor, now, "subscription.recurring", "subscription", s.id, format!("Recurring billing {} for {part}", if recurring { "on" } else { "off" }), Some(subscription_json(&before)), Some(subscription_json(&s))).await?;
            }
            Ok(s)
        })
    }
}
