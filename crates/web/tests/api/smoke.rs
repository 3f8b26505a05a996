use crate::common::*;
use reqwest::StatusCode;

backends!(unknown_endpoint_is_a_404_envelope, |srv| async move {
    let got = srv.get("/api/v1/nope").await;
    assert_error(&got, StatusCode::NOT_FOUND, "No such endpoint");
});

backends!(missing_or_bad_token_is_401, |srv| async move {
    let got = srv.call_as("", "GET", "/v1.0/users", None).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "Access token is empty");
    let got = srv
        .call_as("sk_notatoken", "GET", "/v1.0/users", None)
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid");
    assert_eq!(got.1["error"]["code"], "InvalidAuthenticationToken");
});

backends!(error_dates_follow_the_servers_clock, |srv| async move {
    let future = chrono::DateTime::parse_from_rfc3339("2031-03-04T05:06:07Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    crate::rest_helpers::set_clock(&srv, future).await;
    for path in ["/api/v1/nope", "/v1.0/users/nobody@contoso.test"] {
        let got = srv.get(path).await;
        let date = got.1["error"]["innerError"]["date"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(date.starts_with("2031-03-04T05:06"), "{path}: {date}");
    }
    let got = srv.get("/v1.0/users/nobody@contoso.test").await;
    assert_eq!(got.1["error"]["code"], "Request_ResourceNotFound");
});
