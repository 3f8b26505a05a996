//! The response bodies of /api/v1 as Rust types. Each one is what a handler serializes and what
//! the OpenAPI document describes, so the two cannot drift apart. The views of users,
//! subscriptions, licenses and audit entries live in [`seatkeeper_app::views`], shared with the
//! CLI's `--json` output.

use super::support::ts;
use seatkeeper_domain::PlanId;
use seatkeeper_domain::catalog::Catalog as DomainCatalog;
use seatkeeper_domain::directory::User as StoredUser;
use seatkeeper_domain::roles::Role as DomainRole;
use seatkeeper_domain::tenant::Tenant as StoredTenant;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use seatkeeper_app::views::{
    AppliesTo, AuditEntry, AuditPage, BillingFrequency, CancelOutcome, CancelResult,
    CapabilityStatus, GraphStatus, License, LicenseSource, Origin, PlanRef, ProductLicenses,
    ProductLicensesList, ProductUser, ProductUserPage, Subscription, SubscriptionList,
    SubscriptionStatus, User, UserLicenses, UserLicensesList, UserType,
};

/// A service plan of the catalog.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPlan {
    #[schema(format = Uuid)]
    pub service_plan_id: String,
    pub service_plan_name: String,
    pub display_name: String,
    /// Names of plans that must be enabled for this one to work.
    pub requires: Vec<String>,
    /// Names of plans that may not be enabled with this one.
    pub excludes: Vec<String>,
}

/// A service plan of a product.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductPlan {
    #[schema(format = Uuid)]
    pub service_plan_id: String,
    pub service_plan_name: String,
    pub display_name: String,
}

/// A product's trial offer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Trial {
    pub days: u32,
    pub licenses: u32,
    pub needs_payment_method: bool,
}

/// A product's price in one currency.
#[derive(Serialize, ToSchema)]
pub struct Price {
    pub currency: String,
    /// Minor units per license per month, billed monthly.
    pub monthly: i64,
    /// Minor units per license per year, billed annually.
    pub annual: i64,
}

/// A product of the catalog.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogProduct {
    #[schema(format = Uuid)]
    pub sku_id: String,
    pub sku_part_number: String,
    pub product_id: String,
    pub name: String,
    #[schema(value_type = AppliesTo)]
    pub applies_to: &'static str,
    pub self_service: bool,
    pub service_plans: Vec<ProductPlan>,
    /// The trial offer; null when the product has none.
    #[schema(required = true)]
    pub trial: Option<Trial>,
    pub prices: Vec<Price>,
}

/// The product catalog: service plans and products.
#[derive(Serialize, ToSchema)]
pub struct Catalog {
    pub plans: Vec<CatalogPlan>,
    pub products: Vec<CatalogProduct>,
}

impl Catalog {
    pub fn new(c: &DomainCatalog) -> Catalog {
        let names = |ids: &[PlanId]| ids.iter().map(|i| c.plan_name(*i)).collect::<Vec<_>>();
        Catalog {
            plans: c
                .plans
                .iter()
                .map(|p| CatalogPlan {
                    service_plan_id: p.id.to_string(),
                    service_plan_name: p.name.clone(),
                    display_name: p.display_name.clone(),
                    requires: names(&p.requires),
                    excludes: names(&p.excludes),
                })
                .collect(),
            products: c
                .products
                .iter()
                .map(|p| CatalogProduct {
                    sku_id: p.sku_id.to_string(),
                    sku_part_number: p.sku_part_number.clone(),
                    product_id: p.product_id.clone(),
                    name: p.name.clone(),
                    applies_to: p.applies_to.as_str(),
                    self_service: p.self_service,
                    service_plans: p
                        .plans
                        .iter()
                        .map(|id| ProductPlan {
                            service_plan_id: id.to_string(),
                            service_plan_name: c.plan_name(*id),
                            display_name: c
                                .plan(*id)
                                .map(|x| x.display_name.clone())
                                .unwrap_or_default(),
                        })
                        .collect(),
                    trial: p.trial.as_ref().map(|t| Trial {
                        days: t.days,
                        licenses: t.licenses,
                        needs_payment_method: t.needs_payment_method,
                    }),
                    prices: p
                        .prices
                        .iter()
                        .map(|x| Price {
                            currency: x.currency.clone(),
                            monthly: x.monthly,
                            annual: x.annual,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// What a catalog import put in force.
#[derive(Serialize, ToSchema)]
pub struct CatalogImport {
    pub version: i64,
    pub products: usize,
    pub plans: usize,
    pub message: String,
}

/// An admin role (SPEC section 6).
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
pub enum Role {
    GlobalAdmin,
    BillingAdmin,
    LicenseAdmin,
    UserAdmin,
    GlobalReader,
}

impl From<DomainRole> for Role {
    fn from(r: DomainRole) -> Self {
        match r {
            DomainRole::GlobalAdmin => Role::GlobalAdmin,
            DomainRole::BillingAdmin => Role::BillingAdmin,
            DomainRole::LicenseAdmin => Role::LicenseAdmin,
            DomainRole::UserAdmin => Role::UserAdmin,
            DomainRole::GlobalReader => Role::GlobalReader,
        }
    }
}

/// A user's admin roles.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Roles {
    #[schema(format = Uuid)]
    pub user_id: String,
    pub user_principal_name: String,
    pub roles: Vec<Role>,
}

impl Roles {
    pub fn new(u: &StoredUser, roles: &[DomainRole]) -> Roles {
        Roles {
            user_id: u.id.to_string(),
            user_principal_name: u.upn.clone(),
            roles: roles.iter().map(|r| (*r).into()).collect(),
        }
    }
}

/// The organization.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2 country code users without one take when licensed; null when not set.
    #[schema(required = true)]
    pub default_usage_location: Option<String>,
    pub currency: String,
    #[schema(format = DateTime)]
    pub created_date_time: String,
}

impl From<&StoredTenant> for Tenant {
    fn from(t: &StoredTenant) -> Self {
        Tenant {
            id: t.id.to_string(),
            name: t.name.clone(),
            default_usage_location: t.default_usage_location.clone(),
            currency: t.currency.clone(),
            created_date_time: ts(t.created_at),
        }
    }
}

/// The caller: user, roles and organization.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    pub roles: Vec<Role>,
    pub tenant: Tenant,
}

/// A newly issued token, with its secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub user_id: String,
    pub name: String,
    /// The bearer token; shown only this once.
    pub token: String,
    /// Null: the token does not expire.
    #[schema(format = DateTime, required = true)]
    pub expires_date_time: Option<String>,
    pub message: String,
}

/// Whether a token still works.
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

/// A token, without its secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub user_id: String,
    pub name: String,
    pub status: TokenStatus,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime, required = true)]
    pub expires_date_time: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub revoked_date_time: Option<String>,
    /// A partner token's customer organization (it acts there); null for a token that acts in
    /// the user's own organization.
    #[schema(format = Uuid, required = true)]
    pub acting_tenant_id: Option<String>,
}

/// A user's tokens.
#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub value: Vec<Token>,
}

/// Where an e-mail stands.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub enum MailStatus {
    Pending,
    Sent,
    Failed,
}

/// An e-mail of the outbox.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailMessage {
    #[schema(format = Uuid)]
    pub id: String,
    pub to: String,
    pub subject: String,
    /// e.g. subscription.expiring, subscription.disabled.
    pub kind: String,
    #[schema(value_type = MailStatus)]
    pub status: String,
    pub attempts: i64,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    /// The next delivery attempt; null unless pending.
    #[schema(format = DateTime, required = true)]
    pub next_attempt_date_time: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub sent_date_time: Option<String>,
    #[schema(required = true)]
    pub last_error: Option<String>,
}

/// The outbox.
#[derive(Serialize, ToSchema)]
pub struct MailList {
    pub value: Vec<MailMessage>,
}

/// The development clock.
#[derive(Serialize, ToSchema)]
pub struct Clock {
    #[schema(format = DateTime)]
    pub now: String,
}

/// What one run of the background jobs did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    #[schema(format = DateTime)]
    pub now: String,
    pub renewed: u64,
    pub expired: u64,
    pub disabled: u64,
    pub deleted: u64,
    pub mails_sent: u64,
    pub mails_failed: u64,
    /// License requests purged after the organization's retention.
    pub requests_purged: u64,
}

impl From<seatkeeper_app::jobs::JobReport> for JobReport {
    fn from(r: seatkeeper_app::jobs::JobReport) -> Self {
        JobReport {
            now: r.now,
            renewed: r.renewed,
            expired: r.expired,
            disabled: r.disabled,
            deleted: r.deleted,
            mails_sent: r.mails_sent,
            mails_failed: r.mails_failed,
            requests_purged: r.requests_purged,
        }
    }
}

/// assignMore keeps existing licenses and adds these; replace removes the existing ones and
/// assigns these; unassignAll removes every license.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub enum BulkModeName {
    AssignMore,
    Replace,
    UnassignAll,
}
