//! Errors as pages: our own 404, 403 and 500 pages (never a stack trace), and the rule that
//! a page shows a refusal in the same words as the API.

use crate::frame::Frame;
use askama::Template;
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use seatkeeper_app::AppError;
use seatkeeper_domain::catalog::Catalog;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    frame: Frame,
    status: u16,
    heading: String,
    message: String,
    /// A link onwards (href, words), e.g. back to Active users.
    back: Option<(String, String)>,
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): go to the sign-in page, then come back to `next`.
    SignIn {
        next: String,
        /// Why the session ended, when the server knows (see [`crate::sign_in::ended_words`]).
        ended: Option<&'static str>,
    },
    /// The user must choose a new password first: go to the change-password page, then `next`.
    MustChangePassword { next: String },
    /// Renders our error page with this status and message.
    Status { status: StatusCode, message: String },
    /// What the page acted on no longer exists (the API's 404 naming `key`, an id or user
    /// name): [`explain_gone`] says it in our words, with the name it had.
    Gone { key: String, message: String },
}

/// The key of a [`PageError::Gone`], carried on its response for [`explain_gone`].
#[derive(Debug, Clone)]
struct GoneKey(String);

/// Whether `e` says that what a form acted on no longer exists (another tab or admin deleted
/// it): a whole page in our words (see [`explain_gone`]), never the API's words on the form.
/// A refusal in the words a form shows: the API's words, except that plan conflicts are
/// listed all at once, one a line, in the display names of the apps-and-services switches
/// (the banner keeps the line breaks).
pub fn refusal_text(catalog: &Catalog, e: &AppError) -> String {
    use seatkeeper_domain::DomainError;
    let AppError::Domain(d) = e else {
        return e.to_string();
    };
    let mut lines: Vec<String> = Vec::new();
    // Which kinds of plan problems the lines are: two plans on together, a required plan off.
    let (mut exclusive, mut missing) = (false, false);
    let mut kinds = |conflicts: &[String]| {
        for c in conflicts {
            if seatkeeper_domain::plans::is_exclusive_conflict(c) {
                exclusive = true;
            } else {
                missing = true;
            }
        }
    };
    match d {
        DomainError::Batch { problems } => {
            let several = problems.len() > 1;
            for p in problems {
                let conflicts = p.error.plan_conflicts();
                kinds(conflicts);
                if conflicts.is_empty() {
                    lines.push(domain_words(catalog, &p.error));
                }
                for c in conflicts {
                    lines.push(if several {
                        format!("{}: {c}", p.user)
                    } else {
                        c.clone()
                    });
                }
            }
        }
        d => {
            kinds(d.plan_conflicts());
            lines.extend(d.plan_conflicts().iter().cloned())
        }
    }
    let has_conflicts = match d {
        DomainError::Batch { problems } => problems
            .iter()
            .any(|p| !p.error.plan_conflicts().is_empty()),
        d => !d.plan_conflicts().is_empty(),
    };
    if !has_conflicts {
        return match d {
            DomainError::Batch { .. } => format!(
                "The licenses could not be assigned; nothing was changed: {}",
                lines.join(" | ")
            ),
            d => domain_words(catalog, d),
        };
    }
    let what = match (exclusive, missing) {
        (true, false) => "These apps and services cannot be on together",
        (false, _) => "These apps and services need others that are off",
        (true, true) => "These apps and services cannot be on together or need others that are off",
    };
    let head = if lines.len() == 1 {
        format!("{what}; nothing was changed:")
    } else {
        format!("{what}; nothing was changed. Fix each of these:")
    };
    std::iter::once(head)
        .chain(lines.into_iter().map(|l| format!("• {l}")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A domain refusal in the pages' words: the API's, except that a product is named by its
/// name, never by its SKU id or part number.
fn domain_words(catalog: &Catalog, d: &seatkeeper_domain::DomainError) -> String {
    use seatkeeper_domain::DomainError;
    let name = |sku: seatkeeper_domain::SkuId| {
        catalog
            .product(sku)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| sku.to_string())
    };
    match d {
        DomainError::NotEnoughLicenses {
            sku_id,
            needed,
            available,
            ..
        } => format!(
            "{} does not have enough available licenses: {needed} {} needed, {available} available — buy {} more or unassign someone.",
            name(*sku_id),
            if *needed == 1 { "license" } else { "licenses" },
            needed.saturating_sub(*available)
        ),
        DomainError::ProductNotOwned { sku_id, .. } => format!(
            "The organization has no active subscription for {}: buy it first.",
            name(*sku_id)
        ),
        d => d.to_string(),
    }
}

pub fn is_gone(e: &AppError) -> bool {
    matches!(e, AppError::NotFound(m) if gone_key(m).is_some())
}

/// The id or name an API 404 names: `Resource '…' does not exist…` (users, groups, as Graph
/// says it) or `Subscription '…' does not exist.`.
fn gone_key(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("Resource '")
        .or_else(|| message.strip_prefix("Subscription '"))?;
    let (key, tail) = rest.split_once('\'')?;
    tail.starts_with(" does not exist").then(|| key.to_string())
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
            AppError::NotFound(m) => {
                if let Some(key) = gone_key(m) {
                    return PageError::Gone {
                        key,
                        message: e.to_string(),
                    };
                }
                StatusCode::NOT_FOUND
            }
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unauthorized(_) => {
                return PageError::SignIn {
                    next: "/".to_string(),
                    ended: None,
                };
            }
            AppError::Conflict { .. } | AppError::ConflictWith { .. } => StatusCode::CONFLICT,
            AppError::Domain(_) | AppError::Invalid { .. } => StatusCode::BAD_REQUEST,
            AppError::Purchase(r) if r.is_forbidden() => StatusCode::FORBIDDEN,
            AppError::Purchase(
                seatkeeper_domain::selfservice::PurchaseRefusal::PaymentMethodRequired { .. },
            ) => StatusCode::BAD_REQUEST,
            AppError::Purchase(_) => StatusCode::CONFLICT,
            AppError::PaymentDeclined(_) => StatusCode::PAYMENT_REQUIRED,
            AppError::StorageFull(err) => {
                tracing::error!("the database has no space left: {err}");
                StatusCode::INSUFFICIENT_STORAGE
            }
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
    error_page_with_link(status, None, message, None)
}

/// Renders an error page with its own heading (else one by status) and a link onwards (href,
/// words).
fn error_page_with_link(
    status: StatusCode,
    heading: Option<&str>,
    message: &str,
    back: Option<(String, String)>,
) -> Response {
    let heading = heading.unwrap_or(match status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::FORBIDDEN => "You can't do that here",
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong",
        StatusCode::CONFLICT | StatusCode::BAD_REQUEST | StatusCode::PAYMENT_REQUIRED => {
            "That didn't work"
        }
        _ => "That didn't work",
    });
    let page = ErrorPage {
        frame: Frame::anonymous(heading, String::new()),
        status: status.as_u16(),
        heading: heading.to_string(),
        message: message.to_string(),
        back,
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
            PageError::SignIn { next, ended } => {
                let target = if next == "/" || !next.starts_with('/') || next.starts_with("//") {
                    "/sign-in".to_string()
                } else {
                    let encoded: String =
                        form_urlencoded::byte_serialize(next.as_bytes()).collect();
                    format!("/sign-in?next={encoded}")
                };
                let mut r = Redirect::to(&target).into_response();
                if let Some(code) = ended
                    && let Ok(v) = crate::cookies::set(
                        crate::sign_in::ENDED_COOKIE,
                        code,
                        false,
                        Some(crate::sign_in::ENDED_SECS),
                    )
                    .parse()
                {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
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
            PageError::Gone { key, message } => {
                let mut r = error_page(StatusCode::NOT_FOUND, &message);
                r.extensions_mut().insert(GoneKey(key));
                r
            }
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

/// Where a page of `path` sends someone whose user, group or subscription is gone: the list it
/// came from.
fn list_of(kind: Option<&str>, path: &str) -> (String, String) {
    let (href, words) = match kind {
        Some("user") => ("/users", "Back to Active users"),
        Some("group") => ("/groups", "Back to Groups"),
        _ if path.starts_with("/users") => ("/users", "Back to Active users"),
        _ if path.starts_with("/groups") => ("/groups", "Back to Groups"),
        _ if path.starts_with("/licenses") => ("/licenses", "Back to Licenses"),
        _ if path.starts_with("/products") => ("/products", "Back to Your products"),
        _ => ("/", "Go to the home page"),
    };
    (href.to_string(), words.to_string())
}

/// Says in the admin center's words that what a page acted on is gone, for every page at
/// once: a [`PageError::Gone`] (the API's "Resource '…' does not exist") becomes "Adele Vance
/// was deleted; nothing was saved." (the name from the audit log's deletion), 404, with a
/// link back to the list it came from.
pub async fn explain_gone(
    axum::extract::State(app): axum::extract::State<seatkeeper_app::App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let session = crate::cookies::get(req.headers(), crate::cookies::SESSION).map(str::to_string);
    let posted =
        req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD;
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let Some(GoneKey(key)) = resp.extensions().get::<GoneKey>().cloned() else {
        return resp;
    };
    let deleted = match &session {
        Some(secret) => match crate::session::resolve(&app, secret).await {
            Ok(s) => app.deleted(&s.actor, &key).await.ok().flatten(),
            Err(_) => None,
        },
        None => None,
    };
    let saved = if posted { "; nothing was saved." } else { "." };
    let (message, kind) = match &deleted {
        Some(d) => (
            format!("{} was deleted{saved}", d.name),
            Some(d.kind.as_str()),
        ),
        None => (
            format!("'{key}' does not exist: it may have been deleted in another tab{saved}"),
            None,
        ),
    };
    let heading = if deleted.is_some() {
        "Already deleted"
    } else {
        "Not found"
    };
    error_page_with_link(
        StatusCode::NOT_FOUND,
        Some(heading),
        &message,
        Some(list_of(kind, &path)),
    )
}
