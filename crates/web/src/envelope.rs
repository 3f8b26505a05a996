//! The error envelope every non-2xx answer carries, as Rust types (shared by /api/v1 and /v1.0).

use serde::Serialize;
use utoipa::ToSchema;

/// The error envelope of every non-2xx answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable machine-readable code, camelCase (e.g. notEnoughLicenses, belowAssigned,
    /// invalidJson, forbidden, notFound).
    pub code: String,
    /// What went wrong and what to do, in English.
    pub message: String,
    pub inner_error: InnerError,
    /// For a refused batch: one entry per user and reason. Absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ErrorDetail>, required = false)]
    pub details: Vec<serde_json::Value>,
}

/// Where and when the error happened, for the server's log.
#[derive(Serialize, ToSchema)]
pub struct InnerError {
    #[serde(rename = "request-id")]
    #[schema(format = Uuid)]
    pub request_id: String,
    /// UTC, to the second, without an offset (as Graph sends it).
    pub date: String,
}

/// One user's problem in a refused batch.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// The user id the detail is about.
    #[schema(format = Uuid)]
    pub target: String,
    pub user_principal_name: String,
}
