//! Planning one user's license change (L2–L5, Graph `assignLicense`): which licenses are
//! added, which keep the product but change their disabled plans, and which are removed.
//!
//! This is the one home of the per-user rules of a change: a product named twice or both added
//! and removed is refused, a removal of a product the user does not hold is refused as Graph
//! refuses it, company products never go to users, disabled plans must belong to their
//! product, and the plan rules (mutual exclusion, dependencies) hold afterwards. The app loads
//! what the user holds and writes the plan; the web layer and the CLI keep no copies.

use crate::catalog::Catalog;
use crate::plans::{self, License};
use crate::{DomainError, SkuId, UserId};

/// What one user's change asks for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Products to hold afterwards, each with the service plans that stay off. A product the
    /// user holds already only changes its disabled plans (Graph: repeating is harmless).
    pub add: &'a [License],
    /// Products to take away.
    pub remove: Removal<'a>,
}

/// Which held licenses a change removes.
#[derive(Debug, Clone, Copy)]
pub enum Removal<'a> {
    /// These products; each must be one the user holds (Graph: "User does not have a
    /// corresponding license.").
    These(&'a [SkuId]),
    /// Every held product not in `add` (L4 Replace and Unassign all).
    AllOthers,
}

/// The outcome: indices refer to the `held` slice given to [`plan`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// New licenses, with their disabled plans sorted and without repeats.
    pub inserts: Vec<License>,
    /// Held licenses whose disabled plans change: (index into `held`, new disabled plans).
    pub updates: Vec<(usize, Vec<crate::PlanId>)>,
    /// Held licenses removed (indices into `held`).
    pub deletes: Vec<usize>,
    /// What the user holds afterwards.
    pub after: Vec<License>,
}

impl Plan {
    /// Whether the change gives the user something (a new license or other plans): guest and
    /// usage-location checks apply only then.
    pub fn adds_something(&self) -> bool {
        !self.inserts.is_empty() || !self.updates.is_empty()
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.inserts.is_empty() && self.updates.is_empty() && self.deletes.is_empty()
    }
}

/// Plans one user's change against what they hold.
///
/// `owned(sku)` says whether the organization owns the product (has a pool of it); a removal
/// of a product the user does not hold is refused with [`DomainError::NotACompanyLicense`] when
/// the organization does not own it, else with [`DomainError::LicenseNotHeld`].
///
/// Errors: [`DomainError::UnknownSku`], [`DomainError::ContradictoryChange`],
/// [`DomainError::CompanyProduct`], [`DomainError::PlanNotInProduct`],
/// [`DomainError::LicenseNotHeld`], [`DomainError::NotACompanyLicense`],
/// [`DomainError::MutuallyExclusive`], [`DomainError::Dependency`].
pub fn plan(
    catalog: &Catalog,
    user_id: UserId,
    user: &str,
    held: &[License],
    request: Request<'_>,
    owned: impl Fn(SkuId) -> bool,
) -> Result<Plan, DomainError> {
    let mut out = Plan::default();
    let wanted = check_additions(catalog, request.add)?;
    // Removals: each product once; it must be held.
    let mut removed: Vec<SkuId> = Vec::new();
    match request.remove {
        Removal::These(list) => {
            if let Some((_, sku)) = list
                .iter()
                .enumerate()
                .find(|(i, s)| list[..*i].contains(s))
            {
                return Err(DomainError::ContradictoryChange {
                    product: catalog.part_number(*sku),
                    problem: "is named twice in the licenses to remove".into(),
                });
            }
            for sku in list {
                if let Some(w) = wanted.iter().find(|w| w.sku_id == *sku) {
                    return Err(DomainError::ContradictoryChange {
                        product: catalog.part_number(w.sku_id),
                        problem: "is both added and removed".into(),
                    });
                }
                if !held.iter().any(|h| h.sku_id == *sku) {
                    return Err(match catalog.product(*sku) {
                        Some(p) if owned(*sku) => DomainError::LicenseNotHeld {
                            user_id,
                            user: user.to_string(),
                            sku_id: *sku,
                            product: p.sku_part_number.clone(),
                        },
                        _ => DomainError::NotACompanyLicense { sku_id: *sku },
                    });
                }
                removed.push(*sku);
            }
        }
        Removal::AllOthers => {
            removed.extend(
                held.iter()
                    .map(|h| h.sku_id)
                    .filter(|s| !wanted.iter().any(|w| w.sku_id == *s)),
            );
        }
    }
    for (i, h) in held.iter().enumerate() {
        if removed.contains(&h.sku_id) {
            out.deletes.push(i);
        } else if let Some(w) = wanted.iter().find(|w| w.sku_id == h.sku_id) {
            if w.disabled_plans != h.disabled_plans {
                out.updates.push((i, w.disabled_plans.clone()));
            }
            out.after.push(w.clone());
        } else {
            out.after.push(h.clone());
        }
    }
    for w in wanted {
        if !held.iter().any(|h| h.sku_id == w.sku_id) {
            out.after.push(w.clone());
            out.inserts.push(w);
        }
    }
    plans::check_change(catalog, user_id, user, held, &out.after)?;
    Ok(out)
}

/// The part of a change that does not depend on the user: each product to add once, a
/// product users can hold, disabled plans of that product. Returns the additions with their
/// disabled plans sorted and without repeats. A batch that gives every user the same licenses
/// checks them once with this before planning each user.
pub fn check_additions(catalog: &Catalog, add: &[License]) -> Result<Vec<License>, DomainError> {
    let mut wanted: Vec<License> = Vec::with_capacity(add.len());
    for spec in add {
        let product = catalog
            .product(spec.sku_id)
            .ok_or(DomainError::UnknownSku {
                sku_id: spec.sku_id,
            })?;
        if wanted.iter().any(|w| w.sku_id == spec.sku_id) {
            return Err(DomainError::ContradictoryChange {
                product: product.sku_part_number.clone(),
                problem: "is named twice in the licenses to add".into(),
            });
        }
        plans::check_user_product(product)?;
        wanted.push(License {
            sku_id: spec.sku_id,
            disabled_plans: plans::normalize_disabled(catalog, product, &spec.disabled_plans)?,
        });
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lic(c: &Catalog, part: &str) -> License {
        License {
            sku_id: c.find_product(part).unwrap().sku_id,
            disabled_plans: vec![],
        }
    }

    fn run(
        c: &Catalog,
        held: &[License],
        add: &[License],
        remove: Removal<'_>,
    ) -> Result<Plan, DomainError> {
        plan(
            c,
            UserId::new(),
            "u@x",
            held,
            Request { add, remove },
            |_| true,
        )
    }

    #[test]
    fn removing_a_product_not_held_is_refused_as_graph_does() {
        let c = Catalog::demo();
        let basic = lic(&c, "SUITE_BASIC");
        let e = run(&c, &[], &[], Removal::These(&[basic.sku_id])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("User does not have a corresponding license."),
            "{e}"
        );
        let unknown = SkuId::new();
        let e = run(&c, &[], &[], Removal::These(&[unknown])).unwrap_err();
        assert_eq!(
            e.to_string().split(". ").next().unwrap(),
            format!("License {unknown} does not correspond to a valid company License")
        );
        // A product in the catalog that the organization does not own is not a company license.
        let e = plan(
            &c,
            UserId::new(),
            "u",
            &[],
            Request {
                add: &[],
                remove: Removal::These(&[basic.sku_id]),
            },
            |_| false,
        )
        .unwrap_err();
        assert!(matches!(e, DomainError::NotACompanyLicense { .. }), "{e}");
    }

    #[test]
    fn duplicates_and_contradictions_are_refused_once_here() {
        let c = Catalog::demo();
        let basic = lic(&c, "SUITE_BASIC");
        let e = run(
            &c,
            &[],
            &[basic.clone(), basic.clone()],
            Removal::These(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("named twice"), "{e}");
        let e = run(
            &c,
            std::slice::from_ref(&basic),
            std::slice::from_ref(&basic),
            Removal::These(&[basic.sku_id]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("both added and removed"), "{e}");
        // The same product twice in the removals is refused as in the additions.
        let e = run(
            &c,
            std::slice::from_ref(&basic),
            &[],
            Removal::These(&[basic.sku_id, basic.sku_id]),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("named twice in the licenses to remove"),
            "{e}"
        );
    }

    #[test]
    fn replace_keeps_what_is_named_and_removes_the_rest() {
        let c = Catalog::demo();
        let basic = lic(&c, "SUITE_BASIC");
        let chat = lic(&c, "CHAT_ESSENTIALS");
        let p = run(
            &c,
            &[basic.clone(), chat.clone()],
            std::slice::from_ref(&chat),
            Removal::AllOthers,
        )
        .unwrap();
        assert_eq!(p.deletes, vec![0]);
        assert!(p.inserts.is_empty() && p.updates.is_empty());
        assert_eq!(p.after, vec![chat]);
        // Holding it already with the same plans: nothing to do.
        let p = run(
            &c,
            std::slice::from_ref(&basic),
            std::slice::from_ref(&basic),
            Removal::These(&[]),
        )
        .unwrap();
        assert!(p.is_empty());
    }
}
