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

/// A request's bearer token, not checked yet: the use case it is handed to checks it (a
/// license change in its own transaction, `App::assign_license_as`, once the license writer
/// knows the token). 401 when there is none. A
/// request refused before it gets there (a bad path or body) is checked with
/// [`Bearer::authenticate`] first, so that a caller without a working token is answered 401
/// and learns nothing more, as with [`Auth`].
pub struct Bearer(pub String);

impl Bearer {
    /// The bearer as [`Auth`] resolves it. Errors: 401 for a token that does not work.
    pub async fn authenticate(&self, app: &App) -> Result<Actor, ApiError> {
        Ok(app.authenticate(&self.0).await?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Bearer(bearer(parts)?.to_string()))
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
        // Every body is a JSON object. serde also reads a struct from an array of its fields in
        // order (`["x", 5]`), which no client means, and its refusal names our Rust types:
        // refuse any other valid JSON with the fields the endpoint expects.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if first != Some(b'{')
            && parts
                .headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("json"))
            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok()
        {
            return Err(JsonError(not_an_object(&fields_of::<T>())));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        let v = match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return Err(JsonError(json_rejection(rejection))),
        };
        Ok(Json(v))
    }
}

/// The 400 for a body that is valid JSON but not an object, naming the fields expected.
fn not_an_object(fields: &[&str]) -> ErrorInfo {
    let message = if fields.is_empty() {
        "The body must be a JSON object, like {\"name\": \"value\"}.".to_string()
    } else {
        format!("The body must be a JSON object with {}.", fields.join(", "))
    };
    ErrorInfo::new(
        StatusCode::BAD_REQUEST,
        "invalidBody",
        "BadRequest",
        message,
    )
}

/// The JSON field names of `T` when it is a plain struct (empty otherwise), read from its
/// `Deserialize` implementation without any data.
fn fields_of<T: DeserializeOwned>() -> Vec<&'static str> {
    let mut fields = Vec::new();
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// A deserializer that only records the field names a struct asks for, then stops.
struct FieldNames<'a>(&'a mut Vec<&'static str>);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names read")
    }
}

impl std::error::Error for Stop {}

impl serde::de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0.extend_from_slice(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
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
                without_type_names(e.body_text().trim_start_matches(
                    "Failed to deserialize the JSON body into the target type: "
                ))
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

/// serde's words without the names of our Rust types ("expected struct NewCardBody" →
/// "expected an object").
fn without_type_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("struct ").or_else(|| rest.find("enum ")) {
        let (before, after) = rest.split_at(i);
        out.push_str(before);
        let is_struct = after.starts_with("struct ");
        let name_start = if is_struct { 7 } else { 5 };
        let name_len = after[name_start..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len() - name_start);
        out.push_str(if is_struct {
            "an object"
        } else {
            "one of the allowed values"
        });
        rest = &after[name_start + name_len..];
        // "with 6 elements": the array form no client means.
        if is_struct && let Some(tail) = rest.strip_prefix(" with ") {
            let end = tail.find(" at line").unwrap_or(tail.len());
            rest = &tail[end..];
        }
    }
    out.push_str(rest);
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_words_lose_our_type_names() {
        assert_eq!(
            without_type_names(
                "invalid type: string \"x\", expected struct AddressBody at line 1 column 5"
            ),
            "invalid type: string \"x\", expected an object at line 1 column 5"
        );
        assert_eq!(
            without_type_names(
                "invalid length 0, expected struct NewCardBody with 6 elements at line 1 column 2"
            ),
            "invalid length 0, expected an object at line 1 column 2"
        );
    }
}
