//! Tenants and their bootstrap: the first Global admin and a token for them.

use crate::auth::insert_token;
use crate::directory::{UserInput, insert_user, new_user, usage_location};
use crate::operator::Operator;
use crate::passwords::{PasswordProfile, generate_password, store_password};
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::roles::{Action, Role};
use seatkeeper_domain::tenant::Tenant;
use seatkeeper_domain::{TenantId, UserId};
use seatkeeper_store::is_unique_violation;
use seatkeeper_store::tenants;
use serde_json::json;

/// The 409 for a name that another organization has; `existing` names it (for the operator).
fn name_taken(name: &str, existing: Option<&Tenant>) -> AppError {
    AppError::conflict(
        "tenantExists",
        match existing {
            Some(o) => format!(
                "An organization named '{}' exists already (tenant {}); names are unique regardless of case. Choose another name.",
                o.name, o.id
            ),
            None => format!(
                "Another organization is named '{name}' already; names are unique regardless of case. Choose another name."
            ),
        },
    )
}

/// A new organization and its first admin's bearer token (not printed by `Debug`).
#[derive(Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub admin_user_id: UserId,
    pub admin_user_principal_name: String,
    pub token: String,
    /// The admin's generated first password, when none was given: it must be changed at the
    /// first sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_password: Option<String>,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrap")
            .field("tenant_id", &self.tenant_id)
            .field("tenant_name", &self.tenant_name)
            .field("admin_user_id", &self.admin_user_id)
            .field("admin_user_principal_name", &self.admin_user_principal_name)
            .field("token", &"***")
            .field(
                "initial_password",
                &self.initial_password.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

impl App {
    /// Creates a tenant with its first Global admin, a bearer token for them and a generated
    /// password that must be changed at the first sign-in (in [`Bootstrap::initial_password`]);
    /// see [`App::create_tenant_with_password`].
    pub async fn create_tenant(
        &self,
        name: &str,
        admin_upn: &str,
        default_location: Option<&str>,
        currency: Option<&str>,
    ) -> AppResult<Bootstrap> {
        self.create_tenant_with_password(name, admin_upn, default_location, currency, None)
            .await
    }

    /// Creates a tenant with its first Global admin and a bearer token for them (operator only),
    /// in one transaction. The admin's password is `password` (the operator chose it, so no
    /// change is required), or without one a generated password that must be changed at the
    /// first sign-in. Names are unique regardless of case: a taken one is a 409 that names the
    /// organization that has it.
    pub async fn create_tenant_with_password(
        &self,
        name: &str,
        admin_upn: &str,
        default_location: Option<&str>,
        currency: Option<&str>,
        password: Option<&str>,
    ) -> AppResult<Bootstrap> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 256 {
            return Err(AppError::invalid(
                "invalidName",
                "The organization name must be 1 to 256 characters.",
            ));
        }
        let upn = crate::directory::validate_upn(admin_upn)?;
        let loc = usage_location(&default_location.map(str::to_string))?;
        let currency = currency.unwrap_or("USD").trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AppError::invalid(
                "invalidCurrency",
                format!(
                    "Currency '{currency}' is not a three-letter ISO 4217 code like USD or EUR."
                ),
            ));
        }
        let now = self.now();
        let t = Tenant {
            id: TenantId::new(),
            name: name.to_string(),
            default_usage_location: loc.clone(),
            currency,
            created_at: now,
        };
        let operator = Actor::operator(t.id);
        let display = upn.split('@').next().unwrap_or("Admin").to_string();
        let input = UserInput {
            user_principal_name: Some(upn),
            display_name: Some(display),
            usage_location: Some(loc),
            ..Default::default()
        };
        let admin = new_user(&operator, &input, now)?;
        let (initial_password, profile) = match password {
            Some(p) => (
                None,
                PasswordProfile {
                    password: Some(p.to_string()),
                    force_change_next_sign_in: Some(false),
                },
            ),
            None => {
                let p = generate_password();
                (
                    Some(p.clone()),
                    PasswordProfile {
                        password: Some(p),
                        force_change_next_sign_in: Some(true),
                    },
                )
            }
        };
        let prepared = profile.prepare().await?;
        // The organization, its first Global admin and their token: all or nothing.
        let (t, admin, operator, prepared) = (&t, &admin, &operator, &prepared);
        let token = self.transact(move |tx| Box::pin(async move {
            if let Some(other) = tenants::get_by_name(tx, &t.name).await? {
                return Err(name_taken(&t.name, Some(&other)));
            }
            tenants::insert(tx, t).await.map_err(|e| {
                if is_unique_violation(&e) { name_taken(&t.name, None) } else { e.into() }
            })?;
            let after = json!({"name": t.name, "defaultUsageLocation": t.default_usage_location, "currency": t.currency});
            audit::record(tx, operator, now, AuditAction::TenantCreate, "tenant", t.id, format!("Organization '{}' created", t.name), None, Some(after.clone())).await?;
            insert_user(tx, operator, admin, &[Role::GlobalAdmin], now).await?;
            let token = insert_token(tx, operator, admin, "bootstrap", None, now).await?;
            store_password(tx, operator, admin, prepared, now).await?;
            crate::operator::record(tx, &Operator::cli(), now, "tenant.create", "tenant", t.id, format!("Organization '{}' created with Global admin {}", t.name, admin.upn), None, Some(after)).await?;
            Ok(token)
        })).await?;
        Ok(Bootstrap {
            tenant_id: t.id,
            tenant_name: t.name.clone(),
            admin_user_id: admin.id,
            admin_user_principal_name: admin.upn.clone(),
            token: token.token,
            initial_password,
        })
    }

    pub async fn get_tenant(&self, actor: &Actor) -> AppResult<Tenant> {
        let mut conn = self.read().await?;
        tenants::get(&mut conn, actor.tenant_id)
            .await?
            .ok_or_else(|| AppError::not_found("The organization does not exist."))
    }

    pub async fn list_tenants(&self) -> AppResult<Vec<Tenant>> {
        let mut conn = self.read().await?;
        Ok(tenants::list(&mut conn).await?)
    }

    /// Changes the organization's name or default usage location (Global admin).
    pub async fn update_tenant(
        &self,
        actor: &Actor,
        name: Option<&str>,
        default_location: Option<Option<&str>>,
    ) -> AppResult<Tenant> {
        actor.require(Action::ManageTenant)?;
        let now = self.now();
        self.transact(move |tx| Box::pin(async move {
            let before = tenants::get(tx, actor.tenant_id).await?.ok_or_else(|| AppError::not_found("The organization does not exist."))?;
            let mut t = before.clone();
            if let Some(n) = name {
                let n = n.trim();
                if n.is_empty() || n.chars().count() > 256 {
                    return Err(AppError::invalid("invalidName", "The organization name must be 1 to 256 characters."));
                }
                t.name = n.to_string();
                if let Some(other) = tenants::get_by_name(tx, n).await?
                    && other.id != t.id
                {
                    // Another organization's id is not this organization's business.
                    return Err(name_taken(n, None));
                }
            }
            if let Some(l) = default_location {
                t.default_usage_location = usage_location(&l.map(str::to_string))?;
            }
            tenants::update(tx, &t).await.map_err(|e| {
                if is_unique_violation(&e) { name_taken(&t.name, None) } else { e.into() }
            })?;
            let j = |t: &Tenant| json!({"name": t.name, "defaultUsageLocation": t.default_usage_location});
            audit::record(tx, actor, now, AuditAction::TenantUpdate, "tenant", t.id, "Organization settings changed", Some(j(&before)), Some(j(&t))).await?;
            Ok(t)
        })).await
    }
}
