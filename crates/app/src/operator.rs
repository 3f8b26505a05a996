//! The operator of the instance, as distinct from every organization's admins: whoever runs
//! the `seatkeeper` command against the database, or holds an operator token it issued. Only
//! the operator changes what every organization shares (the catalog); what the operator does is
//! recorded in the instance's own audit log, apart from the organizations' logs.

use crate::auth::{hash_token, new_secret_with};
use crate::{Actor, App, AppError, AppResult};
use seatkeeper_domain::Time;
use seatkeeper_store::operator::{self as stored, OperatorToken};
use seatkeeper_store::{Conn, is_unique_violation};
use serde_json::json;
use uuid::Uuid;

/// Operator tokens start with this, so they are never mistaken for a user's token.
pub const OPERATOR_TOKEN_PREFIX: &str = "skop_";

/// What a caller who is not the operator is told when they try to change the catalog.
pub const CATALOG_IS_THE_OPERATORS: &str = "The catalog belongs to the operator of this server and applies to every organization, so an organization's admins cannot change it. The operator changes it with `seatkeeper catalog import FILE`, or sends it here with an operator token from `seatkeeper operator token create --name NAME`.";

/// The operator, acting at the command line or with an operator token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The operator token used; none at the command line.
    pub token_id: Option<Uuid>,
    /// How the operator's audit log names the actor.
    pub name: String,
}

impl Operator {
    /// The operator at the command line.
    pub fn cli() -> Operator {
        Operator {
            token_id: None,
            name: "operator (cli)".into(),
        }
    }

    /// The server itself (storing the demo catalog on first start).
    pub fn system() -> Operator {
        Operator {
            token_id: None,
            name: "system".into(),
        }
    }
}

/// Whoever sent a request: a user of an organization, or the operator.
#[derive(Debug, Clone)]
pub enum Caller {
    User(Actor),
    Operator(Operator),
}

impl Caller {
    /// The operator, or 403 with `message` for anyone else.
    pub fn operator(&self, message: &str) -> AppResult<&Operator> {
        match self {
            Caller::Operator(o) => Ok(o),
            Caller::User(_) => Err(AppError::Forbidden(message.to_string())),
        }
    }
}

/// A newly issued operator token: the secret is shown once and never stored.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedOperatorToken {
    pub id: Uuid,
    pub name: String,
    pub token: String,
    pub expires_at: Option<Time>,
}

/// Appends to the operator's audit log, inside the transaction of the change.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record(
    conn: &mut Conn,
    by: &Operator,
    at: Time,
    action: &str,
    target_type: &str,
    target_id: impl ToString,
    summary: impl Into<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> AppResult<()> {
    stored::append(
        conn,
        &stored::Entry {
            id: 0,
            at,
            actor_id: by.token_id.map(|t| t.to_string()),
            actor: by.name.clone(),
            action: action.to_string(),
            target_type: target_type.to_string(),
            target_id: target_id.to_string(),
            summary: summary.into(),
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
        },
    )
    .await?;
    Ok(())
}

impl App {
    /// Resolves a bearer token to an operator or to a user of an organization.
    pub async fn authenticate_caller(&self, token: &str) -> AppResult<Caller> {
        if !token.starts_with(OPERATOR_TOKEN_PREFIX) {
            return Ok(Caller::User(self.authenticate(token).await?));
        }
        let bad =
            || AppError::Unauthorized("Operator token is invalid, expired or revoked.".into());
        if token.len() > 200 {
            return Err(bad());
        }
        let mut conn = self.read().await?;
        let t = stored::token_by_hash(&mut conn, &hash_token(token))
            .await?
            .ok_or_else(bad)?;
        if t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= self.now()) {
            return Err(bad());
        }
        Ok(Caller::Operator(Operator {
            token_id: Some(t.id),
            name: format!("operator token '{}'", t.name),
        }))
    }

    /// Issues an operator token (at the command line only), recorded in the operator's log.
    pub async fn create_operator_token(
        &self,
        by: &Operator,
        name: &str,
        expires_at: Option<Time>,
    ) -> AppResult<IssuedOperatorToken> {
        let name = crate::auth::token_name(name, "An operator token", "catalog deploy")?;
        let now = self.now();
        if expires_at.is_some_and(|e| e <= now) {
            return Err(AppError::invalid(
                "invalidExpiry",
                "The expiry must be in the future.",
            ));
        }
        self.transact(move |tx| {
            Box::pin(async move {
                let issued = IssuedOperatorToken {
                    id: Uuid::new_v4(),
                    name: name.to_string(),
                    token: new_secret_with(OPERATOR_TOKEN_PREFIX),
                    expires_at,
                };
                let row = OperatorToken {
                    id: issued.id,
                    name: issued.name.clone(),
                    created_at: now,
                    expires_at,
                    revoked_at: None,
                };
                stored::insert_token(tx, &row, &hash_token(&issued.token))
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            AppError::conflict(
                                "tokenExists",
                                "An operator token with this secret exists already; issue another.",
                            )
                        } else {
                            e.into()
                        }
                    })?;
                record(
                    tx,
                    by,
                    now,
                    "operator.token.create",
                    "operatorToken",
                    issued.id,
                    format!("Operator token '{}' issued", issued.name),
                    None,
                    Some(json!({"name": issued.name, "expiresAt": expires_at})),
                )
                .await?;
                Ok(issued)
            })
        })
        .await
    }

    /// Every operator token, oldest first (never the secrets).
    pub async fn list_operator_tokens(&self) -> AppResult<Vec<OperatorToken>> {
        let mut conn = self.read().await?;
        Ok(stored::list_tokens(&mut conn).await?)
    }

    /// Revokes an operator token at once; recorded in the operator's log.
    pub async fn revoke_operator_token(&self, by: &Operator, id: Uuid) -> AppResult<()> {
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let t = stored::get_token(tx, id).await?.ok_or_else(|| {
                    AppError::not_found(format!(
                        "Operator token {id} does not exist; see `seatkeeper operator token list`."
                    ))
                })?;
                if !stored::revoke_token(tx, id, now).await? {
                    return Err(AppError::conflict(
                        "alreadyRevoked",
                        format!("Operator token {id} was revoked already."),
                    ));
                }
                record(
                    tx,
                    by,
                    now,
                    "operator.token.revoke",
                    "operatorToken",
                    id,
                    format!("Operator token '{}' revoked", t.name),
                    None,
                    None,
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// The operator's audit log, newest first; `action` filters by prefix (`catalog.`).
    pub async fn operator_audit(
        &self,
        action: Option<&str>,
        limit: i64,
    ) -> AppResult<Vec<stored::Entry>> {
        let mut conn = self.read().await?;
        Ok(stored::list(&mut conn, action, limit.clamp(1, 10_000)).await?)
    }
}
