//! The development clock (SPEC 5): read and set it, and run the background jobs at once.
//! Without `--dev-clock` these routes answer exactly as if they did not exist.

use super::model::{Clock, JobReport};
use super::support::{parse_time, ts};
use super::{BadRequest, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType};
use crate::error::{ApiError, ErrorInfo, bad_request};
use crate::extract::{Auth, Json, JsonError};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use serde::Deserialize;
use utoipa::ToSchema;

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

/// The development clock (Global admin)
///
/// Only with `serve --dev-clock`; otherwise this route answers 404 as if it did not exist.
#[utoipa::path(
    get,
    path = "/dev/clock",
    operation_id = "getClock",
    tag = "Development clock",
    responses(
        (status = 200, description = "OK", body = Clock),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn clock(State(app): State<App>, uri: Uri, auth: Result<Auth, ApiError>) -> Response {
    if !app.clock.is_dev() {
        return absent(&uri);
    }
    respond(auth.and_then(|Auth(actor)| {
        let now = app.dev_clock(&actor)?;
        Ok(axum::Json(Clock { now: ts(now) }))
    }))
}

/// The time to set the development clock to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClockRequest)]
pub struct ClockBody {
    /// RFC 3339, like 2030-01-31T12:00:00Z.
    #[schema(required = true, nullable = false, format = DateTime)]
    now: Option<String>,
}

/// Set the development clock (Global admin)
///
/// Only with `serve --dev-clock`, a development and demo setting: the clock is the whole
/// server's (every organization on it sees the new time) and is not kept across a restart. It
/// keeps running from the new time; background jobs act on it within a second. Times from
/// 1970-01-01 up to (not including) 9999-01-01; others are refused (400 clockOutOfRange).
#[utoipa::path(
    put,
    path = "/dev/clock",
    operation_id = "setClock",
    tag = "Development clock",
    request_body = ClockBody,
    responses(
        (status = 200, description = "OK", body = Clock),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
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
            .map(|now| axum::Json(Clock { now: ts(now) }))
            .map_err(ApiError),
    )
}

/// Run the background jobs now (Global admin)
///
/// Only with `serve --dev-clock`. Runs the subscription lifecycle and delivers due e-mail, then
/// answers with what was done. No body is needed.
#[utoipa::path(
    post,
    path = "/dev/jobs/run",
    operation_id = "runJobs",
    tag = "Development clock",
    responses(
        (status = 200, description = "OK", body = JobReport),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
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
            .map(|r| axum::Json(JobReport::from(r)))
            .map_err(ApiError),
    )
}
