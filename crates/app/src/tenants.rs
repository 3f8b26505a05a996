//! Tenants and their bootstrap: the first Global admin and a token for them.

use crate::directory::{UserInput, usage_location};
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::roles::{Action, Role};
use seatkeeper_domain::{TenantId, UserId};
use seatkeeper_store::tenants::{self, Tenant};
use serde_json::json;

/// A new organization and its first admin's bearer token (not printed by `Debug`).
#[derive(Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub admin_user_id: UserId,
    pub admin_user_principal_name: String,
    pub token: String,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrap")
            .field("tenant_id", &self.tenant_id)
            .field("tenant_name", &self.tenant_name)
            .field("admin_user_id", &self.admin_user_id)
            .field("admin_user_principal_name", &self.admin_user_principal_name)
            .field("token", &"***")
            .finish()
    }
}

impl App {
    /// Creates a tenant with its first Global admin and a bearer token for them (operator only).
    pub async fn create_tenant(
        &self,
        name: &str,
        admin_upn: &str,
        default_location: Option<&str>,
        currency: Option<&str>,
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
        crate::write!(self, tx => {
            tenants::insert(tx, &t).await?;
            audit::record(tx, &operator, now, "tenant.create", "tenant", t.id, format!("Organization '{}' created", t.name), None, Some(json!({"name": t.name, "defaultUsageLocation": t.default_usage_location, "currency": t.currency}))).await?;
            Ok(())
        })?;
        let display = upn.split('@').next().unwrap_or("Admin").to_string();
        let input = UserInput {
            user_principal_name: Some(upn.clone()),
            display_name: Some(display),
            usage_location: Some(loc),
            ..Default::default()
        };
        let admin = self
            .create_user_unchecked(&operator, &input, &[Role::GlobalAdmin])
            .await?;
        let token = self
            .create_token(&operator, admin.id, "bootstrap", None)
            .await?;
        Ok(Bootstrap {
            tenant_id: t.id,
            tenant_name: t.name,
            admin_user_id: admin.id,
            admin_user_principal_name: admin.upn,
            token: token.token,
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
        crate::write!(self, tx => {
            let before = tenants::get(tx, actor.tenant_id).await?.ok_or_else(|| AppError::not_found("The organization does not exist."))?;
            let mut t = before.clone();
            if let Some(n) = name {
                let n = n.trim();
                if n.is_empty() || n.chars().count() > 256 {
                    return Err(AppError::invalid("invalidName", "The organization name must be 1 to 256 characters."));
                }
                t.name = n.to_string();
            }
            if let Some(l) = default_location {
                t.default_usage_location = usage_location(&l.map(str::to_string))?;
            }
            tenants::update(tx, &t).await?;
            let j = |t: &Tenant| json!({"name": t.name, "defaultUsageLocation": t.default_usage_location});
            audit::record(tx, actor, now, "tenant.update", "tenant", t.id, "Organization settings changed", Some(j(&before)), Some(j(&t))).await?;
            Ok(t)
        })
    }
}
