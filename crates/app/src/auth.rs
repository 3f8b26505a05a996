//! Bearer tokens: random, shown once, stored as a SHA-256 hash, revocable.

use crate::{Actor, App, AppError, AppResult, PartnerActor, audit};
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::{TenantId, Time, TokenId, UserId};
use seatkeeper_store::{Conn, directory, partners, tenants, tokens};
use sha2::{Digest, Sha256};

pub const TOKEN_PREFIX: &str = "sk_";

/// The SHA-256 of a token (trimmed), as 64 lower-case hex digits: what is stored of it.
pub fn hash_token(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::digest(token.trim().as_bytes());
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// The 401 for a token that does not work, saying no more than that.
fn bad_token() -> AppError {
    AppError::Unauthorized("Access token is invalid, expired or revoked.".into())
}

/// The hash under which a user's bearer token is stored ([`hash_token`]), after the checks
/// that need no database: an operator's token is refused with what it is for, and a text
/// that cannot be a token (no `sk_` prefix, over 200 characters) as invalid.
/// Errors: 401.
pub fn bearer_hash(token: &str) -> AppResult<String> {
    if token.starts_with(crate::operator::OPERATOR_TOKEN_PREFIX) {
        return Err(AppError::Unauthorized(
            "This is an operator token: it only replaces the catalog (PUT /api/v1/catalog). Use a user's token (`seatkeeper token create`) for an organization's data.".into(),
        ));
    }
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
        return Err(bad_token());
    }
    Ok(hash_token(token))
}

/// A new secret: `prefix` and two v4 UUIDs (244 random bits from the operating system's
/// generator).
pub(crate) fn new_secret_with(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A random secret for the web pages (session ids, CSRF tokens): `prefix` and 244 random bits.
pub fn random_secret(prefix: &str) -> String {
    new_secret_with(prefix)
}

fn new_secret() -> String {
    new_secret_with(TOKEN_PREFIX)
}

/// A newly issued token: the secret is shown once and never stored (nor printed by `Debug`).
#[derive(Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub token: String,
    pub expires_at: Option<Time>,
}

/// Issues a token for `u` inside the caller's transaction, audited; the secret is in the result.
pub(crate) async fn insert_token(
    tx: &mut Conn,
    actor: &Actor,
    u: &directory::User,
    name: &str,
    expires_at: Option<Time>,
    now: Time,
) -> AppResult<IssuedToken> {
    insert_token_acting(tx, actor, u, name, expires_at, now, None).await
}

/// [`insert_token`], for a partner's token when `acting` names the customer organization it
/// acts in.
async fn insert_token_acting(
    tx: &mut Conn,
    actor: &Actor,
    u: &directory::User,
    name: &str,
    expires_at: Option<Time>,
    now: Time,
    acting: Option<&seatkeeper_store::tenants::Tenant>,
) -> AppResult<IssuedToken> {
    let issued = IssuedToken {
        id: TokenId::new(),
        user_id: u.id,
        name: name.to_string(),
        token: new_secret(),
        expires_at,
    };
    let row = tokens::Token {
        id: issued.id,
        tenant_id: actor.tenant_id,
        user_id: u.id,
        name: issued.name.clone(),
        created_at: now,
        expires_at,
        revoked_at: None,
        acting_tenant_id: acting.map(|t| t.id),
    };
    tokens::insert(tx, &row, &hash_token(&issued.token)).await?;
    audit::record(
        tx,
        actor,
        now,
        AuditAction::TokenCreate,
        "token",
        issued.id,
        match acting {
            Some(t) => format!(
                "Token '{}' issued for {} to act in {} as its partner",
                issued.name, u.upn, t.name
            ),
            None => format!("Token '{}' issued for {}", issued.name, u.upn),
        },
        None,
        None,
    )
    .await?;
    Ok(issued)
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("token", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Whether `c` changes the direction text is shown in (U+202A–U+202E embeddings and
/// overrides, U+2066–U+2069 isolates, and the marks U+200E, U+200F, U+061C): a name with one
/// can show as something it is not.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The one check of every token's name (user and operator tokens): trimmed, 1 to 100
/// characters, no control characters and no text-direction controls. `what` names the kind
/// of token in the refusal ("A token"), `example` a good name.
pub fn token_name<'a>(name: &'a str, what: &str, example: &str) -> AppResult<&'a str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid(
            "invalidName",
            format!("{what} needs a name of 1 to 100 characters, e.g. \"{example}\"."),
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || is_bidi_control(*c)) {
        return Err(AppError::invalid(
            "invalidName",
            format!(
                "The token name contains U+{:04X}, a control or text-direction character that can disguise what the name says: use letters, digits, spaces and punctuation only, e.g. \"{example}\".",
                c as u32
            ),
        ));
    }
    Ok(name)
}

impl App {
    /// Resolves a bearer token to the acting user and their roles.
    /// Errors: 401 for a token that is malformed, unknown, expired or revoked, of a disabled
    /// account, a partner's whose delegation was revoked, or an operator's
    /// ([`bearer_hash`]); the database's (503 when it is busy).
    pub async fn authenticate(&self, token: &str) -> AppResult<Actor> {
        let hash = bearer_hash(token)?;
        let mut conn = self.read().await?;
        let c = tokens::credential(&mut conn, &hash).await?;
        self.actor_of(&mut conn, c.as_ref(), self.now()).await
    }

    /// The actor of a token's credential (`None`: no token has that hash), as of `now`: the
    /// one rule of which tokens work, for [`App::authenticate`] and for the license writer,
    /// which reads the credentials of a batch's tokens in its own transaction.
    /// Errors: as [`App::authenticate`], and the database's.
    pub(crate) async fn actor_of(
        &self,
        conn: &mut Conn,
        c: Option<&tokens::Credential>,
        now: Time,
    ) -> AppResult<Actor> {
        let c = c.ok_or_else(bad_token)?;
        if c.token.revoked_at.is_some() || c.token.expires_at.is_some_and(|e| e <= now) {
            return Err(bad_token());
        }
        if !c.account_enabled {
            return Err(AppError::Unauthorized(format!(
                "The account {} is disabled.",
                c.upn
            )));
        }
        if let Some(customer) = c.token.acting_tenant_id {
            // A partner's token: the delegation is read on every request, so revoking it
            // stops the token at once.
            let roles = partners::roles_of(conn, customer, c.token.user_id).await?;
            if roles.is_empty() {
                return Err(AppError::Unauthorized(
                    "This partner token no longer works: the customer organization revoked your delegated roles. Ask its Global admin to grant them again, then create a new token.".into(),
                ));
            }
            let home = tenants::get(conn, c.token.tenant_id)
                .await?
                .map(|t| t.name)
                .unwrap_or_default();
            return Ok(Actor {
                tenant_id: customer,
                user_id: None,
                name: format!("{} (partner)", c.upn),
                roles,
                partner: Some(PartnerActor {
                    user_id: c.token.user_id,
                    upn: c.upn.clone(),
                    tenant_id: c.token.tenant_id,
                    tenant_name: home,
                }),
            });
        }
        Ok(Actor {
            tenant_id: c.token.tenant_id,
            user_id: Some(c.token.user_id),
            name: c.upn.clone(),
            roles: c.roles.clone(),
            partner: None,
        })
    }

    /// A token for the signed-in user (a partner) that acts in the customer organization
    /// `customer` with the roles its Global admin delegated to them there. Refused (403)
    /// unless they hold a delegation there; audited in their own organization.
    pub async fn create_partner_token(
        &self,
        actor: &Actor,
        customer: &str,
        name: &str,
        expires_at: Option<Time>,
    ) -> AppResult<IssuedToken> {
        let no_delegation = || {
            AppError::Forbidden(format!(
                "You hold no delegated role in organization '{customer}': its Global admin grants partners roles with PUT /api/v1/partners."
            ))
        };
        let (Some(me), None) = (actor.user_id, &actor.partner) else {
            return Err(AppError::Forbidden(
                "Only a user with their own token can create a partner token.".into(),
            ));
        };
        let name = token_name(name, "A token", "partner access for Contoso")?;
        let now = self.now();
        if expires_at.is_some_and(|e| e <= now) {
            return Err(AppError::invalid(
                "invalidExpiry",
                "expiresAt must be in the future.",
            ));
        }
        let customer_id = TenantId::parse(customer).ok_or_else(no_delegation)?;
        if customer_id == actor.tenant_id {
            return Err(AppError::invalid(
                "ownOrganization",
                "tenantId is your own organization: leave it out for a token that acts there.",
            ));
        }
        self.transact(move |tx| {
            Box::pin(async move {
                let u = directory::get_user(tx, actor.tenant_id, me)
                    .await?
                    .ok_or_else(|| {
                        AppError::Unauthorized("Your account no longer exists.".into())
                    })?;
                if partners::roles_of(tx, customer_id, me).await?.is_empty() {
                    return Err(no_delegation());
                }
                let t = tenants::get(tx, customer_id)
                    .await?
                    .ok_or_else(no_delegation)?;
                insert_token_acting(tx, actor, &u, name, expires_at, now, Some(&t)).await
            })
        })
        .await
    }

    /// Issues a token for `user`: for oneself, or for anyone by a Global admin.
    pub async fn create_token(
        &self,
        actor: &Actor,
        user: UserId,
        name: &str,
        expires_at: Option<Time>,
    ) -> AppResult<IssuedToken> {
        if actor.user_id != Some(user) {
            actor.require(Action::ManageTenant)?;
        }
        let name = token_name(name, "A token", "provisioning script")?;
        let now = self.now();
        if expires_at.is_some_and(|e| e <= now) {
            return Err(AppError::invalid(
                "invalidExpiry",
                "expiresAt must be in the future.",
            ));
        }
        self.transact(move |tx| {
            Box::pin(async move {
                let u = directory::get_user(tx, actor.tenant_id, user)
                    .await?
                    .ok_or_else(|| AppError::not_found(format!("User {user} does not exist.")))?;
                insert_token(tx, actor, &u, name, expires_at, now).await
            })
        })
        .await
    }

    pub async fn list_tokens(&self, actor: &Actor, user: UserId) -> AppResult<Vec<tokens::Token>> {
        if actor.user_id != Some(user) {
            actor.require(Action::ManageTenant)?;
        }
        let mut conn = self.read().await?;
        Ok(tokens::list_for_user(&mut conn, actor.tenant_id, user).await?)
    }

    pub async fn revoke_token(&self, actor: &Actor, id: TokenId) -> AppResult<()> {
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let t = tokens::get(tx, actor.tenant_id, id)
                    .await?
                    .ok_or_else(|| AppError::not_found(format!("Token {id} does not exist.")))?;
                if actor.user_id != Some(t.user_id) {
                    actor.require(Action::ManageTenant)?;
                }
                if !tokens::revoke(tx, id, now).await? {
                    return Err(AppError::conflict(
                        "alreadyRevoked",
                        format!("Token {id} was revoked already."),
                    ));
                }
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::TokenRevoke,
                    "token",
                    id,
                    format!("Token '{}' revoked", t.name),
                    None,
                    None,
                )
                .await?;
                Ok(())
            })
        })
        .await
    }
}
