//! The admin home page's summary: licenses at a glance and what needs attention, with where
//! each is fixed.

use crate::licenses::ProductLicenses;
use crate::{Actor, App, AppResult};
use seatkeeper_domain::lifecycle::Status;
use seatkeeper_domain::{SkuId, Time};

/// A subscription without recurring billing that ends within this many days needs attention.
pub const ENDING_SOON_DAYS: i64 = 30;

/// Why something needs an admin's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionKind {
    /// A subscription in its grace period: its users keep access for now.
    Expired,
    /// A subscription that no longer gives access.
    Disabled,
    /// An active subscription without recurring billing that ends within
    /// [`ENDING_SOON_DAYS`].
    EndingSoon,
    /// A product with no licenses left to assign.
    NoneAvailable,
}

/// One thing that needs attention.
#[derive(Debug, Clone)]
pub struct Attention {
    pub kind: AttentionKind,
    pub sku_id: SkuId,
    pub product: String,
    /// The subscription concerned (its commerce id), when it is about one.
    pub subscription: Option<String>,
    /// How many licenses the subscription has (or the product in all).
    pub licenses: i64,
    /// When the subscription's term ends (or ended).
    pub term_end: Option<Time>,
    /// The subscription was bought through self-service: admins act on it only by taking it
    /// over (SS4).
    pub self_service: bool,
    /// The subscription is a trial (it cannot be reactivated).
    pub trial: bool,
}

/// The admin home page: licenses at a glance and what needs attention.
#[derive(Debug, Clone)]
pub struct HomeSummary {
    /// One row per product, as on the Licenses page.
    pub licenses: Vec<ProductLicenses>,
    /// Expired and Disabled subscriptions first, then those ending soon, then products with
    /// no licenses left.
    pub attention: Vec<Attention>,
}

impl App {
    /// The admin home page's summary (any admin role).
    pub async fn home_summary(&self, actor: &Actor) -> AppResult<HomeSummary> {
        let licenses = self.licenses_page(actor).await?;
        let subs = self.list_subscriptions(actor, false).await?;
        let catalog = self.catalog();
        let now = self.now();
        let soon = now + chrono::Duration::days(ENDING_SOON_DAYS);
        let name = |sku: SkuId| {
            catalog
                .product(sku)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| sku.to_string())
        };
        let mut attention = Vec::new();
        for s in &subs {
            let kind = match s.life.status {
                Status::Expired => AttentionKind::Expired,
                Status::Disabled => AttentionKind::Disabled,
                Status::Active if !s.life.recurring && s.life.term_end <= soon => {
                    AttentionKind::EndingSoon
                }
                _ => continue,
            };
            attention.push(Attention {
                kind,
                sku_id: s.sku_id,
                product: name(s.sku_id),
                subscription: Some(s.commerce_id.clone()),
                licenses: s.quantity,
                term_end: Some(s.life.term_end),
                self_service: s.origin == seatkeeper_domain::kinds::Origin::SelfService,
                trial: s.is_trial,
            });
        }
        attention.sort_by_key(|a| (a.kind as u8, a.term_end));
        // A product is listed once: "no licenses left" only for a product whose licenses all
        // work and are all assigned; one without working licenses is already listed by its
        // Expired or Disabled subscription (or has none left to list).
        let listed: std::collections::BTreeSet<SkuId> =
            attention.iter().map(|a| a.sku_id).collect();
        for row in licenses
            .iter()
            .filter(|r| r.available == 0 && r.has_licenses_to_give() && !listed.contains(&r.sku_id))
        {
            attention.push(Attention {
                kind: AttentionKind::NoneAvailable,
                sku_id: row.sku_id,
                product: row.product_name.clone(),
                subscription: None,
                licenses: row.total,
                term_end: None,
                self_service: false,
                trial: false,
            });
        }
        Ok(HomeSummary {
            licenses,
            attention,
        })
    }
}
