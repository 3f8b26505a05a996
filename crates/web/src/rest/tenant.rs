//! The organization's settings, admin roles, and the caller (`/me`).

use super::model::{Me, Role, Roles, Tenant, User};
use super::support::{PathArgs, nullable, usage_location_schema};
use super::{
    BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use seatkeeper_app::App;
use seatkeeper_domain::roles::Role as DomainRole;
use serde::Deserialize;
use utoipa::ToSchema;

type Out<T> = ApiResult<axum::Json<T>>;

/// The caller's organization
#[utoipa::path(
    get,
    path = "/tenant",
    operation_id = "getTenant",
    tag = "Tenant",
    responses(
        (status = 200, description = "OK", body = Tenant),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
pub async fn get(State(app): State<App>, Auth(actor): Auth) -> Out<Tenant> {
    let t = app.get_tenant(&actor).await?;
    Ok(axum::Json(Tenant::from(&t)))
}

/// Give name, defaultUsageLocation or both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = TenantPatch, min_properties = 1)]
pub struct TenantPatch {
    /// The organization's name, 1 to 256 characters (not only spaces).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, nullable = false, min_length = 1, max_length = 256, pattern = "\\S")]
    name: Option<Option<String>>,
    /// ISO 3166-1 alpha-2 country code, e.g. US; null or "" clears it. Users without a usage
    /// location take this one when licensed.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = usage_location_schema)]
    default_usage_location: Option<Option<String>>,
}

/// Change the organization's name or default usage location (Global admin)
#[utoipa::path(
    patch,
    path = "/tenant",
    operation_id = "updateTenant",
    tag = "Tenant",
    request_body = TenantPatch,
    responses(
        (status = 200, description = "OK", body = Tenant),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn patch(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<TenantPatch>,
) -> Out<Tenant> {
    if body.name == Some(None) {
        return Err(bad_request(
            "invalidName",
            "name cannot be null: give the organization's new name, or leave name out.",
        ));
    }
    if body.name.is_none() && body.default_usage_location.is_none() {
        return Err(bad_request(
            "nothingToChange",
            "Give name, defaultUsageLocation (a two-letter country code, or null to clear it), or both.",
        ));
    }
    let t = app
        .update_tenant(
            &actor,
            body.name.flatten().as_deref(),
            body.default_usage_location.as_ref().map(|l| l.as_deref()),
        )
        .await?;
    Ok(axum::Json(Tenant::from(&t)))
}

/// A user's admin roles
#[utoipa::path(
    get,
    path = "/users/{id}/roles",
    operation_id = "getUserRoles",
    tag = "Roles",
    params(("id" = String, Path, description = "The user's id (GUID) or userPrincipalName.")),
    responses(
        (status = 200, description = "OK", body = Roles),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn roles(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> Out<Roles> {
    let (u, roles) = app.user_roles(&actor, &id).await?;
    Ok(axum::Json(Roles::new(&u, &roles)))
}

/// Every admin role a user should have.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RolesRequest)]
pub struct RolesBody {
    /// Every role the user should have; [] makes the user an end user.
    #[schema(required = true, nullable = false, value_type = Vec<Role>)]
    roles: Option<Vec<String>>,
}

const ROLE_NAMES: &str = "GlobalAdmin, BillingAdmin, LicenseAdmin, UserAdmin, GlobalReader";

/// Set a user's admin roles (Global admin)
///
/// The organization's last Global admin keeps that role (409 lastGlobalAdmin); guests get no roles.
#[utoipa::path(
    put,
    path = "/users/{id}/roles",
    operation_id = "setUserRoles",
    tag = "Roles",
    params(("id" = String, Path, description = "The user's id (GUID) or userPrincipalName.")),
    request_body = RolesBody,
    responses(
        (status = 200, description = "OK", body = Roles),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn set_roles(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<RolesBody>,
) -> Out<Roles> {
    let given = body.roles.ok_or_else(|| {
        bad_request(
            "missingProperty",
            format!("roles is required: a list of {ROLE_NAMES}; [] makes the user an end user."),
        )
    })?;
    let mut roles = Vec::with_capacity(given.len());
    for r in &given {
        roles.push(DomainRole::parse(r).ok_or_else(|| {
            bad_request(
                "unknownRole",
                format!("Role '{r}' is not known: use {ROLE_NAMES}."),
            )
        })?);
    }
    app.set_user_roles(&actor, &id, &roles).await?;
    let (u, roles) = app.user_roles(&actor, &id).await?;
    Ok(axum::Json(Roles::new(&u, &roles)))
}

/// The caller: user, roles and organization
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "getMe",
    tag = "Roles",
    responses(
        (status = 200, description = "OK", body = Me),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn me(State(app): State<App>, Auth(actor): Auth) -> Out<Me> {
    let Some(id) = actor.user_id else {
        return Err(bad_request(
            "noUser",
            "This token does not belong to a user.",
        ));
    };
    let (u, roles) = app.user_roles(&actor, &id.to_string()).await?;
    let t = app.get_tenant(&actor).await?;
    Ok(axum::Json(Me {
        user: User::from(&u),
        roles: roles.iter().map(|r| (*r).into()).collect(),
        tenant: Tenant::from(&t),
    }))
}
