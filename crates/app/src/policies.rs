//! The self-service purchase policy (POL1–POL3), modelled on the commerce PowerShell module:
//! one policy, `AllowSelfServicePurchase`, with a value per self-service-eligible product and
//! the organization's default for the products it has not set. A change applies from then on:
//! purchases and trials that exist are not touched (POL2).

use crate::views::{Policy, ProductPolicy};
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::catalog::{Catalog, Product};
use seatkeeper_domain::kinds::PolicyValue;
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::{SkuId, TenantId};
use seatkeeper_store::{Conn, policies};
use serde_json::json;

/// The one policy there is, by the commerce module's name.
pub const POLICY_ID: &str = "AllowSelfServicePurchase";

const DESCRIPTION: &str =
    "Whether users of the organization may buy a product themselves or start its trials.";

/// The three values, for messages.
pub fn value_names() -> String {
    PolicyValue::ALL
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a policy value, ignoring case; anything else is a 400 listing the three values.
pub fn parse_value(field: &str, s: &str) -> AppResult<PolicyValue> {
    PolicyValue::ALL
        .iter()
        .copied()
        .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            AppError::invalid(
                "invalidPolicyValue",
                format!(
                    "{field} '{s}' is not a policy value: use one of {}.",
                    value_names()
                ),
            )
        })
}

/// Checks a policy id from a path; another is a 404 naming the one there is.
pub fn check_policy_id(id: &str) -> AppResult<()> {
    if id.trim().eq_ignore_ascii_case(POLICY_ID) {
        Ok(())
    } else {
        Err(AppError::not_found(format!(
            "There is no policy '{id}': the one policy is {POLICY_ID}."
        )))
    }
}

/// The self-service-eligible product with this productId (the catalog's 12-character code,
/// ignoring case); any other is a 404 that says so.
pub fn eligible_product<'c>(catalog: &'c Catalog, product_id: &str) -> AppResult<&'c Product> {
    catalog
        .products
        .iter()
        .find(|p| p.self_service && p.product_id.eq_ignore_ascii_case(product_id.trim()))
        .ok_or_else(|| {
            AppError::not_found(format!(
                "Product '{product_id}' is not eligible for self-service purchase: list the eligible products and their productId with GET /api/v1/policies/{POLICY_ID}/products (or `seatkeeper policy list`)."
            ))
        })
}

fn row(p: &Product, value: PolicyValue) -> ProductPolicy {
    ProductPolicy {
        policy_id: POLICY_ID.into(),
        product_name: p.name.clone(),
        product_id: p.product_id.clone(),
        policy_value: value,
    }
}

/// The policy value in force for one product of one organization: the value it set for the
/// product, else its default. For the purchase and trial use cases, inside their transaction so
/// that they see the value of the moment they act (POL2). It does not check that the product is
/// self-service eligible; the caller does.
pub(crate) async fn policy_value(
    tx: &mut Conn,
    tenant: TenantId,
    sku: SkuId,
) -> AppResult<PolicyValue> {
    match policies::get(tx, tenant, sku).await? {
        Some(v) => Ok(v),
        None => Ok(policies::default_value(tx, tenant).await?),
    }
}

impl App {
    /// The organization's policies (`AllowSelfServicePurchase` and its default value).
    pub async fn list_policies(&self, actor: &Actor) -> AppResult<Vec<Policy>> {
        actor.require(Action::ReadBilling)?;
        let mut conn = self.read().await?;
        let default_value = policies::default_value(&mut conn, actor.tenant_id).await?;
        Ok(vec![Policy {
            policy_id: POLICY_ID.into(),
            description: DESCRIPTION.into(),
            default_value,
        }])
    }

    /// Sets the value of every eligible product the organization has not set (Global or
    /// Billing admin); audited.
    pub async fn set_policy_default(&self, actor: &Actor, value: PolicyValue) -> AppResult<Policy> {
        actor.require(Action::ManageBilling)?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let before = policies::default_value(tx, actor.tenant_id).await?;
                policies::set_default(tx, actor.tenant_id, value).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::PolicyDefault,
                    "policy",
                    POLICY_ID,
                    format!("Default self-service purchase policy set to {value} (was {before})"),
                    Some(json!({"defaultValue": before})),
                    Some(json!({"defaultValue": value})),
                )
                .await?;
                Ok(Policy {
                    policy_id: POLICY_ID.into(),
                    description: DESCRIPTION.into(),
                    default_value: value,
                })
            })
        })
        .await
    }

    /// Every self-service-eligible product of the catalog with its value, in catalog order.
    pub async fn product_policies(&self, actor: &Actor) -> AppResult<Vec<ProductPolicy>> {
        actor.require(Action::ReadBilling)?;
        let catalog = self.catalog();
        let mut conn = self.read().await?;
        let default_value = policies::default_value(&mut conn, actor.tenant_id).await?;
        let set = policies::explicit(&mut conn, actor.tenant_id).await?;
        Ok(catalog
            .products
            .iter()
            .filter(|p| p.self_service)
            .map(|p| row(p, set.get(&p.sku_id).copied().unwrap_or(default_value)))
            .collect())
    }

    /// One eligible product's value, by productId.
    pub async fn product_policy(
        &self,
        actor: &Actor,
        product_id: &str,
    ) -> AppResult<ProductPolicy> {
        actor.require(Action::ReadBilling)?;
        let catalog = self.catalog();
        let p = eligible_product(&catalog, product_id)?;
        let mut conn = self.read().await?;
        let v = policy_value(&mut conn, actor.tenant_id, p.sku_id).await?;
        Ok(row(p, v))
    }

    /// Sets one eligible product's value (Global or Billing admin); audited with the value
    /// before and after.
    pub async fn set_product_policy(
        &self,
        actor: &Actor,
        product_id: &str,
        value: PolicyValue,
    ) -> AppResult<ProductPolicy> {
        actor.require(Action::ManageBilling)?;
        let catalog = self.catalog();
        let p = eligible_product(&catalog, product_id)?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let before = policy_value(tx, actor.tenant_id, p.sku_id).await?;
                policies::set(tx, actor.tenant_id, p.sku_id, value, now).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::PolicyProduct,
                    "product",
                    &p.product_id,
                    format!(
                        "Self-service purchase policy of {} set to {value} (was {before})",
                        p.name
                    ),
                    Some(json!({"productId": p.product_id, "skuId": p.sku_id, "policyValue": before})),
                    Some(json!({"productId": p.product_id, "skuId": p.sku_id, "policyValue": value})),
                )
                .await?;
                Ok(row(p, value))
            })
        })
        .await
    }
}
