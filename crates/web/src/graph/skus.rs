//! `/subscribedSkus` (the Licenses page in Graph's shape) and `/directory/subscriptions`.

use super::odata::{self, SELECT_ONLY};
use super::{Id, collection, select, shapes};
use crate::error::{ApiError, ApiResult};
use crate::extract::Auth;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::SkuId;

const SKU_PROPS: &[&str] = &[
    "id",
    "accountId",
    "accountName",
    "skuId",
    "skuPartNumber",
    "appliesTo",
    "capabilityStatus",
    "consumedUnits",
    "prepaidUnits",
    "servicePlans",
    "subscriptionIds",
];

const SUBSCRIPTION_PROPS: &[&str] = &[
    "id",
    "commerceSubscriptionId",
    "skuId",
    "skuPartNumber",
    "status",
    "totalLicenses",
    "isTrial",
    "createdDateTime",
    "nextLifecycleDateTime",
    "ownerId",
    "ownerTenantId",
    "ownerType",
    "serviceStatus",
];

fn not_found(id: &str) -> ApiError {
    ApiError(AppError::not_found(format!(
        "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
    )))
}

/// `GET /subscribedSkus`: one entry per product the organization owns.
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), SELECT_ONLY)?;
    let sel = odata::parse_select(&q.select, SKU_PROPS, "microsoft.graph.subscribedSku")?;
    let rows = app.licenses_page(&actor).await?;
    let tenant = app.get_tenant(&actor).await?;
    let catalog = app.catalog();
    let items = rows
        .iter()
        .map(|r| select(shapes::sku(r, &tenant, &catalog), &sel))
        .collect();
    Ok(axum::Json(collection(&headers, "subscribedSkus", items, None, None)).into_response())
}

/// `GET /subscribedSkus/{tenantId}_{skuId}`.
pub async fn get_one(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), SELECT_ONLY)?;
    let sel = odata::parse_select(&q.select, SKU_PROPS, "microsoft.graph.subscribedSku")?;
    let sku = id
        .split_once('_')
        .and_then(|(t, s)| {
            let tenant = uuid::Uuid::parse_str(t.trim()).ok()?;
            (tenant == actor.tenant_id.0).then_some(())?;
            SkuId::parse(s)
        })
        .ok_or_else(|| not_found(&id))?;
    let rows = app.licenses_page(&actor).await?;
    let row = rows
        .iter()
        .find(|r| r.sku_id == sku)
        .ok_or_else(|| not_found(&id))?;
    let tenant = app.get_tenant(&actor).await?;
    Ok(super::entity(
        &headers,
        "subscribedSkus",
        select(shapes::sku(row, &tenant, &app.catalog()), &sel),
    ))
}

/// `GET /directory/subscriptions`: every subscription, in companySubscription's shape.
pub async fn subscriptions(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), SELECT_ONLY)?;
    let sel = odata::parse_select(
        &q.select,
        SUBSCRIPTION_PROPS,
        "microsoft.graph.companySubscription",
    )?;
    let list = app.list_subscriptions(&actor, true).await?;
    let catalog = app.catalog();
    let items = list
        .iter()
        .map(|s| select(shapes::subscription(s, &catalog), &sel))
        .collect();
    Ok(axum::Json(collection(
        &headers,
        "directory/subscriptions",
        items,
        None,
        None,
    ))
    .into_response())
}

/// `GET /directory/subscriptions/{id}` (id or commerceSubscriptionId).
pub async fn subscription(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), SELECT_ONLY)?;
    let sel = odata::parse_select(
        &q.select,
        SUBSCRIPTION_PROPS,
        "microsoft.graph.companySubscription",
    )?;
    let s = app.get_subscription(&actor, &id).await?;
    Ok(super::entity(
        &headers,
        "directory/subscriptions",
        select(shapes::subscription(&s, &app.catalog()), &sel),
    ))
}
