//! Every path that takes or gives back seats, over HTTP: a user named twice in a batch, seats
//! beside a Disabled subscription, deletion beside a reactivatable sibling, what users see when
//! their subscription expires or is disabled, and Graph's refusals of removals that change
//! nothing.

use crate::common::{Srv, assert_error};
use crate::rest_helpers::{API, assign, license_row, now, run_jobs, set_clock, users};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The Licenses page's (assigned, total) of a product.
async fn counts(srv: &Srv, part: &str) -> (i64, i64) {
    let row = license_row(srv, part)
        .await
        .unwrap_or_else(|| panic!("{part} not on the Licenses page"));
    (
        row["assigned"].as_i64().expect("assigned"),
        row["total"].as_i64().expect("total"),
    )
}

async fn cancel(srv: &Srv, id: &str) -> Value {
    let got = srv
        .post(
            &format!("{API}/subscriptions/{id}/cancel"),
            json!({"reason": "NoLongerNeeded"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1
}

async fn reactivate(srv: &Srv, id: &str) {
    let got = srv
        .post(&format!("{API}/subscriptions/{id}/reactivate"), json!({}))
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
}

/// The Graph user, as a script reads it.
async fn graph_user(srv: &Srv, upn: &str) -> Value {
    let got = srv.get(&format!("/v1.0/users/{upn}")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1
}

/// `capabilityStatus` of one service plan of a Graph user.
fn plan_status(user: &Value, srv: &Srv, plan: &str) -> String {
    let id = srv.plan(plan);
    user["assignedPlans"]
        .as_array()
        .expect("assignedPlans")
        .iter()
        .find(|p| p["servicePlanId"] == id.as_str())
        .unwrap_or_else(|| panic!("no plan {plan} in {user}"))["capabilityStatus"]
        .as_str()
        .expect("capabilityStatus")
        .to_string()
}

fn assignment_state(user: &Value, sku: &str) -> String {
    user["licenseAssignmentStates"]
        .as_array()
        .expect("licenseAssignmentStates")
        .iter()
        .find(|s| s["skuId"] == sku)
        .unwrap_or_else(|| panic!("no state for {sku} in {user}"))["state"]
        .as_str()
        .expect("state")
        .to_string()
}

async fn detail_statuses(srv: &Srv, upn: &str, sku: &str) -> Vec<String> {
    let got = srv.get(&format!("/v1.0/users/{upn}/licenseDetails")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|d| d["skuId"] == sku)
        .unwrap_or_else(|| panic!("no licenseDetails for {sku}"))["servicePlans"]
        .as_array()
        .expect("servicePlans")
        .iter()
        .map(|p| {
            p["provisioningStatus"]
                .as_str()
                .expect("status")
                .to_string()
        })
        .collect()
}

backends!(
    a_user_named_twice_never_gives_two_seats_back,
    |srv| async move {
        srv.buy("SUITE_BASIC", 2).await;
        let people = users(&srv, "dup", 3).await;
        let first = srv
            .app
            .user_licenses(&srv.operator(), &people[0])
            .await
            .expect("user")
            .0
            .id
            .to_string();
        let got = assign(&srv, "SUITE_BASIC", &people[..2], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        // By id and by name with other case and spaces: refused, naming both, nothing changes.
        let twice = json!({"users": [first, format!("  {}  ", people[0].to_uppercase())]});
        let got = srv
            .post(
                &format!("{API}/licenses/SUITE_BASIC/unassign"),
                twice.clone(),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "is named twice in this request",
        );
        assert_eq!(got.1["error"]["code"], "duplicateUser");
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (2, 2));
        let got = srv
            .post(
                &format!("{API}/licenses/bulk"),
                json!({"mode": "unassignAll", "users": twice["users"]}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "is named twice");
        let got = srv
        .post(
            &format!("{API}/licenses/bulk"),
            json!({"mode": "replace", "users": twice["users"], "licenses": [{"skuId": "SUITE_BASIC"}]}),
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "is named twice");
        let got = assign(&srv, "SUITE_BASIC", &["  ".to_string()], &[]).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "User 1 of 1 is empty");
        // Assigning one user twice is a clear 400 too, not a retried conflict.
        let got = assign(
            &srv,
            "SUITE_BASIC",
            &[people[2].clone(), people[2].clone()],
            &[],
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "is named twice");
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (2, 2));

        // The pool still admits exactly what was bought.
        let got = assign(&srv, "SUITE_BASIC", &people[2..], &[]).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "1 license needed, 0 available",
        );
        let got = srv
            .post(
                &format!("{API}/licenses/SUITE_BASIC/unassign"),
                json!({"users": [people[0]]}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (1, 2));
        // Unassigning again is refused (the same rule as Graph's) and gives nothing back.
        let got = srv
            .post(
                &format!("{API}/licenses/SUITE_BASIC/unassign"),
                json!({"users": [people[0]]}),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "User does not have a corresponding license.",
        );
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (1, 2));
        let got = assign(
            &srv,
            "SUITE_BASIC",
            &[people[0].clone(), people[2].clone()],
            &[],
        )
        .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "2 licenses needed, 1 available",
        );
    }
);

backends!(
    buying_or_reactivating_beside_a_disabled_subscription_adds_seats,
    |srv| async move {
        let a = srv.buy("SUITE_BASIC", 2).await;
        let people = users(&srv, "bd", 5).await;
        let got = assign(&srv, "SUITE_BASIC", &people[..2], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let c = cancel(&srv, &a).await;
        assert_eq!(c["outcome"], "disabledNow", "{c}");
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (2, 0));
        let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
        assert_eq!(row["holdersWithoutAccess"], 2, "{row}");

        let b = srv.buy("SUITE_BASIC", 1).await;
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (2, 1));
        // Raising the total beside the Disabled one works and counts.
        let got = srv
            .patch(&format!("{API}/subscriptions/{b}"), json!({"quantity": 2}))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (2, 2));
        let got = assign(&srv, "SUITE_BASIC", &people[2..3], &[]).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "0 available");

        reactivate(&srv, &a).await;
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (2, 4));
        let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
        assert_eq!(row["holdersWithoutAccess"], 0, "{row}");
        let got = srv.get("/v1.0/subscribedSkus").await;
        let sku = got.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .find(|s| s["skuPartNumber"] == "SUITE_BASIC")
            .cloned()
            .expect("sku");
        assert_eq!(sku["prepaidUnits"]["enabled"], 4, "{sku}");
        let got = assign(&srv, "SUITE_BASIC", &people[2..4], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = assign(&srv, "SUITE_BASIC", &people[4..], &[]).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "1 license needed, 0 available",
        );
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (4, 4));
    }
);

backends!(
    deleting_one_subscription_keeps_a_reactivatable_siblings_users,
    |srv| async move {
        let a = srv.buy("SUITE_BASIC", 2).await;
        let b = srv.buy("SUITE_BASIC", 1).await;
        let people = users(&srv, "del", 3).await;
        let got = assign(&srv, "SUITE_BASIC", &people[..2], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let t0 = now(&srv).await;
        set_clock(&srv, t0 + chrono::Duration::minutes(1)).await;
        let got = assign(&srv, "SUITE_BASIC", &people[2..], &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        cancel(&srv, &b).await;
        set_clock(&srv, t0 + chrono::Duration::days(2)).await;
        cancel(&srv, &a).await;
        // B reaches Deleted (90 days after it was disabled); A is still Disabled.
        set_clock(&srv, t0 + chrono::Duration::days(91)).await;
        let report = run_jobs(&srv).await;
        assert_eq!(report["deleted"], 1, "{report}");
        // Only what A no longer covers is removed: the latest-assigned holder.
        let got = srv.get(&format!("{API}/licenses/SUITE_BASIC/users")).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let mut holders: Vec<String> = got.1["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|u| u["userPrincipalName"].as_str().expect("upn").to_string())
            .collect();
        holders.sort();
        assert_eq!(holders, people[..2].to_vec());
        let audit = srv
            .get(&format!("{API}/audit?action=license.unassign"))
            .await;
        let entries = audit.1["value"].as_array().expect("audit").clone();
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert!(
            entries[0]["summary"]
                .as_str()
                .expect("summary")
                .starts_with(&format!("{}: SUITE_BASIC removed", people[2])),
            "{entries:?}"
        );

        reactivate(&srv, &a).await;
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (2, 2));
        let u = graph_user(&srv, &people[1]).await;
        assert_eq!(plan_status(&u, &srv, "CHAT"), "Enabled");
    }
);

backends!(users_see_their_subscriptions_state, |srv| async move {
    let basic = srv.sku("SUITE_BASIC").to_string();
    let a = srv.buy("SUITE_BASIC", 2).await;
    srv.buy("CHAT_ESSENTIALS", 5).await;
    let got = srv
        .patch(
            &format!("{API}/subscriptions/{a}"),
            json!({"recurringBilling": false}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let people = users(&srv, "life", 2).await;
    let got = assign(&srv, "SUITE_BASIC", &people[..1], &[]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let t0 = now(&srv).await;
    set_clock(&srv, t0 + chrono::Duration::minutes(1)).await;
    let got = assign(&srv, "SUITE_BASIC", &people[1..], &[]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let got = assign(&srv, "CHAT_ESSENTIALS", &people[1..], &[]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let u = graph_user(&srv, &people[0]).await;
    assert_eq!(plan_status(&u, &srv, "MAIL_PLAN1"), "Enabled");
    assert_eq!(assignment_state(&u, &basic), "Active");

    // Expired: licenses still work, with a warning.
    set_clock(&srv, t0 + chrono::Duration::days(33)).await;
    let report = run_jobs(&srv).await;
    assert_eq!(report["expired"], 1, "{report}");
    let u = graph_user(&srv, &people[0]).await;
    assert_eq!(plan_status(&u, &srv, "MAIL_PLAN1"), "Warning");
    assert_eq!(assignment_state(&u, &basic), "Active");
    assert!(
        detail_statuses(&srv, &people[0], &basic)
            .await
            .iter()
            .all(|s| s == "Success")
    );

    // Disabled: users lose access; a plan another working product gives stays on.
    set_clock(&srv, t0 + chrono::Duration::days(64)).await;
    let report = run_jobs(&srv).await;
    assert_eq!(report["disabled"], 1, "{report}");
    for upn in &people {
        let u = graph_user(&srv, upn).await;
        assert_eq!(plan_status(&u, &srv, "MAIL_PLAN1"), "Suspended", "{upn}");
        assert_eq!(assignment_state(&u, &basic), "Disabled", "{upn}");
        assert!(
            detail_statuses(&srv, upn, &basic)
                .await
                .iter()
                .all(|s| s != "Success"),
            "{upn}"
        );
    }
    let u = graph_user(&srv, &people[1]).await;
    assert_eq!(plan_status(&u, &srv, "CHAT"), "Enabled");
    let listed = srv
        .get(&format!(
            "/v1.0/users?$filter=assignedLicenses/any(x:x/skuId eq {basic})"
        ))
        .await;
    assert_eq!(listed.0, StatusCode::OK, "{}", listed.1);
    for u in listed.1["value"].as_array().expect("value") {
        assert_eq!(assignment_state(u, &basic), "Disabled", "{u}");
    }

    // One license bought: the earliest-assigned holder gets access back, the latest does not.
    srv.buy("SUITE_BASIC", 1).await;
    let u = graph_user(&srv, &people[0]).await;
    assert_eq!(plan_status(&u, &srv, "MAIL_PLAN1"), "Enabled");
    assert_eq!(assignment_state(&u, &basic), "Active");
    let u = graph_user(&srv, &people[1]).await;
    assert_eq!(plan_status(&u, &srv, "MAIL_PLAN1"), "Suspended");
    // Reactivating brings everyone back.
    reactivate(&srv, &a).await;
    let u = graph_user(&srv, &people[1]).await;
    assert_eq!(plan_status(&u, &srv, "MAIL_PLAN1"), "Enabled");
    assert_eq!(assignment_state(&u, &basic), "Active");
});

backends!(
    assign_license_refuses_what_graph_refuses,
    |srv| async move {
        srv.buy("SUITE_BASIC", 2).await;
        let basic = srv.sku("SUITE_BASIC").to_string();
        let premium = srv.sku("SUITE_PREMIUM").to_string();
        srv.user("g@contoso.test", Some("US")).await;
        let path = "/v1.0/users/g@contoso.test/assignLicense";

        // Both parameters are required, as Graph requires them.
        let got = srv
            .post(
                path,
                json!({"addLicenses": [{"skuId": basic, "disabledPlans": []}]}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "removeLicenses is required");
        assert_eq!(got.1["error"]["code"], "Request_BadRequest");
        let got = srv.post(path, json!({"removeLicenses": [basic]})).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "addLicenses is required");
        let (_, held) = srv
            .app
            .user_licenses(&srv.operator(), "g@contoso.test")
            .await
            .expect("user");
        assert!(held.is_empty(), "nothing was applied: {held:?}");

        // Removing a product the user does not hold.
        let before = srv.get(&format!("{API}/audit")).await.1["value"]
            .as_array()
            .expect("audit")
            .len();
        let got = srv
            .post(path, json!({"addLicenses": [], "removeLicenses": [basic]}))
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "User does not have a corresponding license.",
        );
        assert_eq!(got.1["error"]["code"], "Request_BadRequest");
        // A product the organization does not own, and one that exists nowhere.
        for sku in [premium, uuid::Uuid::new_v4().to_string()] {
            let got = srv
                .post(path, json!({"addLicenses": [], "removeLicenses": [sku]}))
                .await;
            assert_error(
                &got,
                StatusCode::BAD_REQUEST,
                &format!("License {sku} does not correspond to a valid company License."),
            );
        }
        let after = srv.get(&format!("{API}/audit")).await.1["value"]
            .as_array()
            .expect("audit")
            .len();
        assert_eq!(before, after, "refusals are not audited as changes");

        // The same product twice, or added and removed, is refused once, in one place.
        let got = srv
            .post(
                path,
                json!({"addLicenses": [], "removeLicenses": [basic, basic]}),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "named twice in the licenses to remove",
        );
        let got = srv
            .post(
                path,
                json!({"addLicenses": [{"skuId": basic}, {"skuId": basic}], "removeLicenses": []}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "named twice");
        let got = srv
            .post(
                path,
                json!({"addLicenses": [{"skuId": basic}], "removeLicenses": [basic]}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "both added and removed");

        // Add, then remove: both answer 200 and the seat comes back.
        let got = srv
            .post(
                path,
                json!({"addLicenses": [{"skuId": basic}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = srv
            .post(path, json!({"addLicenses": [], "removeLicenses": [basic]}))
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(counts(&srv, "SUITE_BASIC").await, (0, 2));
    }
);

/// PostgreSQL: the lifecycle job deletes a subscription and takes back the licenses nothing
/// covers any more. It locks their holders before the pool, the order a license batch takes
/// them in: here another transaction holds one holder's row (as a batch of another server
/// would, about to lock the pool), and while the job waits for that user the pool is still
/// free. Locking the pool first deadlocked with such a batch: PostgreSQL broke it after a
/// second by failing one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_subscription_waits_for_its_holders_before_it_locks_the_pool() {
    let Some(srv) = crate::common::Srv::start(crate::common::Backend::Postgres).await else {
        eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
        return;
    };
    let a = srv.buy("SUITE_BASIC", 2).await;
    let people = users(&srv, "trim", 2).await;
    let got = assign(&srv, "SUITE_BASIC", &people, &[]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let t0 = now(&srv).await;
    cancel(&srv, &a).await;
    set_clock(&srv, t0 + chrono::Duration::days(91)).await;
    let mut other = srv.hold_user(&people[1]).await;
    let (app, op) = (srv.app.clone(), srv.operator());
    let jobs = tokio::spawn(async move { app.run_jobs_as(&op).await });
    srv.wait_for_a_user_lock(
        || jobs.is_finished(),
        "the job did not wait for the held user",
    )
    .await;
    let pool = srv
        .lock_central_pool_nowait(&mut other, "SUITE_BASIC")
        .await
        .expect("the pool is free while the job waits for the user");
    assert!(pool.is_some());
    other.commit().await.expect("let the user go");
    let report = jobs.await.expect("task").expect("jobs");
    assert_eq!(report.deleted, 1, "{report:?}");
    // Both licenses are gone, and the seat counter with them.
    assert_eq!(
        crate::concurrency::pool_counts(&srv, "SUITE_BASIC").await,
        (0, 0, 0)
    );
}
