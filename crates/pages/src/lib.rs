//! Seatkeeper's web admin center: server-rendered HTML (askama templates, htmx for partial
//! updates) over the same [`App`] use cases as the REST and Graph APIs. No rule or query lives
//! here; a page gathers what a use case returns and renders it.
//!
//! Everything the pages need is served by the binary: the stylesheet, htmx (vendored, version
//! 2) and a small script of our own. Every response carries the security headers of
//! [`security_headers`]; nothing on a page is loaded from another origin.

pub mod assets;
pub mod audit;
pub mod confirm;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod frame;
pub mod group_licenses;
pub mod groups;
pub mod home;
pub mod import;
pub mod licenses;
pub mod notice;
pub mod password;
pub mod payment_methods;
pub mod products;
pub mod recommend;
pub mod requests;
pub mod security;
pub mod selfservice;
pub mod selfservice_settings;
pub mod session;
pub mod settings;
pub mod sign_in;
pub mod tokens;
pub mod users;
pub mod viewer;

use axum::Router;
use axum::routing::{get, post};
use seatkeeper_app::App;

pub use error::{PageError, not_found_page, panic_page};
pub use security::security_headers;
pub use viewer::{Posted, Viewer};

/// The admin center's routes (HTML pages and their static files), to merge into the server's
/// router. Paths: `/` (home or the user's own page), `/account/*`, `/buy/*`, `/my/products/*`, `/my/requests/*`, `/my/payment-methods/*`, `/licenses/*`, `/products/*`,
/// `/groups/*`, `/audit/*`, `/settings/*`, `/sign-in`, `/sign-out`, `/change-password`, `/static/*`.
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(home::show))
        .route("/account/tokens", post(tokens::create))
        .route("/account/tokens/{id}/revoke", post(tokens::revoke))
        .route("/licenses", get(licenses::list))
        .route("/licenses/requests", get(requests::list))
        .route(
            "/licenses/requests/settings",
            get(requests::settings).post(requests::save_settings),
        )
        .route("/licenses/requests/{id}", get(requests::show))
        .route("/licenses/requests/{id}/decision", post(requests::decide))
        .route(
            "/licenses/requests/{id}/share",
            get(requests::share_form).post(requests::share),
        )
        .route(
            "/licenses/requests/{id}/share/search",
            get(requests::share_search),
        )
        .route(
            "/buy/{sku}/request",
            get(requests::new_form).post(requests::submit),
        )
        .route("/my/requests", get(requests::mine))
        .route("/my/requests/colleagues", get(requests::colleagues))
        .route("/my/requests/{id}", get(requests::show_mine))
        .route("/licenses/{sku}", get(licenses::product_page))
        .route(
            "/licenses/{sku}/assign",
            get(licenses::assign_form).post(licenses::assign),
        )
        .route(
            "/licenses/{sku}/assign/search",
            get(licenses::assign_search),
        )
        .route("/licenses/{sku}/unassign", post(licenses::unassign))
        .route(
            "/licenses/{sku}/users/{user}",
            get(licenses::user_plans).post(licenses::save_user_plans),
        )
        .route("/sign-in", get(sign_in::show).post(sign_in::submit))
        .route("/sign-out", axum::routing::post(sign_in::sign_out))
        .route(password::PATH, get(password::show).post(password::submit))
        .route("/users", get(users::list))
        .route("/users/new", get(users::new_form).post(users::create))
        .route("/users/manage", get(users::manage_form).post(users::manage))
        .route("/users/{id}", get(users::show))
        .route("/users/{id}/licenses", post(users::save_licenses))
        .route("/users/{id}/location", post(users::save_location))
        .route("/users/{id}/delete", post(users::delete))
        .merge(import::router())
        .route("/settings", get(settings::show))
        .route("/settings/organization", post(settings::organization))
        .route(
            "/settings/self-service",
            get(selfservice_settings::show).post(selfservice_settings::save),
        )
        .route(
            "/my/payment-methods",
            get(payment_methods::show).post(payment_methods::add),
        )
        .route(
            "/my/payment-methods/{id}",
            get(payment_methods::edit_form).post(payment_methods::edit),
        )
        .route(
            "/my/payment-methods/{id}/delete",
            post(payment_methods::delete),
        )
        .route("/settings/tokens", post(tokens::create))
        .route("/settings/tokens/{id}/revoke", post(tokens::revoke))
        .route(
            "/requests/recommend/{token}",
            get(recommend::show).post(recommend::submit),
        )
        .route("/audit", get(audit::list))
        .route("/audit/export", get(audit::export))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/license-errors", get(group_licenses::errors))
        .route(
            "/groups/licenses/assign",
            get(group_licenses::assign_form).post(group_licenses::assign),
        )
        .route("/groups/{id}", get(groups::show))
        .route("/groups/{id}/licenses/status", get(group_licenses::status))
        .route("/groups/{id}/licenses/remove", post(group_licenses::remove))
        .route(
            "/groups/{id}/reprocess",
            post(group_licenses::reprocess_group),
        )
        .route(
            "/groups/{id}/license-errors",
            get(group_licenses::group_errors),
        )
        .route(
            "/groups/{id}/license-errors/reprocess",
            post(group_licenses::reprocess_member),
        )
        .route("/groups/{id}/candidates", get(groups::search))
        .route("/groups/{id}/members", post(groups::add_member))
        .route("/groups/{id}/members/remove", post(groups::remove_member))
        .route("/products", get(products::list))
        .route("/products/buy", post(products::buy))
        .route("/products/{id}", get(products::show))
        .route("/products/{id}/quantity", post(products::set_quantity))
        .route("/products/{id}/recurring", post(products::set_recurring))
        .route("/products/{id}/cancel", post(products::cancel))
        .route("/products/{id}/reactivate", post(products::reactivate))
        .route("/buy", get(selfservice::buy))
        .route("/buy/{sku}", post(selfservice::purchase))
        .route("/buy/{sku}/trial", post(selfservice::start_trial))
        .route("/my/products", get(selfservice::my_products))
        .route("/my/products/{id}", get(selfservice::my_subscription))
        .route("/my/products/{id}/quantity", post(selfservice::my_quantity))
        .route(
            "/my/products/{id}/reactivate",
            post(selfservice::my_reactivate),
        )
        .route(
            "/my/products/{id}/payment-method",
            post(selfservice::my_payment_method),
        )
        .route("/my/products/{id}/unassign", post(selfservice::my_unassign))
        .route("/my/products/{id}/cancel", post(selfservice::my_cancel))
        .route(
            "/my/products/{id}/assign",
            get(selfservice::my_assign_form).post(selfservice::my_assign),
        )
        .route(
            "/my/products/{id}/assign/search",
            get(selfservice::my_assign_search),
        )
        .route(
            "/licenses/{sku}/self-service-users.csv",
            get(selfservice::users_csv),
        )
        .route(
            "/products/{id}/take-over",
            get(selfservice::take_over_form).post(selfservice::take_over),
        )
        .route(
            "/products/{id}/ask-to-cancel",
            post(selfservice::ask_to_cancel),
        )
        .merge(assets::router())
        .layer(axum::middleware::from_fn(notice::clear_after_showing))
}

/// Whether a request path belongs to the pages (HTML errors) rather than to an API (JSON errors).
pub fn is_page_path(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path == "/api"
        || path.starts_with("/v1.0")
        || path == "/healthz"
        || path == "/metrics")
}
