//! Who may buy or try a product themselves (SS1, POL1), as a pure rule.

use crate::catalog::Product;
use crate::kinds::{PolicyValue, UserType};

/// What an end user wants to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A paid purchase.
    Purchase,
    /// The product's trial offer.
    Trial,
}

/// Why an end user may not buy or try a product. Each has a stable code and words that say
/// what the user can do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseRefusal {
    #[error("Guest users cannot buy products or start trials in this organization.")]
    GuestCannotPurchase,
    #[error("{product} cannot be bought by users themselves: ask an admin to buy it for you.")]
    NotSelfServiceEligible { product: String },
    #[error(
        "Your organization does not allow buying {product} yourself: request a license from your admin instead."
    )]
    PurchaseBlockedByPolicy { product: String },
    #[error(
        "Your organization allows only trials of {product} that need no payment method: start such a trial, or request a license from your admin."
    )]
    OnlyTrialsAllowed { product: String },
    #[error(
        "You used a trial of {product} that your organization allowed without a payment method; it does not allow buying {product} yourself after it: request a license from your admin."
    )]
    NoPurchaseAfterTrial { product: String },
    #[error("{product} has no trial offer: buy it instead.")]
    NoTrialOffered { product: String },
    #[error("You have already used your trial of {product}: buy it to keep using it.")]
    TrialAlreadyUsed { product: String },
    #[error(
        "The trial of {product} needs a payment method: give paymentMethodId (add a card under Payment methods first). You are charged only if you keep it after the trial."
    )]
    PaymentMethodRequired { product: String },
    #[error(
        "{product} has no price in {currency}, the organization's currency: it cannot be bought."
    )]
    NotSoldInCurrency { product: String, currency: String },
}

impl PurchaseRefusal {
    /// The stable machine-readable code (the API's `code`).
    pub fn code(&self) -> &'static str {
        match self {
            PurchaseRefusal::GuestCannotPurchase => "GuestCannotPurchase",
            PurchaseRefusal::NotSelfServiceEligible { .. } => "NotSelfServiceEligible",
            PurchaseRefusal::PurchaseBlockedByPolicy { .. } => "PurchaseBlockedByPolicy",
            PurchaseRefusal::OnlyTrialsAllowed { .. } => "OnlyTrialsAllowed",
            PurchaseRefusal::NoPurchaseAfterTrial { .. } => "NoPurchaseAfterTrial",
            PurchaseRefusal::NoTrialOffered { .. } => "NoTrialOffered",
            PurchaseRefusal::TrialAlreadyUsed { .. } => "TrialAlreadyUsed",
            PurchaseRefusal::PaymentMethodRequired { .. } => "PaymentMethodRequired",
            PurchaseRefusal::NotSoldInCurrency { .. } => "NotSoldInCurrency",
        }
    }

    /// Whether the refusal is the organization's decision (HTTP 403) rather than a state of
    /// the product or of the user's earlier trials (409) or missing input (400).
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            PurchaseRefusal::GuestCannotPurchase
                | PurchaseRefusal::PurchaseBlockedByPolicy { .. }
                | PurchaseRefusal::OnlyTrialsAllowed { .. }
                | PurchaseRefusal::NoPurchaseAfterTrial { .. }
        )
    }
}

/// An earlier trial of the same product by the same user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlierTrial {
    /// Whether it needed a payment method.
    pub needs_payment_method: bool,
}

/// Whether `user_type` may start `what` of `product` under `policy` (SS1, POL1–POL2).
///
/// - Guests never buy (`GuestCannotPurchase`); the product must be self-service eligible.
/// - `Disabled`: neither purchases nor trials (`PurchaseBlockedByPolicy`).
/// - `OnlyTrialsWithoutPaymentMethod`: only a trial that needs no payment method
///   (`OnlyTrialsAllowed`); a user whose such trial ended is told it cannot be bought after it
///   (`NoPurchaseAfterTrial`). Once purchases are enabled, that applies from then on (POL2).
/// - One trial per user and product (`TrialAlreadyUsed`); a trial needs an offer.
///
/// `has_payment_method` is whether the request names one; a trial that needs one without it
/// is `PaymentMethodRequired`.
pub fn check_start(
    what: Start,
    user_type: UserType,
    product: &Product,
    policy: PolicyValue,
    earlier_trial: Option<EarlierTrial>,
    has_payment_method: bool,
) -> Result<(), PurchaseRefusal> {
    let name = || product.name.clone();
    if user_type == UserType::Guest {
        return Err(PurchaseRefusal::GuestCannotPurchase);
    }
    if !product.self_service {
        return Err(PurchaseRefusal::NotSelfServiceEligible { product: name() });
    }
    if policy == PolicyValue::Disabled {
        return Err(PurchaseRefusal::PurchaseBlockedByPolicy { product: name() });
    }
    match what {
        Start::Purchase => {
            if policy == PolicyValue::OnlyTrialsWithoutPaymentMethod {
                if earlier_trial.is_some_and(|t| !t.needs_payment_method) {
                    return Err(PurchaseRefusal::NoPurchaseAfterTrial { product: name() });
                }
                return Err(PurchaseRefusal::OnlyTrialsAllowed { product: name() });
            }
            Ok(())
        }
        Start::Trial => {
            let Some(offer) = product.trial.as_ref() else {
                return Err(PurchaseRefusal::NoTrialOffered { product: name() });
            };
            if policy == PolicyValue::OnlyTrialsWithoutPaymentMethod && offer.needs_payment_method {
                return Err(PurchaseRefusal::OnlyTrialsAllowed { product: name() });
            }
            if earlier_trial.is_some() {
                return Err(PurchaseRefusal::TrialAlreadyUsed { product: name() });
            }
            if offer.needs_payment_method && !has_payment_method {
                return Err(PurchaseRefusal::PaymentMethodRequired { product: name() });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SkuId;
    use crate::catalog::{AppliesTo, Trial};

    fn product(self_service: bool, trial: Option<Trial>) -> Product {
        Product {
            sku_id: SkuId::new(),
            sku_part_number: "X".into(),
            product_id: "CFQ7TTC0AAAA".into(),
            name: "Project Plan 3".into(),
            applies_to: AppliesTo::User,
            self_service,
            plans: vec![],
            trial,
            prices: vec![],
        }
    }

    fn trial(needs_payment_method: bool) -> Option<Trial> {
        Some(Trial {
            days: 30,
            licenses: 25,
            needs_payment_method,
        })
    }

    #[test]
    fn policy_values_decide_purchases_and_trials() {
        use PolicyValue::*;
        let p = product(true, trial(false));
        let card = product(true, trial(true));
        let code = |r: Result<(), PurchaseRefusal>| r.err().map(|e| e.code());
        let m = UserType::Member;
        assert_eq!(
            code(check_start(Start::Purchase, m, &p, Enabled, None, true)),
            None
        );
        assert_eq!(
            code(check_start(Start::Trial, m, &p, Enabled, None, false)),
            None
        );
        assert_eq!(
            code(check_start(Start::Purchase, m, &p, Disabled, None, true)),
            Some("PurchaseBlockedByPolicy")
        );
        assert_eq!(
            code(check_start(Start::Trial, m, &p, Disabled, None, false)),
            Some("PurchaseBlockedByPolicy")
        );
        let only = OnlyTrialsWithoutPaymentMethod;
        assert_eq!(
            code(check_start(Start::Purchase, m, &p, only, None, true)),
            Some("OnlyTrialsAllowed")
        );
        assert_eq!(
            code(check_start(Start::Trial, m, &p, only, None, false)),
            None
        );
        assert_eq!(
            code(check_start(Start::Trial, m, &card, only, None, true)),
            Some("OnlyTrialsAllowed")
        );
        assert_eq!(
            code(check_start(
                Start::Purchase,
                UserType::Guest,
                &p,
                Enabled,
                None,
                true
            )),
            Some("GuestCannotPurchase")
        );
        assert_eq!(
            code(check_start(
                Start::Purchase,
                m,
                &product(false, None),
                Enabled,
                None,
                true
            )),
            Some("NotSelfServiceEligible")
        );
    }

    #[test]
    fn trials_once_and_no_purchase_after_a_trials_only_trial() {
        use PolicyValue::*;
        let p = product(true, trial(false));
        let m = UserType::Member;
        let earlier = |_policy: PolicyValue| {
            Some(EarlierTrial {
                needs_payment_method: false,
            })
        };
        let code = |r: Result<(), PurchaseRefusal>| r.err().map(|e| e.code());
        assert_eq!(
            code(check_start(
                Start::Trial,
                m,
                &p,
                Enabled,
                earlier(Enabled),
                false
            )),
            Some("TrialAlreadyUsed")
        );
        // After a no-card trial, buying stays closed while only trials are allowed; once the
        // organization enables purchases, the change applies from then on (POL2).
        let only = OnlyTrialsWithoutPaymentMethod;
        assert_eq!(
            code(check_start(
                Start::Purchase,
                m,
                &p,
                only,
                earlier(only),
                true
            )),
            Some("NoPurchaseAfterTrial")
        );
        assert_eq!(
            code(check_start(
                Start::Purchase,
                m,
                &p,
                Enabled,
                earlier(only),
                true
            )),
            None
        );
        assert_eq!(
            code(check_start(
                Start::Trial,
                m,
                &product(true, trial(true)),
                Enabled,
                None,
                false
            )),
            Some("PaymentMethodRequired")
        );
        assert_eq!(
            code(check_start(
                Start::Trial,
                m,
                &product(true, None),
                Enabled,
                None,
                false
            )),
            Some("NoTrialOffered")
        );
    }
}
