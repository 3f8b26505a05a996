//! The write transaction's retry policy: contention is run again, a unique violation is not.

use seatkeeper_app::AppError;
use std::time::{Duration, Instant};

backends!(
    a_unique_violation_is_a_prompt_conflict_naming_what_exists,
    |srv| async move {
        let id = srv.user("taken@contoso.test", Some("US")).await;
        let existing = {
            let mut conn = srv.app.read().await.expect("conn");
            seatkeeper_store::directory::get_user(&mut conn, srv.tenant, id)
                .await
                .expect("read")
                .expect("user")
        };
        // Another user with the same sign-in name, written without the use case's own check:
        // the database refuses it.
        let mut copy = existing.clone();
        copy.id = seatkeeper_domain::UserId::new();
        let copy = &copy;
        let started = Instant::now();
        let result = srv
            .app
            .transact(move |tx| {
                Box::pin(async move {
                    seatkeeper_store::directory::insert_user(tx, copy).await?;
                    Ok(())
                })
            })
            .await;
        let took = started.elapsed();
        match result {
            Err(AppError::Conflict { code, message }) => {
                assert_eq!(code, "userExists");
                assert!(
                    message.contains("userPrincipalName already exists"),
                    "{message}"
                );
                if srv.backend == crate::common::Backend::Postgres {
                    assert!(message.contains("taken@contoso.test"), "{message}");
                }
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(
            took < Duration::from_millis(200),
            "answered after {took:?}: a unique violation must not be retried"
        );
        // Nothing was written.
        let mut conn = srv.app.read().await.expect("conn");
        assert!(
            seatkeeper_store::directory::get_user(&mut conn, srv.tenant, copy.id)
                .await
                .expect("read")
                .is_none()
        );
    }
);

backends!(
    transact_commits_and_refuses_a_duplicate_at_once,
    |srv| async move {
        let id = srv.user("kept@contoso.test", Some("US")).await;
        let existing = {
            let mut conn = srv.app.read().await.expect("conn");
            seatkeeper_store::directory::get_user(&mut conn, srv.tenant, id)
                .await
                .expect("read")
                .expect("user")
        };
        let mut other = existing.clone();
        other.id = seatkeeper_domain::UserId::new();
        other.upn = "other@contoso.test".into();
        let user = other.clone();
        srv.app
            .transact(move |tx| {
                let user = user.clone();
                Box::pin(async move {
                    seatkeeper_store::directory::insert_user(tx, &user).await?;
                    Ok(())
                })
            })
            .await
            .expect("a new user is written");
        let mut dup = other.clone();
        dup.id = seatkeeper_domain::UserId::new();
        let started = Instant::now();
        let result = srv
            .app
            .transact(move |tx| {
                let dup = dup.clone();
                Box::pin(async move {
                    seatkeeper_store::directory::insert_user(tx, &dup).await?;
                    Ok(())
                })
            })
            .await;
        assert!(
            matches!(&result, Err(AppError::Conflict { code, .. }) if *code == "userExists"),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(200));
    }
);

/// Sets how many pages the SQLite database may grow to, on the one write connection.
async fn limit_pages(srv: &crate::common::Srv, pages: &str) {
    let mut tx = srv.app.db.begin().await.expect("begin");
    seatkeeper_store::sqlx::query(seatkeeper_store::sqlx::AssertSqlSafe(format!(
        "PRAGMA max_page_count = {pages}"
    )))
    .execute(&mut *tx)
    .await
    .expect("pragma");
    tx.rollback().await.expect("rollback");
}

/// The answer of a write when the database has no room: 507, in words that say what to do.
fn assert_full(what: &str, status: axum::http::StatusCode, body: &serde_json::Value) {
    assert_eq!(
        status,
        axum::http::StatusCode::INSUFFICIENT_STORAGE,
        "{what}: {body}"
    );
    // Graph's code for a service that cannot serve the request now.
    assert_eq!(body["error"]["code"], "serviceNotAvailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no space left, so nothing was changed")
            && message.contains("free disk space"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_is_a_507_that_says_to_free_space_and_changes_nothing() {
    use axum::http::StatusCode;
    use serde_json::json;
    let Some(srv) = crate::common::Srv::start(crate::common::Backend::Sqlite).await else {
        return;
    };
    srv.buy("SUITE_BASIC", 500).await;
    let sku = srv.sku("SUITE_BASIC").to_string();
    let mut upns = Vec::new();
    for i in 0..400 {
        let upn = format!("filler{i}@contoso.test");
        srv.user(&upn, Some("DK")).await;
        upns.push(upn);
    }
    // The license writer's first change opens the write connection again (from the writer's
    // thread, see `Placing::start_session` in `commit.rs`), and the page limit below is the
    // connection's own.
    let got = srv
        .post(
            &format!("/v1.0/users/{}/assignLicense", upns[0]),
            json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    // The database may not grow past its size now: the next write that needs a page fails as
    // it would on a full disk. First through the license writer.
    limit_pages(&srv, "1").await;
    let mut refused = None;
    for upn in &upns {
        let got = srv
            .post(
                &format!("/v1.0/users/{upn}/assignLicense"),
                json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        if got.0 != StatusCode::OK {
            refused = Some((upn.clone(), got));
            break;
        }
    }
    let (upn, (status, body)) = refused.expect("the database filled up");
    assert_full("assignLicense", status, &body);
    let got = srv.get(&format!("/v1.0/users/{upn}/licenseDetails")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert_eq!(got.1["value"], json!([]), "nothing half-written: {}", got.1);
    let (total, assigned, rows) = crate::concurrency::pool_counts(&srv, "SUITE_BASIC").await;
    assert_eq!((total, assigned), (500, rows));
    assert!(rows > 0 && rows < 400, "{rows}");

    // Then through an ordinary use case.
    limit_pages(&srv, "1").await;
    let mut refused = None;
    for i in 0..2000 {
        let upn = format!("newcomer{i}@contoso.test");
        let got = srv
            .post(
                "/v1.0/users",
                json!({"accountEnabled": true, "displayName": format!("Newcomer {i}"),
                       "mailNickname": format!("newcomer{i}"), "userPrincipalName": upn, "usageLocation": "DK"}),
            )
            .await;
        if got.0 != StatusCode::CREATED {
            refused = Some((upn, got));
            break;
        }
    }
    let (upn, (status, body)) = refused.expect("the database filled up");
    assert_full("create user", status, &body);

    // Room again: the server serves at once, and the refused user was not half-created.
    limit_pages(&srv, "1073741823").await;
    let got = srv.get(&format!("/v1.0/users/{upn}")).await;
    assert_eq!(got.0, StatusCode::NOT_FOUND, "{}", got.1);
    let got = srv
        .post(
            "/v1.0/users",
            json!({"accountEnabled": true, "displayName": "After", "mailNickname": "after",
                   "userPrincipalName": upn, "usageLocation": "DK"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    let got = srv
        .post(
            &format!("/v1.0/users/{upn}/assignLicense"),
            json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
}
