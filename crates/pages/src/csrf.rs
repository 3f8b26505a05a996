//! Cross-site request forgery protection: every state-changing request from a page carries a
//! token tied to the signed-in session, in the form field [`FIELD`] (plain form posts) or the
//! header [`HEADER`] (htmx sends it from the `hx-headers` of the page's body). The server
//! compares it with the session's own token; a request without it, or with another, is refused.
//! Before sign-in the same check runs against a random token in a short-lived cookie
//! ([`SIGN_IN_COOKIE`]), so a sign-in form cannot be posted from another site either.

use axum::http::HeaderMap;

/// The hidden form field that carries the token.
pub const FIELD: &str = "csrf";
/// The request header that carries the token (htmx requests).
pub const HEADER: &str = "x-csrf-token";
/// The cookie that carries the sign-in form's token before there is a session.
pub const SIGN_IN_COOKIE: &str = "sk_signin";

/// The message of a refused request.
pub const REFUSED: &str = "This form has expired or did not come from Seatkeeper's own pages. Reload the page and try again.";

/// Whether `sent` (from the form field, else the header) matches `expected`, compared in
/// constant time. An empty expected token never matches.
pub fn matches(expected: &str, headers: &HeaderMap, form_value: Option<&str>) -> bool {
    let sent = form_value
        .filter(|v| !v.is_empty())
        .or_else(|| headers.get(HEADER).and_then(|v| v.to_str().ok()))
        .unwrap_or("");
    !expected.is_empty() && constant_time_eq(expected.as_bytes(), sent.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn field_or_header() {
        let mut h = HeaderMap::new();
        assert!(matches("tok", &h, Some("tok")));
        assert!(!matches("tok", &h, Some("tok2")));
        assert!(!matches("tok", &h, None));
        assert!(!matches("", &h, Some("")));
        h.insert(HEADER, HeaderValue::from_static("tok"));
        assert!(matches("tok", &h, None));
        assert!(!matches("tok", &h, Some("other")));
    }
}
