//! The organization's settings, admin roles, and the caller (`/me`).

use super::support::{PathArgs, nullable, ts};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use seatkeeper_app::App;
use seatkeeper_app::directory::user_json;
use seatkeeper_app::store::directory::User;
use seatkeeper_app::store::tenants::Tenant;
use seatkeeper_domain::roles::Role;
use serde::Deserialize;
use serde_json::{Value, json};

type Out = ApiResult<axum::Json<Value>>;

fn tenant_json(t: &Tenant) -> Value {
    json!({
        "id": t.id.to_string(),
        "name": t.name,
        "defaultUsageLocation": t.default_usage_location,
        "currency": t.currency,
        "createdDateTime": ts(t.created_at),
    })
}

fn roles_json(u: &User, roles: &[Role]) -> Value {
    json!({
        "userId": u.id.to_string(),
        "userPrincipalName": u.upn,
        "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    })
}

pub async fn get(State(app): State<App>, Auth(actor): Auth) -> Out {
    let t = app.get_tenant(&actor).await?;
    Ok(axum::Json(tenant_json(&t)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantPatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    default_usage_location: Option<Option<String>>,
}

pub async fn patch(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<TenantPatch>,
) -> Out {
    if body.name.is_none() && body.default_usage_location.is_none() {
        return Err(bad_request(
            "nothingToChange",
            "Give name, defaultUsageLocation (a two-letter country code, or null to clear it), or both.",
        ));
    }
    let t = app
        .update_tenant(
            &actor,
            body.name.as_deref(),
            body.default_usage_location.as_ref().map(|l| l.as_deref()),
        )
        .await?;
    Ok(axum::Json(tenant_json(&t)))
}

pub async fn roles(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> Out {
    let (u, roles) = app.user_roles(&actor, &id).await?;
    Ok(axum::Json(roles_json(&u, &roles)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    roles: Option<Vec<String>>,
}

const ROLE_NAMES: &str = "GlobalAdmin, BillingAdmin, LicenseAdmin, UserAdmin, GlobalReader";

pub async fn set_roles(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<RolesBody>,
) -> Out {
    let given = body.roles.ok_or_else(|| {
        bad_request(
            "missingProperty",
            format!("roles is required: a list of {ROLE_NAMES}; [] makes the user an end user."),
        )
    })?;
    let mut roles = Vec::with_capacity(given.len());
    for r in &given {
        roles.push(Role::parse(r).ok_or_else(|| {
            bad_request(
                "unknownRole",
                format!("Role '{r}' is not known: use {ROLE_NAMES}."),
            )
        })?);
    }
    app.set_user_roles(&actor, &id, &roles).await?;
    let (u, roles) = app.user_roles(&actor, &id).await?;
    Ok(axum::Json(roles_json(&u, &roles)))
}

/// The caller: user, roles and organization.
pub async fn me(State(app): State<App>, Auth(actor): Auth) -> Out {
    let Some(id) = actor.user_id else {
        return Err(bad_request(
            "noUser",
            "This token does not belong to a user.",
        ));
    };
    let (u, roles) = app.user_roles(&actor, &id.to_string()).await?;
    let t = app.get_tenant(&actor).await?;
    Ok(axum::Json(json!({
        "user": user_json(&u),
        "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "tenant": tenant_json(&t),
    })))
}
