//! Central subscriptions (SUB1–SUB3): the Products page, buy, change, cancel, reactivate.

use super::support::PathArgs;
use super::support::{Params, list as value_list, product_in_body, subscription_json, ts};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_domain::lifecycle::{BillingFrequency, CancelOutcome};
use serde::Deserialize;
use serde_json::{Value, json};

pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    params.allow(&["includeDeleted"])?;
    let include_deleted = params.bool("includeDeleted")?.unwrap_or(false);
    let subs = app.list_subscriptions(&actor, include_deleted).await?;
    let catalog = app.catalog();
    Ok(axum::Json(value_list(
        subs.iter()
            .map(|s| subscription_json(&catalog, s))
            .collect(),
        None,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuyBody {
    sku_id: Option<String>,
    quantity: Option<i64>,
    billing_frequency: Option<String>,
}

pub async fn buy(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<BuyBody>,
) -> ApiResult<Response> {
    let catalog = app.catalog();
    let product = product_in_body(&catalog, "skuId", body.sku_id.as_deref().unwrap_or(""))?;
    let quantity = body.quantity.ok_or_else(|| {
        bad_request(
            "missingProperty",
            "quantity is required: the number of licenses to buy (at least 1).",
        )
    })?;
    let frequency = match body.billing_frequency.as_deref() {
        None => {
            return Err(bad_request(
                "missingProperty",
                "billingFrequency is required: \"monthly\" or \"annual\".",
            ));
        }
        Some(f) => BillingFrequency::parse(f.trim()).ok_or_else(|| {
            bad_request(
                "invalidBillingFrequency",
                format!("billingFrequency '{f}' is not valid: use \"monthly\" or \"annual\"."),
            )
        })?,
    };
    let s = app.buy(&actor, product.sku_id, quantity, frequency).await?;
    let location = format!("/api/v1/subscriptions/{}", s.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(subscription_json(&catalog, &s)),
    )
        .into_response())
}

pub async fn get(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<axum::Json<Value>> {
    let s = app.get_subscription(&actor, &id).await?;
    Ok(axum::Json(subscription_json(&app.catalog(), &s)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchBody {
    quantity: Option<i64>,
    recurring_billing: Option<bool>,
}

pub async fn patch(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<PatchBody>,
) -> ApiResult<axum::Json<Value>> {
    let s = app
        .update_subscription(&actor, &id, body.quantity, body.recurring_billing)
        .await?;
    Ok(axum::Json(subscription_json(&app.catalog(), &s)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CancelBody {
    reason: Option<String>,
}

pub async fn cancel(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<CancelBody>,
) -> ApiResult<axum::Json<Value>> {
    let (s, outcome) = app
        .cancel(&actor, &id, body.reason.as_deref().unwrap_or(""))
        .await?;
    let (code, message, effective) = match outcome {
        CancelOutcome::DisabledNow => (
            "disabledNow",
            "Cancelled within the cancellation window: the subscription is disabled now and a prorated refund is credited on the next invoice.".to_string(),
            s.life.status_since,
        ),
        CancelOutcome::EndsAtTermEnd => (
            "endsAtTermEnd",
            format!(
                "Recurring billing is off: the subscription stays active until the end of its term on {}.",
                ts(s.life.term_end)
            ),
            s.life.term_end,
        ),
    };
    Ok(axum::Json(json!({
        "outcome": code,
        "effectiveDateTime": ts(effective),
        "message": message,
        "subscription": subscription_json(&app.catalog(), &s),
    })))
}

pub async fn reactivate(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<axum::Json<Value>> {
    let s = app.reactivate(&actor, &id).await?;
    Ok(axum::Json(subscription_json(&app.catalog(), &s)))
}
