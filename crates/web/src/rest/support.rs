//! Shared pieces of the REST handlers: query parameters with clear errors, JSON shapes, and
//! resolving products and service plans given by GUID or by name.

use crate::error::{ApiError, ApiResult, bad_request};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use seatkeeper_app::AppError;
use seatkeeper_app::store::assignments::Assignment;
use seatkeeper_app::store::directory::User;
use seatkeeper_app::store::subscriptions::Subscription;
use seatkeeper_domain::catalog::{Catalog, Product};
use seatkeeper_domain::lifecycle::Status;
use seatkeeper_domain::plans::enabled_plans;
use seatkeeper_domain::{PlanId, SkuId, Time};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

/// RFC 3339 in UTC with a `Z`, fractions only when there are any.
pub fn ts(t: Time) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub fn ts_opt(t: Option<Time>) -> Value {
    t.map(|t| Value::String(ts(t))).unwrap_or(Value::Null)
}

pub fn parse_time(field: &str, v: &str) -> ApiResult<Time> {
    chrono::DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            bad_request(
                "invalidDateTime",
                format!(
                    "{field} '{v}' is not an RFC 3339 date and time, like 2030-01-31T12:00:00Z."
                ),
            )
        })
}

/// For `Option<Option<T>>` fields: absent is `None`, `null` is `Some(None)`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The query string, read strictly: unknown or repeated parameters are refused.
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(e) => Err(bad_request(
                "invalidQuery",
                format!("The query string cannot be read: {}", e.body_text()),
            )),
        }
    }
}

impl Params {
    /// Refuses parameters other than `allowed`, and any given twice.
    pub fn allow(&self, allowed: &[&str]) -> ApiResult<()> {
        for (i, (k, _)) in self.0.iter().enumerate() {
            if !allowed.contains(&k.as_str()) {
                let hint = if allowed.is_empty() {
                    "this endpoint takes no query parameters".to_string()
                } else {
                    format!("this endpoint accepts {}", allowed.join(", "))
                };
                return Err(bad_request(
                    "unknownParameter",
                    format!("Unknown query parameter '{k}': {hint}."),
                ));
            }
            if self.0[..i].iter().any(|(p, _)| p == k) {
                return Err(bad_request(
                    "duplicateParameter",
                    format!("Query parameter '{k}' is given more than once."),
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "true" => Ok(Some(true)),
            Some(v) if v == "false" => Ok(Some(false)),
            Some(v) => Err(bad_request(
                "invalidParameter",
                format!("{name} is '{v}': use true or false."),
            )),
        }
    }

    pub fn int(&self, name: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(bad_request(
                "invalidParameter",
                format!("{name} is '{v}': use a whole number from {min} to {max}."),
            )),
        }
    }

    pub fn time(&self, name: &str) -> ApiResult<Option<Time>> {
        self.get(name).map(|v| parse_time(name, v)).transpose()
    }
}

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A text cell for a CSV export, neutralized so that spreadsheets do not run it as a formula.
pub fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn unknown_product(key: &str) -> String {
    format!(
        "Product '{key}' is not in the catalog: give a skuId GUID or a skuPartNumber (GET /api/v1/catalog lists them)."
    )
}

/// A product named in the path, by GUID or skuPartNumber; unknown ones are 404.
pub fn product_in_path<'c>(catalog: &'c Catalog, key: &str) -> ApiResult<&'c Product> {
    catalog
        .find_product(key)
        .ok_or_else(|| ApiError(AppError::not_found(unknown_product(key))))
}

/// A product named in a body, by GUID or skuPartNumber; unknown ones are 400.
pub fn product_in_body<'c>(catalog: &'c Catalog, field: &str, key: &str) -> ApiResult<&'c Product> {
    if key.trim().is_empty() {
        return Err(bad_request(
            "missingProperty",
            format!(
                "{field} is required: a product's skuId GUID or skuPartNumber (GET /api/v1/catalog lists them)."
            ),
        ));
    }
    catalog
        .find_product(key)
        .ok_or_else(|| bad_request("unknownSku", unknown_product(key)))
}

/// Service plans given by GUID or by name (case-insensitive), checked against the catalog.
pub fn plans(catalog: &Catalog, product: &Product, given: &[String]) -> ApiResult<Vec<PlanId>> {
    let mut out = Vec::with_capacity(given.len());
    for g in given {
        let found = match PlanId::parse(g) {
            Some(id) => Some(id),
            None => catalog
                .plans
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(g.trim()))
                .map(|p| p.id),
        };
        match found {
            Some(id) => out.push(id),
            None => {
                return Err(bad_request(
                    "unknownPlan",
                    format!(
                        "disabledPlans: '{g}' is neither a service plan GUID nor the name of a service plan in the catalog. {} has {}.",
                        product.sku_part_number,
                        product
                            .plans
                            .iter()
                            .map(|p| catalog.plan_name(*p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    }
    Ok(out)
}

pub fn plan_ref(catalog: &Catalog, id: PlanId) -> Value {
    json!({"servicePlanId": id.to_string(), "servicePlanName": catalog.plan_name(id)})
}

fn part_and_name(catalog: &Catalog, sku: SkuId) -> (String, String) {
    match catalog.product(sku) {
        Some(p) => (p.sku_part_number.clone(), p.name.clone()),
        None => (sku.to_string(), sku.to_string()),
    }
}

pub fn sources(a: &Assignment) -> Vec<&'static str> {
    if a.direct { vec!["direct"] } else { vec![] }
}

/// Enabled and disabled plans of an assignment.
pub fn plan_split(catalog: &Catalog, a: &Assignment) -> (Vec<PlanId>, Vec<PlanId>) {
    let enabled = catalog
        .product(a.sku_id)
        .map(|p| enabled_plans(p, &a.disabled_plans))
        .unwrap_or_default();
    (enabled, a.disabled_plans.clone())
}

pub fn license_json(catalog: &Catalog, a: &Assignment) -> Value {
    let (part, name) = part_and_name(catalog, a.sku_id);
    let (enabled, disabled) = plan_split(catalog, a);
    json!({
        "skuId": a.sku_id.to_string(),
        "skuPartNumber": part,
        "productName": name,
        "enabledPlans": enabled.iter().map(|p| plan_ref(catalog, *p)).collect::<Vec<_>>(),
        "disabledPlans": disabled.iter().map(|p| plan_ref(catalog, *p)).collect::<Vec<_>>(),
        "sources": sources(a),
        "assignedDateTime": ts(a.assigned_at),
        "lastModifiedDateTime": ts(a.updated_at),
    })
}

pub fn user_licenses_json(catalog: &Catalog, u: &User, list: &[Assignment]) -> Value {
    json!({
        "id": u.id.to_string(),
        "userPrincipalName": u.upn,
        "displayName": u.display_name,
        "userType": u.user_type,
        "usageLocation": u.usage_location,
        "licenses": list.iter().map(|a| license_json(catalog, a)).collect::<Vec<_>>(),
    })
}

pub fn subscription_json(catalog: &Catalog, s: &Subscription) -> Value {
    let (part, name) = part_and_name(catalog, s.sku_id);
    let active = s.life.status == Status::Active;
    json!({
        "id": s.id.to_string(),
        "commerceSubscriptionId": s.commerce_id,
        "skuId": s.sku_id.to_string(),
        "skuPartNumber": part,
        "productName": name,
        "origin": s.origin,
        "purchaserId": s.purchaser_id.map(|p| p.to_string()),
        "quantity": s.quantity,
        "billingFrequency": s.life.frequency.as_str(),
        "recurringBilling": s.life.recurring,
        "status": s.life.status.as_str(),
        "graphStatus": s.life.graph_status(),
        "isTrial": s.is_trial,
        "cancelled": s.life.cancelled,
        "cancelReason": s.cancel_reason,
        "createdDateTime": ts(s.created_at),
        "statusDateTime": ts(s.life.status_since),
        "termStartDateTime": ts(s.life.term_start),
        "termEndDateTime": ts(s.life.term_end),
        "nextLifecycleDateTime": ts_opt(s.life.next_lifecycle_at()),
        "cancellationWindowEndsDateTime": if active { Value::String(ts(s.life.cancel_window_end())) } else { Value::Null },
        "removalWindowEndsDateTime": if active { Value::String(ts(s.life.removal_window_end())) } else { Value::Null },
    })
}

/// `{"value": [...]}`, with `nextLink` when there may be more.
pub fn list(value: Vec<Value>, next: Option<String>) -> Value {
    let mut v = json!({ "value": value });
    if let Some(n) = next {
        v["nextLink"] = Value::String(n);
    }
    v
}

/// Path parameters; a bad one (say, invalid percent-encoding) is a 400 in the usual envelope.
pub struct PathArgs<T>(pub T);

impl<T, S> FromRequestParts<S> for PathArgs<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(PathArgs(v)),
            Err(e) => Err(bad_request(
                "invalidPath",
                format!("The path cannot be read: {}", e.body_text()),
            )),
        }
    }
}
