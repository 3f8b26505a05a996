//! The REST API under /api/v1 for everything Graph has no verb for: subscriptions, licenses,
//! the catalog, roles, tokens, the tenant, the audit log, mail and the development clock.
//! Described by the OpenAPI document served at /api/v1/openapi.json, which is generated from
//! the handlers' `#[utoipa::path]` annotations and the body types: routes and document are
//! registered together, so they cannot drift apart.

mod audit;
mod billing;
mod catalog;
mod dev;
mod groups;
mod licenses;
pub mod model;
mod partners;
mod policies;
mod requests;
mod selfservice;
mod subscriptions;
mod support;
mod tenant;
mod tokens;

pub use licenses::page_users_csv;

use crate::envelope::ErrorEnvelope;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use seatkeeper_app::App;
use std::sync::LazyLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The request is not valid: malformed JSON, a wrong type, a missing or unknown field, or a
/// rule refused the change (the message says which and what to do).
#[derive(ToResponse)]
pub struct BadRequest(pub ErrorEnvelope);

/// No bearer token, or it is invalid, expired or revoked.
#[derive(ToResponse)]
pub struct Unauthorized(pub ErrorEnvelope);

/// The caller's roles do not allow this (SPEC section 6).
#[derive(ToResponse)]
pub struct Forbidden(pub ErrorEnvelope);

/// No such object in the caller's organization (another organization's ids answer the same).
#[derive(ToResponse)]
pub struct NotFound(pub ErrorEnvelope);

/// The request conflicts with the current state.
#[derive(ToResponse)]
pub struct Conflict(pub ErrorEnvelope);

/// The payment provider declined the card (code PaymentDeclined); the message says why.
/// Nothing was stored or charged.
#[derive(ToResponse)]
pub struct PaymentRequired(pub ErrorEnvelope);

/// The body is larger than 1 MiB.
#[derive(ToResponse)]
pub struct TooLarge(pub ErrorEnvelope);

/// The body is not sent with a supported Content-Type.
#[derive(ToResponse)]
pub struct UnsupportedMediaType(pub ErrorEnvelope);

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `seatkeeper token create`, `tenant create`, or POST /tokens.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document's frame: info, server, security, tags and the shared responses; the paths come
/// from the routes registered in [`parts`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Seatkeeper REST API",
        version = "1.0.0",
        description = "Per-seat license management: subscriptions, licenses, catalog, roles, tokens, audit log, mail and the development clock. Licensing and directory operations Graph has verbs for are also served Graph-compatibly under /v1.0. Every request needs 'Authorization: Bearer <token>' (except this document). Errors use one envelope with a stable camelCase code; ids are strings and times RFC 3339 in UTC.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/api/v1")),
    security(("bearer" = [])),
    modifiers(&BearerAuth),
    components(schemas(ErrorEnvelope, crate::envelope::ErrorDetail), responses(
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PaymentRequired,
        TooLarge,
        UnsupportedMediaType
    )),
    tags(
        (name = "Subscriptions"),
        (name = "Licenses"),
        (name = "Self-service"),
        (name = "Catalog"),
        (name = "Roles"),
        (name = "Tokens"),
        (name = "Partners"),
        (name = "Tenant"),
        (name = "Purchase policy"),
        (name = "Group licensing"),
        (name = "License requests"),
        (name = "Billing"),
        (name = "Audit"),
        (name = "Mail"),
        (name = "Development clock"),
        (name = "Meta"),
    )
)]
struct ApiDoc;

/// The OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApi",
    summary = "This document",
    tag = "Meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object))
)]
async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// The router and the document, built from the same registrations.
fn parts() -> (Router<App>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_json))
        // Subscriptions (Products page).
        .routes(routes!(subscriptions::list, subscriptions::buy))
        .routes(routes!(subscriptions::get, subscriptions::patch))
        .routes(routes!(subscriptions::cancel))
        .routes(routes!(subscriptions::reactivate))
        .routes(routes!(selfservice::purchase))
        .routes(routes!(selfservice::trial))
        .routes(routes!(selfservice::mine))
        .routes(routes!(selfservice::assign))
        .routes(routes!(selfservice::unassign))
        .routes(routes!(selfservice::users))
        .routes(routes!(selfservice::take_over))
        .routes(routes!(selfservice::ask_to_cancel))
        // Licenses.
        .routes(routes!(licenses::page))
        .routes(routes!(licenses::users))
        .routes(routes!(licenses::users_csv))
        .routes(routes!(licenses::self_service_users_csv))
        .routes(routes!(licenses::assign))
        .routes(routes!(licenses::unassign))
        .routes(routes!(licenses::bulk))
        .routes(routes!(
            licenses::user_licenses,
            licenses::set_user_licenses
        ))
        .routes(routes!(licenses::change_plans))
        // Group-based licensing and its jobs.
        .routes(routes!(groups::get, groups::change))
        .routes(routes!(groups::reprocess))
        .routes({
            // Up to 100,000 ids or user principal names in one body.
            let (schemas, paths, route) = routes!(groups::add_members);
            (
                schemas,
                paths,
                route.layer(axum::extract::DefaultBodyLimit::max(
                    groups::MAX_MEMBERS_BODY_BYTES,
                )),
            )
        })
        .routes(routes!(groups::errors))
        .routes(routes!(groups::groups_with_errors))
        .routes(routes!(groups::jobs))
        .routes(routes!(groups::job))
        // Catalog.
        .routes(routes!(requests::submit, requests::mine))
        .routes(routes!(requests::list))
        .routes(routes!(requests::get))
        .routes(routes!(requests::decide))
        .routes(routes!(requests::options))
        .routes(routes!(requests::share))
        .routes(routes!(requests::settings, requests::set_settings))
        .routes(routes!(catalog::get, catalog::put))
        // Self-service purchase policy.
        .routes(routes!(policies::list))
        .routes(routes!(policies::set_default))
        .routes(routes!(policies::products))
        .routes(routes!(policies::product, policies::set_product))
        // Cards, billing accounts and profiles.
        .routes(routes!(billing::my_list, billing::my_add))
        .routes(routes!(billing::my_update, billing::my_delete))
        .routes(routes!(billing::my_profile, billing::my_profile_update))
        .routes(routes!(billing::accounts))
        .routes(routes!(billing::profile, billing::profile_update))
        .routes(routes!(billing::central_list, billing::central_add))
        .routes(routes!(billing::central_update, billing::central_delete))
        // Roles and the caller.
        .routes(routes!(tenant::roles, tenant::set_roles))
        .routes(routes!(tenant::me))
        // Tokens.
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(partners::list, partners::set))
        .routes(routes!(partners::revoke))
        // Tenant.
        .routes(routes!(tenant::get, tenant::patch))
        // Audit log and mail.
        .routes(routes!(audit::list))
        .routes(routes!(audit::csv))
        .routes(routes!(audit::mail))
        // Development clock.
        .routes(routes!(dev::clock, dev::set_clock))
        .routes(routes!(dev::run_jobs))
        .split_for_parts();
    // `security(())` on the document's own route means "no token needed": an empty list.
    if let Some(op) = doc
        .paths
        .paths
        .get_mut("/openapi.json")
        .and_then(|item| item.get.as_mut())
    {
        op.security = Some(vec![]);
    }
    add_links(&mut doc);
    (router, doc)
}

/// OpenAPI links: what a client (or a stateful test) can do next with the object an operation
/// answered with.
fn add_links(doc: &mut utoipa::openapi::OpenApi) {
    /// Link name, target operationId, target parameter, runtime expression for its value.
    type Link = (&'static str, &'static str, &'static str, &'static str);
    use utoipa::openapi::RefOr;
    use utoipa::openapi::link::LinkBuilder;
    let sub_id = "$response.body#/id";
    let after_subscription: &[Link] = &[
        ("GetSubscription", "getSubscription", "id", sub_id),
        ("UpdateSubscription", "updateSubscription", "id", sub_id),
        ("CancelSubscription", "cancelSubscription", "id", sub_id),
        (
            "ReactivateSubscription",
            "reactivateSubscription",
            "id",
            sub_id,
        ),
        (
            "ListProductUsers",
            "listProductUsers",
            "sku",
            "$response.body#/skuId",
        ),
    ];
    let after_token: &[Link] = &[
        ("RevokeToken", "revokeToken", "id", "$response.body#/id"),
        (
            "ListTokens",
            "listTokens",
            "userId",
            "$response.body#/userId",
        ),
    ];
    let after_user: &[Link] = &[
        (
            "GetUserRoles",
            "getUserRoles",
            "id",
            "$response.body#/user/id",
        ),
        (
            "GetUserLicenses",
            "getUserLicenses",
            "id",
            "$response.body#/user/id",
        ),
    ];
    let first_product = "$response.body#/value/0/skuId";
    let after_licenses: &[Link] = &[
        ("ListProductUsers", "listProductUsers", "sku", first_product),
        (
            "ExportProductUsers",
            "exportProductUsers",
            "sku",
            first_product,
        ),
        ("AssignProduct", "assignProduct", "sku", first_product),
        ("UnassignProduct", "unassignProduct", "sku", first_product),
    ];
    let card_id = "$response.body#/id";
    let after_my_card: &[Link] = &[
        (
            "UpdateMyPaymentMethod",
            "updateMyPaymentMethod",
            "id",
            card_id,
        ),
        (
            "DeleteMyPaymentMethod",
            "deleteMyPaymentMethod",
            "id",
            card_id,
        ),
    ];
    let after_central_card: &[Link] = &[
        ("UpdatePaymentMethod", "updatePaymentMethod", "id", card_id),
        ("DeletePaymentMethod", "deletePaymentMethod", "id", card_id),
    ];
    let request_id = "$response.body#/id";
    let after_request: &[Link] = &[
        ("GetLicenseRequest", "getLicenseRequest", "id", request_id),
        (
            "GetDecisionOptions",
            "getLicenseRequestDecisionOptions",
            "id",
            request_id,
        ),
        (
            "ShareLicenseRequest",
            "shareLicenseRequest",
            "id",
            request_id,
        ),
        (
            "DecideLicenseRequest",
            "decideLicenseRequest",
            "id",
            request_id,
        ),
    ];
    let after_profile: &[Link] = &[
        (
            "GetBillingProfile",
            "getBillingProfile",
            "id",
            "$response.body#/id",
        ),
        (
            "UpdateBillingProfile",
            "updateBillingProfile",
            "id",
            "$response.body#/id",
        ),
    ];
    let targets: [(&str, &str, &str, &[Link]); 9] = [
        ("/me/payment-methods", "post", "201", after_my_card),
        (
            "/billing/payment-methods",
            "post",
            "201",
            after_central_card,
        ),
        ("/me/billing-profile", "get", "200", after_profile),
        ("/subscriptions", "post", "201", after_subscription),
        ("/subscriptions/{id}", "get", "200", after_subscription),
        ("/tokens", "post", "201", after_token),
        ("/me", "get", "200", after_user),
        ("/me/license-requests", "post", "201", after_request),
        ("/licenses", "get", "200", after_licenses),
    ];
    for (path, method, status, links) in targets {
        let Some(item) = doc.paths.paths.get_mut(path) else {
            continue;
        };
        let op = match method {
            "post" => item.post.as_mut(),
            _ => item.get.as_mut(),
        };
        let Some(op) = op else { continue };
        let Some(RefOr::T(resp)) = op.responses.responses.get_mut(status) else {
            continue;
        };
        for (name, operation_id, param, value) in links {
            resp.links.insert(
                name.to_string(),
                RefOr::T(
                    LinkBuilder::new()
                        .operation_id(*operation_id)
                        .parameter(*param, *value)
                        .build(),
                ),
            );
        }
    }
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(&parts().1)
        .unwrap_or_else(|e| format!("{{\"error\": \"the document cannot be written: {e}\"}}"))
});

/// The REST routes, relative to /api/v1.
pub fn router() -> Router<App> {
    parts().0
}

/// The OpenAPI 3.1 document describing every route of [`router`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().1
}

/// Every (method, path) the document lists, paths relative to /api/v1 in its template syntax.
/// The router registers exactly these: both come from the same `routes!` calls.
pub fn routes() -> Vec<(String, String)> {
    let doc = openapi();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (m, present) in ops {
            if present {
                out.push((m.to_string(), path.clone()));
            }
        }
    }
    out
}
