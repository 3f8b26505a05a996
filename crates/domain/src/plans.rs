//! Service-plan rules for one user's set of licenses: mutual exclusion and dependencies (L5).

use crate::catalog::{AppliesTo, Catalog, Product};
use crate::{DomainError, PlanId, SkuId, UserId};
use std::collections::BTreeSet;

/// One license a user holds (or would hold): the product and the plans turned off in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    pub sku_id: SkuId,
    pub disabled_plans: Vec<PlanId>,
}

/// The plans of `product` that stay on when `disabled` are turned off.
pub fn enabled_plans(product: &Product, disabled: &[PlanId]) -> Vec<PlanId> {
    enabled_iter(product, disabled).collect()
}

/// [`enabled_plans`] one by one, without a list.
fn enabled_iter<'a>(
    product: &'a Product,
    disabled: &'a [PlanId],
) -> impl Iterator<Item = PlanId> + 'a {
    product
        .plans
        .iter()
        .copied()
        .filter(|p| !disabled.contains(p))
}

/// Checks that `disabled` names only plans of `product`, and returns them sorted without repeats.
pub fn normalize_disabled(
    catalog: &Catalog,
    product: &Product,
    disabled: &[PlanId],
) -> Result<Vec<PlanId>, DomainError> {
    let mut out = BTreeSet::new();
    for p in disabled {
        if !product.plans.contains(p) {
            return Err(DomainError::PlanNotInProduct {
                product: product.sku_part_number.clone(),
                plan: catalog
                    .plan(*p)
                    .map(|x| x.name.clone())
                    .unwrap_or_else(|| p.to_string()),
                allowed: product
                    .plans
                    .iter()
                    .map(|x| catalog.plan_name(*x))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        out.insert(*p);
    }
    Ok(out.into_iter().collect())
}

/// Checks that a product can be held by a user at all.
pub fn check_user_product(product: &Product) -> Result<(), DomainError> {
    if product.applies_to == AppliesTo::Company {
        return Err(DomainError::CompanyProduct {
            sku_id: product.sku_id,
            product: product.sku_part_number.clone(),
        });
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Violation {
    Exclusive {
        a: PlanId,
        b: PlanId,
        sku_a: SkuId,
        sku_b: SkuId,
    },
    Dependency {
        plan: PlanId,
        missing: Vec<PlanId>,
        sku: SkuId,
    },
}

/// The plan rules (L5) that `licenses` break together: two plans on that exclude each other,
/// and plans on with a required plan off. A plan counts for the first license that turns it
/// on. Runs for every license change (twice: before and after), so it returns at once when
/// none of the products has a plan with a rule, and otherwise builds one list.
fn violations(catalog: &Catalog, licenses: &[License]) -> BTreeSet<Violation> {
    let mut out = BTreeSet::new();
    if !licenses.iter().any(|l| catalog.has_plan_rules(l.sku_id)) {
        return out;
    }
    // Every enabled plan with the first product that enables it, sorted by plan.
    let mut enabled: Vec<(PlanId, SkuId)> = Vec::with_capacity(licenses.len() * 4);
    for l in licenses {
        if let Some(product) = catalog.product(l.sku_id) {
            enabled.extend(enabled_iter(product, &l.disabled_plans).map(|p| (p, l.sku_id)));
        }
    }
    // A stable sort keeps each plan's first product first; dedup keeps that one.
    enabled.sort_by_key(|(p, _)| *p);
    enabled.dedup_by_key(|(p, _)| *p);
    let product_of = |plan: &PlanId| {
        enabled
            .binary_search_by_key(plan, |(p, _)| *p)
            .ok()
            .map(|i| enabled[i].1)
    };
    for (plan, sku) in &enabled {
        let Some(def) = catalog.plan(*plan) else {
            continue;
        };
        for x in &def.excludes {
            if let Some(sku_x) = product_of(x) {
                let ((a, sku_a), (b, sku_b)) = if plan < x {
                    ((*plan, *sku), (*x, sku_x))
                } else {
                    ((*x, sku_x), (*plan, *sku))
                };
                out.insert(Violation::Exclusive { a, b, sku_a, sku_b });
            }
        }
        let missing: Vec<PlanId> = def
            .requires
            .iter()
            .copied()
            .filter(|r| product_of(r).is_none())
            .collect();
        if !missing.is_empty() {
            out.insert(Violation::Dependency {
                plan: *plan,
                missing,
                sku: *sku,
            });
        }
    }
    out
}

/// Checks that `license` does not turn off a plan of its own product that a plan it keeps on
/// needs (see [`DomainError::PlansNeedDisabled`]); plans needed from other products are left
/// to each holder's other licenses.
pub fn check_license_alone(catalog: &Catalog, license: &License) -> Result<(), DomainError> {
    let Some(product) = catalog.product(license.sku_id) else {
        return Ok(());
    };
    for v in violations(catalog, std::slice::from_ref(license)) {
        if let Violation::Dependency { plan, missing, .. } = v {
            let own: Vec<String> = missing
                .iter()
                .filter(|m| product.plans.contains(m))
                .map(|m| catalog.plan_name(*m))
                .collect();
            if !own.is_empty() {
                return Err(DomainError::PlansNeedDisabled {
                    product: product.sku_part_number.clone(),
                    plan: catalog.plan_name(plan),
                    requires: own.join(", "),
                });
            }
        }
    }
    Ok(())
}

/// Checks that licenses given together (a group's products) have no two plans on that exclude
/// each other (see [`DomainError::PlansExcludeEachOther`]).
pub fn check_set_alone(catalog: &Catalog, licenses: &[License]) -> Result<(), DomainError> {
    for v in violations(catalog, licenses) {
        if let Violation::Exclusive { a, b, sku_a, sku_b } = v {
            return Err(DomainError::PlansExcludeEachOther {
                product_a: catalog.part_number(sku_a),
                plan_a: catalog.plan_name(a),
                product_b: catalog.part_number(sku_b),
                plan_b: catalog.plan_name(b),
            });
        }
    }
    Ok(())
}

/// Checks a user's licenses after a change against the plan rules. A violation that already
/// existed before the change (say, after a catalog change) does not block unrelated changes.
pub fn check_change(
    catalog: &Catalog,
    user_id: UserId,
    user: &str,
    before: &[License],
    after: &[License],
) -> Result<(), DomainError> {
    let old = violations(catalog, before);
    let new: Vec<Violation> = violations(catalog, after)
        .into_iter()
        .filter(|v| !old.contains(v))
        .collect();
    let Some(v) = new.first().cloned() else {
        return Ok(());
    };
    let conflicts = Box::new(new.iter().map(|v| in_words(catalog, v)).collect::<Vec<_>>());
    let product = |sku: SkuId| catalog.part_number(sku);
    Err(match v {
        Violation::Exclusive { a, b, sku_a, sku_b } => DomainError::MutuallyExclusive {
            user_id,
            user: user.to_string(),
            products: Box::new((product(sku_a), product(sku_b))),
            plan_a: catalog.plan_name(a),
            plan_b: catalog.plan_name(b),
            conflicts,
        },
        Violation::Dependency { plan, missing, sku } => DomainError::Dependency {
            user_id,
            user: user.to_string(),
            product: product(sku),
            plan: catalog.plan_name(plan),
            requires: missing
                .iter()
                .map(|m| catalog.plan_name(*m))
                .collect::<Vec<_>>()
                .join(", "),
            conflicts,
        },
    })
}

/// A plan's display name, as the apps-and-services switches show it.
fn label(catalog: &Catalog, id: PlanId) -> String {
    catalog
        .plan(id)
        .map(|p| p.display_name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// A product's name, as the pages show it.
fn product_label(catalog: &Catalog, sku: SkuId) -> String {
    catalog
        .product(sku)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| sku.to_string())
}

/// One conflict in the plans' display names, saying what to change.
/// How the words of two plans that cannot both be on end (see [`is_exclusive_conflict`]).
const EXCLUSIVE_TAIL: &str = "cannot both be on: turn one of them off.";

/// Whether a line of [`DomainError::plan_conflicts`] is about two plans that cannot both be on
/// (otherwise it is a plan whose required plans are off).
pub fn is_exclusive_conflict(line: &str) -> bool {
    line.ends_with(EXCLUSIVE_TAIL)
}

fn in_words(catalog: &Catalog, v: &Violation) -> String {
    match v {
        Violation::Exclusive { a, b, sku_a, sku_b } => {
            let (a, b) = (label(catalog, *a), label(catalog, *b));
            if sku_a == sku_b {
                format!(
                    "{a} and {b} of {} {EXCLUSIVE_TAIL}",
                    product_label(catalog, *sku_a)
                )
            } else {
                format!(
                    "{a} (from {}) and {b} (from {}) {EXCLUSIVE_TAIL}",
                    product_label(catalog, *sku_a),
                    product_label(catalog, *sku_b)
                )
            }
        }
        Violation::Dependency { plan, missing, sku } => {
            let needs = missing
                .iter()
                .map(|m| label(catalog, *m))
                .collect::<Vec<_>>()
                .join(" and ");
            format!(
                "{} (from {}) needs {needs}: turn {needs} on as well, or turn {} off.",
                label(catalog, *plan),
                product_label(catalog, *sku),
                label(catalog, *plan)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sku(c: &Catalog, part: &str) -> SkuId {
        c.find_product(part).unwrap().sku_id
    }
    fn plan(c: &Catalog, name: &str) -> PlanId {
        c.plans.iter().find(|p| p.name == name).unwrap().id
    }
    fn lic(c: &Catalog, part: &str, off: &[&str]) -> License {
        License {
            sku_id: sku(c, part),
            disabled_plans: off.iter().map(|n| plan(c, n)).collect(),
        }
    }

    #[test]
    fn exclusive_plans_across_products_are_refused() {
        let c = Catalog::demo();
        let u = UserId::new();
        let before = vec![lic(&c, "MAIL_PLAN1", &[])];
        let after = vec![lic(&c, "MAIL_PLAN1", &[]), lic(&c, "MAIL_PLAN2", &[])];
        let e = check_change(&c, u, "adele@example.com", &before, &after).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("License assignment failed because service plans MAIL_PLAN1, MAIL_PLAN2 are mutually exclusive."), "{msg}");
        assert!(
            msg.contains("adele@example.com would have MAIL_PLAN1 from MAIL_PLAN1 and MAIL_PLAN2 from MAIL_PLAN2 both on"),
            "{msg}"
        );
        // Turning one off makes it fine.
        let after = vec![
            lic(&c, "MAIL_PLAN1", &[]),
            lic(&c, "SUITE_PREMIUM", &["MAIL_PLAN2", "FILES_ENTERPRISE"]),
        ];
        // SUITE_PREMIUM with FILES_ENTERPRISE off is fine (no plan of it requires FILES_ENTERPRISE).
        check_change(&c, u, "adele", &before, &after).unwrap();
    }

    #[test]
    fn dependency_turned_off_is_refused() {
        let c = Catalog::demo();
        let u = UserId::new();
        let after = vec![lic(&c, "SUITE_BASIC", &["CHAT"])];
        let e = check_change(&c, u, "bob", &[], &after).unwrap_err();
        assert_eq!(
            e.to_string().split(". ").next().unwrap(),
            "License assignment failed because service plan WHITEBOARD depends on the service plan(s) CHAT"
        );
        // The dependency may be met by another license of the same user.
        let after = vec![
            lic(&c, "SUITE_BASIC", &["CHAT"]),
            lic(&c, "CHAT_ESSENTIALS", &[]),
        ];
        check_change(&c, u, "bob", &[], &after).unwrap();
        // Removing the license that met it is refused as well.
        let before = after.clone();
        let after = vec![lic(&c, "SUITE_BASIC", &["CHAT"])];
        assert!(matches!(
            check_change(&c, u, "bob", &before, &after),
            Err(DomainError::Dependency { .. })
        ));
    }

    #[test]
    fn disabled_plans_must_belong_to_the_product() {
        let c = Catalog::demo();
        let p = c.find_product("MAIL_PLAN1").unwrap();
        let e = normalize_disabled(&c, p, &[plan(&c, "CHAT")]).unwrap_err();
        assert!(
            e.to_string().contains("CHAT is not part of MAIL_PLAN1"),
            "{e}"
        );
    }

    #[test]
    fn company_products_cannot_go_to_users() {
        let c = Catalog::demo();
        let p = c.find_product("EXTRA_STORAGE").unwrap();
        assert!(
            check_user_product(p)
                .unwrap_err()
                .to_string()
                .starts_with("License ")
        );
    }

    /// Licenses of the demo catalog's user products: per pick, a product (by index, each at
    /// most once) and the plans turned off in it (by index).
    fn picked(c: &Catalog, picks: Vec<(usize, Vec<usize>)>) -> Vec<License> {
        let users: Vec<&Product> = c
            .products
            .iter()
            .filter(|p| p.applies_to == AppliesTo::User)
            .collect();
        let mut out: Vec<License> = Vec::new();
        for (pi, offs) in picks {
            let p = users[pi % users.len()];
            if out.iter().any(|l| l.sku_id == p.sku_id) {
                continue;
            }
            let off: Vec<PlanId> = offs.iter().map(|i| p.plans[i % p.plans.len()]).collect();
            out.push(License {
                sku_id: p.sku_id,
                disabled_plans: off,
            });
        }
        out
    }

    proptest! {
        // Whatever the user ends up holding after an accepted change, no exclusive pair is on
        // together and every enabled plan's dependencies are on, unless that was so before.
        #[test]
        fn accepted_sets_satisfy_the_rules(picks in proptest::collection::vec((0usize..11, proptest::collection::vec(0usize..10, 0..4)), 0..5)) {
            let c = Catalog::demo();
            let after = picked(&c, picks);
            if check_change(&c, UserId::new(), "u", &[], &after).is_ok() {
                let on: BTreeSet<PlanId> = after.iter().flat_map(|l| enabled_plans(c.product(l.sku_id).unwrap(), &l.disabled_plans)).collect();
                for p in &on {
                    let def = c.plan(*p).unwrap();
                    prop_assert!(def.excludes.iter().all(|x| !on.contains(x)));
                    prop_assert!(def.requires.iter().all(|r| on.contains(r)));
                }
            }
        }

        // And the other way round: a set that breaks a rule is refused, whichever products
        // hold the plans (several products may turn on the same plan).
        #[test]
        fn broken_sets_are_refused(picks in proptest::collection::vec((0usize..11, proptest::collection::vec(0usize..10, 0..4)), 0..6)) {
            let c = Catalog::demo();
            let after = picked(&c, picks);
            let on: BTreeSet<PlanId> = after.iter().flat_map(|l| enabled_plans(c.product(l.sku_id).unwrap(), &l.disabled_plans)).collect();
            let broken = on.iter().any(|p| {
                let def = c.plan(*p).unwrap();
                def.excludes.iter().any(|x| on.contains(x)) || def.requires.iter().any(|r| !on.contains(r))
            });
            prop_assert_eq!(check_change(&c, UserId::new(), "u", &[], &after).is_err(), broken);
        }
    }
}
