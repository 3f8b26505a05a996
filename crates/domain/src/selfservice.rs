//! Who may buy or try a product themselves (SS1, POL1), as a pure rule.

use crate::PlanId;
use crate::catalog::{Catalog, Product};
use crate::kinds::{PolicyValue, UserType};
use crate::plans::License;

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
        "Your organization allows only trials of {product} that need no payment method, and {product} offers no such trial: it cannot be bought here. Ask an admin for a license."
    )]
    NoAllowedTrial { product: String },
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
    #[error(
        "{product} needs {needs}, which you don't have, and cannot work without it: ask an admin for {from} first, then buy {product}."
    )]
    MissingPrerequisite {
        product: String,
        /// The missing plans' names.
        needs: String,
        /// The products that include them, or "a product that includes it".
        from: String,
    },
}

impl PurchaseRefusal {
    /// Whether this refusal is the purchase policy's, so the user may request a license from
    /// their admin instead (REQ1).
    pub fn allows_request(&self) -> bool {
        matches!(
            self,
            PurchaseRefusal::PurchaseBlockedByPolicy { .. }
                | PurchaseRefusal::OnlyTrialsAllowed { .. }
                | PurchaseRefusal::NoAllowedTrial { .. }
                | PurchaseRefusal::NoPurchaseAfterTrial { .. }
        )
    }

    /// The stable machine-readable code (the API's `code`).
    pub fn code(&self) -> &'static str {
        match self {
            PurchaseRefusal::GuestCannotPurchase => "GuestCannotPurchase",
            PurchaseRefusal::NotSelfServiceEligible { .. } => "NotSelfServiceEligible",
            PurchaseRefusal::PurchaseBlockedByPolicy { .. } => "PurchaseBlockedByPolicy",
            PurchaseRefusal::OnlyTrialsAllowed { .. } | PurchaseRefusal::NoAllowedTrial { .. } => {
                "OnlyTrialsAllowed"
            }
            PurchaseRefusal::NoPurchaseAfterTrial { .. } => "NoPurchaseAfterTrial",
            PurchaseRefusal::NoTrialOffered { .. } => "NoTrialOffered",
            PurchaseRefusal::TrialAlreadyUsed { .. } => "TrialAlreadyUsed",
            PurchaseRefusal::PaymentMethodRequired { .. } => "PaymentMethodRequired",
            PurchaseRefusal::NotSoldInCurrency { .. } => "NotSoldInCurrency",
            PurchaseRefusal::MissingPrerequisite { .. } => "MissingPrerequisite",
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
                | PurchaseRefusal::NoAllowedTrial { .. }
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
                if product
                    .trial
                    .as_ref()
                    .is_none_or(|t| t.needs_payment_method)
                {
                    return Err(PurchaseRefusal::NoAllowedTrial { product: name() });
                }
                return Err(PurchaseRefusal::OnlyTrialsAllowed { product: name() });
            }
            Ok(())
        }
        Start::Trial => {
            let only_free = policy == PolicyValue::OnlyTrialsWithoutPaymentMethod;
            let Some(offer) = product.trial.as_ref() else {
                if only_free {
                    return Err(PurchaseRefusal::NoAllowedTrial { product: name() });
                }
                return Err(PurchaseRefusal::NoTrialOffered { product: name() });
            };
            if only_free && offer.needs_payment_method {
                return Err(PurchaseRefusal::NoAllowedTrial { product: name() });
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

/// Whether `product` is an add-on that needs a base: one of its plans requires a plan the
/// product itself does not include (say, a phone system that needs chat).
pub fn needs_a_base(catalog: &Catalog, product: &Product) -> bool {
    product.plans.iter().any(|p| {
        catalog
            .plan(*p)
            .is_some_and(|d| d.requires.iter().any(|r| !product.plans.contains(r)))
    })
}

/// The products an admin may move the users of a self-service purchase of `source` to (SS4):
/// `source` itself, and every other product for users that includes ALL of `source`'s service
/// plans (so nobody loses a service they had) and is not an add-on that needs a base.
/// `source` first, then by name.
pub fn take_over_targets<'a>(catalog: &'a Catalog, source: &Product) -> Vec<&'a Product> {
    let mut out: Vec<&Product> = catalog
        .products
        .iter()
        .filter(|p| {
            p.sku_id == source.sku_id
                || (p.applies_to == crate::catalog::AppliesTo::User
                    && source.plans.iter().all(|x| p.plans.contains(x))
                    && !needs_a_base(catalog, p))
        })
        .collect();
    out.sort_by(|a, b| {
        (a.sku_id != source.sku_id, &a.name).cmp(&(b.sku_id != source.sku_id, &b.name))
    });
    out
}

/// A plan of a product a buyer gets turned off, because a plan it needs is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOff {
    pub plan: PlanId,
    /// The plans it needs that the buyer would not have.
    pub needs: Vec<PlanId>,
}

/// SS1 with the plan dependencies of L5: which plans of `product` must stay off for a buyer
/// who holds `held` and turns `disabled` off themselves, because a plan they need is in
/// neither `held` nor the plans of `product` that stay on (turning one off can take others
/// with it). Empty when every plan can be on.
pub fn plans_off_for_buyer(
    catalog: &Catalog,
    product: &Product,
    held: &[License],
    disabled: &[PlanId],
) -> Vec<PlanOff> {
    let mut have: std::collections::HashSet<PlanId> = std::collections::HashSet::new();
    for l in held.iter().filter(|l| l.sku_id != product.sku_id) {
        if let Some(p) = catalog.product(l.sku_id) {
            have.extend(crate::plans::enabled_plans(p, &l.disabled_plans));
        }
    }
    let mut on: Vec<PlanId> = crate::plans::enabled_plans(product, disabled);
    let mut off = Vec::new();
    loop {
        let found = on.iter().find_map(|p| {
            let needs: Vec<PlanId> = catalog
                .plan(*p)
                .map(|d| d.requires.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|r| !have.contains(r) && !on.contains(r))
                .collect();
            (!needs.is_empty()).then_some(PlanOff { plan: *p, needs })
        });
        let Some(o) = found else {
            return off;
        };
        on.retain(|p| *p != o.plan);
        off.push(o);
    }
}

/// Whether a buyer holding `held` can use `product` at all (SS1): the plans that must stay
/// off for want of a plan of another product ([`plans_off_for_buyer`]), or, when that would
/// leave none of its plans on, `MissingPrerequisite` naming what it needs and which products
/// include it: refused up front rather than failing at assignment.
pub fn check_prerequisites(
    catalog: &Catalog,
    product: &Product,
    held: &[License],
    disabled: &[PlanId],
) -> Result<Vec<PlanOff>, PurchaseRefusal> {
    let off = plans_off_for_buyer(catalog, product, held, disabled);
    let on = crate::plans::enabled_plans(product, disabled)
        .into_iter()
        .filter(|p| !off.iter().any(|o| o.plan == *p))
        .count();
    if off.is_empty() || on > 0 {
        return Ok(off);
    }
    let mut needs: Vec<PlanId> = off.iter().flat_map(|o| o.needs.clone()).collect();
    needs.sort();
    needs.dedup();
    let mut from: Vec<String> = catalog
        .products
        .iter()
        .filter(|p| p.sku_id != product.sku_id && needs.iter().any(|n| p.plans.contains(n)))
        .map(|p| p.name.clone())
        .collect();
    from.sort();
    Err(PurchaseRefusal::MissingPrerequisite {
        product: product.name.clone(),
        needs: needs
            .iter()
            .map(|n| {
                catalog
                    .plan(*n)
                    .map(|d| d.display_name.clone())
                    .unwrap_or_else(|| n.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        from: if from.is_empty() {
            "a product that includes it".into()
        } else {
            from.join(" or ")
        },
    })
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
    fn a_product_that_cannot_work_without_another_is_refused_and_a_partial_one_loses_a_plan() {
        let c = Catalog::demo();
        let diagrams = c.find_product("DIAGRAMS_PLAN2").expect("product");
        let e = check_prerequisites(&c, diagrams, &[], &[]).expect_err("refused");
        assert_eq!(e.code(), "MissingPrerequisite");
        assert!(
            e.to_string().contains("Files and sites (Enterprise)"),
            "{e}"
        );
        assert!(e.to_string().contains("Suite Premium"), "{e}");
        let premium = License {
            sku_id: c.find_product("SUITE_PREMIUM").expect("p").sku_id,
            disabled_plans: vec![],
        };
        assert_eq!(
            check_prerequisites(&c, diagrams, &[premium], &[]),
            Ok(vec![])
        );
        // A product with one dependent plan and one that works alone: only the first stays off.
        let mut mixed = diagrams.clone();
        let projects = c
            .plans
            .iter()
            .find(|p| p.name == "PROJECTS")
            .expect("plan")
            .id;
        mixed.plans.push(projects);
        let off = check_prerequisites(&c, &mixed, &[], &[]).expect("works in part");
        assert_eq!(off.len(), 1);
        assert_eq!(Some(off[0].plan), diagrams.plans.first().copied());
    }

    #[test]
    fn take_over_targets_contain_every_plan_and_are_no_add_ons() {
        let c = Catalog::demo();
        let names = |part: &str| -> Vec<String> {
            let p = c.find_product(part).expect("product");
            take_over_targets(&c, p)
                .iter()
                .map(|p| p.sku_part_number.clone())
                .collect()
        };
        assert_eq!(names("SUITE_BASIC"), vec!["SUITE_BASIC", "SUITE_STANDARD"]);
        assert_eq!(
            names("MAIL_PLAN1"),
            vec!["MAIL_PLAN1", "SUITE_BASIC", "SUITE_STANDARD"]
        );
        // Chat Essentials' plans are in all three suites; the phone add-on is never offered.
        let chat = names("CHAT_ESSENTIALS");
        assert!(chat.contains(&"SUITE_PREMIUM".to_string()), "{chat:?}");
        assert!(!chat.iter().any(|n| n == "PHONE_SYSTEM"), "{chat:?}");
        assert!(needs_a_base(&c, c.find_product("PHONE_SYSTEM").expect("p")));
    }

    #[test]
    fn trials_only_without_a_free_trial_says_it_cannot_be_bought_here() {
        let only = PolicyValue::OnlyTrialsWithoutPaymentMethod;
        let m = UserType::Member;
        for p in [product(true, None), product(true, trial(true))] {
            for what in [Start::Purchase, Start::Trial] {
                let e = check_start(what, m, &p, only, None, true).expect_err("refused");
                assert_eq!(e.code(), "OnlyTrialsAllowed");
                assert!(e.to_string().contains("cannot be bought here"), "{e}");
                assert!(!e.to_string().contains("start such a trial"), "{e}");
            }
        }
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
