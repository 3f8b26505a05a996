//! The development clock (SPEC 5): read and set it, and run the background jobs at once.
//! Without `--dev-clock` these routes answer exactly as if they did not exist.

use super::support::{parse_time, ts};
use crate::error::{ApiError, ErrorInfo, bad_request};
use crate::extract::{Auth, Json, JsonError};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use serde::Deserialize;
use serde_json::json;

/// The same answer as for any path the server does not have.
fn absent(uri: &Uri) -> Response {
    ErrorInfo::new(
        StatusCode::NOT_FOUND,
        "notFound",
        "Request_ResourceNotFound",
        format!(
            "No such endpoint: /api/v1{}. The APIs are under /v1.0 (Graph-compatible) and /api/v1 (see /api/v1/openapi.json).",
            uri.path()
        ),
    )
    .into_response()
}

fn respond<T: IntoResponse>(r: Result<T, ApiError>) -> Response {
    match r {
        Ok(v) => v.into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn clock(State(app): State<App>, uri: Uri, auth: Result<Auth, ApiError>) -> Response {
    if !app.clock.is_dev() {
        return absent(&uri);
    }
    respond(auth.and_then(|Auth(actor)| {
        let now = app.dev_clock(&actor)?;
        Ok(axum::Json(json!({ "now": ts(now) })))
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockBody {
    now: Option<String>,
}

pub async fn set_clock(
    State(app): State<App>,
    uri: Uri,
    auth: Result<Auth, ApiError>,
    body: Result<Json<ClockBody>, JsonError>,
) -> Response {
    if !app.clock.is_dev() {
        return absent(&uri);
    }
    let Auth(actor) = match auth {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let to = match body.now.as_deref() {
        Some(v) => parse_time("now", v),
        None => Err(bad_request(
            "missingProperty",
            "now is required: the time to set, in RFC 3339 like 2030-01-31T12:00:00Z.",
        )),
    };
    let to = match to {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    respond(
        app.set_dev_clock(&actor, to)
            .await
            .map(|now| axum::Json(json!({ "now": ts(now) })))
            .map_err(ApiError),
    )
}

pub async fn run_jobs(State(app): State<App>, uri: Uri, auth: Result<Auth, ApiError>) -> Response {
    if !app.clock.is_dev() {
        return absent(&uri);
    }
    let Auth(actor) = match auth {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    respond(
        app.run_jobs_as(&actor)
            .await
            .map(axum::Json)
            .map_err(ApiError),
    )
}
