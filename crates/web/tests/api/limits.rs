//! Request limits: a request that takes too long is answered 503 in the JSON error envelope,
//! never left hanging, and what it had begun to change is rolled back.

use seatkeeper_store::sqlx;
use seatkeeper_web::Limits;
use serde_json::json;
use std::time::{Duration, Instant};

backends!(
    a_request_over_the_time_limit_is_a_503_in_the_error_envelope,
    |srv| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let limits = Limits {
            request_timeout: Duration::from_millis(300),
            max_concurrent_requests: 4,
        };
        tokio::spawn(seatkeeper_web::serve_with(
            srv.app.clone(),
            listener,
            std::future::pending(),
            limits,
        ));
        // Another writer holds the organization's and the admin's rows (on SQLite: the
        // database's write lock) for longer than the limit.
        let mut held = srv.app.db.begin().await.expect("begin");
        for sql in [
            "UPDATE tenants SET name = name WHERE id = $1",
            "UPDATE users SET display_name = display_name WHERE tenant_id = $1",
        ] {
            sqlx::query(sql)
                .bind(srv.tenant.to_string())
                .execute(&mut *held)
                .await
                .expect("lock");
        }
        let client = reqwest::Client::new();
        let requests = [
            (
                reqwest::Method::PATCH,
                "/api/v1/tenant".to_string(),
                json!({"name": "Renamed"}),
                "timeout",
            ),
            (
                reqwest::Method::PATCH,
                format!("/v1.0/users/{}", srv.admin),
                json!({"displayName": "Renamed"}),
                "serviceNotAvailable",
            ),
        ];
        for (method, path, body, code) in requests {
            let started = Instant::now();
            let resp = client
                .request(method, format!("{url}{path}"))
                .bearer_auth(&srv.token)
                .json(&body)
                .send()
                .await
                .expect("request");
            assert!(started.elapsed() < Duration::from_secs(5));
            assert_eq!(
                resp.status(),
                reqwest::StatusCode::SERVICE_UNAVAILABLE,
                "{path}"
            );
            assert_eq!(
                resp.headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("1")
            );
            let body: serde_json::Value = resp.json().await.expect("JSON body");
            assert_eq!(body["error"]["code"], code, "{body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("did not finish the request within"),
                "{message}"
            );
        }
        held.rollback().await.expect("rollback");
        // Nothing of the stopped requests was saved; with the default limits they go through.
        let (status, tenant) = srv.get("/api/v1/tenant").await;
        assert_eq!(status, reqwest::StatusCode::OK);
        assert_ne!(tenant["name"], "Renamed", "{tenant}");
        let (status, _) = srv
            .patch("/api/v1/tenant", json!({"name": "Renamed"}))
            .await;
        assert_eq!(status, reqwest::StatusCode::OK);
    }
);
