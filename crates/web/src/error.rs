//! Errors to HTTP, in one place. Every error body is the Graph envelope
//! `{"error": {"code", "message", "innerError": {"request-id", "date"}, "details"?}}`;
//! /api/v1 uses stable camelCase codes, /v1.0 uses Graph's codes (see [`graph_codes`]).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::AppError;
use seatkeeper_domain::DomainError;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What an error response says, kept on the response so the Graph layer can re-label it.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub code: String,
    pub graph_code: &'static str,
    pub message: String,
    pub details: Vec<serde_json::Value>,
    /// Rendered with Graph's codes (set under /v1.0).
    pub graph: bool,
    /// When it happened, by the server's clock (the development clock when set); stamped by
    /// [`stamp_errors`] on the way out.
    pub date: Option<seatkeeper_domain::Time>,
    /// Seconds to wait before trying again (`Retry-After`), for a 429.
    pub retry_after: Option<u64>,
}

impl ErrorInfo {
    pub fn new(
        status: StatusCode,
        code: &str,
        graph_code: &'static str,
        message: impl Into<String>,
    ) -> ErrorInfo {
        ErrorInfo {
            status,
            code: code.to_string(),
            graph_code,
            message: message.into(),
            details: vec![],
            graph: false,
            date: None,
            retry_after: None,
        }
    }

    pub fn body(&self) -> crate::envelope::ErrorEnvelope {
        use crate::envelope::{ErrorBody, ErrorEnvelope, InnerError};
        ErrorEnvelope {
            error: ErrorBody {
                code: if self.graph {
                    self.graph_code
                } else {
                    self.code.as_str()
                }
                .to_string(),
                message: self.message.clone(),
                inner_error: InnerError {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    date: self
                        .date
                        .unwrap_or_default()
                        .format("%Y-%m-%dT%H:%M:%S")
                        .to_string(),
                },
                details: self.details.clone(),
            },
        }
    }

    pub fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r.extensions_mut().insert(self);
        r
    }
}

fn domain_info(e: &DomainError) -> ErrorInfo {
    if let DomainError::GuestNeedsGlobalAdmin { .. } = e {
        return ErrorInfo::new(
            StatusCode::FORBIDDEN,
            e.code(),
            "Authorization_RequestDenied",
            e.to_string(),
        );
    }
    let mut info = ErrorInfo::new(
        StatusCode::BAD_REQUEST,
        e.code(),
        "Request_BadRequest",
        e.to_string(),
    );
    if let DomainError::Batch { problems } = e {
        info.details = problems
            .iter()
            .map(|p| json!({"code": p.error.code(), "message": p.error.to_string(), "target": p.user_id, "userPrincipalName": p.user}))
            .collect();
    }
    info
}

pub fn info_of(e: &AppError) -> ErrorInfo {
    match e {
        AppError::Domain(d) => domain_info(d),
        AppError::Purchase(r) => {
            use seatkeeper_domain::selfservice::PurchaseRefusal;
            let (status, graph) = if r.is_forbidden() {
                (StatusCode::FORBIDDEN, "Authorization_RequestDenied")
            } else if matches!(r, PurchaseRefusal::PaymentMethodRequired { .. }) {
                (StatusCode::BAD_REQUEST, "Request_BadRequest")
            } else {
                (StatusCode::CONFLICT, "Request_BadRequest")
            };
            ErrorInfo::new(status, r.code(), graph, r.to_string())
        }
        AppError::Invalid { code, message } => ErrorInfo::new(
            StatusCode::BAD_REQUEST,
            code,
            "Request_BadRequest",
            message.clone(),
        ),
        AppError::NotFound(m) => ErrorInfo::new(
            StatusCode::NOT_FOUND,
            "notFound",
            "Request_ResourceNotFound",
            m.clone(),
        ),
        AppError::Conflict { code, message } => ErrorInfo::new(
            StatusCode::CONFLICT,
            code,
            "Request_BadRequest",
            message.clone(),
        ),
        AppError::ConflictWith {
            code,
            message,
            detail,
        } => {
            let mut info = ErrorInfo::new(
                StatusCode::CONFLICT,
                code,
                "Request_BadRequest",
                message.clone(),
            );
            info.details = vec![detail.clone()];
            info
        }
        AppError::Forbidden(m) => ErrorInfo::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Authorization_RequestDenied",
            m.clone(),
        ),
        AppError::PaymentDeclined(m) => ErrorInfo::new(
            StatusCode::PAYMENT_REQUIRED,
            "PaymentDeclined",
            "PaymentDeclined",
            m.clone(),
        ),
        AppError::Unauthorized(m) => ErrorInfo::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "InvalidAuthenticationToken",
            m.clone(),
        ),
        AppError::TooManyRequests {
            message,
            retry_after_secs,
        } => {
            let mut info = ErrorInfo::new(
                StatusCode::TOO_MANY_REQUESTS,
                "tooManyRequests",
                "TooManyRequests",
                message.clone(),
            );
            info.retry_after = Some(*retry_after_secs);
            info
        }
        AppError::Busy(_) => ErrorInfo::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "serviceNotAvailable",
            "The server is busy; try again in a moment.",
        ),
        AppError::StorageFull(err) => {
            tracing::error!("the database has no space left: {err}");
            ErrorInfo::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storageFull",
                "serviceNotAvailable",
                e.to_string(),
            )
        }
        AppError::Store(err) => {
            let id = uuid::Uuid::new_v4();
            tracing::error!(%id, "database error: {err}");
            ErrorInfo::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "generalException",
                format!(
                    "The server could not complete the request (error {id}); it has been logged. Nothing was changed."
                ),
            )
        }
        AppError::Internal(err) => {
            let id = uuid::Uuid::new_v4();
            tracing::error!(%id, "internal error: {err:#}");
            ErrorInfo::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "generalException",
                format!(
                    "The server could not complete the request (error {id}); it has been logged. Nothing was changed."
                ),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        info_of(&self.0).into_response()
    }
}

/// A 400 with a stable code.
pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError(AppError::invalid(code, message))
}

/// Graph's codes for the Graph-compatible API: conflicts are 400s there.
pub async fn graph_codes(resp: Response) -> Response {
    let Some(mut info) = resp.extensions().get::<ErrorInfo>().cloned() else {
        return resp;
    };
    if info.status == StatusCode::CONFLICT {
        info.status = StatusCode::BAD_REQUEST;
    }
    info.graph = true;
    rerender(resp, info)
}

/// Renders `info` again in place of `resp`'s body, keeping its other headers.
fn rerender(resp: Response, info: ErrorInfo) -> Response {
    let mut r = (info.status, Json(info.body())).into_response();
    for (k, v) in resp.headers() {
        if k != header::CONTENT_LENGTH && k != header::CONTENT_TYPE {
            r.headers_mut().insert(k.clone(), v.clone());
        }
    }
    r.extensions_mut().insert(info);
    r
}

/// Stamps every error body's `innerError.date` with the server's clock (so that under the
/// development clock errors tell the time the rest of the server sees).
pub async fn stamp_errors(
    axum::extract::State(app): axum::extract::State<seatkeeper_app::App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let resp = next.run(req).await;
    let Some(mut info) = resp.extensions().get::<ErrorInfo>().cloned() else {
        return resp;
    };
    info.date = Some(app.now());
    rerender(resp, info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatkeeper_domain::{SkuId, UserId};

    #[test]
    fn status_mapping() {
        let cases: Vec<(AppError, StatusCode, &str)> = vec![
            (
                AppError::not_found("x"),
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
            ),
            (
                AppError::Forbidden("x".into()),
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
            ),
            (
                AppError::Unauthorized("x".into()),
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
            ),
            (
                AppError::invalid("c", "x"),
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
            ),
            (
                AppError::conflict("c", "x"),
                StatusCode::CONFLICT,
                "Request_BadRequest",
            ),
            (
                AppError::PaymentDeclined("declined".into()),
                StatusCode::PAYMENT_REQUIRED,
                "PaymentDeclined",
            ),
            (
                DomainError::NotEnoughLicenses {
                    sku_id: SkuId::new(),
                    product: "P".into(),
                    needed: 3,
                    available: 1,
                }
                .into(),
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
            ),
            (
                DomainError::UsageLocationMissing {
                    user_id: UserId::new(),
                    user: "u".into(),
                }
                .into(),
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
            ),
            (
                AppError::Internal(anyhow::anyhow!("boom")),
                StatusCode::INTERNAL_SERVER_ERROR,
                "generalException",
            ),
        ];
        for (e, status, graph) in cases {
            let i = info_of(&e);
            assert_eq!(i.status, status, "{e:?}");
            assert_eq!(i.graph_code, graph, "{e:?}");
        }
    }

    #[test]
    fn too_many_requests_says_when_to_retry() {
        let e = AppError::TooManyRequests {
            message: "wait 30 seconds".into(),
            retry_after_secs: 30,
        };
        let r = info_of(&e).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            r.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("30"))
        );
    }

    #[test]
    fn not_enough_message_says_what_to_do() {
        let e: AppError = DomainError::NotEnoughLicenses {
            sku_id: SkuId::new(),
            product: "SUITE".into(),
            needed: 3,
            available: 1,
        }
        .into();
        let m = info_of(&e).message;
        assert!(m.contains("does not have any available licenses."));
        assert!(
            m.contains("3 licenses needed, 1 available — buy 2 more or unassign someone."),
            "{m}"
        );
    }
}
