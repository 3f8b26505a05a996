//! Subscriptions: seats of one product bought by a tenant.

use crate::kinds::{Origin, PolicyValue};
use crate::lifecycle::Lifecycle;
use crate::{PaymentMethodId, PoolId, SkuId, SubscriptionId, TenantId, Time, UserId};

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
    /// Self-service: what the purchaser pays with (none for a trial without payment method).
    pub payment_method_id: Option<PaymentMethodId>,
    /// Self-service: the price when bought, in minor units of `currency` per license per
    /// billing period (none for central subscriptions and trials without payment method).
    pub price: Option<Money>,
    /// Began as a trial (SUB4), whether or not it has converted to paid since; with the
    /// purchase policy value in force when it began (POL1).
    pub trial_policy: Option<PolicyValue>,
    /// The purchaser's optional feedback when cancelling (SS2).
    pub cancel_feedback: Option<String>,
}

/// An amount in minor units of a currency (cents for USD and EUR, øre for DKK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// Minor units.
    pub minor: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

/// A number of licenses of a product in words: "1 license of Mail (Plan 1)", "2 licenses of
/// Mail (Plan 1)". Every sentence that counts licenses of a product uses it.
pub fn licenses_of(n: i64, product: &str) -> String {
    if n == 1 {
        format!("1 license of {product}")
    } else {
        format!("{n} licenses of {product}")
    }
}

#[cfg(test)]
mod words_tests {
    #[test]
    fn licenses_of_says_of_and_is_singular_for_one() {
        assert_eq!(
            super::licenses_of(2, "Mail (Plan 1)"),
            "2 licenses of Mail (Plan 1)"
        );
        assert_eq!(
            super::licenses_of(1, "Mail (Plan 1)"),
            "1 license of Mail (Plan 1)"
        );
    }
}
