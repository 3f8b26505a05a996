//! The Graph-compatible API under /v1.0.

use axum::Router;
use seatkeeper_app::App;

pub fn router() -> Router<App> {
    Router::new()
}
