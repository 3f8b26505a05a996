//! Graph's JSON shapes for Seatkeeper's records.

use seatkeeper_app::group_licensing::{GroupLicensing, Source as LicenseSource};
use seatkeeper_app::licenses::ProductLicenses;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::catalog::{Catalog, Product};
use seatkeeper_domain::directory::{Group, User};
use seatkeeper_domain::kinds::UserType;
use seatkeeper_domain::seats::SeatState;
use seatkeeper_domain::subscription::Subscription;
use seatkeeper_domain::tenant::Tenant;
use seatkeeper_domain::{AssignmentId, GroupId, PlanId, SkuId, Time, UserId};
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;

/// Graph's date-time format: RFC 3339 in UTC with whole seconds.
pub fn ts(t: Time) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A time serialized as [`ts`] writes it (`2026-12-02T11:50:00Z`), from a buffer on the stack
/// rather than a `String` of its own: a user's answer holds one per service plan and license.
/// Years outside 0–9999, which RFC 3339 cannot hold, go through [`ts`].
#[derive(Clone, Copy)]
pub struct Stamp(pub Time);

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use chrono::{Datelike, Timelike};
        let t = self.0;
        let Ok(year) = u32::try_from(t.year()) else {
            return s.serialize_str(&ts(t));
        };
        if year > 9999 {
            return s.serialize_str(&ts(t));
        }
        let mut b = *b"0000-00-00T00:00:00Z";
        for (range, mut n) in [
            (0..4, year),
            (5..7, t.month()),
            (8..10, t.day()),
            (11..13, t.hour()),
            (14..16, t.minute()),
            // A leap second (chrono's nanoseconds from 1e9 on) is written as second 60.
            (
                17..19,
                t.second() + u32::from(t.nanosecond() >= 1_000_000_000),
            ),
        ] {
            for d in b[range].iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        s.serialize_str(std::str::from_utf8(&b).map_err(serde::ser::Error::custom)?)
    }
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
    serde_json::to_value(user_shape(u, licenses, sources, states, catalog)).unwrap_or(Value::Null)
}

/// Graph's `user`, as [`user`] gives it, serialized straight to the response body by the
/// actions that answer with one user (`assignLicense` and the like) rather than through a
/// [`Value`] first: that took about a tenth of the server's CPU time under concurrent
/// `assignLicense`. Its fields are declared in the order of [`Value`]'s keys (sorted), so both
/// give the same bytes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserShape<'a> {
    account_enabled: bool,
    assigned_licenses: Vec<AssignedLicense<'a>>,
    assigned_plans: Vec<AssignedPlan<'a>>,
    created_date_time: Stamp,
    department: &'a Option<String>,
    display_name: &'a str,
    given_name: &'a Option<String>,
    id: UserId,
    job_title: &'a Option<String>,
    license_assignment_states: Vec<LicenseAssignmentState<'a>>,
    mail: &'a Option<String>,
    mail_nickname: &'a Option<String>,
    surname: &'a Option<String>,
    usage_location: &'a Option<String>,
    user_principal_name: &'a str,
    user_type: UserType,
}

impl UserShape<'_> {
    /// The user as a JSON response, as `axum::Json` gives it, written into one buffer sized
    /// up front for the user's plans and licenses (about 160, 80 and 260 bytes per assigned
    /// plan, license and license state; `axum::Json` starts at 128 bytes and copies the
    /// answer each time it grows).
    pub fn into_json_response(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        let size = 700
            + 160 * self.assigned_plans.len()
            + 80 * self.assigned_licenses.len()
            + 260 * self.license_assignment_states.len();
        let mut body = Vec::with_capacity(size);
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => (
                [(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                [(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                e.to_string(),
            )
                .into_response(),
        }
    }
}

/// Graph's `assignedLicense`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssignedLicense<'a> {
    disabled_plans: &'a [PlanId],
    sku_id: SkuId,
}

/// Graph's `assignedPlan`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssignedPlan<'a> {
    assigned_date_time: Stamp,
    capability_status: &'static str,
    service: Cow<'a, str>,
    service_plan_id: PlanId,
}

/// Graph's `licenseAssignmentState`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LicenseAssignmentState<'a> {
    assigned_by_group: Option<GroupId>,
    disabled_plans: &'a [PlanId],
    error: &'a str,
    last_updated_date_time: Stamp,
    sku_id: SkuId,
    state: &'static str,
}

/// The parts of [`user`]'s answer, borrowed from the user and their licenses.
pub fn user_shape<'a>(
    u: &'a User,
    licenses: &'a [Assignment],
    sources: &'a [LicenseSource],
    states: &States,
    catalog: &'a Catalog,
) -> UserShape<'a> {
    let mine: Vec<&Assignment> = licenses.iter().filter(|a| a.user_id == u.id).collect();
    let assigned_licenses = mine
        .iter()
        .map(|a| AssignedLicense {
            disabled_plans: &a.disabled_plans,
            sku_id: a.sku_id,
        })
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
    let assigned_plans = plans
        .iter()
        .map(|(id, at, on)| AssignedPlan {
            assigned_date_time: Stamp(*at),
            capability_status: on.map(SeatState::capability_status).unwrap_or("Deleted"),
            service: catalog.plan_name_ref(*id),
            service_plan_id: *id,
        })
        .collect();
    // One entry per source of each license: direct, and each group (L6).
    let mut assignment_states = Vec::new();
    for a in &mine {
        if a.direct {
            assignment_states.push(LicenseAssignmentState {
                assigned_by_group: None,
                disabled_plans: &a.direct_disabled_plans,
                error: "None",
                last_updated_date_time: Stamp(a.updated_at),
                sku_id: a.sku_id,
                state: state_of(states, a).assignment_state(),
            });
        }
    }
    for s in sources.iter().filter(|s| s.user_id == u.id) {
        let held = mine.iter().find(|a| a.sku_id == s.sku_id);
        let (state, error) = match (s.state.as_str(), held) {
            ("Active", Some(a)) => (state_of(states, a).assignment_state(), "None"),
            ("Active", None) => ("ActiveWithError", "Other"),
            _ => ("Error", s.error.as_deref().unwrap_or("Other")),
        };
        assignment_states.push(LicenseAssignmentState {
            assigned_by_group: Some(s.group_id),
            disabled_plans: &s.disabled_plans,
            error,
            last_updated_date_time: Stamp(s.updated_at),
            sku_id: s.sku_id,
            state,
        });
    }
    UserShape {
        account_enabled: u.account_enabled,
        assigned_licenses,
        assigned_plans,
        created_date_time: Stamp(u.created_at),
        department: &u.department,
        display_name: &u.display_name,
        given_name: &u.given_name,
        id: u.id,
        job_title: &u.job_title,
        license_assignment_states: assignment_states,
        mail: &u.mail,
        mail_nickname: &u.mail_nickname,
        surname: &u.surname,
        usage_location: &u.usage_location,
        user_principal_name: &u.upn,
        user_type: u.user_type,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use seatkeeper_domain::{PoolId, TenantId};

    /// The typed answer is the same JSON, byte for byte, as the [`Value`] the list and
    /// `$select` paths build from it: one direct license with a plan turned off, the same
    /// product from a group, and a group license in error.
    #[test]
    fn a_user_serialized_straight_gives_the_same_bytes_as_through_a_value() {
        let catalog = Catalog::demo();
        let p = &catalog.products[0];
        let q = &catalog.products[1];
        let t = chrono::DateTime::from_timestamp(1_780_000_000, 0).expect("time");
        let u = User {
            id: UserId::new(),
            tenant_id: TenantId::new(),
            upn: "ada@contoso.example".into(),
            display_name: "Ada \"the first\" Lovelace".into(),
            given_name: Some("Ada".into()),
            surname: None,
            mail: None,
            mail_nickname: Some("ada".into()),
            job_title: None,
            department: Some("R&D".into()),
            user_type: UserType::Member,
            usage_location: Some("GB".into()),
            account_enabled: true,
            created_at: t,
        };
        let a = Assignment {
            id: AssignmentId::new(),
            tenant_id: u.tenant_id,
            user_id: u.id,
            sku_id: p.sku_id,
            pool_id: PoolId::new(),
            disabled_plans: vec![p.plans[0]],
            direct: true,
            direct_disabled_plans: vec![p.plans[0]],
            assigned_at: t,
            updated_at: t,
        };
        let source = |sku: SkuId, state: &str, error: Option<&str>| LicenseSource {
            user_id: u.id,
            group_id: GroupId::new(),
            sku_id: sku,
            state: state.into(),
            error: error.map(str::to_string),
            error_detail: None,
            disabled_plans: vec![],
            updated_at: t,
        };
        let sources = vec![
            source(p.sku_id, "Active", None),
            source(q.sku_id, "Error", Some("CountViolation")),
        ];
        let states = States::from([(a.id, SeatState::Active)]);
        let licenses = [a];
        let typed = serde_json::to_string(&user_shape(&u, &licenses, &sources, &states, &catalog))
            .expect("serializes");
        let value = user(&u, &licenses, &sources, &states, &catalog);
        assert_eq!(typed, serde_json::to_string(&value).expect("serializes"));
        assert_eq!(
            value["assignedLicenses"][0]["disabledPlans"][0],
            json!(p.plans[0])
        );
        assert_eq!(
            value["assignedPlans"].as_array().map(Vec::len),
            Some(p.plans.len())
        );
        assert_eq!(value["assignedPlans"][0]["capabilityStatus"], "Deleted");
        assert_eq!(
            value["licenseAssignmentStates"][0]["assignedByGroup"],
            Value::Null
        );
        assert_eq!(value["licenseAssignmentStates"][1]["state"], "Active");
        assert_eq!(
            value["licenseAssignmentStates"][2]["error"],
            "CountViolation"
        );
        assert_eq!(value["surname"], Value::Null);
        assert_eq!(value["createdDateTime"], "2026-05-28T20:26:40Z");
        // The response the actions send holds those bytes too, as `axum::Json`'s would.
        use axum::response::IntoResponse;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let ours = user_shape(&u, &licenses, &sources, &states, &catalog).into_json_response();
        let axums =
            axum::Json(user_shape(&u, &licenses, &sources, &states, &catalog)).into_response();
        assert_eq!(ours.status(), axum::http::StatusCode::OK);
        assert_eq!(ours.status(), axums.status());
        assert_eq!(
            ours.headers()[axum::http::header::CONTENT_TYPE],
            axums.headers()[axum::http::header::CONTENT_TYPE]
        );
        let body = |r: axum::response::Response| {
            runtime
                .block_on(axum::body::to_bytes(r.into_body(), usize::MAX))
                .expect("body")
        };
        let ours = body(ours);
        assert_eq!(ours, typed.as_bytes());
        assert_eq!(ours, body(axums));
    }

    /// [`Stamp`] writes what [`ts`] does: at the first and last second of the years 0–9999,
    /// a few day and year boundaries, a leap second, years beyond those, and 10,000
    /// pseudo-random times.
    #[test]
    fn a_stamp_is_written_as_ts_writes_it() {
        let mut times: Vec<i64> = vec![
            -62_167_219_200, // 0000-01-01T00:00:00Z
            -62_135_596_801,
            0,
            59,
            60,
            3_599,
            86_399,
            951_782_400, // 2000-02-29
            1_780_000_000,
            253_402_300_799, // 9999-12-31T23:59:59Z
            253_402_300_800, // 10000-01-01
            -62_167_219_201, // year -1
        ];
        // Pseudo-random times over the years 0–9999, a fixed sequence.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            times.push(-62_167_219_200 + (x % 315_569_520_000) as i64);
        }
        let mut all: Vec<Time> = times
            .into_iter()
            .map(|secs| chrono::DateTime::from_timestamp(secs, 999_999_000).expect("time"))
            .collect();
        // 2016-12-31T23:59:60Z, a leap second.
        all.push(chrono::DateTime::from_timestamp(1_483_228_799, 1_500_000_000).expect("leap"));
        for t in all {
            let written = serde_json::to_string(&Stamp(t)).expect("serializes");
            assert_eq!(written, format!("\"{}\"", ts(t)), "{t:?}");
        }
        assert_eq!(
            ts(chrono::DateTime::from_timestamp(1_483_228_799, 1_500_000_000).expect("leap")),
            "2016-12-31T23:59:60Z"
        );
    }
}
