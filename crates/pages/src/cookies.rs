//! The few cookies the pages use, read from `Cookie` and written as `Set-Cookie`.

use axum::http::HeaderMap;
use axum::http::header;

/// The session cookie's name. Its value is the session secret (see `App::session`).
pub const SESSION: &str = "sk_session";

/// The value of cookie `name` in the request, if sent.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over HTTPS: directly (never here: the server speaks plain
/// HTTP) or through a proxy that says so with `X-Forwarded-Proto: https`, or because the
/// configured public URL is https.
pub fn is_https(headers: &HeaderMap, public_url_https: bool) -> bool {
    public_url_https
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for a cookie the page's scripts never read: `HttpOnly`,
/// `SameSite=Lax`, `Path=/`, and `Secure` over HTTPS. `max_age_secs = Some(0)` deletes it;
/// `None` makes it last until the browser closes.
pub fn set(name: &str, value: &str, secure: bool, max_age_secs: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_one_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; sk_session=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(get(&h, SESSION), Some("abc"));
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "c"), None);
    }

    #[test]
    fn flags() {
        assert_eq!(
            set(SESSION, "x", true, Some(0)),
            "sk_session=x; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0"
        );
        assert!(!set(SESSION, "x", false, None).contains("Secure"));
    }
}
