//! The Graph-compatible API under /v1.0: users, groups and members, subscribedSkus,
//! directory/subscriptions, assignLicense and licenseDetails, with Graph's JSON shapes and the
//! OData query options licensing scripts use (see [`odata`]).

mod groups;
pub mod odata;
mod shapes;
mod skus;
mod users;

use crate::error::ApiError;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use seatkeeper_app::{App, AppError};
use serde_json::{Map, Value, json};

pub fn router() -> Router<App> {
    Router::new()
        .route("/users", get(users::list).post(users::create))
        .route("/users/$count", get(users::count))
        .route(
            "/users/{id}",
            get(users::get_one)
                .patch(users::update)
                .delete(users::delete),
        )
        .route("/users/{id}/assignLicense", post(users::assign_license))
        .route(
            "/users/{id}/reprocessLicenseAssignment",
            post(users::reprocess),
        )
        .route("/users/{id}/licenseDetails", get(users::license_details))
        .route("/me", get(users::me))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/$count", get(groups::count))
        .route(
            "/groups/{id}",
            get(groups::get_one)
                .patch(groups::update)
                .delete(groups::delete),
        )
        .route("/groups/{id}/members", get(groups::members))
        .route("/groups/{id}/assignLicense", post(groups::assign_license))
        .route(
            "/groups/{id}/membersWithLicenseErrors",
            get(groups::members_with_license_errors),
        )
        .route("/groups/{id}/members/$count", get(groups::members_count))
        .route("/groups/{id}/members/$ref", post(groups::add_member))
        .route(
            "/groups/{id}/members/{member}/$ref",
            axum::routing::delete(groups::remove_member),
        )
        .route("/subscribedSkus", get(skus::list))
        .route("/subscribedSkus/{id}", get(skus::get_one))
        .route("/directory/subscriptions", get(skus::subscriptions))
        .route("/directory/subscriptions/{id}", get(skus::subscription))
}

/// One path parameter, with a Graph error envelope when it cannot be read.
pub(crate) struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Id(clean(v)?)),
            Err(e) => Err(ApiError(AppError::invalid(
                "invalidPath",
                format!("The path could not be read: {}", e.body_text()),
            ))),
        }
    }
}

fn clean(v: String) -> Result<String, ApiError> {
    if v.chars().any(char::is_control) {
        return Err(ApiError(AppError::invalid(
            "invalidPath",
            "The id in the path contains control characters; use an object id or userPrincipalName.",
        )));
    }
    Ok(v)
}

/// Two path parameters (group and member).
pub(crate) struct Ids(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path((a, b))) => Ok(Ids(clean(a)?, clean(b)?)),
            Err(e) => Err(ApiError(AppError::invalid(
                "invalidPath",
                format!("The path could not be read: {}", e.body_text()),
            ))),
        }
    }
}

/// The absolute base URL of this API as the client reached it, e.g. `http://127.0.0.1:8080/v1.0`.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}/v1.0")
}

/// A collection response: `@odata.context`, optional `@odata.count` and `@odata.nextLink`, `value`.
pub(crate) fn collection(
    headers: &HeaderMap,
    context: &str,
    items: Vec<Value>,
    count: Option<i64>,
    next: Option<String>,
) -> Value {
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        json!(format!("{}/$metadata#{context}", base_url(headers))),
    );
    if let Some(c) = count {
        m.insert("@odata.count".into(), json!(c));
    }
    if let Some(n) = next {
        m.insert("@odata.nextLink".into(), json!(n));
    }
    m.insert("value".into(), Value::Array(items));
    Value::Object(m)
}

/// A single-entity response: `v` with `@odata.context` `<base>/$metadata#<set>/$entity`.
pub(crate) fn entity(headers: &HeaderMap, set: &str, mut v: Value) -> Response {
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            json!(format!("{}/$metadata#{set}/$entity", base_url(headers))),
        );
    }
    axum::Json(v).into_response()
}

/// The `@odata.nextLink` for the page after `last`: the same request with a new `$skiptoken`.
pub(crate) fn next_link(
    headers: &HeaderMap,
    path: &str,
    q: &odata::Query,
    last: uuid::Uuid,
) -> String {
    let mut parts = q.keep.clone();
    parts.push(format!("$skiptoken={}", odata::skiptoken(last)));
    format!("{}{path}?{}", base_url(headers), parts.join("&"))
}

/// Keeps only the selected properties (and `id` and annotations) of an object. A selected
/// property the object does not carry is `null`, as Graph answers it (`passwordProfile` is
/// never returned: a password is write-only).
pub(crate) fn select(mut v: Value, select: &Option<Vec<&'static str>>) -> Value {
    if let (Some(keep), Value::Object(m)) = (select, &mut v) {
        m.retain(|k, _| k == "id" || k.starts_with('@') || keep.contains(&k.as_str()));
        for k in keep {
            if !m.contains_key(*k) {
                m.insert((*k).to_string(), Value::Null);
            }
        }
    }
    v
}

/// The body of a create or update request as a JSON object.
pub(crate) fn object(body: Value, what: &str) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError(AppError::invalid(
            "invalidBody",
            format!("The body must be a JSON object describing the {what}."),
        ))),
    }
}
