//! The sign-in page.

use crate::csrf;
use crate::error::PageError;
use crate::frame::Frame;
use crate::viewer::Posted;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use seatkeeper_app::sessions::{ClientInfo, Ended, IDLE_TIMEOUT_HOURS};
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::roles::Action;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub frame: Frame,
    /// Where to go after signing in (a path on this server).
    pub next: String,
    pub user_name: String,
    /// Shown when the user name belongs to accounts in several organizations.
    pub ask_organization: bool,
    pub organization: String,
    /// The refusal, in the API's words.
    pub error: Option<String>,
    /// Why the last session ended (see [`ended_words`]).
    pub ended: Option<String>,
}

/// The cookie saying why the browser's session ended, for the sign-in page to say so: a fixed
/// word (see [`ended_words`]), never a secret. Set when a page finds the session ended, and
/// on signing out; cleared on signing in.
pub const ENDED_COOKIE: &str = "sk_ended";
/// How long the sign-in page says why the session ended.
pub const ENDED_SECS: u64 = 600;

/// The word for why a session ended, as [`ENDED_COOKIE`] carries it. Only its holder (the
/// browser that had the session's secret) sees it; an unknown session says no more than that
/// it has ended.
pub fn ended_code(e: &Ended) -> &'static str {
    match e {
        Ended::Unknown => "ended",
        Ended::Idle => "idle",
        Ended::Disabled { .. } => "disabled",
    }
}

/// The sign-in page's line for an [`ENDED_COOKIE`] value.
pub fn ended_words(code: &str) -> Option<String> {
    Some(match code {
        "signed-out" => "You were signed out. Sign in again to continue.".to_string(),
        "ended" => "Your session has ended. Sign in again to continue.".to_string(),
        "idle" => format!(
            "Your session expired after {IDLE_TIMEOUT_HOURS} hours without activity. Sign in again to continue."
        ),
        "disabled" => {
            "This account is disabled. Ask an admin of your organization to enable it.".to_string()
        }
        _ => return None,
    })
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    pub next: Option<String>,
}

/// A path on this server to return to after signing in; anything else goes home.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Where a signed-in user goes on to: `next`, unless it is an admin page and the user has no
/// admin role; then their own page (`/`), never a page that refuses them.
pub fn landing(admin: bool, next: String) -> String {
    let open_to_all = next == "/"
        || next.starts_with("/?")
        || next.starts_with("/account")
        || next.starts_with(crate::password::PATH);
    if admin || open_to_all {
        next
    } else {
        "/".to_string()
    }
}

/// `GET /sign-in`: the form, with a fresh pre-session CSRF token in a cookie and the form.
pub async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> Response {
    let token = seatkeeper_app::auth::random_secret("skf_");
    let page = SignInPage {
        frame: Frame::anonymous("Sign in", token.clone()),
        next: safe_next(q.next.as_deref()),
        user_name: String::new(),
        ask_organization: false,
        organization: String::new(),
        error: None,
        ended: crate::cookies::get(&headers, ENDED_COOKIE).and_then(ended_words),
    };
    let secure = crate::cookies::is_https(&headers, app.config.public_url_is_https());
    let mut r = page.into_response();
    if let Ok(v) = crate::cookies::set(csrf::SIGN_IN_COOKIE, &token, secure, Some(3600)).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The sign-in form as posted.
#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    pub csrf: String,
    pub next: Option<String>,
    #[serde(default)]
    pub user_name: String,
    #[serde(default)]
    pub password: String,
    pub organization: Option<String>,
}

/// Renders the form again with `error` (the password is never sent back), a fresh pre-session
/// CSRF token, and `status`.
fn again(
    app: &App,
    headers: &HeaderMap,
    f: &SignInForm,
    status: StatusCode,
    error: String,
    ask_organization: bool,
) -> Response {
    let token = seatkeeper_app::auth::random_secret("skf_");
    let page = SignInPage {
        frame: Frame::anonymous("Sign in", token.clone()),
        next: safe_next(f.next.as_deref()),
        user_name: f.user_name.clone(),
        ask_organization: ask_organization
            || f.organization.as_deref().is_some_and(|o| !o.is_empty()),
        organization: f.organization.clone().unwrap_or_default(),
        error: Some(error),
        ended: None,
    };
    let secure = crate::cookies::is_https(headers, app.config.public_url_is_https());
    let mut r = (status, page).into_response();
    if let Ok(v) = crate::cookies::set(csrf::SIGN_IN_COOKIE, &token, secure, Some(3600)).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `POST /sign-in`: checks the form's CSRF token against the sign-in cookie, signs in, sets the
/// session cookie (`HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` over HTTPS) and goes on to
/// `next`, or to the change-password page first when the password must be changed. A refusal
/// shows the form again with the app's words.
pub async fn submit(
    State(app): State<App>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(f): Form<SignInForm>,
) -> Response {
    let expected = crate::cookies::get(&headers, csrf::SIGN_IN_COOKIE).unwrap_or("");
    if !csrf::matches(expected, &headers, Some(&f.csrf)) {
        return again(
            &app,
            &headers,
            &f,
            StatusCode::FORBIDDEN,
            csrf::REFUSED.to_string(),
            false,
        );
    }
    let client = ClientInfo {
        // The socket's peer address; no proxy header is trusted.
        ip: extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    let org = f.organization.as_deref().filter(|o| !o.trim().is_empty());
    match app.sign_in(&f.user_name, &f.password, org, &client).await {
        Ok(signed) => {
            let secure = crate::cookies::is_https(&headers, app.config.public_url_is_https());
            let next = landing(
                signed.session.actor.can(Action::Read),
                safe_next(f.next.as_deref()),
            );
            let target = if signed.session.must_change_password {
                let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
                format!("{}?next={encoded}", crate::password::PATH)
            } else {
                next
            };
            let mut r = Redirect::to(&target).into_response();
            for c in [
                crate::cookies::set(crate::cookies::SESSION, &signed.secret, secure, None),
                crate::cookies::set(csrf::SIGN_IN_COOKIE, "", secure, Some(0)),
                crate::cookies::set(ENDED_COOKIE, "", secure, Some(0)),
            ] {
                if let Ok(v) = c.parse() {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Err(AppError::Invalid {
            code: "organizationRequired",
            message,
        }) => again(&app, &headers, &f, StatusCode::BAD_REQUEST, message, true),
        Err(AppError::TooManyRequests {
            message,
            retry_after_secs,
        }) => {
            let mut r = again(
                &app,
                &headers,
                &f,
                StatusCode::TOO_MANY_REQUESTS,
                message,
                false,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            r
        }
        Err(e @ (AppError::Unauthorized(_) | AppError::Invalid { .. })) => again(
            &app,
            &headers,
            &f,
            StatusCode::UNAUTHORIZED,
            e.to_string(),
            false,
        ),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The sign-out form: only its CSRF token.
#[derive(Deserialize)]
pub struct SignOutForm {}

/// `POST /sign-out`: ends the session and clears its cookie.
pub async fn sign_out(
    State(app): State<App>,
    headers: HeaderMap,
    posted: Result<Posted<SignOutForm>, PageError>,
) -> Response {
    if let Err(e) = posted {
        return e.into_response();
    }
    if let Some(secret) = crate::cookies::get(&headers, crate::cookies::SESSION)
        && let Err(e) = app.sign_out(secret).await
    {
        return PageError::from(e).into_response();
    }
    let secure = crate::cookies::is_https(&headers, app.config.public_url_is_https());
    let mut r = Redirect::to("/sign-in").into_response();
    for c in [
        crate::cookies::set(crate::cookies::SESSION, "", secure, Some(0)),
        // Until the browser closes: another tab's next page says why it signs in again.
        crate::cookies::set(ENDED_COOKIE, "signed-out", secure, None),
    ] {
        if let Ok(v) = c.parse() {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}
