//! Bearer tokens: issue (the secret is shown once), list, revoke.

use super::model::{IssuedToken, Token, TokenList, TokenStatus};
use super::support::{Params, PathArgs, ts, whole_number_opt};
use super::{
    BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::error::{ApiError, ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::{Actor, App, AppError};
use seatkeeper_domain::{TokenId, UserId};
use serde::Deserialize;
use utoipa::ToSchema;

/// The user a token request is about: the one named (id or userPrincipalName), else the caller.
async fn target_user(app: &App, actor: &Actor, given: Option<&str>) -> ApiResult<UserId> {
    match given.map(str::trim).filter(|g| !g.is_empty()) {
        Some(key) => Ok(app.get_user(actor, key).await?.id),
        None => actor.user_id.ok_or_else(|| {
            bad_request(
                "missingProperty",
                "userId is required: this token does not belong to a user.",
            )
        }),
    }
}

/// A token to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = TokenRequest)]
pub struct CreateBody {
    /// The user the token is for (id or userPrincipalName); the caller when left out. Only a
    /// Global admin may issue tokens for others.
    user_id: Option<String>,
    /// What the token is for, 1 to 100 characters.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 100)]
    name: Option<String>,
    /// Null or left out: the token does not expire.
    #[serde(default, deserialize_with = "whole_number_opt")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    expires_in_days: Option<i64>,
    /// For a partner: the customer organization (id) the token acts in, with the roles its
    /// Global admin delegated to the caller there (403 when there are none). Leave out for a
    /// token that acts in the caller's own organization.
    tenant_id: Option<String>,
}

/// Issue a bearer token
///
/// For oneself, or for any user by a Global admin. With `tenantId`, a partner token: it acts
/// in that customer organization with the roles delegated to the caller there (PUT /partners),
/// and stops working as soon as they are revoked.
#[utoipa::path(
    post,
    path = "/tokens",
    operation_id = "createToken",
    tag = "Tokens",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Issued; the secret is in `token` and is not shown again.", body = IssuedToken),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn create(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<CreateBody>,
) -> ApiResult<Response> {
    let expires_at = match body.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(app.now() + chrono::Duration::days(d)),
        Some(d) => {
            return Err(bad_request(
                "invalidExpiry",
                format!(
                    "expiresInDays is {d}: use a whole number of days from 1 to 3650, or leave it out for a token that does not expire."
                ),
            ));
        }
    };
    let name = body.name.as_deref().unwrap_or("");
    let issued = match body.tenant_id.as_deref().map(str::trim) {
        Some(customer) if !customer.is_empty() => {
            if body
                .user_id
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty())
            {
                return Err(bad_request(
                    "invalidPartnerToken",
                    "A partner token is for the caller: leave userId out when giving tenantId.",
                ));
            }
            app.create_partner_token(&actor, customer, name, expires_at)
                .await?
        }
        _ => {
            let user = target_user(&app, &actor, body.user_id.as_deref()).await?;
            app.create_token(&actor, user, name, expires_at).await?
        }
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(IssuedToken {
            id: issued.id.to_string(),
            user_id: issued.user_id.to_string(),
            name: issued.name,
            token: issued.token,
            expires_date_time: issued.expires_at.map(ts),
            message: "Store the token now: it is shown only once.".to_string(),
        }),
    )
        .into_response())
}

/// List a user's tokens (never the secrets)
#[utoipa::path(
    get,
    path = "/tokens",
    operation_id = "listTokens",
    tag = "Tokens",
    params(("userId" = Option<String>, Query, description = "Whose tokens (id or userPrincipalName); the caller's when left out.")),
    responses(
        (status = 200, description = "OK", body = TokenList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> ApiResult<axum::Json<TokenList>> {
    params.allow(&["userId"])?;
    let user = target_user(&app, &actor, params.get("userId")).await?;
    let now = app.now();
    let tokens = app.list_tokens(&actor, user).await?;
    Ok(axum::Json(TokenList {
        value: tokens
            .iter()
            .map(|t| {
                let status = if t.revoked_at.is_some() {
                    TokenStatus::Revoked
                } else if t.expires_at.is_some_and(|e| e <= now) {
                    TokenStatus::Expired
                } else {
                    TokenStatus::Active
                };
                Token {
                    id: t.id.to_string(),
                    user_id: t.user_id.to_string(),
                    name: t.name.clone(),
                    status,
                    created_date_time: ts(t.created_at),
                    expires_date_time: t.expires_at.map(ts),
                    revoked_date_time: t.revoked_at.map(ts),
                    acting_tenant_id: t.acting_tenant_id.map(|a| a.to_string()),
                }
            })
            .collect(),
    }))
}

/// Revoke a token
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    operation_id = "revokeToken",
    tag = "Tokens",
    params(("id" = String, Path, description = "The token's id.")),
    responses(
        (status = 204, description = "Revoked: requests with it now answer 401."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub async fn revoke(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<StatusCode> {
    let id = TokenId::parse(&id)
        .ok_or_else(|| ApiError(AppError::not_found(format!("Token '{id}' does not exist."))))?;
    app.revoke_token(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
