//! The sign-in page.

use crate::csrf;
use crate::frame::Frame;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::Query;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

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

/// `GET /sign-in`: the form, with a fresh pre-session CSRF token in a cookie and the form.
pub async fn show(headers: HeaderMap, Query(q): Query<SignInQuery>) -> Response {
    let token = seatkeeper_app::auth::random_secret("sks_");
    let page = SignInPage {
        frame: Frame::anonymous("Sign in", token.clone()),
        next: safe_next(q.next.as_deref()),
        user_name: String::new(),
        ask_organization: false,
        organization: String::new(),
        error: None,
    };
    let secure = crate::cookies::is_https(&headers, false);
    let mut r = page.into_response();
    if let Ok(v) = crate::cookies::set(csrf::SIGN_IN_COOKIE, &token, secure, Some(3600)).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}
