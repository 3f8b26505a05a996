//! License requests (REQ1–REQ6) as pure rules: their states, how a decision splits the users on
//! a request, which products can serve a request, and when a request is old enough to purge.

use crate::catalog::{AppliesTo, Catalog, Product};
use crate::{SkuId, Time, UserId};
use serde::{Deserialize, Serialize};

crate::kinds::text_enum_pub!(
    /// Where a license request is: waiting for an admin, or decided.
    RequestStatus {
        /// Submitted, not decided yet.
        Pending => "Pending",
        /// Approved, partly approved or denied.
        Completed => "Completed",
    }
);

crate::kinds::text_enum_pub!(
    /// How a decided request ended.
    Outcome {
        /// Every user on it was approved.
        Approved => "Approved",
        /// Some users were approved and the others denied.
        PartlyApproved => "PartlyApproved",
        /// Every user on it was denied.
        Denied => "Denied",
    }
);

crate::kinds::text_enum_pub!(
    /// What happened to one user on a decided request, or what a recipient of a shared request
    /// recommends.
    Verdict {
        /// Licensed (or recommended for a license).
        Approve => "Approve",
        /// Not licensed (or recommended against).
        Deny => "Deny",
    }
);

/// How long a share link works unless the organization set another (REQ5).
pub const DEFAULT_LINK_EXPIRY_DAYS: i64 = 14;
/// How long requests are kept unless the organization set another (REQ6).
pub const DEFAULT_RETENTION_MONTHS: i64 = 12;
/// The longest link expiry an organization may set.
pub const MAX_LINK_EXPIRY_DAYS: i64 = 90;
/// The longest retention an organization may set.
pub const MAX_RETENTION_MONTHS: i64 = 120;
/// How many colleagues one request may name besides the requester.
pub const MAX_OTHER_USERS: usize = 19;
/// How many users one decision may name, approved and denied together.
pub const MAX_DECISION_USERS: usize = 1000;
/// How many names an error message lists before "… and 9,990 more".
pub const LISTED_NAMES: usize = 10;

/// `names` joined with ", ", at most [`LISTED_NAMES`] of them, then "… and 9,990 more".
pub fn name_list<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names.iter().take(LISTED_NAMES).map(AsRef::as_ref).collect();
    let mut out = shown.join(", ");
    if names.len() > LISTED_NAMES {
        out.push_str(&format!(
            " … and {} more",
            thousands(names.len() - LISTED_NAMES)
        ));
    }
    out
}

/// `n` with a comma between thousands: 9990 → "9,990".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why a decision's lists do not match the users on the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// Users on the request in neither list.
    #[error("missing")]
    Missing(Vec<UserId>),
    /// Users in both lists.
    #[error("both")]
    Both(Vec<UserId>),
    /// Users in a list who are not on the request.
    #[error("unknown")]
    NotOnRequest(Vec<UserId>),
}

/// Checks that every user on the request is in exactly one of `approve` and `deny` (REQ4);
/// returns the outcome.
pub fn check_decision(
    on_request: &[UserId],
    approve: &[UserId],
    deny: &[UserId],
) -> Result<Outcome, DecisionError> {
    let both: Vec<UserId> = approve
        .iter()
        .filter(|u| deny.contains(u))
        .copied()
        .collect();
    if !both.is_empty() {
        return Err(DecisionError::Both(both));
    }
    let unknown: Vec<UserId> = approve
        .iter()
        .chain(deny)
        .filter(|u| !on_request.contains(u))
        .copied()
        .collect();
    if !unknown.is_empty() {
        return Err(DecisionError::NotOnRequest(unknown));
    }
    let missing: Vec<UserId> = on_request
        .iter()
        .filter(|u| !approve.contains(u) && !deny.contains(u))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(DecisionError::Missing(missing));
    }
    Ok(outcome(approve.len(), deny.len()))
}

/// The outcome of approving `approved` users and denying `denied`.
pub fn outcome(approved: usize, denied: usize) -> Outcome {
    match (approved, denied) {
        (_, 0) => Outcome::Approved,
        (0, _) => Outcome::Denied,
        _ => Outcome::PartlyApproved,
    }
}

/// The products that can serve a request for `requested`: products for users that contain
/// every service plan of the requested one (the product itself first, then by name).
pub fn serving_products<'a>(catalog: &'a Catalog, requested: &Product) -> Vec<&'a Product> {
    let mut out: Vec<&Product> = catalog
        .products
        .iter()
        .filter(|p| {
            p.sku_id == requested.sku_id
                || (p.applies_to == AppliesTo::User
                    && requested.plans.iter().all(|x| p.plans.contains(x)))
        })
        .collect();
    out.sort_by(|a, b| {
        (a.sku_id != requested.sku_id, &a.name).cmp(&(b.sku_id != requested.sku_id, &b.name))
    });
    out
}

/// Whether `sku` serves a request for `requested` (see [`serving_products`]).
pub fn serves(catalog: &Catalog, requested: &Product, sku: SkuId) -> bool {
    serving_products(catalog, requested)
        .iter()
        .any(|p| p.sku_id == sku)
}

/// The moment before which requests are purged, `months` months before `now` (REQ6).
pub fn purge_before(now: Time, months: i64) -> Time {
    let months = u32::try_from(months.clamp(1, MAX_RETENTION_MONTHS)).unwrap_or(12);
    now.checked_sub_months(chrono::Months::new(months))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_in_exactly_one_list() {
        let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
        let on = [a, b];
        assert_eq!(check_decision(&on, &[a, b], &[]), Ok(Outcome::Approved));
        assert_eq!(check_decision(&on, &[a], &[b]), Ok(Outcome::PartlyApproved));
        assert_eq!(check_decision(&on, &[], &[a, b]), Ok(Outcome::Denied));
        assert_eq!(
            check_decision(&on, &[a], &[]),
            Err(DecisionError::Missing(vec![b]))
        );
        assert_eq!(
            check_decision(&on, &[a, b], &[b]),
            Err(DecisionError::Both(vec![b]))
        );
        assert_eq!(
            check_decision(&on, &[a, b, c], &[]),
            Err(DecisionError::NotOnRequest(vec![c]))
        );
    }

    #[test]
    fn long_lists_of_names_are_cut() {
        let names: Vec<String> = (0..10_000).map(|i| format!("u{i}")).collect();
        let s = name_list(&names);
        assert!(s.starts_with("u0, u1, "), "{s}");
        assert!(s.ends_with("u9 … and 9,990 more"), "{s}");
        assert_eq!(name_list(&["a", "b"]), "a, b");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn purge_is_months_back() {
        let now = chrono::DateTime::parse_from_rfc3339("2027-03-31T10:00:00Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap();
        assert_eq!(
            purge_before(now, 12).to_rfc3339(),
            "2026-03-31T10:00:00+00:00"
        );
        assert_eq!(
            purge_before(now, 1).to_rfc3339(),
            "2027-02-28T10:00:00+00:00"
        );
    }
}
