//! The domain's errors: each says which rule failed, with what a person needs to fix it.

use crate::{SkuId, UserId};

/// One user's problem inside a batch that was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProblem {
    pub user_id: UserId,
    pub user: String,
    pub error: DomainError,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error(
        "License assignment cannot be done for user with invalid usage location. {user} has no usage location and the tenant has no default: set the user's usageLocation (for example \"US\") and try again."
    )]
    UsageLocationMissing { user_id: UserId, user: String },

    #[error(
        "Subscription with SKU {sku_id} does not have any available licenses. {product}: {needed} {needed_word} needed, {available} available — buy {short} more or unassign someone.",
        needed_word = if *needed == 1 { "license" } else { "licenses" },
        short = needed.saturating_sub(*available)
    )]
    NotEnoughLicenses {
        sku_id: SkuId,
        product: String,
        needed: i64,
        available: i64,
    },

    #[error(
        "Subscription with SKU {sku_id} does not have any available licenses. The organization has no active subscription for {product}: buy it first."
    )]
    ProductNotOwned { sku_id: SkuId, product: String },

    #[error(
        "License assignment failed because service plans {plan_a}, {plan_b} are mutually exclusive. {user} would have {plan_a} from {product_a} and {plan_b} from {product_b} both on: turn one of them off.",
        product_a = .products.0,
        product_b = .products.1
    )]
    MutuallyExclusive {
        user_id: UserId,
        user: String,
        plan_a: String,
        plan_b: String,
        /// The products the two plans come from (boxed: keeps every error small).
        products: Box<(String, String)>,
        /// Every conflict the change would make, in the plans' display names, each saying
        /// what to change (for the admin center, which shows them all at once).
        conflicts: Box<Vec<String>>,
    },

    #[error(
        "License assignment failed because service plan {plan} depends on the service plan(s) {requires}. {user} with {product}: turn {requires} on as well, or turn {plan} off."
    )]
    Dependency {
        user_id: UserId,
        user: String,
        product: String,
        plan: String,
        requires: String,
        /// Every conflict the change would make, in the plans' display names, each saying
        /// what to change.
        conflicts: Box<Vec<String>>,
    },

    #[error(
        "License {sku_id} cannot be assigned to a user. {product} applies to the whole organization, not to users."
    )]
    CompanyProduct { sku_id: SkuId, product: String },

    #[error("{user} is a guest: only a Global admin can assign licenses to guest users.")]
    GuestNeedsGlobalAdmin { user_id: UserId, user: String },

    #[error(
        "Service plan {plan} is not part of {product}: disabledPlans may list only that product's service plans ({allowed})."
    )]
    PlanNotInProduct {
        product: String,
        plan: String,
        allowed: String,
    },

    #[error("Product {sku_id} is not in the catalog.")]
    UnknownSku { sku_id: SkuId },

    #[error("{count} users were given; licenses can be assigned to at most {max} users at a time.")]
    BatchTooLarge { count: usize, max: usize },

    #[error("The licenses could not be assigned; nothing was changed: {}", problems.iter().map(|p| p.error.to_string()).collect::<Vec<_>>().join(" | "))]
    Batch { problems: Vec<UserProblem> },

    #[error("Quantity {quantity} is not possible: {reason}")]
    InvalidQuantity { quantity: i64, reason: String },

    #[error("{product} has {assigned} licenses assigned; this change would leave {total_after} in all. Enter a total of at least {minimum}, or unassign {short} first.", short = assigned - total_after)]
    BelowAssigned {
        product: String,
        assigned: i64,
        total_after: i64,
        minimum: i64,
    },

    /// `detail` says which licenses can still be removed and until when, or that none can.
    #[error(
        "Licenses can be removed only within 7 days of purchase, renewal or adding them: {detail}"
    )]
    RemovalWindowClosed {
        quantity: i64,
        minimum: i64,
        detail: String,
    },

    /// Term arithmetic that cannot move forward (a date past the calendar's end): an error
    /// rather than a renewal that loops.
    #[error("The subscription's term cannot move forward: {detail}.")]
    TermNotAdvancing { detail: String },

    #[error("{product} {problem}: name each product once.")]
    ContradictoryChange { product: String, problem: String },

    /// A license that turns off a plan of its own product which another plan it keeps on
    /// needs (L5): no holder could use it, whatever else they hold. Graph checks this when a
    /// group's products are set; a group member's `DependencyViolation` is about plans of
    /// other products.
    #[error(
        "{product} turns off {requires}, which {plan} needs: turn {requires} on or {plan} off."
    )]
    PlansNeedDisabled {
        product: String,
        plan: String,
        requires: String,
    },

    /// Products given together (by one group) whose plans exclude each other (L5): every
    /// member would be in error with all of them.
    #[error(
        "{product_a} and {product_b} cannot be given together: their plans {plan_a} and {plan_b} cannot both be on. Turn one of them off, or remove one of the products."
    )]
    PlansExcludeEachOther {
        product_a: String,
        plan_a: String,
        product_b: String,
        plan_b: String,
    },

    /// Graph's answer when `removeLicenses` names a product the user does not hold.
    #[error(
        "User does not have a corresponding license. {user} does not hold {product} ({sku_id}): there is nothing to remove."
    )]
    LicenseNotHeld {
        user_id: UserId,
        user: String,
        sku_id: SkuId,
        product: String,
    },

    /// Graph's answer when `removeLicenses` names a product the user holds only through groups
    /// (L6).
    #[error(
        "User license is inherited from a group membership and it cannot be removed directly from the user. {user} holds {product} through {groups}: remove them from the group or the product from the group."
    )]
    LicenseInherited {
        user_id: UserId,
        user: String,
        product: String,
        groups: String,
    },

    /// Graph's answer when a change names a product the organization does not own.
    #[error(
        "License {sku_id} does not correspond to a valid company License. The organization owns no product with this skuId: see GET /v1.0/subscribedSkus for the ones it has."
    )]
    NotACompanyLicense { sku_id: SkuId },

    /// The same user appears twice in one batch (by id and by name, say).
    #[error(
        "{user} is named twice in this request ('{first}' and '{second}'): name each user once."
    )]
    DuplicateUser {
        user: String,
        first: String,
        second: String,
    },

    /// SS3: admins do not change licenses that a self-service subscription gives.
    #[error(
        "{user} has {product} from a subscription a user bought (self-service): only its purchaser can change or remove that license, until an admin takes the subscription over."
    )]
    SelfServiceLicense {
        user_id: UserId,
        user: String,
        product: String,
    },

    /// SS2: a purchaser changes only the licenses their own subscription gives.
    #[error(
        "{user} already has {product} from another subscription: it cannot be assigned again from this one."
    )]
    HeldElsewhere {
        user_id: UserId,
        user: String,
        product: String,
    },

    #[error("This subscription is {status}: {what}")]
    InvalidTransition { status: String, what: String },
}

impl DomainError {
    /// The plan conflicts of a refused change in the plans' display names, each saying what
    /// to change (empty for any other refusal).
    pub fn plan_conflicts(&self) -> &[String] {
        match self {
            DomainError::MutuallyExclusive { conflicts, .. }
            | DomainError::Dependency { conflicts, .. } => conflicts,
            _ => &[],
        }
    }

    /// A stable machine-readable code for the REST API.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::UsageLocationMissing { .. } => "usageLocationMissing",
            DomainError::NotEnoughLicenses { .. } => "notEnoughLicenses",
            DomainError::ProductNotOwned { .. } => "productNotOwned",
            DomainError::MutuallyExclusive { .. } => "mutuallyExclusivePlans",
            DomainError::Dependency { .. } => "planDependency",
            DomainError::CompanyProduct { .. } => "companyProduct",
            DomainError::GuestNeedsGlobalAdmin { .. } => "guestNeedsGlobalAdmin",
            DomainError::PlanNotInProduct { .. } => "planNotInProduct",
            DomainError::UnknownSku { .. } => "unknownSku",
            DomainError::BatchTooLarge { .. } => "batchTooLarge",
            DomainError::Batch { .. } => "batchRefused",
            DomainError::InvalidQuantity { .. } => "invalidQuantity",
            DomainError::BelowAssigned { .. } => "belowAssigned",
            DomainError::RemovalWindowClosed { .. } => "removalWindowClosed",
            DomainError::TermNotAdvancing { .. } => "termNotAdvancing",
            DomainError::InvalidTransition { .. } => "invalidTransition",
            DomainError::ContradictoryChange { .. } => "contradictoryChange",
            DomainError::PlansNeedDisabled { .. } => "planDependency",
            DomainError::PlansExcludeEachOther { .. } => "mutuallyExclusivePlans",
            DomainError::LicenseNotHeld { .. } => "licenseNotHeld",
            DomainError::LicenseInherited { .. } => "licenseInherited",
            DomainError::NotACompanyLicense { .. } => "invalidLicense",
            DomainError::DuplicateUser { .. } => "duplicateUser",
            DomainError::SelfServiceLicense { .. } => "selfServiceLicense",
            DomainError::HeldElsewhere { .. } => "licenseHeldElsewhere",
        }
    }
}
