//! Request limits: a request that takes too long is answered 503 in the JSON error envelope,
//! never left hanging.

use seatkeeper_web::Limits;
use std::time::{Duration, Instant};

backends!(
    a_request_over_the_time_limit_is_a_503_in_the_error_envelope,
    |srv| async move {
        // The same app served with a limit no request that reads the database can meet.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let limits = Limits {
            request_timeout: Duration::from_millis(1),
            max_concurrent_requests: 4,
        };
        tokio::spawn(seatkeeper_web::serve_with(
            srv.app.clone(),
            listener,
            std::future::pending(),
            limits,
        ));
        let client = reqwest::Client::new();
        for (path, code) in [
            ("/api/v1/licenses", "timeout"),
            ("/v1.0/users", "serviceNotAvailable"),
        ] {
            let started = Instant::now();
            let resp = client
                .get(format!("{url}{path}"))
                .bearer_auth(&srv.token)
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
        // The default limits serve the same request.
        let (status, _) = srv.get("/api/v1/licenses").await;
        assert_eq!(status, reqwest::StatusCode::OK);
    }
);
