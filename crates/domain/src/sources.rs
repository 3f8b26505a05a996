//! Where a user's licenses come from (L6): directly, and from each group they are a member of
//! that has products assigned. This is the one home of the rule that turns sources into the
//! licenses a user holds, as Graph's group-based licensing does it:
//!
//! - a product held directly and through one or more groups is one license (one seat);
//! - its service plans are on when any source that gives it turns them on (the disabled plans
//!   of the license are those every source disables);
//! - a group whose products cannot all be given to a member (no seat, a plan conflict, a
//!   missing dependency, no usage location) gives that member none of them: each of its
//!   products is in state `Error` with the reason, and the others of the member's sources are
//!   untouched. Licenses given directly are always kept (they were checked when assigned).
//!
//! Groups are tried in a fixed order — those already active for the member first, then by when
//! the member joined, then by group id — so that re-running the rule (reprocess, a restart)
//! changes nothing that worked before and gives scarce seats to the earliest members.

use crate::catalog::Catalog;
use crate::plans::{self, License};
use crate::{DomainError, GroupId, PlanId, SkuId, Time, UserId};
use std::collections::BTreeSet;

/// Why a group could not give a member its products: Graph's `licenseAssignmentStates.error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceError {
    /// Not enough available licenses of a product.
    CountViolation,
    /// A plan of the group's products conflicts with a plan the member holds.
    MutuallyExclusiveViolation,
    /// A plan needs another plan the member does not hold.
    DependencyViolation,
    /// The member has no usage location and the organization has no default.
    ProhibitedInUsageLocationViolation,
    /// Anything else (a product that cannot go to users).
    Other,
}

impl SourceError {
    /// Graph's name of the error.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceError::CountViolation => "CountViolation",
            SourceError::MutuallyExclusiveViolation => "MutuallyExclusiveViolation",
            SourceError::DependencyViolation => "DependencyViolation",
            SourceError::ProhibitedInUsageLocationViolation => "ProhibitedInUsageLocationViolation",
            SourceError::Other => "Other",
        }
    }

    /// Parses [`SourceError::as_str`].
    pub fn parse(s: &str) -> Option<SourceError> {
        [
            SourceError::CountViolation,
            SourceError::MutuallyExclusiveViolation,
            SourceError::DependencyViolation,
            SourceError::ProhibitedInUsageLocationViolation,
            SourceError::Other,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }

    /// What the admin can do about it, in words, with the plans at odds when `detail` names
    /// them (see [`GroupOutcome::detail`]).
    pub fn advice_with(self, detail: Option<&str>) -> String {
        match detail {
            Some(d) if !d.is_empty() => format!("{d} Then reprocess."),
            _ => self.advice().to_string(),
        }
    }

    /// What the admin can do about it, in words.
    pub fn advice(self) -> &'static str {
        match self {
            SourceError::CountViolation => {
                "Not enough licenses: buy more or free some, then reprocess."
            }
            SourceError::MutuallyExclusiveViolation => {
                "A service plan conflicts with one the user already has: turn one of them off, then reprocess."
            }
            SourceError::DependencyViolation => {
                "A service plan needs another the user does not have: assign that product or turn the plan off, then reprocess."
            }
            SourceError::ProhibitedInUsageLocationViolation => {
                "The user has no usage location and the organization has no default: set one, then reprocess."
            }
            SourceError::Other => "The product cannot be assigned to this user.",
        }
    }

    /// The error of a rule that refused a change.
    pub fn of(e: &DomainError) -> SourceError {
        match e {
            DomainError::MutuallyExclusive { .. } => SourceError::MutuallyExclusiveViolation,
            DomainError::Dependency { .. } => SourceError::DependencyViolation,
            DomainError::NotEnoughLicenses { .. } => SourceError::CountViolation,
            DomainError::UsageLocationMissing { .. } => {
                SourceError::ProhibitedInUsageLocationViolation
            }
            _ => SourceError::Other,
        }
    }
}

/// A group a user is a member of, with the products it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSource {
    pub group_id: GroupId,
    /// When the user joined the group.
    pub joined_at: Time,
    /// The group's products, each with the plans the group turns off.
    pub licenses: Vec<License>,
    /// Whether the group's products were active for this user before (kept first).
    pub was_active: bool,
}

/// Everything the rule reads about one user.
#[derive(Debug, Clone)]
pub struct UserSources {
    pub user_id: UserId,
    /// Licenses assigned directly, with the plans turned off directly.
    pub direct: Vec<License>,
    /// Licensed groups the user is a member of.
    pub groups: Vec<GroupSource>,
    /// Products the user holds now (a license from any source): keeping one needs no new
    /// seat.
    pub held: Vec<SkuId>,
    /// Whether the user has (or can be given the organization's default) usage location.
    pub has_usage_location: bool,
}

/// A product a group gives a member, and whether it is in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOutcome {
    pub group_id: GroupId,
    /// `Ok` when the group's products are the member's; the reason otherwise.
    pub result: Result<(), SourceError>,
    /// For a plan error, which plans are at odds, in their display names, each saying what to
    /// change (see [`DomainError::plan_conflicts`]); `None` otherwise.
    pub detail: Option<String>,
}

/// What the rule decided for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The licenses the user holds: one per product, with the plans every active source turns
    /// off. Sorted by product id.
    pub effective: Vec<License>,
    /// Per licensed group, in the order they were tried.
    pub groups: Vec<GroupOutcome>,
}

/// Seats for products the user does not hold yet.
pub trait SeatBudget {
    /// Takes one seat of each of `skus` (all or none); false when any is short.
    fn try_take(&mut self, skus: &[SkuId]) -> bool;
}

/// The plans a license holds off given its sources (the direct one's plans if assigned
/// directly, and each active group's): a plan stays off only when every source turns it off.
/// Sorted, without repeats.
pub fn disabled_by_every_source(direct: Option<&[PlanId]>, groups: &[Vec<PlanId>]) -> Vec<PlanId> {
    let mut out: Option<BTreeSet<PlanId>> = direct.map(|d| d.iter().copied().collect());
    for g in groups {
        let theirs: BTreeSet<PlanId> = g.iter().copied().collect();
        out = Some(match out {
            Some(o) => o.intersection(&theirs).copied().collect(),
            None => theirs,
        });
    }
    out.map(|o| o.into_iter().collect()).unwrap_or_default()
}

/// Merges `add` into `effective`: a new product is added as it is; for one already there,
/// a plan stays off only when both turn it off.
pub fn merge(effective: &mut Vec<License>, add: &License) {
    match effective.iter_mut().find(|l| l.sku_id == add.sku_id) {
        Some(l) => {
            l.disabled_plans = disabled_by_every_source(
                Some(&l.disabled_plans),
                std::slice::from_ref(&add.disabled_plans),
            );
        }
        None => {
            let mut l = add.clone();
            l.disabled_plans = disabled_by_every_source(Some(&add.disabled_plans), &[]);
            effective.push(l);
        }
    }
}

/// Applies the rule to one user. `seats` is asked only for products the user does not hold
/// yet; the caller releases seats of held products missing from the result.
pub fn resolve(catalog: &Catalog, user: &UserSources, seats: &mut dyn SeatBudget) -> Resolution {
    let mut effective: Vec<License> = Vec::new();
    for d in &user.direct {
        merge(&mut effective, d);
    }
    let mut order: Vec<&GroupSource> = user.groups.iter().collect();
    order.sort_by(|a, b| {
        b.was_active
            .cmp(&a.was_active)
            .then(a.joined_at.cmp(&b.joined_at))
            .then(a.group_id.cmp(&b.group_id))
    });
    let mut outcomes = Vec::with_capacity(order.len());
    for g in &order {
        let (result, detail) = match try_group(catalog, user, &effective, g, seats) {
            Ok(next) => {
                effective = next;
                (Ok(()), None)
            }
            Err((e, detail)) => (Err(e), detail),
        };
        outcomes.push(GroupOutcome {
            group_id: g.group_id,
            result,
            detail,
        });
    }
    // A group refused for a missing plan may work once a later group is in (one turns on a
    // plan another's plans need): such groups are tried again until nothing changes, so that the
    // outcome does not depend on the order the user joined the groups in.
    loop {
        let mut changed = false;
        for (g, o) in order.iter().zip(outcomes.iter_mut()) {
            if o.result != Err(SourceError::DependencyViolation) {
                continue;
            }
            if let Ok(next) = try_group(catalog, user, &effective, g, seats) {
                effective = next;
                o.result = Ok(());
                o.detail = None;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    effective.sort_by_key(|l| l.sku_id);
    Resolution {
        effective,
        groups: outcomes,
    }
}

fn try_group(
    catalog: &Catalog,
    user: &UserSources,
    effective: &[License],
    g: &GroupSource,
    seats: &mut dyn SeatBudget,
) -> Result<Vec<License>, (SourceError, Option<String>)> {
    if g.licenses.is_empty() {
        return Ok(effective.to_vec());
    }
    for l in &g.licenses {
        match catalog.product(l.sku_id) {
            Some(p) if plans::check_user_product(p).is_ok() => {}
            _ => return Err((SourceError::Other, None)),
        }
    }
    let mut next = effective.to_vec();
    for l in &g.licenses {
        merge(&mut next, l);
    }
    // Products new to this user (not held now, not given by an earlier source).
    let new: Vec<SkuId> = g
        .licenses
        .iter()
        .map(|l| l.sku_id)
        .filter(|s| !effective.iter().any(|e| e.sku_id == *s) && !user.held.contains(s))
        .collect();
    if !user.has_usage_location && !new.is_empty() {
        return Err((SourceError::ProhibitedInUsageLocationViolation, None));
    }
    if let Err(e) = plans::check_change(catalog, user.user_id, "", effective, &next) {
        let lines = e.plan_conflicts();
        let detail = (!lines.is_empty()).then(|| lines.join(" "));
        return Err((SourceError::of(&e), detail));
    }
    if !new.is_empty() && !seats.try_take(&new) {
        return Err((SourceError::CountViolation, None));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Budget(HashMap<SkuId, i64>);
    impl SeatBudget for Budget {
        fn try_take(&mut self, skus: &[SkuId]) -> bool {
            if skus.iter().any(|s| self.0.get(s).copied().unwrap_or(0) < 1) {
                return false;
            }
            for s in skus {
                *self.0.entry(*s).or_default() -= 1;
            }
            true
        }
    }

    fn sku(c: &Catalog, part: &str) -> SkuId {
        c.find_product(part).unwrap().sku_id
    }
    fn plan(c: &Catalog, name: &str) -> PlanId {
        c.plans.iter().find(|p| p.name == name).unwrap().id
    }
    fn lic(c: &Catalog, part: &str, off: &[&str]) -> License {
        let mut disabled_plans: Vec<PlanId> = off.iter().map(|n| plan(c, n)).collect();
        disabled_plans.sort();
        License {
            sku_id: sku(c, part),
            disabled_plans,
        }
    }
    fn group(n: u8, licenses: Vec<License>) -> GroupSource {
        GroupSource {
            group_id: GroupId(uuid::Uuid::from_u128(n as u128)),
            joined_at: Time::from_timestamp(n as i64, 0).unwrap(),
            licenses,
            was_active: false,
        }
    }
    fn user(direct: Vec<License>, groups: Vec<GroupSource>) -> UserSources {
        UserSources {
            user_id: UserId::new(),
            direct,
            groups,
            held: vec![],
            has_usage_location: true,
        }
    }

    #[test]
    fn direct_and_two_groups_are_one_license_with_the_union_of_enabled_plans() {
        let c = Catalog::demo();
        let u = user(
            vec![lic(&c, "SUITE_BASIC", &["FILES_STANDARD", "OFFICE_WEB"])],
            vec![
                group(
                    1,
                    vec![lic(&c, "SUITE_BASIC", &["FILES_STANDARD", "MAIL_PLAN1"])],
                ),
                group(
                    2,
                    vec![lic(
                        &c,
                        "SUITE_BASIC",
                        &["FILES_STANDARD", "OFFICE_WEB", "MAIL_PLAN1"],
                    )],
                ),
            ],
        );
        let mut budget = Budget(HashMap::new());
        let r = resolve(&c, &u, &mut budget);
        assert!(r.groups.iter().all(|g| g.result.is_ok()), "{:?}", r.groups);
        assert_eq!(
            r.effective,
            vec![lic(&c, "SUITE_BASIC", &["FILES_STANDARD"])]
        );
        assert!(r.groups.iter().all(|g| g.result.is_ok()));
    }

    #[test]
    fn a_group_whose_plans_need_a_later_groups_plan_is_active_whatever_the_join_order() {
        let c = Catalog::demo();
        // PHONE needs CHAT, which only the second group gives.
        for (first, second) in [(1, 2), (2, 1)] {
            let u = user(
                vec![],
                vec![
                    group(first, vec![lic(&c, "PHONE_SYSTEM", &[])]),
                    group(second, vec![lic(&c, "CHAT_ESSENTIALS", &[])]),
                ],
            );
            let mut budget = Budget(HashMap::from([
                (sku(&c, "PHONE_SYSTEM"), 1),
                (sku(&c, "CHAT_ESSENTIALS"), 1),
            ]));
            let r = resolve(&c, &u, &mut budget);
            assert!(r.groups.iter().all(|g| g.result.is_ok()), "{:?}", r.groups);
            assert_eq!(r.effective.len(), 2, "{:?}", r.effective);
            assert_eq!(budget.0.values().sum::<i64>(), 0, "one seat of each taken");
        }
        // Without the second group, the first stays in error and takes no seat.
        let u = user(vec![], vec![group(1, vec![lic(&c, "PHONE_SYSTEM", &[])])]);
        let mut budget = Budget(HashMap::from([(sku(&c, "PHONE_SYSTEM"), 1)]));
        let r = resolve(&c, &u, &mut budget);
        assert_eq!(r.groups[0].result, Err(SourceError::DependencyViolation));
        assert_eq!(budget.0[&sku(&c, "PHONE_SYSTEM")], 1);
    }

    #[test]
    fn a_license_that_turns_off_a_plan_its_own_plans_need_is_refused_alone() {
        let c = Catalog::demo();
        let err = plans::check_license_alone(&c, &lic(&c, "CHAT_ESSENTIALS", &["CHAT"]))
            .expect_err("WHITEBOARD needs CHAT");
        assert_eq!(
            err.to_string(),
            "CHAT_ESSENTIALS turns off CHAT, which WHITEBOARD needs: turn CHAT on or WHITEBOARD off."
        );
        plans::check_license_alone(&c, &lic(&c, "CHAT_ESSENTIALS", &["CHAT", "WHITEBOARD"]))
            .expect("both off");
        // A plan needed from another product is each holder's matter.
        plans::check_license_alone(&c, &lic(&c, "PHONE_SYSTEM", &[])).expect("CHAT elsewhere");
    }

    #[test]
    fn a_group_short_of_seats_gives_none_of_its_products() {
        let c = Catalog::demo();
        let u = user(
            vec![],
            vec![group(
                1,
                vec![lic(&c, "SUITE_BASIC", &[]), lic(&c, "BI_PRO", &[])],
            )],
        );
        let mut budget = Budget(HashMap::from([
            (sku(&c, "SUITE_BASIC"), 5),
            (sku(&c, "BI_PRO"), 0),
        ]));
        let r = resolve(&c, &u, &mut budget);
        assert!(r.effective.is_empty());
        assert_eq!(r.groups[0].result, Err(SourceError::CountViolation));
        assert_eq!(budget.0[&sku(&c, "SUITE_BASIC")], 5, "no seat is taken");
    }

    #[test]
    fn a_conflicting_group_is_an_error_and_the_direct_license_stays() {
        let c = Catalog::demo();
        let u = user(
            vec![lic(&c, "MAIL_PLAN1", &[])],
            vec![group(1, vec![lic(&c, "MAIL_PLAN2", &[])])],
        );
        let mut budget = Budget(HashMap::from([(sku(&c, "MAIL_PLAN2"), 5)]));
        let r = resolve(&c, &u, &mut budget);
        assert_eq!(r.effective, vec![lic(&c, "MAIL_PLAN1", &[])]);
        assert_eq!(
            r.groups[0].result,
            Err(SourceError::MutuallyExclusiveViolation)
        );
    }

    #[test]
    fn the_earlier_member_of_two_conflicting_groups_wins_and_an_active_one_is_kept() {
        let c = Catalog::demo();
        let mut u = user(
            vec![],
            vec![
                group(2, vec![lic(&c, "MAIL_PLAN2", &[])]),
                group(1, vec![lic(&c, "MAIL_PLAN1", &[])]),
            ],
        );
        let mut budget = Budget(HashMap::from([
            (sku(&c, "MAIL_PLAN1"), 5),
            (sku(&c, "MAIL_PLAN2"), 5),
        ]));
        let r = resolve(&c, &u, &mut budget);
        assert_eq!(r.effective, vec![lic(&c, "MAIL_PLAN1", &[])]);
        u.groups[0].was_active = true;
        let r = resolve(&c, &u, &mut budget);
        assert_eq!(r.effective, vec![lic(&c, "MAIL_PLAN2", &[])]);
    }

    #[test]
    fn no_usage_location_is_an_error_only_when_something_new_is_given() {
        let c = Catalog::demo();
        let mut u = user(vec![], vec![group(1, vec![lic(&c, "SUITE_BASIC", &[])])]);
        u.has_usage_location = false;
        let mut budget = Budget(HashMap::from([(sku(&c, "SUITE_BASIC"), 5)]));
        let r = resolve(&c, &u, &mut budget);
        assert_eq!(
            r.groups[0].result,
            Err(SourceError::ProhibitedInUsageLocationViolation)
        );
        u.held = vec![sku(&c, "SUITE_BASIC")];
        let r = resolve(&c, &u, &mut budget);
        assert!(r.groups[0].result.is_ok());
    }
}
