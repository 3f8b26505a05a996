//! Partners (SPEC section 2): a customer organization's Global admin delegates roles to a user
//! of another organization, who then acts for the customer with a partner token
//! ([`App::create_partner_token`]). For a partner, anything about license requests needs the
//! Global admin role in the customer organization (section 6).

use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::UserId;
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::roles::{Action, Role};
pub use seatkeeper_store::partners::Partner;
use seatkeeper_store::{directory as dir, partners as store, tenants, tokens};
use serde_json::json;

fn names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

impl App {
    /// The organization's partners with the roles delegated to them (Global admin).
    pub async fn list_partners(&self, actor: &Actor) -> AppResult<Vec<Partner>> {
        actor.require(Action::ManageTenant)?;
        let mut conn = self.read().await?;
        Ok(store::list(&mut conn, actor.tenant_id).await?)
    }

    /// Sets the roles the user named `upn` (a user of another organization) holds in this one
    /// as a partner; no roles revokes the delegation and their tokens for this organization.
    /// Global admin; audited. Returns the
    /// partner with the roles they now hold.
    ///
    /// Refusals: a user of this organization (400, give them a role instead); no organization
    /// has that user name (404); several do (400).
    pub async fn set_partner(
        &self,
        actor: &Actor,
        upn: &str,
        roles: &[Role],
    ) -> AppResult<Partner> {
        actor.require(Action::ManageTenant)?;
        let upn = upn.trim();
        if upn.is_empty() {
            return Err(AppError::invalid(
                "missingProperty",
                "userPrincipalName is required: the partner's user name in their own organization.",
            ));
        }
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let roles = &roles;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let found = store::users_named(tx, upn).await?;
                if found.iter().any(|(_, t)| *t == actor.tenant_id) {
                    return Err(AppError::invalid(
                        "ownUser",
                        format!("{upn} is a user of this organization; give them a role instead (PUT /api/v1/users/{{id}}/roles)."),
                    ));
                }
                let (user, home) = match found.as_slice() {
                    [] => {
                        return Err(AppError::not_found(format!(
                            "No organization on this server has a user named {upn}: check the partner's user name in their own organization."
                        )));
                    }
                    [one] => *one,
                    _ => {
                        return Err(AppError::invalid(
                            "ambiguousUser",
                            format!("More than one organization has a user named {upn}: ask the partner for a user name only they use."),
                        ));
                    }
                };
                let u = dir::get_user(tx, home, user)
                    .await?
                    .ok_or_else(|| AppError::not_found(format!("User {upn} does not exist.")))?;
                let home_name = tenants::get(tx, home).await?.map(|t| t.name).unwrap_or_default();
                let before = store::roles_of(tx, actor.tenant_id, user).await?;
                store::set_roles(tx, actor.tenant_id, user, roles, now).await?;
                // No roles left: the partner's tokens for this organization end for good (a
                // later grant needs a new token).
                let revoked = if roles.is_empty() {
                    tokens::revoke_acting(tx, user, actor.tenant_id, now).await?
                } else {
                    0
                };
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::PartnerRoles,
                    "partner",
                    user,
                    if roles.is_empty() {
                        format!("Partner {} ({home_name}) no longer acts for this organization", u.upn)
                    } else {
                        format!(
                            "Partner {} ({home_name}) may act for this organization as [{}]",
                            u.upn,
                            names(roles).join(", ")
                        )
                    },
                    Some(json!({"roles": names(&before)})),
                    Some(json!({"roles": names(roles), "partnerTenant": home_name, "tokensRevoked": revoked})),
                )
                .await?;
                Ok(Partner {
                    user_id: u.id,
                    upn: u.upn,
                    display_name: u.display_name,
                    tenant_id: home,
                    tenant_name: home_name,
                    roles: roles.clone(),
                    granted_at: now,
                })
            })
        })
        .await
    }

    /// Ends a partner's delegation (every role); their partner tokens for this organization
    /// are revoked for good (a later grant needs a new token).
    /// Global admin; audited. 404 when they hold none here.
    pub async fn revoke_partner(&self, actor: &Actor, key: &str) -> AppResult<()> {
        actor.require(Action::ManageTenant)?;
        let now = self.now();
        let key = key.trim();
        self.transact(move |tx| {
            Box::pin(async move {
                let partners = store::list(tx, actor.tenant_id).await?;
                let p = partners
                    .iter()
                    .find(|p| {
                        UserId::parse(key) == Some(p.user_id) || p.upn.eq_ignore_ascii_case(key)
                    })
                    .ok_or_else(|| {
                        AppError::not_found(format!(
                            "'{key}' is not a partner of this organization: list them with GET /api/v1/partners."
                        ))
                    })?;
                store::set_roles(tx, actor.tenant_id, p.user_id, &[], now).await?;
                let revoked = tokens::revoke_acting(tx, p.user_id, actor.tenant_id, now).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::PartnerRoles,
                    "partner",
                    p.user_id,
                    format!("Partner {} ({}) no longer acts for this organization", p.upn, p.tenant_name),
                    Some(json!({"roles": names(&p.roles)})),
                    Some(json!({"roles": Vec::<&str>::new(), "partnerTenant": p.tenant_name, "tokensRevoked": revoked})),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }
}
