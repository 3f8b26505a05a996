//! Static files compiled into the binary: the stylesheet, htmx and the pages' own script.
//! URLs carry a version (`?v=`) so they can be cached for a long time.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use seatkeeper_app::App;

/// The stylesheet (our own; no framework).
pub const APP_CSS: &str = include_str!("../static/app.css");
/// The pages' script: sends the CSRF token with htmx requests, confirm dialogs, progress.
pub const APP_JS: &str = include_str!("../static/app.js");
/// htmx 2, vendored (licence: static/htmx.LICENSE).
pub const HTMX_JS: &str = include_str!("../static/htmx.min.js");

/// The tab's icon.
pub const FAVICON_SVG: &str = include_str!("../static/favicon.svg");

/// Appended to asset URLs so a new build is fetched again.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    r
}

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/static/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/static/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset(FAVICON_SVG, "image/svg+xml") }),
        )
        .route(
            "/static/favicon.svg",
            get(|| async { asset(FAVICON_SVG, "image/svg+xml") }),
        )
        .route(
            "/static/htmx.min.js",
            get(|| async { asset(HTMX_JS, "text/javascript; charset=utf-8") }),
        )
}
