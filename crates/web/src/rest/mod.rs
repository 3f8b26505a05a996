//! The REST API under /api/v1 for everything Graph has no verb for: subscriptions, licenses,
//! the catalog, roles, tokens, the tenant, the audit log, mail and the development clock.
//! Described by the OpenAPI document served at /api/v1/openapi.json.

mod audit;
mod catalog;
mod dev;
mod licenses;
mod subscriptions;
mod support;
mod tenant;
mod tokens;

use axum::Router;
use axum::handler::Handler;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{MethodFilter, on};
use seatkeeper_app::App;

/// The OpenAPI 3.0 document describing every route below.
pub const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum M {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl M {
    fn as_str(self) -> &'static str {
        match self {
            M::Get => "GET",
            M::Post => "POST",
            M::Put => "PUT",
            M::Patch => "PATCH",
            M::Delete => "DELETE",
        }
    }
    fn filter(self) -> MethodFilter {
        match self {
            M::Get => MethodFilter::GET,
            M::Post => MethodFilter::POST,
            M::Put => MethodFilter::PUT,
            M::Patch => MethodFilter::PATCH,
            M::Delete => MethodFilter::DELETE,
        }
    }
}

/// The router, and the list of what it answers (so tests can compare it with the document).
struct Routes {
    router: Router<App>,
    list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn add<H, T>(mut self, m: M, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, App>,
        T: 'static,
    {
        self.list.push((m.as_str(), path));
        self.router = self.router.route(path, on(m.filter(), handler));
        self
    }
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

fn table() -> Routes {
    use M::*;
    Routes {
        router: Router::new(),
        list: Vec::new(),
    }
    .add(Get, "/openapi.json", openapi)
    // Subscriptions (Products page).
    .add(Get, "/subscriptions", subscriptions::list)
    .add(Post, "/subscriptions", subscriptions::buy)
    .add(Get, "/subscriptions/{id}", subscriptions::get)
    .add(Patch, "/subscriptions/{id}", subscriptions::patch)
    .add(Post, "/subscriptions/{id}/cancel", subscriptions::cancel)
    .add(
        Post,
        "/subscriptions/{id}/reactivate",
        subscriptions::reactivate,
    )
    // Licenses.
    .add(Get, "/licenses", licenses::page)
    .add(Get, "/licenses/{sku}/users", licenses::users)
    .add(Get, "/licenses/{sku}/users.csv", licenses::users_csv)
    .add(Post, "/licenses/{sku}/assign", licenses::assign)
    .add(Post, "/licenses/{sku}/unassign", licenses::unassign)
    .add(Post, "/licenses/bulk", licenses::bulk)
    .add(Get, "/users/{id}/licenses", licenses::user_licenses)
    .add(Put, "/users/{id}/licenses", licenses::set_user_licenses)
    .add(Patch, "/users/{id}/licenses/{sku}", licenses::change_plans)
    // Catalog.
    .add(Get, "/catalog", catalog::get)
    .add(Put, "/catalog", catalog::put)
    // Roles and the caller.
    .add(Get, "/users/{id}/roles", tenant::roles)
    .add(Put, "/users/{id}/roles", tenant::set_roles)
    .add(Get, "/me", tenant::me)
    // Tokens.
    .add(Post, "/tokens", tokens::create)
    .add(Get, "/tokens", tokens::list)
    .add(Delete, "/tokens/{id}", tokens::revoke)
    // Tenant.
    .add(Get, "/tenant", tenant::get)
    .add(Patch, "/tenant", tenant::patch)
    // Audit log and mail.
    .add(Get, "/audit", audit::list)
    .add(Get, "/audit.csv", audit::csv)
    .add(Get, "/mail", audit::mail)
    // Development clock.
    .add(Get, "/dev/clock", dev::clock)
    .add(Put, "/dev/clock", dev::set_clock)
    .add(Post, "/dev/jobs/run", dev::run_jobs)
}

pub fn router() -> Router<App> {
    table().router
}

/// Every (method, path) the REST router answers, paths relative to /api/v1 in the OpenAPI
/// document's template syntax.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    table().list
}
