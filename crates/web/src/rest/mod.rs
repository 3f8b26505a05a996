//! The REST API under /api/v1 for everything Graph has no verb for.

use axum::Router;
use seatkeeper_app::App;

pub fn router() -> Router<App> {
    Router::new()
}
