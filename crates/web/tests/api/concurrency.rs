//! Seats under concurrency: many simultaneous assignments over HTTP against one pool never
//! assign more than was bought, and every refusal is a clear "not enough licenses" error.

use crate::common::*;
use reqwest::StatusCode;
use seatkeeper_store::{assignments, subscriptions};
use serde_json::json;

async fn pool_counts(srv: &Srv, part: &str) -> (i64, i64, i64) {
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
