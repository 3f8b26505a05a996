//! A message shown once on the next page after a form post ("3 users were assigned
//! Microsoft 365 E3."): post, redirect, get. The message travels in a short-lived cookie that the
//! next page shows and clears.

use crate::cookies;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// The cookie that carries the message.
pub const COOKIE: &str = "sk_notice";

/// Redirects (303) to `to` and shows `message` there once; `error` shows it as a refusal.
/// Works for plain form posts and for htmx (which follows the redirect itself).
pub fn redirect(to: &str, message: &str, error: bool) -> Response {
    let value: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(if error { "e" } else { "m" }, message)
        .finish();
    let mut r = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookies::set(COOKIE, &value, false, Some(60))) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The message the request carries, if any: (text, is an error).
pub fn read(headers: &axum::http::HeaderMap) -> Option<(String, bool)> {
    let raw = cookies::get(headers, COOKIE)?;
    form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "m" || k == "e")
        .map(|(k, v)| (v.chars().take(500).collect(), k == "e"))
}

/// Clears the message cookie, and the cookie of a token just created (see
/// [`crate::tokens::create`]), once a page (not a redirect) has been answered; a page that
/// showed a token's secret is never cached.
pub async fn clear_after_showing(req: Request, next: Next) -> Response {
    let had = cookies::get(req.headers(), COOKIE).is_some();
    let had_token = cookies::get(req.headers(), crate::tokens::NEW_TOKEN_COOKIE).is_some();
    let mut resp = next.run(req).await;
    if resp.status().is_redirection() {
        return resp;
    }
    if had && let Ok(v) = HeaderValue::from_str(&cookies::set(COOKIE, "", false, Some(0))) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    if had_token {
        if let Ok(v) = HeaderValue::from_str(&cookies::set(
            crate::tokens::NEW_TOKEN_COOKIE,
            "",
            false,
            Some(0),
        )) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// "1 license is available again.", "3 licenses are available again.": after unassigning.
pub fn available_again(n: usize) -> String {
    if n == 1 {
        "1 license is available again.".into()
    } else {
        format!("{n} licenses are available again.")
    }
}
