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
