//! Central subscriptions (SUB1–SUB3): the Products page, buy, change, cancel, reactivate.

use super::model::{BillingFrequency, CancelResult, Origin, Subscription, SubscriptionList};
use super::support::{Params, product_in_body};
use super::support::{PathArgs, whole_number_opt};
use super::{
    BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_domain::kinds::Origin as DomainOrigin;
use seatkeeper_domain::lifecycle::BillingFrequency as Frequency;
use serde::Deserialize;
use utoipa::ToSchema;

/// List subscriptions (Products page: one row per subscription)
#[utoipa::path(
    get,
    path = "/subscriptions",
    operation_id = "listSubscriptions",
    tag = "Subscriptions",
    params(
        ("includeDeleted" = Option<bool>, Query, description = "Include Deleted subscriptions (default false)."),
        ("origin" = Option<Origin>, Query, description = "Only subscriptions bought by admins (admin) or by users themselves (self-service); self-service ones come with their purchaser and users."),
    ),
    responses(
        (status = 200, description = "OK", body = SubscriptionList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> ApiResult<axum::Json<SubscriptionList>> {
    params.allow(&["includeDeleted", "origin"])?;
    let include_deleted = params.bool("includeDeleted")?.unwrap_or(false);
    let origin = origin_param(&params)?;
    let people = app
        .subscriptions_with_people(&actor, origin, include_deleted)
        .await?;
    let catalog = app.catalog();
    Ok(axum::Json(SubscriptionList {
        value: people
            .iter()
            .map(|p| Subscription::with_people(&catalog, p))
            .collect(),
    }))
}

/// The `origin` query parameter: `admin` or `self-service`.
pub(super) fn origin_param(params: &Params) -> ApiResult<Option<DomainOrigin>> {
    match params.value("origin")? {
        None => Ok(None),
        Some(v) => DomainOrigin::parse(v.trim()).map(Some).ok_or_else(|| {
            bad_request(
                "invalidOrigin",
                format!("origin '{v}' is not valid: use \"admin\" or \"self-service\"."),
            )
        }),
    }
}

/// The `quantity` and `billingFrequency` of a purchase, central or self-service: each
/// required, the frequency `monthly` or `annual`.
pub(super) fn quantity_and_frequency(
    quantity: Option<i64>,
    frequency: Option<&str>,
) -> ApiResult<(i64, Frequency)> {
    let quantity = quantity.ok_or_else(|| {
        bad_request(
            "missingProperty",
            "quantity is required: the number of licenses to buy (at least 1).",
        )
    })?;
    let frequency = match frequency {
        None => {
            return Err(bad_request(
                "missingProperty",
                "billingFrequency is required: \"monthly\" or \"annual\".",
            ));
        }
        Some(f) => Frequency::parse(f.trim()).ok_or_else(|| {
            bad_request(
                "invalidBillingFrequency",
                format!("billingFrequency '{f}' is not valid: use \"monthly\" or \"annual\"."),
            )
        })?,
    };
    Ok((quantity, frequency))
}

/// A created subscription: 201 with its Location.
pub(super) fn created(app: &App, s: &seatkeeper_domain::subscription::Subscription) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/subscriptions/{}", s.id))],
        axum::Json(Subscription::new(&app.catalog(), s)),
    )
        .into_response()
}

/// What to buy.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = BuyRequest)]
pub struct BuyBody {
    /// The product's skuId (GUID) or skuPartNumber.
    #[schema(required = true, nullable = false, min_length = 1)]
    sku_id: Option<String>,
    /// The number of licenses.
    #[serde(default, deserialize_with = "whole_number_opt")]
    #[schema(value_type = i64, required = true, nullable = false, minimum = 1, maximum = 1_000_000)]
    quantity: Option<i64>,
    #[schema(required = true, nullable = false, value_type = BillingFrequency)]
    billing_frequency: Option<String>,
}

/// Buy licenses
///
/// Buys `quantity` licenses of a product for the organization's central pool (Global or
/// Billing admin). A monthly subscription's term is one month, an annual one's one year.
#[utoipa::path(
    post,
    path = "/subscriptions",
    operation_id = "buySubscription",
    tag = "Subscriptions",
    request_body = BuyBody,
    responses(
        (status = 201, description = "Bought. The subscription is Active with recurring billing on.", body = Subscription,
            headers(("Location" = String, description = "/api/v1/subscriptions/{id}"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn buy(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<BuyBody>,
) -> ApiResult<Response> {
    let catalog = app.catalog();
    let product = product_in_body(&catalog, "skuId", body.sku_id.as_deref().unwrap_or(""))?;
    let (quantity, frequency) =
        quantity_and_frequency(body.quantity, body.billing_frequency.as_deref())?;
    let s = app.buy(&actor, product.sku_id, quantity, frequency).await?;
    Ok(created(&app, &s))
}

/// Get a subscription
#[utoipa::path(
    get,
    path = "/subscriptions/{id}",
    operation_id = "getSubscription",
    tag = "Subscriptions",
    params(("id" = String, Path, description = "The subscription's id or commerceSubscriptionId.")),
    responses(
        (status = 200, description = "OK", body = Subscription),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn get(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<axum::Json<Subscription>> {
    let p = app.subscription_people(&actor, &id).await?;
    Ok(axum::Json(Subscription::with_people(&app.catalog(), &p)))
}

/// Give quantity, recurringBilling or both; both are applied together or not at all.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = SubscriptionPatch)]
pub struct PatchBody {
    /// The new total number of licenses (you have 100 and want 5 more: 105). Fewer only within
    /// 7 days of purchase, renewal or adding licenses, and never below the number assigned.
    /// Null or left out: unchanged.
    #[serde(default, deserialize_with = "whole_number_opt")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1_000_000)]
    quantity: Option<i64>,
    /// Null or left out: unchanged.
    recurring_billing: Option<bool>,
    /// Self-service subscriptions, their purchaser only: another of your cards (GET
    /// /api/v1/me/payment-methods) to charge from now on; it must not be expired. The old card
    /// can then be deleted. Null or left out: unchanged.
    #[schema(format = Uuid)]
    payment_method_id: Option<String>,
}

/// Change the number of licenses, recurring billing and/or the card it is charged to
///
/// Refused with the numbers when the new total is below the number of assigned licenses
/// (belowAssigned), when removing licenses after the 7-day window (removalWindowClosed), for
/// zero (invalidQuantity), and unless the subscription is Active. paymentMethodId: the
/// purchaser of a self-service subscription replaces its card with another of their own that
/// has not expired (noPaymentMethod when it is not charged to a card, cardExpired, 404 for a
/// card that is not theirs).
#[utoipa::path(
    patch,
    path = "/subscriptions/{id}",
    operation_id = "updateSubscription",
    tag = "Subscriptions",
    params(("id" = String, Path, description = "The subscription's id or commerceSubscriptionId.")),
    request_body = PatchBody,
    responses(
        (status = 200, description = "OK", body = Subscription),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn patch(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<PatchBody>,
) -> ApiResult<axum::Json<Subscription>> {
    let s = app
        .change_subscription(
            &actor,
            &id,
            body.quantity,
            body.recurring_billing,
            body.payment_method_id.as_deref(),
        )
        .await?;
    Ok(axum::Json(Subscription::new(&app.catalog(), &s)))
}

/// The longest cancellation reason accepted.
const MAX_REASON_CHARS: usize = 500;

/// Why a subscription is cancelled.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = CancelRequest)]
pub struct CancelBody {
    /// One of NoLongerNeeded, TooExpensive, SwitchingToAnotherProduct, MissingFeatures,
    /// BoughtByMistake, Other; or free text (central subscriptions only: a purchaser cancelling
    /// their own gives one of the list).
    #[schema(required = true, nullable = false, min_length = 1, max_length = 500)]
    reason: Option<String>,
    /// Optional feedback, at most 2000 characters.
    #[schema(max_length = 2000)]
    feedback: Option<String>,
}

/// Cancel a subscription
///
/// Within 7 days of purchase or renewal the subscription is disabled at once (graphStatus
/// LockedOut) and its licenses stop counting; after that, recurring billing turns off and it
/// stays Active until the end of its term.
#[utoipa::path(
    post,
    path = "/subscriptions/{id}/cancel",
    operation_id = "cancelSubscription",
    tag = "Subscriptions",
    params(("id" = String, Path, description = "The subscription's id or commerceSubscriptionId.")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "OK", body = CancelResult),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn cancel(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<CancelBody>,
) -> ApiResult<axum::Json<CancelResult>> {
    let reason = body.reason.as_deref().unwrap_or("");
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(bad_request(
            "invalidReason",
            format!(
                "reason is {} characters long: keep it to {MAX_REASON_CHARS}.",
                reason.chars().count()
            ),
        ));
    }
    let (s, outcome) = app
        .cancel(&actor, &id, reason, body.feedback.as_deref())
        .await?;
    Ok(axum::Json(CancelResult::new(&app.catalog(), &s, outcome)))
}

/// Reactivate an Expired or Disabled subscription
///
/// Returns it to Active with a new term starting now and recurring billing on. No body is needed.
#[utoipa::path(
    post,
    path = "/subscriptions/{id}/reactivate",
    operation_id = "reactivateSubscription",
    tag = "Subscriptions",
    params(("id" = String, Path, description = "The subscription's id or commerceSubscriptionId.")),
    responses(
        (status = 200, description = "OK", body = Subscription),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn reactivate(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<axum::Json<Subscription>> {
    let s = app.reactivate(&actor, &id).await?;
    Ok(axum::Json(Subscription::new(&app.catalog(), &s)))
}
