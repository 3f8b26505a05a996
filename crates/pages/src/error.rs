//! Errors as pages: our own 404, 403 and 500 pages (never a stack trace), and the rule that
//! a page shows a refusal in the same words as the API.

use crate::frame::Frame;
use askama::Template;
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use seatkeeper_app::AppError;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    frame: Frame,
    status: u16,
    heading: String,
    message: String,
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): go to the sign-in page, then come back to `next`.
    SignIn { next: String },
    /// The user must choose a new password first: go to the change-password page, then `next`.
    MustChangePassword { next: String },
    /// Renders our error page with this status and message.
    Status { status: StatusCode, message: String },
}

impl PageError {
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::Status {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> PageError {
        PageError::Status {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::Status {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<AppError> for PageError {
    /// The API's words for the API's refusals; a failure of the server itself is logged and
    /// shown without detail.
    fn from(e: AppError) -> PageError {
        let status = match &e {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unauthorized(_) => {
                return PageError::SignIn {
                    next: "/".to_string(),
                };
            }
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Domain(_) | AppError::Invalid { .. } => StatusCode::BAD_REQUEST,
            AppError::Purchase(r) if r.is_forbidden() => StatusCode::FORBIDDEN,
            AppError::Purchase(
                seatkeeper_domain::selfservice::PurchaseRefusal::PaymentMethodRequired { .. },
            ) => StatusCode::BAD_REQUEST,
            AppError::Purchase(_) => StatusCode::CONFLICT,
            AppError::PaymentDeclined(_) => StatusCode::PAYMENT_REQUIRED,
            _ => {
                tracing::error!("a page failed: {e}");
                return PageError::Status {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: INTERNAL.to_string(),
                };
            }
        };
        PageError::Status {
            status,
            message: e.to_string(),
        }
    }
}

const INTERNAL: &str = "Something went wrong on the server and nothing was changed. It has been logged; try again in a moment.";

/// Renders an error page (status, heading by status, message).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let heading = match status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::FORBIDDEN => "You can't do that here",
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong",
        StatusCode::CONFLICT | StatusCode::BAD_REQUEST | StatusCode::PAYMENT_REQUIRED => {
            "That didn't work"
        }
        _ => "That didn't work",
    };
    let page = ErrorPage {
        frame: Frame::anonymous(heading, String::new()),
        status: status.as_u16(),
        heading: heading.to_string(),
        message: message.to_string(),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("the error page failed to render: {e}");
            (status, message.to_string()).into_response()
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { next } => {
                let target = if next == "/" || !next.starts_with('/') || next.starts_with("//") {
                    "/sign-in".to_string()
                } else {
                    let encoded: String =
                        form_urlencoded::byte_serialize(next.as_bytes()).collect();
                    format!("/sign-in?next={encoded}")
                };
                let mut r = Redirect::to(&target).into_response();
                r.headers_mut().insert(
                    "hx-redirect",
                    target
                        .parse()
                        .unwrap_or(header::HeaderValue::from_static("/sign-in")),
                );
                r
            }
            PageError::MustChangePassword { next } => {
                let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
                let target = format!("{}?next={encoded}", crate::password::PATH);
                let mut r = Redirect::to(&target).into_response();
                if let Ok(v) = target.parse() {
                    r.headers_mut().insert("hx-redirect", v);
                }
                r
            }
            PageError::Status { status, message } => error_page(status, &message),
        }
    }
}

/// Our 404 page for a path that is no page.
pub async fn not_found_page(uri: Uri) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        &format!(
            "There is no page at {}. Check the address, or start again from the home page.",
            uri.path()
        ),
    )
}

/// Our 500 page, for a handler that failed unexpectedly.
pub fn panic_page() -> Response {
    error_page(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL)
}
