//! Request extraction with clear errors: bearer-token auth and JSON bodies.

use crate::error::{ApiError, ErrorInfo, bad_request};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::operator::Caller;
use seatkeeper_app::{Actor, App, AppError};
use serde::de::DeserializeOwned;

/// The bearer token of a request, or 401 when there is none.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let h = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return Err(ApiError(AppError::Unauthorized(
            "Access token is empty. Send 'Authorization: Bearer <token>'; `seatkeeper token create` issues one.".into(),
        )));
    }
    Ok(token)
}

/// The authenticated user of an organization.
pub struct Auth(pub Actor);

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(Auth(app.authenticate(bearer(parts)?).await?))
    }
}

/// The authenticated caller, a user of an organization or the operator (operator token).
pub struct AuthAny(pub Caller);

impl FromRequestParts<App> for AuthAny {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(AuthAny(app.authenticate_caller(bearer(parts)?).await?))
    }
}

/// A JSON body; a bad one is a 400 (or 413/415) that says what is wrong.
pub struct Json<T>(pub T);

pub struct JsonError(ErrorInfo);

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = JsonError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes =
            axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(|e| JsonError(json_rejection(JsonRejection::from(e))))?;
        let req = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
        let v = match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return Err(JsonError(json_rejection(rejection))),
        };
        // Every body is a JSON object. serde also reads a struct from an array of its fields in
        // order (`["x", 5]`), which no client means: refuse it.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(JsonError(ErrorInfo::new(
                StatusCode::BAD_REQUEST,
                "invalidBody",
                "BadRequest",
                "The body must be a JSON object, like {\"name\": \"value\"}.",
            )));
        }
        Ok(Json(v))
    }
}

fn json_rejection(r: JsonRejection) -> ErrorInfo {
    match r {
        JsonRejection::MissingJsonContentType(_) => ErrorInfo::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupportedMediaType",
            "Request_UnsupportedMediaType",
            "Send the body as JSON with 'Content-Type: application/json'.",
        ),
        JsonRejection::JsonSyntaxError(e) => ErrorInfo::new(
            StatusCode::BAD_REQUEST,
            "invalidJson",
            "BadRequest",
            format!(
                "The body is not valid JSON: {}",
                e.body_text()
                    .trim_start_matches("Failed to parse the request body as JSON: ")
            ),
        ),
        JsonRejection::JsonDataError(e) => ErrorInfo::new(
            StatusCode::BAD_REQUEST,
            "invalidBody",
            "BadRequest",
            format!(
                "The body does not have the expected shape: {}",
                e.body_text().trim_start_matches(
                    "Failed to deserialize the JSON body into the target type: "
                )
            ),
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ErrorInfo::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "bodyTooLarge",
                "Request_EntityTooLarge",
                format!(
                    "The body is larger than the {} KiB this server accepts.",
                    crate::MAX_BODY_BYTES / 1024
                ),
            )
        }
        other => ErrorInfo::new(
            other.status(),
            "invalidBody",
            "BadRequest",
            other.body_text(),
        ),
    }
}

/// Parses a GUID path or body value with a message that names the field.
pub fn parse_guid<T: From<uuid::Uuid>>(field: &str, v: &str) -> Result<T, ApiError> {
    uuid::Uuid::parse_str(v.trim()).map(T::from).map_err(|_| {
        bad_request(
            "invalidGuid",
            format!(
                "{field} '{v}' is not a valid GUID (like 3b555118-da6a-4418-894f-7df1e2096870)."
            ),
        )
    })
}
