//! One view of each entity, shared by every way out: the /api/v1 REST bodies (and the OpenAPI
//! document generated from them), the CLI's `--json` output and the web pages. Each type is
//! what they serialize, so the representations cannot drift apart.

use crate::export::time as ts;
use crate::group_licensing::NamedSources;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::audit::AuditEntry as StoredAuditEntry;
use seatkeeper_domain::catalog::Catalog as DomainCatalog;
use seatkeeper_domain::directory::User as StoredUser;
use seatkeeper_domain::lifecycle::BillingFrequency as DomainFrequency;
use seatkeeper_domain::lifecycle::{
    CancelOutcome as DomainCancelOutcome, Lifecycle as Life, Status,
};
use seatkeeper_domain::plans::enabled_plans;
use seatkeeper_domain::subscription::Subscription as StoredSubscription;
use seatkeeper_domain::{PlanId, SkuId, Time};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A service plan named by GUID and by name.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanRef {
    #[schema(format = Uuid)]
    pub service_plan_id: String,
    pub service_plan_name: String,
}

impl PlanRef {
    pub fn new(catalog: &DomainCatalog, id: PlanId) -> PlanRef {
        PlanRef {
            service_plan_id: id.to_string(),
            service_plan_name: catalog.plan_name(id),
        }
    }
    fn all(catalog: &DomainCatalog, ids: &[PlanId]) -> Vec<PlanRef> {
        ids.iter().map(|p| PlanRef::new(catalog, *p)).collect()
    }
}

/// How often a subscription is billed.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum BillingFrequency {
    Monthly,
    Annual,
}

impl From<DomainFrequency> for BillingFrequency {
    fn from(f: DomainFrequency) -> Self {
        match f {
            DomainFrequency::Monthly => BillingFrequency::Monthly,
            DomainFrequency::Annual => BillingFrequency::Annual,
        }
    }
}

/// A subscription's lifecycle status.
#[derive(Serialize, ToSchema, Clone, Copy)]
pub enum SubscriptionStatus {
    Active,
    Expired,
    Disabled,
    Deleted,
}

impl From<Status> for SubscriptionStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Active => SubscriptionStatus::Active,
            Status::Expired => SubscriptionStatus::Expired,
            Status::Disabled => SubscriptionStatus::Disabled,
            Status::Deleted => SubscriptionStatus::Deleted,
        }
    }
}

/// The status as Graph names it; LockedOut is a subscription cancelled by the customer.
#[derive(Serialize, ToSchema, Clone, Copy)]
pub enum GraphStatus {
    Enabled,
    Warning,
    Suspended,
    LockedOut,
    Deleted,
}

impl GraphStatus {
    fn of(life: &Life) -> GraphStatus {
        match life.status {
            Status::Active => GraphStatus::Enabled,
            Status::Expired => GraphStatus::Warning,
            Status::Disabled if life.cancelled => GraphStatus::LockedOut,
            Status::Disabled => GraphStatus::Suspended,
            Status::Deleted => GraphStatus::Deleted,
        }
    }
}

/// Who bought a subscription: an admin, or an end user buying for themselves.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum Origin {
    Admin,
    SelfService,
}

/// One subscription: a row of the Products page.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[schema(format = Uuid)]
    pub id: String,
    pub commerce_subscription_id: String,
    #[schema(format = Uuid)]
    pub sku_id: String,
    pub sku_part_number: String,
    pub product_name: String,
    #[schema(value_type = Origin)]
    pub origin: seatkeeper_domain::kinds::Origin,
    /// The end user who bought it; null when an admin did.
    #[schema(format = Uuid, required = true)]
    pub purchaser_id: Option<String>,
    #[schema(minimum = 1)]
    pub quantity: i64,
    pub billing_frequency: BillingFrequency,
    pub recurring_billing: bool,
    pub status: SubscriptionStatus,
    pub graph_status: GraphStatus,
    pub is_trial: bool,
    pub cancelled: bool,
    #[schema(required = true)]
    pub cancel_reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub status_date_time: String,
    #[schema(format = DateTime)]
    pub term_start_date_time: String,
    #[schema(format = DateTime)]
    pub term_end_date_time: String,
    /// When the lifecycle moves it on next (renewal, expiry, disabling, deletion); null when nothing is due.
    #[schema(format = DateTime, required = true)]
    pub next_lifecycle_date_time: Option<String>,
    /// Until then a cancellation disables it at once with a prorated refund; null unless Active.
    #[schema(format = DateTime, required = true)]
    pub cancellation_window_ends_date_time: Option<String>,
    /// Until then licenses can be removed; null unless Active.
    #[schema(format = DateTime, required = true)]
    pub removal_window_ends_date_time: Option<String>,
    /// Self-service purchases: the price paid, per license per billing period and in all;
    /// null for central subscriptions and trials.
    #[schema(required = true)]
    pub purchase_price: Option<PurchasePrice>,
    /// Self-service purchases: the purchaser's payment method (null for central
    /// subscriptions and trials without one).
    #[schema(format = Uuid, required = true)]
    pub payment_method_id: Option<String>,
    /// The purchaser's feedback when they cancelled; null when none was given.
    #[schema(required = true)]
    pub cancel_feedback: Option<String>,
    /// Self-service: the purchaser. Null for central subscriptions, when their account was
    /// deleted, and in the answers to changes (read the subscription for it).
    #[schema(required = true)]
    pub purchaser: Option<PersonRef>,
    /// Self-service: true when the purchaser left the organization (account deleted or
    /// disabled): it keeps running with its users, for an admin to take over (SS4). Null for
    /// central subscriptions and in the answers to changes.
    #[schema(required = true)]
    pub purchaser_left: Option<bool>,
    /// Self-service: who the purchaser was (as their account showed it) when their account
    /// was deleted; null otherwise, for central subscriptions and in the answers to changes.
    #[schema(required = true)]
    pub deleted_purchaser: Option<PersonRef>,
    /// Self-service: who holds its licenses, by display name. Null for central
    /// subscriptions (see the product's users) and in the answers to changes.
    #[schema(required = true)]
    pub assigned_users: Option<Vec<PersonRef>>,
}

/// A price: minor currency units (cents).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurchasePrice {
    /// Per license per billing period, in minor units.
    pub unit_price: i64,
    /// `unitPrice` × quantity, in minor units.
    pub total: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// A person, named.
#[derive(Serialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PersonRef {
    #[schema(format = Uuid)]
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
}

impl PersonRef {
    /// A purchaser whose account was deleted, as it was.
    pub fn deleted(p: &crate::selfservice::DeletedPurchaser) -> PersonRef {
        PersonRef {
            id: p.id.to_string(),
            user_principal_name: p.upn.clone(),
            display_name: p.display_name.clone(),
        }
    }

    pub fn new(u: &StoredUser) -> PersonRef {
        PersonRef {
            id: u.id.to_string(),
            user_principal_name: u.upn.clone(),
            display_name: u.display_name.clone(),
        }
    }
}

/// The users of one purchaser's subscriptions of a product (SS3).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurchaserGroup {
    /// The purchaser; null when their account was deleted.
    #[schema(required = true)]
    pub purchaser: Option<PersonRef>,
    #[schema(format = Uuid, required = true)]
    pub purchaser_id: Option<String>,
    /// Who the purchaser was when their account was deleted; null otherwise.
    #[schema(required = true)]
    pub deleted_purchaser: Option<PersonRef>,
    pub users: Vec<PersonRef>,
}

fn part_and_name(catalog: &DomainCatalog, sku: SkuId) -> (String, String) {
    match catalog.product(sku) {
        Some(p) => (p.sku_part_number.clone(), p.name.clone()),
        None => (sku.to_string(), sku.to_string()),
    }
}

fn ts_opt(t: Option<Time>) -> Option<String> {
    t.map(ts)
}

impl Subscription {
    pub fn new(catalog: &DomainCatalog, s: &StoredSubscription) -> Subscription {
        let (part, name) = part_and_name(catalog, s.sku_id);
        let active = s.life.status == Status::Active;
        Subscription {
            id: s.id.to_string(),
            commerce_subscription_id: s.commerce_id.clone(),
            sku_id: s.sku_id.to_string(),
            sku_part_number: part,
            product_name: name,
            origin: s.origin,
            purchaser_id: s.purchaser_id.map(|p| p.to_string()),
            quantity: s.quantity,
            billing_frequency: s.life.frequency.into(),
            recurring_billing: s.life.recurring,
            status: s.life.status.into(),
            graph_status: GraphStatus::of(&s.life),
            is_trial: s.is_trial,
            cancelled: s.life.cancelled,
            cancel_reason: s.cancel_reason.clone(),
            created_date_time: ts(s.created_at),
            status_date_time: ts(s.life.status_since),
            term_start_date_time: ts(s.life.term_start),
            term_end_date_time: ts(s.life.term_end),
            next_lifecycle_date_time: ts_opt(s.life.next_lifecycle_at()),
            cancellation_window_ends_date_time: active.then(|| ts(s.life.cancel_window_end())),
            removal_window_ends_date_time: active.then(|| ts(s.life.removal_window_end())),
            purchase_price: s.price.as_ref().map(|p| PurchasePrice {
                unit_price: p.minor,
                total: p.minor.saturating_mul(s.quantity),
                currency: p.currency.clone(),
            }),
            payment_method_id: s.payment_method_id.map(|p| p.to_string()),
            cancel_feedback: s.cancel_feedback.clone(),
            purchaser: None,
            purchaser_left: None,
            assigned_users: None,
            deleted_purchaser: None,
        }
    }

    /// With its purchaser and users (self-service subscriptions; central ones unchanged).
    pub fn with_people(
        catalog: &DomainCatalog,
        p: &crate::selfservice::SubscriptionPeople,
    ) -> Subscription {
        let mut v = Subscription::new(catalog, &p.subscription);
        if p.subscription.origin == seatkeeper_domain::kinds::Origin::SelfService {
            v.purchaser = p.purchaser.as_ref().map(PersonRef::new);
            v.purchaser_left = Some(p.purchaser_left);
            v.deleted_purchaser = p.deleted_purchaser.as_ref().map(PersonRef::deleted);
            v.assigned_users = Some(p.users.iter().map(|(u, _)| PersonRef::new(u)).collect());
        }
        v
    }
}

/// Every subscription of the organization.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    pub value: Vec<Subscription>,
}

/// disabledNow: cancelled within the 7-day window, disabled at once with a prorated refund (a
/// trial, never charged, is disabled at once and nothing is refunded).
/// endsAtTermEnd: recurring billing is off and it runs to the end of its term.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CancelOutcome {
    DisabledNow,
    EndsAtTermEnd,
}

/// What a cancellation did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelResult {
    pub outcome: CancelOutcome,
    #[schema(format = DateTime)]
    pub effective_date_time: String,
    pub message: String,
    pub subscription: Subscription,
}

impl CancelResult {
    /// What cancelling `s` did, as `outcome` says.
    pub fn new(
        catalog: &DomainCatalog,
        s: &StoredSubscription,
        outcome: DomainCancelOutcome,
    ) -> CancelResult {
        let (code, message, effective) = match outcome {
            // A trial was never charged: nothing is refunded, and nothing says so.
            DomainCancelOutcome::DisabledNow if s.is_trial => (
                CancelOutcome::DisabledNow,
                "Cancelled: the trial is disabled now and the people holding its licenses lose them.".to_string(),
                s.life.status_since,
            ),
            DomainCancelOutcome::DisabledNow if s.origin == seatkeeper_domain::kinds::Origin::SelfService => (
                CancelOutcome::DisabledNow,
                "Cancelled: the subscription is disabled now; a paid term cancelled within the cancellation window is refunded for the rest of the term to its card (the audit log has the amount).".to_string(),
                s.life.status_since,
            ),
            DomainCancelOutcome::DisabledNow => (
                CancelOutcome::DisabledNow,
                "Cancelled within the cancellation window: the subscription is disabled now and a prorated refund is credited on the next invoice.".to_string(),
                s.life.status_since,
            ),
            DomainCancelOutcome::EndsAtTermEnd => (
                CancelOutcome::EndsAtTermEnd,
                format!(
                    "Recurring billing is off: the subscription stays active until the end of its term on {}.",
                    ts(s.life.term_end)
                ),
                s.life.term_end,
            ),
        };
        CancelResult {
            outcome: code,
            effective_date_time: ts(effective),
            message,
            subscription: Subscription::new(catalog, s),
        }
    }
}

/// Whether a product is licensed per user or to the whole organization.
#[derive(ToSchema)]
pub enum AppliesTo {
    User,
    Company,
}

/// The product's state as Graph's capabilityStatus names it.
#[derive(ToSchema)]
pub enum CapabilityStatus {
    Enabled,
    Warning,
    Suspended,
    LockedOut,
}

/// A row of the Licenses page: one product, summed over the organization's central pool.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductLicenses {
    #[schema(format = Uuid)]
    pub sku_id: String,
    pub sku_part_number: String,
    pub product_name: String,
    #[schema(value_type = AppliesTo)]
    pub applies_to: &'static str,
    pub total: i64,
    pub assigned: i64,
    pub available: i64,
    /// Holders beyond the working licenses (assigned − total, at least 0): the latest-assigned
    /// holders, who have lost access until licenses are bought or a subscription is reactivated
    /// (SUB3).
    pub holders_without_access: i64,
    /// Licenses of Active subscriptions.
    pub enabled: i64,
    /// Licenses of Expired subscriptions.
    pub warning: i64,
    /// Licenses of Disabled subscriptions.
    pub suspended: i64,
    /// Licenses of subscriptions cancelled by the customer.
    pub locked_out: i64,
    #[schema(value_type = CapabilityStatus)]
    pub capability_status: &'static str,
    pub subscription_ids: Vec<String>,
    /// Self-service rows only (`origin=self-service`): how many purchases are summed here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchases: Option<usize>,
    /// Self-service rows only: the users of the purchases, grouped by purchaser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchasers: Option<Vec<PurchaserGroup>>,
}

impl From<&crate::selfservice::SelfServiceProduct> for ProductLicenses {
    fn from(r: &crate::selfservice::SelfServiceProduct) -> Self {
        ProductLicenses {
            sku_id: r.sku_id.to_string(),
            sku_part_number: r.sku_part_number.clone(),
            product_name: r.product_name.clone(),
            applies_to: "User",
            total: r.total,
            assigned: r.assigned,
            available: r.available,
            holders_without_access: r.holders_without_access,
            enabled: r.enabled,
            warning: r.warning,
            suspended: r.suspended,
            locked_out: r.locked_out,
            capability_status: r.capability_status(),
            subscription_ids: r.subscription_ids.clone(),
            purchases: Some(r.subscription_ids.len()),
            purchasers: Some(
                r.by_purchaser
                    .iter()
                    .map(|g| PurchaserGroup {
                        purchaser: g.purchaser.as_ref().map(PersonRef::new),
                        purchaser_id: g.purchaser_id.map(|p| p.to_string()),
                        deleted_purchaser: g.deleted_purchaser.as_ref().map(PersonRef::deleted),
                        users: g.users.iter().map(PersonRef::new).collect(),
                    })
                    .collect(),
            ),
        }
    }
}

impl From<&crate::licenses::ProductLicenses> for ProductLicenses {
    fn from(r: &crate::licenses::ProductLicenses) -> Self {
        ProductLicenses {
            sku_id: r.sku_id.to_string(),
            sku_part_number: r.sku_part_number.clone(),
            product_name: r.product_name.clone(),
            applies_to: r.applies_to,
            total: r.total,
            assigned: r.assigned,
            available: r.available,
            holders_without_access: r.holders_without_access,
            enabled: r.enabled,
            warning: r.warning,
            suspended: r.suspended,
            locked_out: r.locked_out,
            capability_status: r.capability_status,
            subscription_ids: r.subscription_ids.clone(),
            purchases: None,
            purchasers: None,
        }
    }
}

/// The Licenses page.
#[derive(Serialize, ToSchema)]
pub struct ProductLicensesList {
    pub value: Vec<ProductLicenses>,
}

/// How a user got a license: `direct` is assigned to the user; `group` is inherited from a
/// group the user is a member of (L6; `sourceDetails` names each group).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub enum LicenseSource {
    Direct,
    Group,
}

/// One source of a license (L6): assigned to the user directly, or inherited from a group,
/// with the group's state for this user (`Error` when the group could not give it: the
/// license is then held through another source).
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LicenseSourceDetail {
    /// Assigned to the user directly.
    Direct,
    /// Inherited from a group the user is a member of.
    #[serde(rename_all = "camelCase")]
    Group {
        #[schema(format = Uuid)]
        group_id: String,
        group_name: String,
        /// `Active` or `Error`.
        state: String,
        /// Graph's error name when `state` is `Error` (CountViolation,
        /// MutuallyExclusiveViolation, DependencyViolation,
        /// ProhibitedInUsageLocationViolation, Other); null when active.
        #[schema(required = true)]
        error: Option<String>,
    },
}

/// Whether a user is a member of the organization or a guest.
#[derive(ToSchema)]
pub enum UserType {
    Member,
    Guest,
}

/// A user holding a product.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductUser {
    #[schema(format = Uuid)]
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    #[schema(value_type = UserType)]
    pub user_type: seatkeeper_domain::kinds::UserType,
    pub account_enabled: bool,
    pub enabled_plans: Vec<PlanRef>,
    pub disabled_plans: Vec<PlanRef>,
    /// How the user got it: `direct`, `group` or both.
    #[schema(value_type = Vec<LicenseSource>)]
    pub sources: Vec<&'static str>,
    /// Each source: `direct`, and every group by id and name with its state.
    pub source_details: Vec<LicenseSourceDetail>,
    #[schema(format = DateTime)]
    pub assigned_date_time: String,
}

impl ProductUser {
    /// `groups`: the group sources of the page's users ([`crate::App::named_license_sources`]).
    pub fn new(
        catalog: &DomainCatalog,
        u: &StoredUser,
        a: &Assignment,
        groups: &NamedSources,
    ) -> ProductUser {
        let (enabled, disabled) = plan_split(catalog, a);
        ProductUser {
            id: u.id.to_string(),
            user_principal_name: u.upn.clone(),
            display_name: u.display_name.clone(),
            user_type: u.user_type,
            account_enabled: u.account_enabled,
            enabled_plans: PlanRef::all(catalog, &enabled),
            disabled_plans: PlanRef::all(catalog, &disabled),
            sources: sources(a, groups),
            source_details: source_details(a, groups),
            assigned_date_time: ts(a.assigned_at),
        }
    }
}

/// One page of a product's users.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductUserPage {
    pub value: Vec<ProductUser>,
    /// Path and query of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_link: Option<String>,
}

/// One license a user holds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct License {
    #[schema(format = Uuid)]
    pub sku_id: String,
    pub sku_part_number: String,
    pub product_name: String,
    pub enabled_plans: Vec<PlanRef>,
    pub disabled_plans: Vec<PlanRef>,
    /// How the user got it: `direct`, `group` or both.
    #[schema(value_type = Vec<LicenseSource>)]
    pub sources: Vec<&'static str>,
    /// Each source: `direct`, and every group by id and name with its state.
    pub source_details: Vec<LicenseSourceDetail>,
    #[schema(format = DateTime)]
    pub assigned_date_time: String,
    #[schema(format = DateTime)]
    pub last_modified_date_time: String,
}

impl License {
    /// `groups`: the group sources of the user ([`crate::App::named_license_sources`]).
    pub fn new(catalog: &DomainCatalog, a: &Assignment, groups: &NamedSources) -> License {
        let (part, name) = part_and_name(catalog, a.sku_id);
        let (enabled, disabled) = plan_split(catalog, a);
        License {
            sku_id: a.sku_id.to_string(),
            sku_part_number: part,
            product_name: name,
            enabled_plans: PlanRef::all(catalog, &enabled),
            disabled_plans: PlanRef::all(catalog, &disabled),
            sources: sources(a, groups),
            source_details: source_details(a, groups),
            assigned_date_time: ts(a.assigned_at),
            last_modified_date_time: ts(a.updated_at),
        }
    }
}

/// A user and every license they hold.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserLicenses {
    #[schema(format = Uuid)]
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    #[schema(value_type = UserType)]
    pub user_type: seatkeeper_domain::kinds::UserType,
    /// ISO 3166-1 alpha-2 country code; null when not set.
    #[schema(required = true)]
    pub usage_location: Option<String>,
    pub licenses: Vec<License>,
}

impl UserLicenses {
    /// `groups`: the group sources of the user ([`crate::App::named_license_sources`]).
    pub fn new(
        catalog: &DomainCatalog,
        u: &StoredUser,
        list: &[Assignment],
        groups: &NamedSources,
    ) -> UserLicenses {
        UserLicenses {
            id: u.id.to_string(),
            user_principal_name: u.upn.clone(),
            display_name: u.display_name.clone(),
            user_type: u.user_type,
            usage_location: u.usage_location.clone(),
            licenses: list
                .iter()
                .map(|a| License::new(catalog, a, groups))
                .collect(),
        }
    }
}

/// The users a change was about, with their licenses afterwards.
#[derive(Serialize, ToSchema)]
pub struct UserLicensesList {
    pub value: Vec<UserLicenses>,
}

/// A user of the directory.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[schema(format = Uuid)]
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    #[schema(required = true)]
    pub mail: Option<String>,
    #[schema(value_type = UserType)]
    pub user_type: seatkeeper_domain::kinds::UserType,
    /// ISO 3166-1 alpha-2 country code; null when not set.
    #[schema(required = true)]
    pub usage_location: Option<String>,
    pub account_enabled: bool,
    #[schema(required = true)]
    pub given_name: Option<String>,
    #[schema(required = true)]
    pub surname: Option<String>,
    #[schema(required = true)]
    pub job_title: Option<String>,
    #[schema(required = true)]
    pub department: Option<String>,
}

impl From<&StoredUser> for User {
    fn from(u: &StoredUser) -> Self {
        User {
            id: u.id.to_string(),
            user_principal_name: u.upn.clone(),
            display_name: u.display_name.clone(),
            mail: u.mail.clone(),
            user_type: u.user_type,
            usage_location: u.usage_location.clone(),
            account_enabled: u.account_enabled,
            given_name: u.given_name.clone(),
            surname: u.surname.clone(),
            job_title: u.job_title.clone(),
            department: u.department.clone(),
        }
    }
}

/// Users of the directory.
#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub value: Vec<User>,
}

impl UserList {
    /// The views of `users`, in order.
    pub fn new<'a>(users: impl IntoIterator<Item = &'a StoredUser>) -> UserList {
        UserList {
            value: users.into_iter().map(User::from).collect(),
        }
    }
}

/// One entry of the audit log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Entries are numbered in order; use it as `before` to page.
    pub id: String,
    #[schema(format = DateTime)]
    pub date_time: String,
    /// The acting user; null for the system and the command line.
    #[schema(format = Uuid, required = true)]
    pub actor_id: Option<String>,
    /// Who: a userPrincipalName, "system" or "operator (cli)".
    pub actor: String,
    /// Dotted verb, e.g. subscription.buy, license.assign, user.roles.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub summary: String,
    /// JSON snapshot before the change (any JSON value); null when there is none.
    #[schema(schema_with = any_json, required = true)]
    pub before: serde_json::Value,
    /// JSON snapshot after the change (any JSON value); null when there is none.
    #[schema(schema_with = any_json, required = true)]
    pub after: serde_json::Value,
}

/// A snapshot as stored: JSON text, shown as the JSON value it holds (or as a string when it
/// is not JSON).
fn snapshot(s: &Option<String>) -> serde_json::Value {
    match s {
        None => serde_json::Value::Null,
        Some(text) => {
            serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.clone()))
        }
    }
}

impl From<&StoredAuditEntry> for AuditEntry {
    fn from(e: &StoredAuditEntry) -> Self {
        AuditEntry {
            id: e.id.to_string(),
            date_time: ts(e.at),
            actor_id: e.actor_id.map(|a| a.to_string()),
            actor: e.actor.clone(),
            action: e.action.to_string(),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            summary: e.summary.clone(),
            before: snapshot(&e.before),
            after: snapshot(&e.after),
        }
    }
}

/// Any JSON value, null included.
fn any_json() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::empty()
}

/// One page of the audit log.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub value: Vec<AuditEntry>,
    /// Path and query of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_link: Option<String>,
}

/// How a user got a license, as [`LicenseSource`] names it: `direct`, `group` or both.
pub fn sources(a: &Assignment, groups: &NamedSources) -> Vec<&'static str> {
    let mut out = Vec::with_capacity(2);
    if a.direct {
        out.push("direct");
    }
    let active = groups
        .of(a.user_id, a.sku_id)
        .iter()
        .any(|g| g.source.state == "Active");
    if active || out.is_empty() {
        out.push("group");
    }
    out
}

/// Each source of a license: direct first, then each group by name.
pub fn source_details(a: &Assignment, groups: &NamedSources) -> Vec<LicenseSourceDetail> {
    let mut out = Vec::new();
    if a.direct {
        out.push(LicenseSourceDetail::Direct);
    }
    for g in groups.of(a.user_id, a.sku_id) {
        out.push(LicenseSourceDetail::Group {
            group_id: g.source.group_id.to_string(),
            group_name: g.group_name.clone(),
            state: g.source.state.clone(),
            error: g.source.error.clone(),
        });
    }
    out
}

/// The sources of a license in words, for tables and CSV: "Direct, Sales (group)"; a group
/// that could not give it says why: "Sales (group: CountViolation)".
pub fn sources_in_words(a: &Assignment, groups: &NamedSources) -> String {
    let mut words = Vec::new();
    if a.direct {
        words.push("Direct".to_string());
    }
    for g in groups.of(a.user_id, a.sku_id) {
        match (&*g.source.state, &g.source.error) {
            ("Active", _) => words.push(format!("{} (group)", g.group_name)),
            (_, Some(e)) => words.push(format!("{} (group: {e})", g.group_name)),
            (state, None) => words.push(format!("{} (group: {state})", g.group_name)),
        }
    }
    if words.is_empty() {
        words.push("Group".to_string());
    }
    words.join(", ")
}

/// Enabled and disabled plans of an assignment.
pub fn plan_split(catalog: &DomainCatalog, a: &Assignment) -> (Vec<PlanId>, Vec<PlanId>) {
    let enabled = catalog
        .product(a.sku_id)
        .map(|p| enabled_plans(p, &a.disabled_plans))
        .unwrap_or_default();
    (enabled, a.disabled_plans.clone())
}

/// A self-service purchase policy value (POL1).
#[derive(ToSchema)]
#[schema(as = PolicyValue)]
pub enum PolicyValueSchema {
    /// Users may buy the product and start its trials.
    Enabled,
    /// Users may only start trials that need no payment method, and cannot buy after such a trial.
    OnlyTrialsWithoutPaymentMethod,
    /// Users may neither buy nor start trials.
    Disabled,
}

/// A purchase policy of the organization, as the commerce module lists it.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// `AllowSelfServicePurchase`.
    pub policy_id: String,
    pub description: String,
    /// The value of every self-service-eligible product the organization has not set.
    #[schema(value_type = PolicyValueSchema)]
    pub default_value: seatkeeper_domain::kinds::PolicyValue,
}

/// One self-service-eligible product's policy value.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProductPolicy {
    /// `AllowSelfServicePurchase`.
    pub policy_id: String,
    pub product_name: String,
    /// The catalog's 12-character product code, e.g. CFQ7TTC0LH2H.
    pub product_id: String,
    #[schema(value_type = PolicyValueSchema)]
    pub policy_value: seatkeeper_domain::kinds::PolicyValue,
}

/// Every self-service-eligible product's policy value, in the commerce module's container.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct ProductPolicyList {
    pub items: Vec<ProductPolicy>,
}

/// A postal address: a card's billing address or a billing profile's bill-to address.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

impl From<&seatkeeper_store::billing::Address> for Address {
    fn from(a: &seatkeeper_store::billing::Address) -> Self {
        Address {
            line1: a.line1.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

/// A card: brand, last four digits, expiry, name and billing address. Never the number or the
/// security code.
#[derive(Serialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethod {
    #[schema(format = Uuid)]
    pub id: String,
    /// Visa, Mastercard, Amex or Other.
    pub brand: String,
    pub last4: String,
    #[schema(minimum = 1, maximum = 12)]
    pub expiry_month: i64,
    pub expiry_year: i64,
    pub name_on_card: String,
    pub billing_address: Address,
    #[schema(format = DateTime)]
    pub created_date_time: String,
}

impl From<&seatkeeper_store::billing::PaymentMethod> for PaymentMethod {
    fn from(m: &seatkeeper_store::billing::PaymentMethod) -> Self {
        PaymentMethod {
            id: m.id.to_string(),
            brand: m.brand.to_string(),
            last4: m.last4.clone(),
            expiry_month: m.expiry_month,
            expiry_year: m.expiry_year,
            name_on_card: m.name_on_card.clone(),
            billing_address: (&m.address).into(),
            created_date_time: ts(m.created_at),
        }
    }
}

/// Cards of one account.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct PaymentMethodList {
    pub value: Vec<PaymentMethod>,
}

/// A billing profile: who is billed, where, in which currency, and with which card.
#[derive(Serialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BillingProfile {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub account_id: String,
    pub name: String,
    pub bill_to: Address,
    /// The organization's currency (ISO 4217).
    pub currency: String,
    pub invoice_email: String,
    /// The card charged; null when none is chosen.
    #[schema(format = Uuid, required = true)]
    pub payment_method_id: Option<String>,
    /// Brand and last four digits of that card, e.g. "Visa ending 4242"; null without one.
    #[schema(required = true)]
    pub payment_method: Option<String>,
}

impl BillingProfile {
    pub fn new(
        p: &seatkeeper_store::billing::BillingProfile,
        method: Option<&seatkeeper_store::billing::PaymentMethod>,
    ) -> BillingProfile {
        BillingProfile {
            id: p.id.to_string(),
            account_id: p.account_id.to_string(),
            name: p.name.clone(),
            bill_to: (&p.bill_to).into(),
            currency: p.currency.clone(),
            invoice_email: p.invoice_email.clone(),
            payment_method_id: p.payment_method_id.map(|m| m.to_string()),
            payment_method: method.map(|m| format!("{} ending {}", m.brand, m.last4)),
        }
    }
}

/// Whose billing account it is.
#[derive(Serialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BillingAccountKind {
    /// The organization's account for central purchases.
    Central,
    /// A self-service purchaser's own account.
    Purchaser,
}

/// A billing account with its profile.
#[derive(Serialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BillingAccount {
    #[schema(format = Uuid)]
    pub id: String,
    pub kind: BillingAccountKind,
    /// The purchaser; null for the central account.
    #[schema(format = Uuid, required = true)]
    pub owner_id: Option<String>,
    /// The purchaser's userPrincipalName (as it was, when their account was deleted); null for
    /// the central account.
    #[schema(required = true)]
    pub owner_user_principal_name: Option<String>,
    /// The purchaser's display name (as it was, when their account was deleted); null for the
    /// central account.
    #[schema(required = true)]
    pub owner_display_name: Option<String>,
    /// True when the purchaser's user account was deleted: the account, its profile and cards
    /// are kept for the subscriptions they paid for. Null for the central account.
    #[schema(required = true)]
    pub owner_deleted: Option<bool>,
    pub profile: BillingProfile,
    #[schema(format = DateTime)]
    pub created_date_time: String,
}

/// The organization's billing accounts: the central one first, then the purchasers'.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct BillingAccountList {
    pub value: Vec<BillingAccount>,
}

/// A product assigned to a group (L6).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupLicenseView {
    #[schema(format = Uuid)]
    pub sku_id: String,
    pub sku_part_number: String,
    pub product_name: String,
    pub enabled_plans: Vec<PlanRef>,
    pub disabled_plans: Vec<PlanRef>,
    #[schema(format = DateTime)]
    pub assigned_date_time: String,
}

/// A background license job (L6): processing a group's members.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseJobView {
    #[schema(format = Uuid)]
    pub id: String,
    /// `groupLicenses`: a group's members are processed; `groupMembers`: users join a group
    /// and get its products; `usersImport`: users of a file are created or updated (no group;
    /// `message` says how many were created, updated and unchanged).
    pub kind: String,
    #[schema(format = Uuid, required = true)]
    pub group_id: Option<String>,
    /// `Queued`, `Running`, `Completed` or `Failed`.
    pub state: String,
    /// Members (or rows of an import) processed so far.
    pub processed: i64,
    /// Members (or rows of an import) to process.
    pub total: i64,
    /// Members whose group licenses were in error so far.
    pub errors: i64,
    /// Who asked for it.
    pub requested_by: String,
    #[schema(required = true)]
    pub message: Option<String>,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime, required = true)]
    pub started_date_time: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub finished_date_time: Option<String>,
}

impl LicenseJobView {
    pub fn new(j: &crate::group_licensing::Job) -> LicenseJobView {
        LicenseJobView {
            id: j.id.to_string(),
            kind: j.kind.clone(),
            group_id: j.group_id.map(|g| g.to_string()),
            state: j.state.clone(),
            processed: j.processed,
            total: j.total.max(j.processed),
            errors: j.errors,
            requested_by: j.actor.clone(),
            message: j.message.clone(),
            created_date_time: ts(j.created_at),
            started_date_time: ts_opt(j.started_at),
            finished_date_time: ts_opt(j.finished_at),
        }
    }
}

/// A page of license jobs, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseJobList {
    pub value: Vec<LicenseJobView>,
    /// Path and query of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_link: Option<String>,
}

/// A group's products and how far their processing is (L6).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupLicensesView {
    #[schema(format = Uuid)]
    pub group_id: String,
    pub display_name: String,
    pub assigned_licenses: Vec<GroupLicenseView>,
    /// Graph's licenseProcessingState: `QueuedForProcessing`, `ProcessingInProgress` or
    /// `ProcessingComplete`.
    pub license_processing_state: String,
    /// Members whose licenses from this group are in error.
    pub members_with_license_errors: i64,
    /// The group's latest job (null if none ran).
    #[schema(required = true)]
    pub job: Option<LicenseJobView>,
}

impl GroupLicensesView {
    pub fn new(
        catalog: &DomainCatalog,
        g: &seatkeeper_domain::directory::Group,
        l: &crate::group_licensing::GroupLicensing,
    ) -> GroupLicensesView {
        GroupLicensesView {
            group_id: g.id.to_string(),
            display_name: g.display_name.clone(),
            assigned_licenses: l
                .licenses
                .iter()
                .map(|x| {
                    let (part, name) = part_and_name(catalog, x.sku_id);
                    let enabled = catalog
                        .product(x.sku_id)
                        .map(|p| enabled_plans(p, &x.disabled_plans))
                        .unwrap_or_default();
                    GroupLicenseView {
                        sku_id: x.sku_id.to_string(),
                        sku_part_number: part,
                        product_name: name,
                        enabled_plans: PlanRef::all(catalog, &enabled),
                        disabled_plans: PlanRef::all(catalog, &x.disabled_plans),
                        assigned_date_time: ts(x.assigned_at),
                    }
                })
                .collect(),
            license_processing_state: l.state.as_str().to_string(),
            members_with_license_errors: l.members_with_errors,
            job: l.job.as_ref().map(LicenseJobView::new),
        }
    }
}

/// A member whose license from a group is in error (L6 Errors & issues).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberLicenseError {
    #[schema(format = Uuid)]
    pub user_id: String,
    pub user_principal_name: String,
    pub display_name: String,
    #[schema(format = Uuid)]
    pub sku_id: String,
    pub sku_part_number: String,
    /// Graph's error: `CountViolation`, `MutuallyExclusiveViolation`, `DependencyViolation`,
    /// `ProhibitedInUsageLocationViolation` or `Other`.
    pub error: String,
    /// What to do about it.
    pub message: String,
    #[schema(format = DateTime)]
    pub last_updated_date_time: String,
}

impl MemberLicenseError {
    pub fn new(catalog: &DomainCatalog, e: &crate::group_licensing::MemberError) -> Self {
        MemberLicenseError {
            user_id: e.user.id.to_string(),
            user_principal_name: e.user.upn.clone(),
            display_name: e.user.display_name.clone(),
            sku_id: e.sku_id.to_string(),
            sku_part_number: catalog.part_number(e.sku_id),
            error: e.error.as_str().to_string(),
            message: e.advice(),
            last_updated_date_time: ts(e.updated_at),
        }
    }
}

/// A page of members in error.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberLicenseErrorPage {
    pub value: Vec<MemberLicenseError>,
    /// Path and query of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_link: Option<String>,
}

/// A group with members in error.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupWithErrors {
    #[schema(format = Uuid)]
    pub group_id: String,
    pub display_name: String,
    pub members_with_license_errors: i64,
}

/// The organization's groups with members in error (Errors & issues).
#[derive(Serialize, ToSchema)]
pub struct GroupWithErrorsList {
    pub value: Vec<GroupWithErrors>,
}

// ----- license requests (REQ1–REQ6) -----

/// Pending (waiting for an admin) or Completed (decided).
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum LicenseRequestStatus {
    Pending,
    Completed,
}

/// How a decided request ended.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum LicenseRequestOutcome {
    Approved,
    PartlyApproved,
    Denied,
}

/// Approve or Deny.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum LicenseRequestVerdict {
    Approve,
    Deny,
}

/// A license request as lists show it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseRequestSummary {
    #[schema(format = Uuid)]
    pub id: String,
    /// The product asked for.
    #[schema(format = Uuid)]
    pub sku_id: String,
    pub sku_part_number: String,
    pub product_name: String,
    #[schema(format = Uuid)]
    pub requester_id: String,
    pub requester: String,
    #[schema(format = DateTime)]
    pub requested_date_time: String,
    #[schema(value_type = LicenseRequestStatus)]
    pub status: &'static str,
    /// Set once Completed.
    #[schema(value_type = Option<LicenseRequestOutcome>)]
    pub outcome: Option<&'static str>,
    /// How many users are on it (the requester included).
    pub user_count: i64,
    pub note: Option<String>,
}

impl LicenseRequestSummary {
    pub fn new(catalog: &DomainCatalog, r: &crate::requests::Request) -> Self {
        let (part, name) = part_and_name(catalog, r.sku_id);
        LicenseRequestSummary {
            id: r.id.to_string(),
            sku_id: r.sku_id.to_string(),
            sku_part_number: part,
            product_name: name,
            requester_id: r.requester_id.to_string(),
            requester: r.requester_upn.clone(),
            requested_date_time: ts(r.created_at),
            status: r.status.as_str(),
            outcome: r.outcome.map(|o| o.as_str()),
            user_count: r.user_count,
            note: r.note.clone(),
        }
    }
}

/// A page of license requests, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseRequestList {
    pub value: Vec<LicenseRequestSummary>,
    /// How many match in all.
    pub count: i64,
    /// Path and query of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_link: Option<String>,
}

/// One user on a request: their current licenses and the decision for them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestUserView {
    #[schema(format = Uuid)]
    pub id: String,
    pub user_principal_name: String,
    /// Absent when the account was deleted.
    pub display_name: Option<String>,
    /// Whether the account still exists.
    pub exists: bool,
    /// What they hold now.
    pub licenses: Vec<License>,
    /// Set once decided.
    #[schema(value_type = Option<LicenseRequestVerdict>)]
    pub decision: Option<&'static str>,
}

/// A recipient's recommendation on a shared request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    pub recipient: String,
    #[schema(value_type = LicenseRequestVerdict)]
    pub recommendation: &'static str,
    pub comment: Option<String>,
    #[schema(format = DateTime)]
    pub recommended_date_time: String,
}

/// A share of the request with one recipient.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    pub recipient: String,
    pub shared_by: String,
    #[schema(format = DateTime)]
    pub shared_date_time: String,
    #[schema(format = DateTime)]
    pub expires_date_time: String,
    /// Whether the recipient has answered (the link is spent).
    pub answered: bool,
}

/// The decision on a Completed request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionView {
    #[schema(value_type = LicenseRequestOutcome)]
    pub outcome: &'static str,
    pub decided_by: String,
    #[schema(format = DateTime)]
    pub decided_date_time: String,
    /// The product the approved users were licensed with.
    #[schema(format = Uuid)]
    pub sku_id: Option<String>,
    pub sku_part_number: Option<String>,
    /// The security group the approved users were added to (absent: assigned directly).
    pub group: Option<GroupRef>,
    pub message: Option<String>,
}

/// A group, named.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupRef {
    #[schema(format = Uuid)]
    pub id: String,
    pub display_name: String,
}

/// A license request with every user on it, their current licenses, the recommendations and
/// the decision.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseRequest {
    #[serde(flatten)]
    pub summary: LicenseRequestSummary,
    pub users: Vec<RequestUserView>,
    pub recommendations: Vec<Recommendation>,
    pub shares: Vec<Share>,
    pub decision: Option<DecisionView>,
    /// Only in the answer to a decision (else empty): what it did not do that one might
    /// expect, e.g. "Ana Lee already has Microsoft 365 E3; nothing was assigned to them."
    pub notices: Vec<String>,
}

impl LicenseRequest {
    pub fn new(catalog: &DomainCatalog, d: &crate::requests::RequestDetail) -> Self {
        let r = &d.request;
        LicenseRequest {
            summary: LicenseRequestSummary::new(catalog, r),
            users: d
                .users
                .iter()
                .map(|u| RequestUserView {
                    id: u.user_id.to_string(),
                    user_principal_name: u.upn.clone(),
                    display_name: u.user.as_ref().map(|x| x.display_name.clone()),
                    exists: u.user.is_some(),
                    licenses: u
                        .licenses
                        .iter()
                        .map(|a| License::new(catalog, a, &d.sources))
                        .collect(),
                    decision: u.verdict.map(|v| v.as_str()),
                })
                .collect(),
            recommendations: d
                .links
                .iter()
                .filter_map(|l| {
                    Some(Recommendation {
                        recipient: l.recipient_upn.clone(),
                        recommendation: l.verdict?.as_str(),
                        comment: l.comment.clone(),
                        recommended_date_time: ts(l.used_at?),
                    })
                })
                .collect(),
            shares: d
                .links
                .iter()
                .map(|l| Share {
                    recipient: l.recipient_upn.clone(),
                    shared_by: l.shared_by.clone(),
                    shared_date_time: ts(l.shared_at),
                    expires_date_time: ts(l.expires_at),
                    answered: l.used_at.is_some(),
                })
                .collect(),
            decision: match (r.outcome, r.decided_at) {
                (Some(o), Some(at)) => Some(DecisionView {
                    outcome: o.as_str(),
                    decided_by: r.decided_by.clone().unwrap_or_default(),
                    decided_date_time: ts(at),
                    sku_id: r.decision_sku_id.map(|s| s.to_string()),
                    sku_part_number: r.decision_sku_id.map(|s| catalog.part_number(s)),
                    group: d.group.as_ref().map(|g| GroupRef {
                        id: g.id.to_string(),
                        display_name: g.display_name.clone(),
                    }),
                    message: r.decision_message.clone(),
                }),
                _ => None,
            },
            notices: d.notices.clone(),
        }
    }
}

/// The organization's license request settings.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestSettings {
    /// Requests go through the organization's own process: users who try to request see
    /// `message` and `documentationUrl`, and no request is created.
    pub use_organization_process: bool,
    pub message: Option<String>,
    pub documentation_url: Option<String>,
    /// How long share links work (days, default 14).
    pub link_expiry_days: i64,
    /// How long requests are kept before they are purged (months, default 12).
    pub retention_months: i64,
}

impl From<crate::requests::Settings> for RequestSettings {
    fn from(s: crate::requests::Settings) -> Self {
        RequestSettings {
            use_organization_process: s.use_organization_process,
            message: s.message,
            documentation_url: s.documentation_url,
            link_expiry_days: s.link_expiry_days,
            retention_months: s.retention_months,
        }
    }
}

/// A product that can serve a request, with its free licenses.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServingProduct {
    #[schema(format = Uuid)]
    pub sku_id: String,
    pub sku_part_number: String,
    pub product_name: String,
    /// Licenses not assigned yet.
    pub available: i64,
    /// The product's service plans (what disabledPlans may turn off).
    pub plans: Vec<PlanRef>,
}

/// A security group that carries a product serving a request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServingGroup {
    #[schema(format = Uuid)]
    pub id: String,
    pub display_name: String,
    /// The serving product it carries.
    #[schema(format = Uuid)]
    pub sku_id: String,
    pub sku_part_number: String,
}

/// What an admin can choose from when deciding a request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionOptionsView {
    /// Products the organization holds that serve the request (the requested one first).
    pub products: Vec<ServingProduct>,
    /// Security groups that carry one of them (assignVia).
    pub groups: Vec<ServingGroup>,
}

impl DecisionOptionsView {
    pub fn new(catalog: &DomainCatalog, o: &crate::requests::DecisionOptions) -> Self {
        DecisionOptionsView {
            products: o
                .products
                .iter()
                .map(|(p, available)| ServingProduct {
                    sku_id: p.sku_id.to_string(),
                    sku_part_number: p.sku_part_number.clone(),
                    product_name: p.name.clone(),
                    available: *available,
                    plans: PlanRef::all(catalog, &p.plans),
                })
                .collect(),
            groups: o
                .groups
                .iter()
                .map(|(g, sku)| ServingGroup {
                    id: g.id.to_string(),
                    display_name: g.display_name.clone(),
                    sku_id: sku.to_string(),
                    sku_part_number: catalog.part_number(*sku),
                })
                .collect(),
        }
    }
}
