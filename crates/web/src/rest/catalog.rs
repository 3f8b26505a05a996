//! The operator's product catalog: anyone signed in reads it; only the operator (an operator
//! token) replaces it.

use super::support::Params;
use crate::error::{ApiError, ApiResult, ErrorInfo, bad_request};
use crate::extract::AuthAny;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_app::operator::{CATALOG_IS_THE_OPERATORS, Caller};
use seatkeeper_domain::catalog::Catalog;
use serde_json::{Value, json};

pub fn catalog_json(c: &Catalog) -> Value {
    let names =
        |ids: &[seatkeeper_domain::PlanId]| ids.iter().map(|i| c.plan_name(*i)).collect::<Vec<_>>();
    json!({
        "plans": c.plans.iter().map(|p| json!({
            "servicePlanId": p.id.to_string(),
            "servicePlanName": p.name,
            "displayName": p.display_name,
            "requires": names(&p.requires),
            "excludes": names(&p.excludes),
        })).collect::<Vec<_>>(),
        "products": c.products.iter().map(|p| json!({
            "skuId": p.sku_id.to_string(),
            "skuPartNumber": p.sku_part_number,
            "productId": p.product_id,
            "name": p.name,
            "appliesTo": p.applies_to.as_str(),
            "selfService": p.self_service,
            "servicePlans": p.plans.iter().map(|id| json!({
                "servicePlanId": id.to_string(),
                "servicePlanName": c.plan_name(*id),
                "displayName": c.plan(*id).map(|x| x.display_name.clone()).unwrap_or_default(),
            })).collect::<Vec<_>>(),
            "trial": p.trial.as_ref().map(|t| json!({
                "days": t.days, "licenses": t.licenses, "needsPaymentMethod": t.needs_payment_method,
            })),
            "prices": p.prices.iter().map(|x| json!({
                "currency": x.currency, "monthly": x.monthly, "annual": x.annual,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The catalog: products with their service plans, prices and trial offers. Any signed-in
/// user may read it (end users choose from it what to buy or request), and the operator.
pub async fn get(
    State(app): State<App>,
    AuthAny(_caller): AuthAny,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    params.allow(&[])?;
    Ok(axum::Json(catalog_json(&app.catalog())))
}

/// Replaces the catalog with a TOML file (`application/toml` or `text/plain`) or a JSON one
/// (`application/json`): the operator only, with an operator token. A bad file is refused with
/// the line and the problem; nothing changes.
pub async fn put(
    State(app): State<App>,
    AuthAny(caller): AuthAny,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match import(&app, &caller, &headers, body).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(r) => r,
    }
}

async fn import(
    app: &App,
    caller: &Caller,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, Response> {
    // Who may import comes before what was sent: anyone but the operator gets 403 whatever
    // the body.
    let operator = caller
        .operator(CATALOG_IS_THE_OPERATORS)
        .map_err(|e| ApiError(e).into_response())?;
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ErrorInfo::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "bodyTooLarge",
                "Request_EntityTooLarge",
                format!(
                    "The body is larger than the {} KiB this server accepts.",
                    crate::MAX_BODY_BYTES / 1024
                ),
            )
            .into_response());
        }
        Err(e) => {
            return Err(bad_request(
                "invalidBody",
                format!("The body cannot be read: {}", e.body_text()),
            )
            .into_response());
        }
    };
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let name = match ctype.as_str() {
        "application/json" => "catalog.json",
        "application/toml" | "text/plain" | "text/x-toml" | "application/x-toml" => "catalog.toml",
        _ => {
            return Err(ErrorInfo::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupportedMediaType",
                "Request_UnsupportedMediaType",
                "Send the catalog as TOML with 'Content-Type: application/toml' (or text/plain), or as JSON with 'Content-Type: application/json'.",
            )
            .into_response());
        }
    };
    let text = std::str::from_utf8(&body).map_err(|_| {
        bad_request("invalidCatalog", "The catalog is not UTF-8 text.").into_response()
    })?;
    if text.trim().is_empty() {
        return Err(bad_request(
            "invalidCatalog",
            "The body is empty: send the catalog file as the body.",
        )
        .into_response());
    }
    let summary = app
        .import_catalog(operator, name, text)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(json!({
        "version": summary.version,
        "products": summary.products,
        "plans": summary.plans,
        "message": format!("Catalog version {} is in force: {} products, {} service plans.", summary.version, summary.products, summary.plans),
    }))
}
