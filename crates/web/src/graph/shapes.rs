//! Graph's JSON shapes for Seatkeeper's records.

use seatkeeper_app::group_licensing::{GroupLicensing, Source as LicenseSource};
use seatkeeper_app::licenses::ProductLicenses;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::catalog::{Catalog, Product};
use seatkeeper_domain::directory::{Group, User};
use seatkeeper_domain::seats::SeatState;
use seatkeeper_domain::subscription::Subscription;
use seatkeeper_domain::tenant::Tenant;
use seatkeeper_domain::{AssignmentId, PlanId, Time};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Graph's date-time format: RFC 3339 in UTC with whole seconds.
pub fn ts(t: Time) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// How each license works now (SUB3); a license missing from the map works.
pub type States = HashMap<AssignmentId, SeatState>;

fn state_of(states: &States, a: &Assignment) -> SeatState {
    states.get(&a.id).copied().unwrap_or(SeatState::Active)
}

/// A user with their licenses (`licenses` may hold other users' assignments; only theirs count).
/// A plan's `capabilityStatus` is the best of the licenses that turn it on: a plan the user
/// also gets from a product that still works stays `Enabled`.
pub fn user(
    u: &User,
    licenses: &[Assignment],
    sources: &[LicenseSource],
    states: &States,
    catalog: &Catalog,
) -> Value {
    let mine: Vec<&Assignment> = licenses.iter().filter(|a| a.user_id == u.id).collect();
    let assigned_licenses: Vec<Value> = mine
        .iter()
        .map(|a| json!({"skuId": a.sku_id, "disabledPlans": a.disabled_plans}))
        .collect();
    // One entry per service plan: the best state of the licenses that turn it on (None: off
    // in every license).
    let mut plans: Vec<(PlanId, Time, Option<SeatState>)> = Vec::new();
    for a in &mine {
        let Some(p) = catalog.product(a.sku_id) else {
            continue;
        };
        let state = state_of(states, a);
        for plan in &p.plans {
            let on = (!a.disabled_plans.contains(plan)).then_some(state);
            match plans.iter_mut().find(|(id, _, _)| id == plan) {
                Some(e) => {
                    e.1 = e.1.min(a.assigned_at);
                    e.2 = match (e.2, on) {
                        (Some(x), Some(y)) => Some(x.min(y)),
                        (x, y) => x.or(y),
                    };
                }
                None => plans.push((*plan, a.assigned_at, on)),
            }
        }
    }
    let assigned_plans: Vec<Value> = plans
        .iter()
        .map(|(id, at, on)| {
            json!({
                "assignedDateTime": ts(*at),
                "capabilityStatus": on.map(SeatState::capability_status).unwrap_or("Deleted"),
                "service": catalog.plan_name(*id),
                "servicePlanId": id,
            })
        })
        .collect();
    // One entry per source of each license: direct, and each group (L6).
    let mut states_json: Vec<Value> = Vec::new();
    for a in &mine {
        if a.direct {
            states_json.push(json!({
                "skuId": a.sku_id,
                "disabledPlans": a.direct_disabled_plans,
                "assignedByGroup": null,
                "state": state_of(states, a).assignment_state(),
                "error": "None",
                "lastUpdatedDateTime": ts(a.updated_at),
            }));
        }
    }
    for s in sources.iter().filter(|s| s.user_id == u.id) {
        let held = mine.iter().find(|a| a.sku_id == s.sku_id);
        let (state, error) = match (s.state.as_str(), held) {
            ("Active", Some(a)) => (state_of(states, a).assignment_state(), "None"),
            ("Active", None) => ("ActiveWithError", "Other"),
            _ => ("Error", s.error.as_deref().unwrap_or("Other")),
        };
        states_json.push(json!({
            "skuId": s.sku_id,
            "disabledPlans": s.disabled_plans,
            "assignedByGroup": s.group_id,
            "state": state,
            "error": error,
            "lastUpdatedDateTime": ts(s.updated_at),
        }));
    }
    let states = states_json;
    json!({
        "id": u.id,
        "userPrincipalName": u.upn,
        "displayName": u.display_name,
        "givenName": u.given_name,
        "surname": u.surname,
        "mail": u.mail,
        "mailNickname": u.mail_nickname,
        "jobTitle": u.job_title,
        "department": u.department,
        "userType": u.user_type,
        "usageLocation": u.usage_location,
        "accountEnabled": u.account_enabled,
        "createdDateTime": ts(u.created_at),
        "assignedLicenses": assigned_licenses,
        "assignedPlans": assigned_plans,
        "licenseAssignmentStates": states,
    })
}

/// A group with its licensing (L6): `assignedLicenses`, `licenseProcessingState` and
/// `hasMembersWithLicenseErrors`, as Graph returns them.
pub fn group(g: &Group, l: &GroupLicensing) -> Value {
    json!({
        "assignedLicenses": l.licenses.iter().map(|x| json!({"skuId": x.sku_id, "disabledPlans": x.disabled_plans})).collect::<Vec<_>>(),
        "licenseProcessingState": {"state": l.state.as_str()},
        "hasMembersWithLicenseErrors": l.members_with_errors > 0,
        "id": g.id,
        "displayName": g.display_name,
        "description": g.description,
        "mailNickname": g.mail_nickname,
        "mailEnabled": g.mail_enabled,
        "securityEnabled": g.security_enabled,
        "groupTypes": [],
        "createdDateTime": ts(g.created_at),
    })
}

fn plan_info(catalog: &Catalog, p: &Product, plan: PlanId, status: &str) -> Value {
    json!({
        "servicePlanId": plan,
        "servicePlanName": catalog.plan_name(plan),
        "provisioningStatus": status,
        "appliesTo": p.applies_to.as_str(),
    })
}

/// A subscribedSku: one product the organization owns, summed over its central pool.
pub fn sku(row: &ProductLicenses, tenant: &Tenant, catalog: &Catalog) -> Value {
    let plans: Vec<Value> = catalog
        .product(row.sku_id)
        .map(|p| {
            p.plans
                .iter()
                .map(|id| plan_info(catalog, p, *id, "Success"))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": format!("{}_{}", tenant.id, row.sku_id),
        "accountId": tenant.id,
        "accountName": tenant.name,
        "skuId": row.sku_id,
        "skuPartNumber": row.sku_part_number,
        "appliesTo": row.applies_to,
        "capabilityStatus": row.capability_status,
        "consumedUnits": row.assigned,
        "prepaidUnits": {
            "enabled": row.enabled,
            "suspended": row.suspended,
            "warning": row.warning,
            "lockedOut": row.locked_out,
        },
        "servicePlans": plans,
        "subscriptionIds": row.subscription_ids,
    })
}

/// A companySubscription.
pub fn subscription(s: &Subscription, catalog: &Catalog) -> Value {
    let product = catalog.product(s.sku_id);
    let plans: Vec<Value> = product
        .map(|p| {
            p.plans
                .iter()
                .map(|id| plan_info(catalog, p, *id, "Success"))
                .collect()
        })
        .unwrap_or_default();
    let self_service = s.origin == seatkeeper_domain::kinds::Origin::SelfService;
    json!({
        "id": s.id,
        "commerceSubscriptionId": s.commerce_id,
        "skuId": s.sku_id,
        "skuPartNumber": product.map(|p| p.sku_part_number.clone()),
        "status": s.life.graph_status(),
        "totalLicenses": s.quantity,
        "isTrial": s.is_trial,
        "createdDateTime": ts(s.created_at),
        "nextLifecycleDateTime": s.life.next_lifecycle_at().map(ts),
        "ownerId": if self_service { s.purchaser_id.map(|p| json!(p)).unwrap_or(Value::Null) } else { Value::Null },
        "ownerTenantId": s.tenant_id,
        "ownerType": if self_service && s.purchaser_id.is_some() { json!("User") } else { Value::Null },
        "serviceStatus": plans,
    })
}

/// A licenseDetails entry: one license the user holds, with each plan Success, or Disabled when
/// turned off or when the license is suspended (SUB3).
pub fn license_details(a: &Assignment, state: SeatState, catalog: &Catalog) -> Value {
    let product = catalog.product(a.sku_id);
    let plans: Vec<Value> = product
        .map(|p| {
            p.plans
                .iter()
                .map(|id| {
                    let status = if a.disabled_plans.contains(id) {
                        "Disabled"
                    } else {
                        state.provisioning_status()
                    };
                    plan_info(catalog, p, *id, status)
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": a.id,
        "skuId": a.sku_id,
        "skuPartNumber": product.map(|p| p.sku_part_number.clone()),
        "servicePlans": plans,
    })
}
