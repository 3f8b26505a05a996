//! Seats under concurrency: many simultaneous assignments over HTTP against one pool never
//! assign more than was bought, and every refusal is a clear "not enough licenses" error.

use crate::common::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use seatkeeper_store::{assignments, subscriptions};
use serde_json::json;

pub(crate) async fn pool_counts(srv: &Srv, part: &str) -> (i64, i64, i64) {
    let mut conn = srv.app.read().await.expect("conn");
    let pool = subscriptions::central_pool(&mut conn, srv.tenant, srv.sku(part))
        .await
        .expect("query")
        .expect("pool");
    let rows = assignments::count_in_pool(&mut conn, pool.id)
        .await
        .expect("count");
    (pool.total, pool.assigned, rows)
}

backends!(
    concurrent_assignments_never_exceed_the_pool,
    |srv| async move {
        srv.buy("SUITE_BASIC", 10).await;
        srv.buy("SUITE_BASIC", 15).await;
        let sku = srv.sku("SUITE_BASIC").to_string();
        let mut users = Vec::new();
        for i in 0..60 {
            users.push(
                srv.user(&format!("racer{i}@contoso.test"), Some("DK"))
                    .await,
            );
        }
        let srv = std::sync::Arc::new(srv);
        let mut handles = Vec::new();
        for u in &users {
            let srv = srv.clone();
            let path = format!("/v1.0/users/{u}/assignLicense");
            let body =
                json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []});
            handles.push(tokio::spawn(async move { srv.post(&path, body).await }));
        }
        let mut ok = 0;
        for h in handles {
            let (status, body) = h.await.expect("task");
            match status {
                StatusCode::OK => ok += 1,
                StatusCode::BAD_REQUEST => {
                    let msg = body["error"]["message"].as_str().unwrap_or_default();
                    assert!(
                        msg.starts_with(&format!(
                            "Subscription with SKU {sku} does not have any available licenses."
                        )),
                        "{msg}"
                    );
                    assert!(msg.contains("1 license needed, 0 available"), "{msg}");
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(ok, 25, "exactly the 25 bought licenses are assigned");
        assert_eq!(pool_counts(&srv, "SUITE_BASIC").await, (25, 25, 25));
    }
);

backends!(
    assign_and_unassign_storm_keeps_counters_exact,
    |srv| async move {
        srv.buy("MAIL_PLAN1", 7).await;
        let sku = srv.sku("MAIL_PLAN1").to_string();
        let mut users = Vec::new();
        for i in 0..12 {
            users.push(
                srv.user(&format!("storm{i}@contoso.test"), Some("SE"))
                    .await,
            );
        }
        let srv = std::sync::Arc::new(srv);
        let mut handles = Vec::new();
        for round in 0..4 {
            for (i, u) in users.iter().enumerate() {
                let srv = srv.clone();
                let path = format!("/v1.0/users/{u}/assignLicense");
                let body = if (i + round) % 3 == 0 {
                    json!({"addLicenses": [], "removeLicenses": [sku]})
                } else {
                    json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})
                };
                handles.push(tokio::spawn(async move { srv.post(&path, body).await }));
            }
        }
        for h in handles {
            let (status, body) = h.await.expect("task");
            assert!(
                status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
                "{status}: {body}"
            );
            if status == StatusCode::BAD_REQUEST {
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("does not have any available licenses")
                        || body["error"]["message"]
                            .as_str()
                            .unwrap_or_default()
                            .starts_with("User does not have a corresponding license."),
                    "{body}"
                );
            }
        }
        let (total, assigned, rows) = pool_counts(&srv, "MAIL_PLAN1").await;
        assert_eq!(total, 7);
        assert!(assigned <= total, "assigned {assigned} > total {total}");
        assert_eq!(assigned, rows, "the counter matches the assignment rows");
    }
);

backends!(
    trimming_a_deleted_subscription_races_unassign_exactly,
    |srv| async move {
        let kept = srv.buy("SUITE_BASIC", 4).await;
        let gone = srv.buy("SUITE_BASIC", 12).await;
        let sku = srv.sku("SUITE_BASIC").to_string();
        let mut users = Vec::new();
        for i in 0..16 {
            users.push(format!("trim{i}@contoso.test"));
            srv.user(&users[i], Some("DK")).await;
        }
        for chunk in users.chunks(8) {
            let got = srv
                .post(
                    "/api/v1/licenses/SUITE_BASIC/assign",
                    json!({"users": chunk}),
                )
                .await;
            assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        }
        let got = srv
            .post(
                &format!("/api/v1/subscriptions/{gone}/cancel"),
                json!({"reason": "Other"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let now = srv.app.now();
        srv.app.clock.set(now + chrono::Duration::days(91));
        // The deletion trims 12 holders while the same holders are unassigned one by one.
        let srv = std::sync::Arc::new(srv);
        let mut handles = Vec::new();
        for u in users.iter().skip(2) {
            let srv = srv.clone();
            let path = format!("/v1.0/users/{u}/assignLicense");
            let body = json!({"addLicenses": [], "removeLicenses": [sku]});
            handles.push(tokio::spawn(async move { srv.post(&path, body).await }));
        }
        let jobs = {
            let srv = srv.clone();
            tokio::spawn(async move { srv.app.run_jobs().await.expect("jobs") })
        };
        for h in handles {
            let (status, body) = h.await.expect("task");
            assert!(
                status == StatusCode::OK
                    || body["error"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with("User does not have a corresponding license."),
                "{status}: {body}"
            );
        }
        jobs.await.expect("jobs task");
        let (total, assigned, rows) = pool_counts(&srv, "SUITE_BASIC").await;
        assert_eq!(total, 4);
        assert_eq!(assigned, rows, "the counter matches the assignment rows");
        assert!(assigned <= 4, "{assigned} holders on 4 licenses");
        let got = srv.get(&format!("/api/v1/subscriptions/{kept}")).await;
        assert_eq!(got.1["status"], "Active", "{}", got.1);
    }
);

/// The summaries of the (at most 100) audit entries the filters `query` find, newest first.
async fn audit_summaries(srv: &Srv, query: &str) -> Vec<String> {
    let got = srv.get(&format!("/api/v1/audit?{query}&top=100")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["summary"].as_str().map(str::to_string))
        .collect()
}

/// Holds the database's write path so that license changes queue behind it: on SQLite the one
/// write connection, on PostgreSQL an exclusive lock on the assignments table.
async fn hold_writes(srv: &Srv) -> seatkeeper_store::Tx {
    let mut tx = srv.app.db.begin().await.expect("begin");
    if srv.app.db.backend() == seatkeeper_store::Backend::Postgres {
        seatkeeper_store::sqlx::query("LOCK TABLE assignments IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .expect("lock");
    }
    tx
}

backends!(
    a_bearer_the_writer_has_seen_is_checked_again_in_every_batch,
    |srv| async move {
        // The writer remembers which organization a token acts in, so that it reads the
        // bearer's credentials with the users, and queues their changes unchecked. Everything
        // else about the bearer is read again in each batch: losing the role, the account or
        // the token stops the next change there, and the one after it at the door.
        srv.buy("MAIL_PLAN1", 10).await;
        let sku = srv.sku("MAIL_PLAN1").to_string();
        let admin = srv
            .user_with_roles("admin2@contoso.test", &[Role::LicenseAdmin])
            .await;
        let issued = srv
            .app
            .create_token(&srv.operator(), admin, "batch", None)
            .await
            .expect("token");
        let mut n = 0;
        // A change for a new user; the status, the body, how many licenses the user holds,
        // and how many changes the license writer took.
        let mut assign = || {
            n += 1;
            let (srv, token, sku) = (&srv, issued.token.clone(), sku.clone());
            async move {
                let u = format!("user{n}@contoso.test");
                srv.user(&u, Some("DK")).await;
                let before = srv.app.license_writer_stats().changes;
                let body = json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []});
                let got = srv
                    .call_as(
                        &token,
                        "POST",
                        &format!("/v1.0/users/{u}/assignLicense"),
                        Some(body),
                    )
                    .await;
                let held = srv.get(&format!("/v1.0/users/{u}/licenseDetails")).await;
                let n = held.1["value"].as_array().expect("list").len();
                let taken = srv.app.license_writer_stats().changes - before;
                (got.0, got.1, n, taken)
            }
        };
        let disabled = |body: &serde_json::Value| {
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("is disabled")
        };
        let (status, body, held, taken) = assign().await;
        assert_eq!((status, held, taken), (StatusCode::OK, 1, 1), "{body}");

        srv.app
            .set_user_roles(&srv.operator(), &admin.to_string(), &[])
            .await
            .expect("roles");
        for taken_now in [1, 0] {
            let (status, body, held, taken) = assign().await;
            assert_eq!(
                (status, held, taken),
                (StatusCode::FORBIDDEN, 0, taken_now),
                "{body}"
            );
        }

        srv.app
            .set_user_roles(&srv.operator(), &admin.to_string(), &[Role::LicenseAdmin])
            .await
            .expect("roles");
        let (status, body, held, taken) = assign().await;
        assert_eq!((status, held, taken), (StatusCode::OK, 1, 1), "{body}");
        let got = srv
            .patch(
                "/v1.0/users/admin2@contoso.test",
                json!({"accountEnabled": false}),
            )
            .await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
        for taken_now in [1, 0] {
            let (status, body, held, taken) = assign().await;
            assert_eq!(
                (status, held, taken),
                (StatusCode::UNAUTHORIZED, 0, taken_now),
                "{body}"
            );
            assert!(disabled(&body), "{body}");
        }

        let got = srv
            .patch(
                "/v1.0/users/admin2@contoso.test",
                json!({"accountEnabled": true}),
            )
            .await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
        let (status, body, held, taken) = assign().await;
        assert_eq!((status, held, taken), (StatusCode::OK, 1, 1), "{body}");
        srv.app
            .revoke_token(&srv.operator(), issued.id)
            .await
            .expect("revoke");
        for taken_now in [1, 0] {
            let (status, body, held, taken) = assign().await;
            assert_eq!(
                (status, held, taken),
                (StatusCode::UNAUTHORIZED, 0, taken_now),
                "{body}"
            );
        }
        assert_eq!(pool_counts(&srv, "MAIL_PLAN1").await, (10, 3, 3));
    }
);

backends!(
    a_token_that_does_not_work_is_refused_before_the_license_writer,
    |srv| async move {
        // A token the writer has not seen is checked at the door: one that does not work, or
        // whose bearer may not change licenses, never takes a place in a batch.
        srv.buy("MAIL_PLAN1", 2).await;
        let sku = srv.sku("MAIL_PLAN1").to_string();
        srv.user("target@contoso.test", Some("DK")).await;
        let reader = srv
            .token_with_roles("reader@contoso.test", &[Role::GlobalReader])
            .await;
        let before = srv.app.license_writer_stats();
        let body =
            json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []});
        let path = "/v1.0/users/target@contoso.test/assignLicense";
        let unknown = format!("{}-0000", &reader[..reader.len() - 5]);
        for (token, status) in [
            (unknown.as_str(), StatusCode::UNAUTHORIZED),
            (reader.as_str(), StatusCode::FORBIDDEN),
        ] {
            let got = srv.call_as(token, "POST", path, Some(body.clone())).await;
            assert_eq!(got.0, status, "{}", got.1);
        }
        let after = srv.app.license_writer_stats();
        assert_eq!(after.changes, before.changes, "{before:?} → {after:?}");
        assert_eq!(pool_counts(&srv, "MAIL_PLAN1").await, (2, 0, 0));
        // The same request with a working token goes through the writer.
        let got = srv.post(path, body).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(srv.app.license_writer_stats().changes, before.changes + 1);
    }
);

backends!(one_batch_answers_each_change_on_its_own, |srv| async move {
    // Five licenses for eight takers; Mail (Plan 1) excludes Mail (Plan 2), which two of
    // the requesters hold; one requester does not exist; one removes a product they do not
    // hold; one has no usage location and takes the organization's default.
    srv.buy("SUITE_BASIC", 5).await;
    srv.buy("MAIL_PLAN1", 10).await;
    srv.buy("MAIL_PLAN2", 2).await;
    let basic = srv.sku("SUITE_BASIC").to_string();
    let plan1 = srv.sku("MAIL_PLAN1").to_string();
    let plan2 = srv.sku("MAIL_PLAN2").to_string();
    for i in 0..2 {
        let u = format!("holder{i}@contoso.test");
        srv.user(&u, Some("DK")).await;
        let got = srv
                .post(
                    &format!("/v1.0/users/{u}/assignLicense"),
                    json!({"addLicenses": [{"skuId": plan2, "disabledPlans": []}], "removeLicenses": []}),
                )
                .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    }
    let mut wants: Vec<(String, &str, &str)> = Vec::new();
    for i in 0..8 {
        wants.push((format!("taker{i}@contoso.test"), "DK", &basic));
    }
    for i in 0..4 {
        wants.push((format!("mailer{i}@contoso.test"), "SE", &plan1));
    }
    for i in 0..2 {
        wants.push((format!("holder{i}@contoso.test"), "", &plan1));
    }
    wants.push(("nobody@contoso.test".into(), "", &plan1));
    wants.push(("nowhere@contoso.test".into(), "", &plan1));
    wants.push(("stranger@contoso.test".into(), "NO", &basic));
    for (u, loc, _) in &wants {
        if !loc.is_empty() {
            srv.user(u, Some(loc)).await;
        }
    }
    srv.user("nowhere@contoso.test", None).await;
    // Bearers checked in the batch itself: a License admin who has become a reader may not
    // change licenses any more (403), a revoked token does not work (401), another License
    // admin's token does; each asks for a Mail (Plan 1) license for a user of their own. All
    // three changed licenses before (a change that changes nothing), so the writer knows
    // their tokens, queues their changes without checking them first, and reads their
    // credentials with the batch's users.
    let demoted_id = srv
        .user_with_roles("demoted@contoso.test", &[Role::LicenseAdmin])
        .await;
    let demoted = srv
        .app
        .create_token(&srv.operator(), demoted_id, "was admin", None)
        .await
        .expect("token");
    let revoked = srv
        .app
        .create_token(
            &srv.operator(),
            srv.user_with_roles("revoked@contoso.test", &[Role::LicenseAdmin])
                .await,
            "gone",
            None,
        )
        .await
        .expect("token");
    let admin = srv
        .token_with_roles("admin2@contoso.test", &[Role::LicenseAdmin])
        .await;
    let bearers = [
        (
            demoted.token.clone(),
            "for-demoted@contoso.test",
            StatusCode::FORBIDDEN,
        ),
        (
            revoked.token.clone(),
            "for-revoked@contoso.test",
            StatusCode::UNAUTHORIZED,
        ),
        (admin, "for-admin@contoso.test", StatusCode::OK),
    ];
    for (_, u, _) in &bearers {
        srv.user(u, Some("DK")).await;
    }
    for (token, u, _) in &bearers {
        let nothing = json!({"addLicenses": [], "removeLicenses": []});
        let got = srv
            .call_as(
                token,
                "POST",
                &format!("/v1.0/users/{u}/assignLicense"),
                Some(nothing),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{u}: {}", got.1);
    }
    srv.app
        .set_user_roles(
            &srv.operator(),
            &demoted_id.to_string(),
            &[Role::GlobalReader],
        )
        .await
        .expect("roles");
    srv.app
        .revoke_token(&srv.operator(), revoked.id)
        .await
        .expect("revoke");

    srv.user("primer@contoso.test", Some("DK")).await;
    let before = srv.app.license_writer_stats();
    let blocker = hold_writes(&srv).await;
    let srv = std::sync::Arc::new(srv);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // On SQLite the writer waits for the held write connection before it takes what is
    // queued. On PostgreSQL its transaction starts at once and it waits on the held lock with
    // what it took: a first change occupies it there, so the others queue together behind it.
    let primer = if srv.app.db.backend() == seatkeeper_store::Backend::Postgres {
        let poster = srv.clone();
        let path = "/v1.0/users/primer@contoso.test/assignLicense".to_string();
        let body =
            json!({"addLicenses": [{"skuId": plan1, "disabledPlans": []}], "removeLicenses": []});
        let h = tokio::spawn(async move { poster.post(&path, body).await });
        while srv.app.license_writer_stats().running < 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the first change was never taken"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Some(h)
    } else {
        None
    };
    let mut handles = Vec::new();
    for (u, _, sku) in &wants {
        let srv = srv.clone();
        let path = format!("/v1.0/users/{u}/assignLicense");
        let body = if u.starts_with("stranger") {
            json!({"addLicenses": [], "removeLicenses": [sku]})
        } else {
            json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})
        };
        handles.push(tokio::spawn(async move { srv.post(&path, body).await }));
    }
    let mut by_bearer = Vec::new();
    for (token, u, _) in &bearers {
        let (srv, token) = (srv.clone(), token.clone());
        let path = format!("/v1.0/users/{u}/assignLicense");
        let body =
            json!({"addLicenses": [{"skuId": plan1, "disabledPlans": []}], "removeLicenses": []});
        by_bearer.push(tokio::spawn(async move {
            srv.call_as(&token, "POST", &path, Some(body)).await
        }));
    }
    // Every change is queued behind the held write path, then all go at once.
    let primed = usize::from(primer.is_some());
    let queued = wants.len() + bearers.len() + primed;
    while srv.app.license_writer_stats().waiting < queued {
        assert!(std::time::Instant::now() < deadline, "changes never queued");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    blocker.rollback().await.expect("release");
    if let Some(h) = primer {
        let got = h.await.expect("task");
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    }
    let mut answers = Vec::new();
    for h in handles {
        answers.push(h.await.expect("task"));
    }
    for ((_, u, status), h) in bearers.iter().zip(by_bearer) {
        let got = h.await.expect("task");
        assert_eq!(got.0, *status, "{u}: {}", got.1);
        let held = srv.get(&format!("/v1.0/users/{u}/licenseDetails")).await;
        let n = held.1["value"].as_array().expect("list").len();
        assert_eq!(n, usize::from(*status == StatusCode::OK), "{u}: {}", held.1);
    }
    let after = srv.app.license_writer_stats();
    assert!(
        after.largest >= wants.len() + bearers.len(),
        "the changes were committed together: {after:?}"
    );
    assert_eq!(
        after.batches - before.batches,
        primed as u64 + 1,
        "{before:?} → {after:?}"
    );

    let message = |b: &serde_json::Value| {
        b["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let mut basic_ok = 0;
    for ((u, _, sku), (status, body)) in wants.iter().zip(&answers) {
        let msg = message(body);
        if u.starts_with("taker") {
            match status {
                &StatusCode::OK => {
                    basic_ok += 1;
                    assert_eq!(body["assignedLicenses"][0]["skuId"], **sku, "{body}");
                }
                &StatusCode::BAD_REQUEST => assert!(
                    msg.contains("does not have any available licenses")
                        && msg.contains("1 license needed, 0 available"),
                    "{u}: {msg}"
                ),
                other => panic!("{u}: {other} {body}"),
            }
        } else if u.starts_with("mailer") {
            assert_eq!(*status, StatusCode::OK, "{u}: {body}");
            assert_eq!(body["userPrincipalName"], u.as_str(), "{body}");
        } else if u.starts_with("holder") {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{u}: {body}");
            assert!(msg.contains("MAIL_PLAN2"), "{u}: {msg}");
        } else if u.starts_with("nobody") {
            assert_eq!(*status, StatusCode::NOT_FOUND, "{u}: {body}");
        } else if u.starts_with("stranger") {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{u}: {body}");
            assert!(
                msg.starts_with("User does not have a corresponding license."),
                "{u}: {msg}"
            );
        } else {
            // The default location is set in the same change as the license.
            assert_eq!(*status, StatusCode::OK, "{u}: {body}");
            assert_eq!(body["usageLocation"], "US", "{body}");
        }
    }
    assert_eq!(basic_ok, 5, "exactly the 5 bought licenses were given");
    assert_eq!(pool_counts(&srv, "SUITE_BASIC").await, (5, 5, 5));
    // Five mailers, the other License admin's user, and the primer on PostgreSQL.
    let plan1_given = (6 + primed) as i64;
    assert_eq!(
        pool_counts(&srv, "MAIL_PLAN1").await,
        (10, plan1_given, plan1_given)
    );
    assert_eq!(pool_counts(&srv, "MAIL_PLAN2").await, (2, 2, 2));
    // A refused change left nothing behind: the holders keep exactly what they had.
    for i in 0..2 {
        let got = srv
            .get(&format!(
                "/v1.0/users/holder{i}@contoso.test/licenseDetails"
            ))
            .await;
        let held: Vec<&str> = got.1["value"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|l| l["skuPartNumber"].as_str())
            .collect();
        assert_eq!(held, vec!["MAIL_PLAN2"], "{}", got.1);
    }
    // Each accepted change has its own audit entry; the refused ones have none.
    let summaries: Vec<String> = audit_summaries(&srv, "action=license.assign")
        .await
        .into_iter()
        .filter(|s| !s.starts_with("primer@"))
        .collect();
    let count = |part: &str| summaries.iter().filter(|s| s.ends_with(part)).count();
    assert_eq!(count("assigned SUITE_BASIC"), 5, "{summaries:?}");
    assert_eq!(count("assigned MAIL_PLAN1"), 6, "{summaries:?}");
    // The change made by the other License admin's token is theirs in the log.
    assert_eq!(
        audit_summaries(&srv, "action=license.assign&actor=admin2@").await,
        vec!["for-admin@contoso.test: assigned MAIL_PLAN1"]
    );
    assert!(
        !summaries
            .iter()
            .any(|s| s.starts_with("holder0@contoso.test: assigned MAIL_PLAN1")),
        "{summaries:?}"
    );
});

backends!(
    two_servers_giving_the_same_users_a_product_both_succeed,
    |srv| async move {
        // Two servers on one database give the same users the same product at the same time.
        // Giving a product the user already holds changes nothing and succeeds (Graph), so
        // every call succeeds whichever server comes second (the unique key keeps one license
        // per user and product).
        srv.buy("MAIL_PLAN1", 40).await;
        let sku = srv.sku("MAIL_PLAN1");
        let mut users = Vec::new();
        for i in 0..16 {
            users.push(srv.user(&format!("both{i}@contoso.test"), Some("SE")).await);
        }
        let apps = [srv.app.clone(), srv.second_app().await];
        let op = srv.operator();
        let mut handles = Vec::new();
        for round in 0..3 {
            for (a, app) in apps.iter().enumerate() {
                for (i, u) in users.iter().enumerate() {
                    // Each round, a different half of the users loses the product first on
                    // one server, so that both servers keep inserting it.
                    let remove = round > 0 && (i + round + a) % 2 == 0;
                    let (app, op, u) = (app.clone(), op.clone(), u.to_string());
                    handles.push(tokio::spawn(async move {
                        let spec = seatkeeper_app::licenses::LicenseSpec {
                            sku_id: sku,
                            disabled_plans: vec![],
                        };
                        if remove {
                            app.assign_license(&op, &u, vec![], vec![sku])
                                .await
                                .map(|_| ())
                        } else {
                            app.assign_license(&op, &u, vec![spec], vec![])
                                .await
                                .map(|_| ())
                        }
                    }));
                }
            }
        }
        for h in handles {
            match h.await.expect("task") {
                Ok(()) => {}
                // A removal that meets a user whose license the other server removed first.
                Err(e)
                    if e.to_string()
                        .contains("does not have a corresponding license") => {}
                Err(e) => panic!("a change failed: {e}"),
            }
        }
        let (total, assigned, rows) = pool_counts(&srv, "MAIL_PLAN1").await;
        assert_eq!(total, 40);
        assert_eq!(assigned, rows, "the counter matches the assignment rows");
    }
);

/// PostgreSQL: two servers swap products at the same time in opposite directions. One
/// server's users give back BI_PRO and take PROJECTS_PLAN3 while the other's give back
/// PROJECTS_PLAN3 and take BI_PRO, and the next round the other way round. Each batch
/// takes a seat in one pool and gives one back in the other. Locking one pool and then the
/// other could deadlock against the other server's batch, which PostgreSQL breaks after a
/// second (`deadlock_timeout`) by failing one of them, to be run again. Both pools are
/// locked together, in order, so no batch is ever run again, and the counts stay exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_swapping_products_in_opposite_directions_never_deadlock() {
    let Some(srv) = crate::common::Srv::start(crate::common::Backend::Postgres).await else {
        eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
        return;
    };
    srv.buy("BI_PRO", 60).await;
    srv.buy("PROJECTS_PLAN3", 60).await;
    let (x, y) = (srv.sku("BI_PRO"), srv.sku("PROJECTS_PLAN3"));
    let spec = |sku| seatkeeper_app::licenses::LicenseSpec {
        sku_id: sku,
        disabled_plans: vec![],
    };
    let op = srv.operator();
    // Each server's users start with the product the other server's users take first.
    let mut sides: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for (side, users) in sides.iter_mut().enumerate() {
        for i in 0..20 {
            let upn = format!("swap{side}-{i}@contoso.test");
            srv.user(&upn, Some("SE")).await;
            let first = if side == 0 { x } else { y };
            srv.app
                .assign_license(&op, &upn, vec![spec(first)], vec![])
                .await
                .expect("first license");
            users.push(upn);
        }
    }
    let apps = [srv.app.clone(), srv.second_app().await];
    let before: Vec<u64> = apps
        .iter()
        .map(|a| a.license_writer_stats().retried)
        .collect();
    for round in 0..6 {
        let mut handles = Vec::new();
        for (side, app) in apps.iter().enumerate() {
            // Side 0 moves x -> y on even rounds, side 1 y -> x; odd rounds undo it.
            let (from, to) = if (side + round) % 2 == 0 {
                (x, y)
            } else {
                (y, x)
            };
            for u in &sides[side] {
                let (app, op, u) = (app.clone(), op.clone(), u.clone());
                handles.push(tokio::spawn(async move {
                    app.assign_license(&op, &u, vec![spec(to)], vec![from])
                        .await
                        .map(|(_, held)| held.iter().map(|a| a.sku_id).collect::<Vec<_>>())
                        .map_err(|e| format!("{u}: {e}"))
                }));
            }
        }
        for h in handles {
            let held = h.await.expect("task").expect("every swap succeeds");
            assert_eq!(held.len(), 1, "one product after a swap: {held:?}");
        }
    }
    let retried: Vec<u64> = apps
        .iter()
        .zip(&before)
        .map(|(a, b)| a.license_writer_stats().retried - b)
        .collect();
    assert_eq!(retried, vec![0, 0], "batches run again after a deadlock");
    for part in ["BI_PRO", "PROJECTS_PLAN3"] {
        assert_eq!(pool_counts(&srv, part).await, (60, 20, 20), "{part}");
    }
}

/// PostgreSQL: a change that takes back every license a user holds (Replace) finds the pool
/// of the license it removes only once it has read the user's licenses, with the pool of the
/// product it gives locked already. It does not wait for that second pool while holding the
/// first (that order could deadlock with another server's batch): another transaction holds it
/// here, so the batch stops at once, runs again with both pools locked in order, waits for the
/// other transaction, and then succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_found_late_and_held_elsewhere_is_locked_in_order_on_the_next_run() {
    let Some(srv) = crate::common::Srv::start(crate::common::Backend::Postgres).await else {
        eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
        return;
    };
    srv.buy("BI_PRO", 5).await;
    srv.buy("PROJECTS_PLAN3", 5).await;
    let (x, y) = (srv.sku("BI_PRO"), srv.sku("PROJECTS_PLAN3"));
    let spec = |sku| seatkeeper_app::licenses::LicenseSpec {
        sku_id: sku,
        disabled_plans: vec![],
    };
    let op = srv.operator();
    srv.user("replaced@contoso.test", Some("SE")).await;
    srv.app
        .assign_license(&op, "replaced@contoso.test", vec![spec(x)], vec![])
        .await
        .expect("first license");
    let mut conn = srv.app.read().await.expect("conn");
    let held = subscriptions::central_pool(&mut conn, srv.tenant, x)
        .await
        .expect("query")
        .expect("pool");
    drop(conn);
    let mut other = srv.app.db.begin().await.expect("begin");
    seatkeeper_store::sqlx::query("SELECT id FROM pools WHERE id = $1 FOR UPDATE")
        .bind(held.id.to_string())
        .execute(&mut *other)
        .await
        .expect("hold the pool");
    let before = srv.app.license_writer_stats().retried;
    let (app, op2) = (srv.app.clone(), op.clone());
    let change = tokio::spawn(async move {
        app.set_user_licenses(&op2, "replaced@contoso.test", vec![spec(y)])
            .await
    });
    let waited = std::time::Instant::now();
    while srv.app.license_writer_stats().retried == before {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(20),
            "the batch did not stop at the held pool"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Run again, it waits for the pool (in order with the other), not failing.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !change.is_finished(),
        "the change did not wait for the held pool"
    );
    other.commit().await.expect("let the pool go");
    let (_, licenses) = change.await.expect("task").expect("the change succeeds");
    let skus: Vec<_> = licenses.iter().map(|a| a.sku_id).collect();
    assert_eq!(skus, vec![y]);
    assert_eq!(pool_counts(&srv, "BI_PRO").await, (5, 0, 0));
    assert_eq!(pool_counts(&srv, "PROJECTS_PLAN3").await, (5, 1, 1));
}

/// PostgreSQL: the database ends every session of the server (as a restart or a failover
/// does) between two license changes. The next change is made on new connections at once,
/// rather than refused for the lost ones: the license writer's connections are not checked
/// before each batch, so this is the batch starting again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn license_changes_go_on_after_the_database_ends_every_session() {
    let Some(srv) = crate::common::Srv::start(crate::common::Backend::Postgres).await else {
        eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
        return;
    };
    srv.buy("SUITE_BASIC", 5).await;
    let basic = srv.sku("SUITE_BASIC").to_string();
    let body =
        json!({"addLicenses": [{"skuId": basic, "disabledPlans": []}], "removeLicenses": []});
    for u in ["before@contoso.test", "after@contoso.test"] {
        srv.user(u, Some("DK")).await;
    }
    let got = srv
        .post(
            "/v1.0/users/before@contoso.test/assignLicense",
            body.clone(),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let ended: i64 = seatkeeper_store::sqlx::query_scalar(
        // `OFFSET 0` keeps the sessions chosen before any is ended (this one is not).
        "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM (SELECT pid \
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         OFFSET 0) others",
    )
    .fetch_one(srv.app.db.reader())
    .await
    .expect("end the sessions");
    assert!(
        ended >= 2,
        "the writer's session and the pool's: {ended} ended"
    );
    let got = srv
        .post("/v1.0/users/after@contoso.test/assignLicense", body)
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let got = srv
        .get("/v1.0/users/after@contoso.test/licenseDetails")
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert_eq!(
        got.1["value"].as_array().map(Vec::len),
        Some(1),
        "{}",
        got.1
    );
}

/// SQLite: the license writer keeps the one write connection from one batch to the next while
/// changes are queued, but gives it back when another transaction is waiting for it. Here 228
/// changes (two batches) queue behind a held write connection with a purchase behind them;
/// the purchase goes in after the first batch, so the second can use the licenses it bought.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_goes_in_between_batches_of_queued_license_changes() {
    let Some(mut srv) = crate::common::Srv::start(crate::common::Backend::Sqlite).await else {
        return;
    };
    // Only the test's purchase may wait for the write connection.
    srv.stop_license_jobs().await;
    let first = seatkeeper_app::commit::MAX_BATCH;
    let total = first + 100;
    srv.buy("MAIL_PLAN1", first as i64).await;
    let sku = srv.sku("MAIL_PLAN1").to_string();
    let mut users = Vec::new();
    for i in 0..total {
        users.push(
            srv.user(&format!("queued{i}@contoso.test"), Some("DK"))
                .await,
        );
    }
    let srv = std::sync::Arc::new(srv);
    let held = hold_writes(&srv).await;
    let before = srv.app.license_writer_stats().waiting;
    let mut changes = Vec::new();
    for u in &users {
        let srv = srv.clone();
        let path = format!("/v1.0/users/{u}/assignLicense");
        let body =
            json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []});
        changes.push(tokio::spawn(async move { srv.post(&path, body).await }));
    }
    while srv.app.license_writer_stats().waiting < before + total {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let purchase = {
        let srv = srv.clone();
        tokio::spawn(async move { srv.buy("MAIL_PLAN1", total as i64).await })
    };
    while !srv.app.db.writers_waiting() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    held.rollback().await.expect("rollback");
    purchase.await.expect("purchase");
    let mut refused = Vec::new();
    for c in changes {
        let (status, body) = c.await.expect("change");
        if status != StatusCode::OK {
            refused.push(format!("{status}: {body}"));
        }
    }
    assert!(
        refused.is_empty(),
        "{} refused, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    assert_eq!(
        pool_counts(&srv, "MAIL_PLAN1").await,
        ((first + total) as i64, total as i64, total as i64)
    );
}

/// PostgreSQL: another server gives a user Mail (Plan 2) while holding the user's row; this
/// server's change giving the same user Mail (Plan 1), which excludes it, waits for that row.
/// Once the other server commits, the change reads the user's licenses as they are then and
/// is refused for the conflict, rather than checked against the licenses of before the wait
/// and given both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_waited_for_a_user_sees_what_the_other_server_gave_them() {
    use seatkeeper_domain::AssignmentId;
    use seatkeeper_domain::assignment::Assignment;
    let Some(srv) = crate::common::Srv::start(crate::common::Backend::Postgres).await else {
        eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
        return;
    };
    srv.buy("MAIL_PLAN1", 3).await;
    srv.buy("MAIL_PLAN2", 3).await;
    let (plan1, plan2) = (srv.sku("MAIL_PLAN1"), srv.sku("MAIL_PLAN2"));
    let user = srv.user("waiter@contoso.test", Some("DK")).await;

    // The other server: holds the user's row and gives them Mail (Plan 2).
    let mut other = srv.app.db.begin().await.expect("begin");
    let other_pid: i32 = seatkeeper_store::sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *other)
        .await
        .expect("pid");
    assert!(
        seatkeeper_store::directory::lock_user(&mut other, srv.tenant, user)
            .await
            .expect("lock")
    );
    let pool = subscriptions::central_pool(&mut other, srv.tenant, plan2)
        .await
        .expect("pool")
        .expect("a central pool");
    let now = srv.app.now();
    assignments::insert(
        &mut other,
        &Assignment {
            id: AssignmentId::new(),
            tenant_id: srv.tenant,
            user_id: user,
            sku_id: plan2,
            pool_id: pool.id,
            disabled_plans: vec![],
            direct: true,
            direct_disabled_plans: vec![],
            assigned_at: now,
            updated_at: now,
        },
    )
    .await
    .expect("insert");
    assert!(
        subscriptions::take_seats(&mut other, pool.id, 1)
            .await
            .expect("seat")
    );

    let srv = std::sync::Arc::new(srv);
    let change = {
        let srv = srv.clone();
        tokio::spawn(async move {
            srv.post(
                &format!("/v1.0/users/{user}/assignLicense"),
                json!({"addLicenses": [{"skuId": plan1.to_string(), "disabledPlans": []}], "removeLicenses": []}),
            )
            .await
        })
    };
    // The change waits for the user's row, which the other server holds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut conn = srv.app.read().await.expect("conn");
        let waiting: bool = seatkeeper_store::sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE CAST($1 AS INTEGER) = ANY (pg_blocking_pids(pid)))",
        )
        .bind(other_pid)
        .fetch_one(&mut *conn)
        .await
        .expect("activity");
        if waiting {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change never waited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    other.commit().await.expect("commit");

    let got = change.await.expect("task");
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    let msg = got.1["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("MAIL_PLAN2"), "{msg}");
    let held = srv.get(&format!("/v1.0/users/{user}/licenseDetails")).await;
    let skus: Vec<&str> = held.1["value"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|l| l["skuPartNumber"].as_str())
        .collect();
    assert_eq!(skus, vec!["MAIL_PLAN2"], "{}", held.1);
    assert_eq!(pool_counts(&srv, "MAIL_PLAN1").await, (3, 0, 0));
    assert_eq!(pool_counts(&srv, "MAIL_PLAN2").await, (3, 1, 1));
}
