//! Bearer tokens: issue (the secret is shown once), list, revoke.

use super::support::{Params, PathArgs, list as value_list, ts, ts_opt};
use crate::error::{ApiError, ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::{Actor, App, AppError};
use seatkeeper_domain::{TokenId, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBody {
    user_id: Option<String>,
    name: Option<String>,
    expires_in_days: Option<i64>,
}

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
    let user = target_user(&app, &actor, body.user_id.as_deref()).await?;
    let issued = app
        .create_token(&actor, user, body.name.as_deref().unwrap_or(""), expires_at)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "id": issued.id.to_string(),
            "userId": issued.user_id.to_string(),
            "name": issued.name,
            "token": issued.token,
            "expiresDateTime": ts_opt(issued.expires_at),
            "message": "Store the token now: it is shown only once.",
        })),
    )
        .into_response())
}

pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    params.allow(&["userId"])?;
    let user = target_user(&app, &actor, params.get("userId")).await?;
    let now = app.now();
    let tokens = app.list_tokens(&actor, user).await?;
    Ok(axum::Json(value_list(
        tokens
            .iter()
            .map(|t| {
                let status = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                };
                json!({
                    "id": t.id.to_string(),
                    "userId": t.user_id.to_string(),
                    "name": t.name,
                    "status": status,
                    "createdDateTime": ts(t.created_at),
                    "expiresDateTime": ts_opt(t.expires_at),
                    "revokedDateTime": ts_opt(t.revoked_at),
                })
            })
            .collect(),
        None,
    )))
}

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
