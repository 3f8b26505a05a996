//! Helpers for the /api/v1 tests.
#![allow(dead_code)]

use crate::common::Srv;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const API: &str = "/api/v1";

pub fn t(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("{v} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Buys over HTTP and returns the subscription.
pub async fn buy(srv: &Srv, sku: &str, quantity: i64, freq: &str) -> Value {
    let got = srv
        .post(
            &format!("{API}/subscriptions"),
            json!({"skuId": sku, "quantity": quantity, "billingFrequency": freq}),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    got.1
}

pub async fn sub(srv: &Srv, id: &str) -> Value {
    let got = srv.get(&format!("{API}/subscriptions/{id}")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1
}

/// The Licenses page row of a product (by skuPartNumber), if shown.
pub async fn license_row(srv: &Srv, part: &str) -> Option<Value> {
    let got = srv.get(&format!("{API}/licenses")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|r| r["skuPartNumber"] == part)
        .cloned()
}

pub async fn now(srv: &Srv) -> DateTime<Utc> {
    let got = srv.get(&format!("{API}/dev/clock")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    t(&got.1["now"])
}

pub async fn set_clock(srv: &Srv, to: DateTime<Utc>) {
    let got = srv
        .put(&format!("{API}/dev/clock"), json!({"now": to.to_rfc3339()}))
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
}

pub async fn run_jobs(srv: &Srv) -> Value {
    let got = srv.call("POST", &format!("{API}/dev/jobs/run"), None).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1
}

/// Creates `n` member users with usage location US; returns their UPNs.
pub async fn users(srv: &Srv, prefix: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let upn = format!("{prefix}{i}@contoso.test");
        srv.user(&upn, Some("US")).await;
        out.push(upn);
    }
    out
}

pub async fn assign(
    srv: &Srv,
    sku: &str,
    users: &[String],
    disabled: &[&str],
) -> (StatusCode, Value) {
    srv.post(
        &format!("{API}/licenses/{sku}/assign"),
        json!({"users": users, "disabledPlans": disabled}),
    )
    .await
}

/// The skuPartNumbers a user holds.
pub async fn held(srv: &Srv, user: &str) -> Vec<String> {
    let got = srv.get(&format!("{API}/users/{user}/licenses")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let mut v: Vec<String> = got.1["licenses"]
        .as_array()
        .expect("licenses")
        .iter()
        .map(|l| l["skuPartNumber"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

/// A raw GET as the server's admin: status, headers and body text.
pub async fn get_text(srv: &Srv, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = srv
        .raw(reqwest::Method::GET, path)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.expect("body"))
}

/// Parses CSV text into rows of fields (header included).
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    r.records()
        .map(|rec| {
            rec.expect("csv record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// Mail of a kind in the outbox.
pub async fn mail_of_kind(srv: &Srv, kind: &str) -> Vec<Value> {
    let got = srv.get(&format!("{API}/mail")).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter(|m| m["kind"] == kind)
        .cloned()
        .collect()
}
