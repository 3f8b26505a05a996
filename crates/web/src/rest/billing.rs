//! Cards, billing accounts and billing profiles (BILL1, BILL2): a user's own under `/me`, the
//! organization's under `/billing`.
//!
//! The card number and the security code are read as raw JSON values and checked here, so that
//! no error message can repeat them (a wrong type would otherwise be echoed by the JSON
//! reader); they are handed to the payment provider and dropped.

use super::support::{PathArgs, whole_number_opt};
use super::{
    BadRequest, Conflict, Forbidden, NotFound, PaymentRequired, TooLarge, Unauthorized,
    UnsupportedMediaType,
};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_app::billing::{AddressInput, CardOwner, CardPatch, NewCard, ProfilePatch};
use seatkeeper_app::payments::CardInput;
use seatkeeper_app::views::{BillingAccountList, BillingProfile, PaymentMethod, PaymentMethodList};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

type Out<T> = ApiResult<axum::Json<T>>;

/// A postal address; every field is required.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = AddressRequest)]
pub struct AddressBody {
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = "\\S"
    )]
    line1: Option<String>,
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 100,
        pattern = "\\S"
    )]
    city: Option<String>,
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 20,
        pattern = "\\S"
    )]
    postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code, e.g. US.
    #[schema(
        required = true,
        nullable = false,
        min_length = 2,
        max_length = 2,
        pattern = "^[A-Za-z]{2}$"
    )]
    country: Option<String>,
}

impl From<AddressBody> for AddressInput {
    fn from(a: AddressBody) -> Self {
        AddressInput {
            line1: a.line1,
            city: a.city,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
}

/// A string field that holds a secret: its value is never repeated in an error.
fn secret(field: &str, v: Option<Value>, what: &str) -> ApiResult<String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(bad_request(
            "missingProperty",
            format!("{field} is required: {what}."),
        )),
        Some(_) => Err(bad_request(
            "invalidProperty",
            format!("{field} must be a string: {what}."),
        )),
    }
}

const NUMBER_WORDS: &str = "the card number as a string of digits, spaces allowed";
const CODE_WORDS: &str = "the 3 or 4 digits printed on the card, as a string (not stored)";

/// A card to add. The number and the security code go to the payment provider and are never
/// stored or returned.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = PaymentMethodRequest)]
pub struct NewCardBody {
    /// The card number, 12 to 19 digits; spaces or dashes between groups are allowed.
    #[schema(value_type = String, required = true, nullable = false, example = "4242 4242 4242 4242")]
    card_number: Option<Value>,
    #[serde(default, deserialize_with = "whole_number_opt")]
    #[schema(value_type = i64, required = true, nullable = false, minimum = 1, maximum = 12)]
    expiry_month: Option<i64>,
    #[serde(default, deserialize_with = "whole_number_opt")]
    #[schema(value_type = i64, required = true, nullable = false, minimum = 2000, maximum = 2200)]
    expiry_year: Option<i64>,
    /// 3 or 4 digits; checked with the provider, never stored.
    #[schema(value_type = String, required = true, nullable = false, pattern = "^[0-9]{3,4}$")]
    security_code: Option<Value>,
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 100,
        pattern = "\\S"
    )]
    name_on_card: Option<String>,
    #[schema(required = true, nullable = false, value_type = AddressBody)]
    billing_address: Option<AddressBody>,
}

impl NewCardBody {
    fn into_card(self) -> ApiResult<NewCard> {
        let number = secret("cardNumber", self.card_number, NUMBER_WORDS)?;
        let month = self.expiry_month.ok_or_else(|| {
            bad_request(
                "missingProperty",
                "expiryMonth is required: the month printed on the card, 1 to 12.",
            )
        })?;
        let year = self.expiry_year.ok_or_else(|| {
            bad_request(
                "missingProperty",
                "expiryYear is required: the four-digit year printed on the card.",
            )
        })?;
        let code = secret("securityCode", self.security_code, CODE_WORDS)?;
        let name = self.name_on_card.ok_or_else(|| {
            bad_request(
                "missingProperty",
                "nameOnCard is required: the name printed on the card.",
            )
        })?;
        let address = self.billing_address.ok_or_else(|| {
            bad_request(
                "missingProperty",
                "billingAddress is required: {\"line1\", \"city\", \"postalCode\", \"country\"}.",
            )
        })?;
        Ok(NewCard {
            card: CardInput {
                number,
                expiry_month: month,
                expiry_year: year,
                security_code: code,
                name_on_card: name,
            },
            billing_address: address.into(),
        })
    }
}

/// Changes to a card: expiry, name on card, billing address. The security code is required to
/// verify the card and is not stored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = PaymentMethodPatch)]
pub struct CardPatchBody {
    #[serde(default, deserialize_with = "whole_number_opt")]
    #[schema(value_type = i64, nullable = false, minimum = 1, maximum = 12)]
    expiry_month: Option<i64>,
    #[serde(default, deserialize_with = "whole_number_opt")]
    #[schema(value_type = i64, nullable = false, minimum = 2000, maximum = 2200)]
    expiry_year: Option<i64>,
    #[schema(nullable = false, min_length = 1, max_length = 100, pattern = "\\S")]
    name_on_card: Option<String>,
    #[schema(nullable = false, value_type = AddressBody)]
    billing_address: Option<AddressBody>,
    /// 3 or 4 digits; verifies the card, never stored.
    #[schema(value_type = String, required = true, nullable = false, pattern = "^[0-9]{3,4}$")]
    security_code: Option<Value>,
}

impl CardPatchBody {
    fn into_patch(self) -> ApiResult<CardPatch> {
        let code = secret("securityCode", self.security_code, CODE_WORDS)?;
        Ok(CardPatch {
            expiry_month: self.expiry_month,
            expiry_year: self.expiry_year,
            name_on_card: self.name_on_card,
            billing_address: self.billing_address.map(Into::into),
            security_code: Some(code),
        })
    }
}

fn created(location: String, m: &seatkeeper_app::billing::PaymentMethod) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(PaymentMethod::from(m)),
    )
        .into_response()
}

async fn list_cards(
    app: &App,
    actor: &seatkeeper_app::Actor,
    owner: CardOwner,
) -> Out<PaymentMethodList> {
    let list = app.payment_methods(actor, owner).await?;
    Ok(axum::Json(PaymentMethodList {
        value: list.iter().map(PaymentMethod::from).collect(),
    }))
}

/// List my cards
#[utoipa::path(
    get,
    path = "/me/payment-methods",
    operation_id = "listMyPaymentMethods",
    tag = "Billing",
    responses(
        (status = 200, description = "OK", body = PaymentMethodList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn my_list(State(app): State<App>, Auth(actor): Auth) -> Out<PaymentMethodList> {
    list_cards(&app, &actor, CardOwner::Me).await
}

/// Add a card of my own
///
/// The payment provider checks the card: a declined card is a 402, a wrong field a 400 naming
/// it, and nothing is stored. Stored: brand, last four digits, expiry, name, billing address
/// and the provider's token; never the number or the security code.
#[utoipa::path(
    post,
    path = "/me/payment-methods",
    operation_id = "addMyPaymentMethod",
    tag = "Billing",
    request_body = NewCardBody,
    responses(
        (status = 201, description = "Added.", body = PaymentMethod,
            headers(("Location" = String, description = "/api/v1/me/payment-methods/{id}"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 402, response = PaymentRequired),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn my_add(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<NewCardBody>,
) -> ApiResult<Response> {
    let card = body.into_card()?;
    let m = app.add_payment_method(&actor, CardOwner::Me, &card).await?;
    Ok(created(format!("/api/v1/me/payment-methods/{}", m.id), &m))
}

/// Change a card of my own
///
/// Expiry, name on card, billing address; securityCode is required to verify the card and is
/// not stored.
#[utoipa::path(
    patch,
    path = "/me/payment-methods/{id}",
    operation_id = "updateMyPaymentMethod",
    tag = "Billing",
    params(("id" = String, Path, description = "The card's id.")),
    request_body = CardPatchBody,
    responses(
        (status = 200, description = "OK", body = PaymentMethod),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 402, response = PaymentRequired),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn my_update(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<CardPatchBody>,
) -> Out<PaymentMethod> {
    let patch = body.into_patch()?;
    let m = app
        .update_payment_method(&actor, CardOwner::Me, &id, &patch)
        .await?;
    Ok(axum::Json(PaymentMethod::from(&m)))
}

/// Delete a card of my own
///
/// Refused (409) while a billing profile or a subscription uses it.
#[utoipa::path(
    delete,
    path = "/me/payment-methods/{id}",
    operation_id = "deleteMyPaymentMethod",
    tag = "Billing",
    params(("id" = String, Path, description = "The card's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub async fn my_delete(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<StatusCode> {
    app.delete_payment_method(&actor, CardOwner::Me, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organization's central cards
#[utoipa::path(
    get,
    path = "/billing/payment-methods",
    operation_id = "listPaymentMethods",
    tag = "Billing",
    responses(
        (status = 200, description = "OK", body = PaymentMethodList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn central_list(State(app): State<App>, Auth(actor): Auth) -> Out<PaymentMethodList> {
    list_cards(&app, &actor, CardOwner::Central).await
}

/// Add a card to the organization's central account (Global or Billing admin)
#[utoipa::path(
    post,
    path = "/billing/payment-methods",
    operation_id = "addPaymentMethod",
    tag = "Billing",
    request_body = NewCardBody,
    responses(
        (status = 201, description = "Added.", body = PaymentMethod,
            headers(("Location" = String, description = "/api/v1/billing/payment-methods/{id}"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 402, response = PaymentRequired),
        (status = 403, response = Forbidden),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn central_add(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<NewCardBody>,
) -> ApiResult<Response> {
    let card = body.into_card()?;
    let m = app
        .add_payment_method(&actor, CardOwner::Central, &card)
        .await?;
    Ok(created(
        format!("/api/v1/billing/payment-methods/{}", m.id),
        &m,
    ))
}

/// Change a central card (Global or Billing admin)
#[utoipa::path(
    patch,
    path = "/billing/payment-methods/{id}",
    operation_id = "updatePaymentMethod",
    tag = "Billing",
    params(("id" = String, Path, description = "The card's id.")),
    request_body = CardPatchBody,
    responses(
        (status = 200, description = "OK", body = PaymentMethod),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 402, response = PaymentRequired),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn central_update(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<CardPatchBody>,
) -> Out<PaymentMethod> {
    let patch = body.into_patch()?;
    let m = app
        .update_payment_method(&actor, CardOwner::Central, &id, &patch)
        .await?;
    Ok(axum::Json(PaymentMethod::from(&m)))
}

/// Delete a central card (Global or Billing admin)
///
/// Refused (409) while a billing profile or a subscription uses it.
#[utoipa::path(
    delete,
    path = "/billing/payment-methods/{id}",
    operation_id = "deletePaymentMethod",
    tag = "Billing",
    params(("id" = String, Path, description = "The card's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub async fn central_delete(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<StatusCode> {
    app.delete_payment_method(&actor, CardOwner::Central, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes to a billing profile; give at least one field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = BillingProfilePatch, min_properties = 1)]
pub struct ProfilePatchBody {
    #[schema(nullable = false, min_length = 1, max_length = 256, pattern = "\\S")]
    name: Option<String>,
    #[schema(nullable = false, required = false, value_type = AddressBody)]
    bill_to: Option<AddressBody>,
    #[schema(nullable = false, format = Email)]
    invoice_email: Option<String>,
    /// The card to charge (one of the account's own); null leaves the profile without one.
    #[serde(default, deserialize_with = "super::support::nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    payment_method_id: Option<Option<String>>,
}

impl ProfilePatchBody {
    fn into_patch(self) -> ApiResult<ProfilePatch> {
        if self.name.is_none()
            && self.bill_to.is_none()
            && self.invoice_email.is_none()
            && self.payment_method_id.is_none()
        {
            return Err(bad_request(
                "nothingToChange",
                "Give name, billTo, invoiceEmail or paymentMethodId.",
            ));
        }
        Ok(ProfilePatch {
            name: self.name,
            bill_to: self.bill_to.map(Into::into),
            invoice_email: self.invoice_email,
            payment_method_id: self.payment_method_id,
        })
    }
}

/// My billing profile (opened on first need)
#[utoipa::path(
    get,
    path = "/me/billing-profile",
    operation_id = "getMyBillingProfile",
    tag = "Billing",
    responses(
        (status = 200, description = "OK", body = BillingProfile),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn my_profile(State(app): State<App>, Auth(actor): Auth) -> Out<BillingProfile> {
    Ok(axum::Json(app.my_billing_profile(&actor).await?))
}

/// Change my billing profile
///
/// paymentMethodId must be one of my own cards.
#[utoipa::path(
    patch,
    path = "/me/billing-profile",
    operation_id = "updateMyBillingProfile",
    tag = "Billing",
    request_body = ProfilePatchBody,
    responses(
        (status = 200, description = "OK", body = BillingProfile),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn my_profile_update(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<ProfilePatchBody>,
) -> Out<BillingProfile> {
    let patch = body.into_patch()?;
    Ok(axum::Json(
        app.update_my_billing_profile(&actor, &patch).await?,
    ))
}

/// The organization's billing accounts
///
/// The central account (opened on first need) first, then each self-service purchaser's, each
/// with its billing profile (Global admin, Billing admin, Global reader).
#[utoipa::path(
    get,
    path = "/billing/accounts",
    operation_id = "listBillingAccounts",
    tag = "Billing",
    responses(
        (status = 200, description = "OK", body = BillingAccountList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn accounts(State(app): State<App>, Auth(actor): Auth) -> Out<BillingAccountList> {
    Ok(axum::Json(BillingAccountList {
        value: app.billing_accounts(&actor).await?,
    }))
}

/// Get a billing profile
#[utoipa::path(
    get,
    path = "/billing/profiles/{id}",
    operation_id = "getBillingProfile",
    tag = "Billing",
    params(("id" = String, Path, description = "The profile's id.")),
    responses(
        (status = 200, description = "OK", body = BillingProfile),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn profile(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> Out<BillingProfile> {
    Ok(axum::Json(app.billing_profile(&actor, &id).await?))
}

/// Change a billing profile (Global or Billing admin)
///
/// Name, bill-to address, invoice e-mail, or the card (one of the account's own): replace the
/// card of a profile.
#[utoipa::path(
    patch,
    path = "/billing/profiles/{id}",
    operation_id = "updateBillingProfile",
    tag = "Billing",
    params(("id" = String, Path, description = "The profile's id.")),
    request_body = ProfilePatchBody,
    responses(
        (status = 200, description = "OK", body = BillingProfile),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn profile_update(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<ProfilePatchBody>,
) -> Out<BillingProfile> {
    let patch = body.into_patch()?;
    Ok(axum::Json(
        app.update_billing_profile(&actor, &id, &patch).await?,
    ))
}
