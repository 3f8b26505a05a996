//! Subscriptions: seats of one product bought by a tenant.

use crate::kinds::Origin;
use crate::lifecycle::Lifecycle;
use crate::{PoolId, SkuId, SubscriptionId, TenantId, Time, UserId};

/// A subscription: a quantity of seats of one product, with its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The subscription's id.
    pub id: SubscriptionId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The product.
    pub sku_id: SkuId,
    /// The pool its seats belong to.
    pub pool_id: PoolId,
    /// Bought by an admin or by an end user.
    pub origin: Origin,
    /// The end user who bought it (self-service only).
    pub purchaser_id: Option<UserId>,
    /// The commerce system's reference.
    pub commerce_id: String,
    /// How many seats.
    pub quantity: i64,
    /// Whether it is a trial.
    pub is_trial: bool,
    /// Why it was cancelled, if it was.
    pub cancel_reason: Option<String>,
    /// When it was bought.
    pub created_at: Time,
    /// Status, term and billing.
    pub life: Lifecycle,
    /// The term end for which the expiring notice was sent.
    pub expiring_notice_for: Option<Time>,
}
