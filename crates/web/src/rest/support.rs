//! Shared pieces of the REST handlers: query parameters with clear errors, and
//! resolving products and service plans given by GUID or by name.

use crate::error::{ApiError, ApiResult, bad_request};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use seatkeeper_app::AppError;
use seatkeeper_domain::catalog::{Catalog, Product};
use seatkeeper_domain::{PlanId, Time};
use serde::{Deserialize, Deserializer};

pub use seatkeeper_app::export::{csv_cell as cell, time as ts};
pub use seatkeeper_app::views::{plan_split, sources};

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

/// For optional integer fields: a JSON number without a fraction (`5` or `5.0`, as JSON Schema's
/// `integer` allows), or null. Anything else is refused with the field's name.
pub fn whole_number_opt<'de, D>(d: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                _ => Err(D::Error::custom(format!(
                    "invalid type: number `{n}`, expected a whole number"
                ))),
            }
        }
    }
}

/// For lists of objects: each item must be a JSON object. (serde would also read an object from
/// an array of its fields in order, `["SKU", []]`, which no client means.)
pub fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    let raw = Vec::<serde_json::Value>::deserialize(d)?;
    raw.into_iter()
        .enumerate()
        .map(|(i, v)| {
            if !v.is_object() {
                return Err(D::Error::custom(format!(
                    "item {i}: invalid type: {v}, expected an object"
                )));
            }
            serde_json::from_value(v).map_err(|e| D::Error::custom(format!("item {i}: {e}")))
        })
        .collect()
}

/// [`objects`] for a list that may be left out or null.
pub fn objects_opt<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(transparent)]
    struct Wrap<T: serde::de::DeserializeOwned>(#[serde(deserialize_with = "objects")] Vec<T>);
    Ok(Option::<Wrap<T>>::deserialize(d)?.map(|w| w.0))
}

/// The schema of a usage location in a request: an ISO 3166-1 alpha-2 code this server knows,
/// "" or null (both clear it).
pub fn usage_location_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let mut codes: Vec<serde_json::Value> = Vec::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            let code = String::from_utf8_lossy(&[a, b]).into_owned();
            if seatkeeper_domain::location::UsageLocation::parse(&code).is_ok() {
                codes.push(serde_json::Value::String(code));
            }
        }
    }
    codes.push(serde_json::Value::String(String::new()));
    codes.push(serde_json::Value::Null);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(codes))
        .build()
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

    /// A parameter that must have a value when given: `top=` is refused, not read as absent.
    pub fn value(&self, name: &str) -> ApiResult<Option<&str>> {
        match self.0.iter().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, v)) if v.trim().is_empty() => Err(bad_request(
                "invalidParameter",
                format!("{name} is empty: give a value or leave the parameter out."),
            )),
            Some((_, v)) => Ok(Some(v.as_str())),
        }
    }

    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.value(name)?.map(|v| v.trim().to_ascii_lowercase()) {
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
        let Some(v) = self.value(name)? else {
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
        self.value(name)?.map(|v| parse_time(name, v)).transpose()
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
