//! Partners: a Global admin delegates roles in this organization to users of other
//! organizations, who act for it with partner tokens (POST /tokens with `tenantId`).

use super::model::Role;
use super::support::{PathArgs, ts};
use super::{BadRequest, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use axum::http::StatusCode;
use seatkeeper_app::App;
use seatkeeper_app::partners::Partner as AppPartner;
use seatkeeper_domain::roles::Role as DomainRole;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A partner: a user of another organization and the roles delegated to them here.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Partner {
    /// The partner's user id in their own organization.
    #[schema(format = Uuid)]
    pub user_id: String,
    pub user_principal_name: String,
    pub display_name: String,
    /// The partner's own organization.
    #[schema(format = Uuid)]
    pub tenant_id: String,
    pub tenant_name: String,
    /// The roles they act with here; [] when just revoked.
    pub roles: Vec<Role>,
    #[schema(format = DateTime)]
    pub granted_date_time: String,
}

impl From<&AppPartner> for Partner {
    fn from(p: &AppPartner) -> Self {
        Partner {
            user_id: p.user_id.to_string(),
            user_principal_name: p.upn.clone(),
            display_name: p.display_name.clone(),
            tenant_id: p.tenant_id.to_string(),
            tenant_name: p.tenant_name.clone(),
            roles: p.roles.iter().map(|r| (*r).into()).collect(),
            granted_date_time: ts(p.granted_at),
        }
    }
}

/// The organization's partners.
#[derive(Serialize, ToSchema)]
pub struct PartnerList {
    pub value: Vec<Partner>,
}

/// List the organization's partners (Global admin)
#[utoipa::path(
    get,
    path = "/partners",
    operation_id = "listPartners",
    tag = "Partners",
    responses(
        (status = 200, description = "OK", body = PartnerList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(State(app): State<App>, Auth(actor): Auth) -> ApiResult<axum::Json<PartnerList>> {
    let list = app.list_partners(&actor).await?;
    Ok(axum::Json(PartnerList {
        value: list.iter().map(Partner::from).collect(),
    }))
}

/// The roles to delegate to a partner.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = PartnerRequest)]
pub struct PartnerBody {
    /// The partner's user name in their own organization.
    #[schema(required = true, nullable = false, min_length = 1)]
    user_principal_name: Option<String>,
    /// Every role they should act with here; [] revokes the delegation.
    #[schema(required = true, nullable = false, value_type = Vec<Role>)]
    roles: Option<Vec<String>>,
}

const ROLE_NAMES: &str = "GlobalAdmin, BillingAdmin, LicenseAdmin, UserAdmin, GlobalReader";

/// Delegate roles to a partner (Global admin)
///
/// A user of another organization acts for this one with these roles, through a partner token
/// they create with POST /tokens and `tenantId`. [] revokes the delegation: their partner
/// tokens stop working at once. For a partner, anything about license requests needs
/// GlobalAdmin. A user of this organization is refused (400 ownUser: give them a role instead).
#[utoipa::path(
    put,
    path = "/partners",
    operation_id = "setPartner",
    tag = "Partners",
    request_body = PartnerBody,
    responses(
        (status = 200, description = "OK", body = Partner),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn set(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<PartnerBody>,
) -> ApiResult<axum::Json<Partner>> {
    let upn = body.user_principal_name.unwrap_or_default();
    let given = body.roles.ok_or_else(|| {
        bad_request(
            "missingProperty",
            format!("roles is required: a list of {ROLE_NAMES}; [] revokes the delegation."),
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
    let p = app.set_partner(&actor, &upn, &roles).await?;
    Ok(axum::Json(Partner::from(&p)))
}

/// Revoke a partner (Global admin)
///
/// Every role delegated to them here ends; their partner tokens answer 401 from now on.
#[utoipa::path(
    delete,
    path = "/partners/{userId}",
    operation_id = "revokePartner",
    tag = "Partners",
    params(("userId" = String, Path, description = "The partner's user id (GUID) or userPrincipalName.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn revoke(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<StatusCode> {
    app.revoke_partner(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
