//! Self-service purchases (SS1–SS5): an end user's purchases and trials, their own
//! subscriptions and the licenses they give, and the admins' take-over.

use super::model::{BillingFrequency, Subscription, SubscriptionList};
use super::support::{Params, PathArgs, plans, product_in_body, whole_number_opt};
use super::{
    BadRequest, Conflict, Forbidden, NotFound, PaymentRequired, TooLarge, Unauthorized,
    UnsupportedMediaType,
};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use seatkeeper_app::App;
use seatkeeper_app::selfservice::TakeOver;
use seatkeeper_domain::PaymentMethodId;
use serde::Deserialize;
use utoipa::ToSchema;

fn payment_method(field: &str, v: Option<&str>) -> ApiResult<Option<PaymentMethodId>> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => PaymentMethodId::parse(v).map(Some).ok_or_else(|| {
            bad_request(
                "invalidPaymentMethodId",
                format!(
                    "{field} '{v}' is not a payment method id (a GUID): see GET /api/v1/me/payment-methods."
                ),
            )
        }),
    }
}

/// What to buy.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = PurchaseRequest)]
pub struct PurchaseBody {
    /// The product's skuId (GUID) or skuPartNumber.
    #[schema(required = true, nullable = false, min_length = 1)]
    sku_id: Option<String>,
    /// The number of licenses.
    #[serde(default, deserialize_with = "whole_number_opt")]
    #[schema(value_type = i64, required = true, nullable = false, minimum = 1, maximum = 1_000_000)]
    quantity: Option<i64>,
    #[schema(required = true, nullable = false, value_type = BillingFrequency)]
    billing_frequency: Option<String>,
    /// One of your payment methods (GET /api/v1/me/payment-methods).
    #[schema(required = true, nullable = false, format = Uuid)]
    payment_method_id: Option<String>,
    /// Service plans (GUIDs or names) of the product to turn off in your own license, as in
    /// an assignment. Plans that need a plan of a product you do not hold are turned off
    /// anyway (GET /buy says which); a product that cannot work at all without it is refused
    /// (MissingPrerequisite).
    #[serde(default)]
    disabled_plans: Vec<String>,
}

/// Buy a product yourself
///
/// The signed-in user buys licenses of a self-service eligible product, as the organization's
/// purchase policy allows, paying with one of their cards. They become its purchaser and get one
/// of its licenses, with the plans off that need a plan of a product they do not hold.
/// Refusals carry a code: GuestCannotPurchase, NotSelfServiceEligible, PurchaseBlockedByPolicy,
/// OnlyTrialsAllowed, NoPurchaseAfterTrial (403/409), MissingPrerequisite (409: the product
/// cannot work without another the buyer does not hold), PaymentDeclined (402).
/// An `Idempotency-Key` header makes a retry safe: the same key answers with the subscription
/// the first request bought, and the card is charged once (idempotencyKeyReused, 409: the key
/// was used for another product).
#[utoipa::path(
    post,
    path = "/me/purchases",
    operation_id = "buyProductMyself",
    tag = "Self-service",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Any unique string (a UUID): a retry with the same key buys nothing more.", max_length = 255),
    ),
    request_body = PurchaseBody,
    responses(
        (status = 201, description = "Bought: Active, recurring billing on, origin self-service.", body = Subscription,
            headers(("Location" = String, description = "/api/v1/subscriptions/{id}"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 402, response = PaymentRequired),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn purchase(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: axum::http::HeaderMap,
    Json(body): Json<PurchaseBody>,
) -> ApiResult<Response> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= 255 => Some(k.trim().to_string()),
            _ => {
                return Err(bad_request(
                    "invalidIdempotencyKey",
                    "The Idempotency-Key header must be 1 to 255 visible ASCII characters, for example a UUID.",
                ));
            }
        },
    };
    let catalog = app.catalog();
    let product = product_in_body(&catalog, "skuId", body.sku_id.as_deref().unwrap_or(""))?;
    let (quantity, frequency) = super::subscriptions::quantity_and_frequency(
        body.quantity,
        body.billing_frequency.as_deref(),
    )?;
    let method = payment_method("paymentMethodId", body.payment_method_id.as_deref())?;
    let disabled = plans(&catalog, product, &body.disabled_plans)?;
    let s = app
        .purchase(
            &actor,
            product.sku_id,
            quantity,
            frequency,
            method,
            &disabled,
            key.as_deref(),
        )
        .await?;
    Ok(super::subscriptions::created(&app, &s))
}

/// Which trial to start.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = TrialRequest)]
pub struct TrialBody {
    /// The product's skuId (GUID) or skuPartNumber.
    #[schema(required = true, nullable = false, min_length = 1)]
    sku_id: Option<String>,
    /// Required when the product's trial needs a payment method: it converts to paid at its
    /// end, charged to this card.
    #[schema(format = Uuid)]
    payment_method_id: Option<String>,
    /// Service plans (GUIDs or names) of the product to turn off in your own license, as in
    /// an assignment (see the purchase's disabledPlans).
    #[serde(default)]
    disabled_plans: Vec<String>,
}

/// Start a trial
///
/// The product's trial offer (days, licenses), the user holding one of them. One trial per user
/// and product. A trial that needs a payment method converts to a paid monthly subscription at
/// its end, of as many licenses as are assigned; one without expires.
#[utoipa::path(
    post,
    path = "/me/trials",
    operation_id = "startTrial",
    tag = "Self-service",
    request_body = TrialBody,
    responses(
        (status = 201, description = "Started.", body = Subscription,
            headers(("Location" = String, description = "/api/v1/subscriptions/{id}"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn trial(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<TrialBody>,
) -> ApiResult<Response> {
    let catalog = app.catalog();
    let product = product_in_body(&catalog, "skuId", body.sku_id.as_deref().unwrap_or(""))?;
    let method = payment_method("paymentMethodId", body.payment_method_id.as_deref())?;
    let disabled = plans(&catalog, product, &body.disabled_plans)?;
    let s = app
        .start_trial(&actor, product.sku_id, method, &disabled)
        .await?;
    Ok(super::subscriptions::created(&app, &s))
}

/// Your own purchases and trials
///
/// The signed-in user's self-service subscriptions, newest first, each with the users holding
/// its licenses.
#[utoipa::path(
    get,
    path = "/me/subscriptions",
    operation_id = "listMySubscriptions",
    tag = "Self-service",
    params(("includeDeleted" = Option<bool>, Query, description = "Include Deleted subscriptions (default false).")),
    responses(
        (status = 200, description = "OK", body = SubscriptionList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn mine(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> ApiResult<axum::Json<SubscriptionList>> {
    params.allow(&["includeDeleted"])?;
    let include_deleted = params.bool("includeDeleted")?.unwrap_or(false);
    let list = app.my_subscriptions(&actor, include_deleted).await?;
    let people = app.people_of_subscriptions(&list).await?;
    let catalog = app.catalog();
    Ok(axum::Json(SubscriptionList {
        value: people
            .iter()
            .map(|p| Subscription::with_people(&catalog, p))
            .collect(),
    }))
}

/// Who gets a license of the subscription, and which apps and services are off.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = SubscriptionAssignRequest)]
pub struct AssignBody {
    /// Members of the organization, by id (GUID) or userPrincipalName; at most 20.
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 20)]
    user_ids: Vec<String>,
    /// Service plans to turn off, by GUID or servicePlanName.
    #[serde(default)]
    disabled_plans: Vec<String>,
}

/// Assign licenses of your subscription
///
/// The purchaser assigns licenses of their self-service subscription to up to 20 Members, all
/// or nothing, with every check of license assignment. Admins cannot (403): they take it over
/// first.
#[utoipa::path(
    post,
    path = "/subscriptions/{id}/assign",
    operation_id = "assignFromSubscription",
    tag = "Self-service",
    params(("id" = String, Path, description = "The subscription's id or commerceSubscriptionId.")),
    request_body = AssignBody,
    responses(
        (status = 200, description = "The subscription with its users.", body = Subscription),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn assign(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<AssignBody>,
) -> ApiResult<axum::Json<Subscription>> {
    let catalog = app.catalog();
    let s = app.own_purchase(&actor, &id).await?;
    let product = catalog.product(s.sku_id).ok_or_else(|| {
        bad_request(
            "unknownSku",
            "The subscription's product is no longer in the catalog.",
        )
    })?;
    let disabled = plans(&catalog, product, &body.disabled_plans)?;
    app.assign_in_subscription(&actor, &id, &body.user_ids, &disabled)
        .await?;
    let p = app.subscription_people(&actor, &id).await?;
    Ok(axum::Json(Subscription::with_people(&catalog, &p)))
}

/// Whose licenses of the subscription to remove.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = SubscriptionUnassignRequest)]
pub struct UnassignBody {
    /// Users by id (GUID) or userPrincipalName; at most 20.
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 20)]
    user_ids: Vec<String>,
}

/// Unassign licenses of your subscription
#[utoipa::path(
    post,
    path = "/subscriptions/{id}/unassign",
    operation_id = "unassignFromSubscription",
    tag = "Self-service",
    params(("id" = String, Path, description = "The subscription's id or commerceSubscriptionId.")),
    request_body = UnassignBody,
    responses(
        (status = 200, description = "The subscription with its users.", body = Subscription),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn unassign(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<UnassignBody>,
) -> ApiResult<axum::Json<Subscription>> {
    app.unassign_in_subscription(&actor, &id, &body.user_ids)
        .await?;
    let p = app.subscription_people(&actor, &id).await?;
    Ok(axum::Json(Subscription::with_people(&app.catalog(), &p)))
}

/// A subscription with its purchaser and users
#[utoipa::path(
    get,
    path = "/subscriptions/{id}/users",
    operation_id = "getSubscriptionUsers",
    tag = "Self-service",
    params(("id" = String, Path, description = "The subscription's id or commerceSubscriptionId.")),
    responses(
        (status = 200, description = "OK", body = Subscription),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn users(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<axum::Json<Subscription>> {
    let p = app.subscription_people(&actor, &id).await?;
    Ok(axum::Json(Subscription::with_people(&app.catalog(), &p)))
}

/// How to take over.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = TakeOverRequest)]
pub struct TakeOverBody {
    /// `move`: every user moves to the organization's central licenses of targetSkuId;
    /// `cancel`: users lose these licenses.
    #[schema(required = true, nullable = false, pattern = "^(move|cancel)$")]
    action: Option<String>,
    /// With `move`: the product to move users to (skuId or skuPartNumber); the same product
    /// when left out. Only the same product, or one that includes all of its service plans
    /// and is not an add-on that needs a base (else 400 invalidTarget listing the valid ones).
    target_sku_id: Option<String>,
    /// With `cancel`: NoLongerNeeded, TooExpensive, SwitchingToAnotherProduct,
    /// MissingFeatures, BoughtByMistake or Other.
    reason: Option<String>,
}

/// Take over a self-service subscription
///
/// Global or Billing admin. `move` goes to the same product or one that includes all of its
/// service plans and is not an add-on (else 400 invalidTarget listing the valid targets), and
/// needs one available central license per user (else 409 with the numbers, and nothing
/// changes); either way the subscription ends Deleted and its purchaser
/// is e-mailed.
#[utoipa::path(
    post,
    path = "/subscriptions/{id}/take-over",
    operation_id = "takeOverSubscription",
    tag = "Self-service",
    params(("id" = String, Path, description = "The subscription's id or commerceSubscriptionId.")),
    request_body = TakeOverBody,
    responses(
        (status = 200, description = "Taken over: status Deleted.", body = Subscription),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn take_over(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<TakeOverBody>,
) -> ApiResult<axum::Json<Subscription>> {
    // Who may take over is answered before what the body asks.
    actor.require(seatkeeper_app::domain::roles::Action::ManageSubscriptions)?;
    let catalog = app.catalog();
    let how = match body.action.as_deref().map(str::trim) {
        Some(a) if a.eq_ignore_ascii_case("move") => {
            if body.reason.is_some() {
                return Err(bad_request(
                    "unexpectedProperty",
                    "reason goes with action \"cancel\"; a move needs only targetSkuId.",
                ));
            }
            let target = match body.target_sku_id.as_deref() {
                Some(t) => product_in_body(&catalog, "targetSkuId", t)?.sku_id,
                None => app.get_subscription(&actor, &id).await?.sku_id,
            };
            TakeOver::Move { target }
        }
        Some(a) if a.eq_ignore_ascii_case("cancel") => {
            if body.target_sku_id.is_some() {
                return Err(bad_request(
                    "unexpectedProperty",
                    "targetSkuId goes with action \"move\"; a cancellation needs only reason.",
                ));
            }
            TakeOver::Cancel {
                reason: body.reason.unwrap_or_default(),
            }
        }
        _ => {
            return Err(bad_request(
                "invalidAction",
                "action is required: \"move\" (users move to the organization's central licenses) or \"cancel\".",
            ));
        }
    };
    let s = app.take_over(&actor, &id, how).await?;
    Ok(axum::Json(Subscription::new(&catalog, &s)))
}

/// The message to the purchaser.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = AskToCancelRequest)]
pub struct AskBody {
    /// Added to the e-mail; at most 2000 characters.
    #[schema(max_length = 2000)]
    message: Option<String>,
}

/// Ask the purchaser to cancel
///
/// E-mails the purchaser of a self-service subscription, asking them to cancel it because the
/// organization provides the product centrally (it must hold central licenses of it). Global or
/// Billing admin.
#[utoipa::path(
    post,
    path = "/subscriptions/{id}/ask-to-cancel",
    operation_id = "askPurchaserToCancel",
    tag = "Self-service",
    params(("id" = String, Path, description = "The subscription's id or commerceSubscriptionId.")),
    request_body = AskBody,
    responses(
        (status = 202, description = "The e-mail is in the outbox."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn ask_to_cancel(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<AskBody>,
) -> ApiResult<StatusCode> {
    app.ask_to_cancel(&actor, &id, body.message.as_deref())
        .await?;
    Ok(StatusCode::ACCEPTED)
}
