//! The self-service purchase policy (POL1–POL3), in the shapes of the commerce module's API:
//! `/policies`, `/policies/AllowSelfServicePurchase/products[/{productId}]`.

use super::support::PathArgs;
use super::{BadRequest, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use seatkeeper_app::App;
use seatkeeper_app::policies::{check_policy_id, parse_value, value_names};
use seatkeeper_app::views::{Policy, PolicyValueSchema, ProductPolicy, ProductPolicyList};
use serde::Deserialize;
use utoipa::ToSchema;

type Out<T> = ApiResult<axum::Json<T>>;

/// List the organization's policies
///
/// One policy, AllowSelfServicePurchase, with the value of every self-service-eligible product
/// the organization has not set (Global admin, Billing admin, Global reader).
#[utoipa::path(
    get,
    path = "/policies",
    operation_id = "listPolicies",
    tag = "Purchase policy",
    responses(
        (status = 200, description = "OK", body = Vec<Policy>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(State(app): State<App>, Auth(actor): Auth) -> Out<Vec<Policy>> {
    Ok(axum::Json(app.list_policies(&actor).await?))
}

/// The default for products the organization has not set.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = PolicyDefaultRequest)]
pub struct DefaultBody {
    #[schema(required = true, nullable = false, value_type = PolicyValueSchema)]
    default_value: Option<String>,
}

/// Set the default policy value
///
/// Sets the value of every self-service-eligible product the organization has not set itself
/// (Global or Billing admin). Purchases and trials that exist are not touched.
#[utoipa::path(
    put,
    path = "/policies/{policyId}",
    operation_id = "setPolicyDefault",
    tag = "Purchase policy",
    params(("policyId" = String, Path, description = "AllowSelfServicePurchase")),
    request_body = DefaultBody,
    responses(
        (status = 200, description = "OK", body = Policy),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn set_default(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(policy_id): PathArgs<String>,
    Json(body): Json<DefaultBody>,
) -> Out<Policy> {
    check_policy_id(&policy_id)?;
    let given = body.default_value.ok_or_else(|| {
        bad_request(
            "missingProperty",
            format!("defaultValue is required: one of {}.", value_names()),
        )
    })?;
    let value = parse_value("defaultValue", &given)?;
    Ok(axum::Json(app.set_policy_default(&actor, value).await?))
}

/// List the products' policy values
///
/// One row per self-service-eligible product of the catalog (Global admin, Billing admin,
/// Global reader).
#[utoipa::path(
    get,
    path = "/policies/{policyId}/products",
    operation_id = "listProductPolicies",
    tag = "Purchase policy",
    params(("policyId" = String, Path, description = "AllowSelfServicePurchase")),
    responses(
        (status = 200, description = "OK", body = ProductPolicyList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn products(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(policy_id): PathArgs<String>,
) -> Out<ProductPolicyList> {
    check_policy_id(&policy_id)?;
    Ok(axum::Json(ProductPolicyList {
        items: app.product_policies(&actor).await?,
    }))
}

/// Get one product's policy value
#[utoipa::path(
    get,
    path = "/policies/{policyId}/products/{productId}",
    operation_id = "getProductPolicy",
    tag = "Purchase policy",
    params(
        ("policyId" = String, Path, description = "AllowSelfServicePurchase"),
        ("productId" = String, Path, description = "The product's 12-character productId, e.g. CFQ7TTC0LH18."),
    ),
    responses(
        (status = 200, description = "OK", body = ProductPolicy),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn product(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs((policy_id, product_id)): PathArgs<(String, String)>,
) -> Out<ProductPolicy> {
    check_policy_id(&policy_id)?;
    Ok(axum::Json(app.product_policy(&actor, &product_id).await?))
}

/// A product's new policy value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = ProductPolicyRequest)]
pub struct ProductBody {
    #[schema(required = true, nullable = false, value_type = PolicyValueSchema)]
    policy_value: Option<String>,
}

/// Set one product's policy value
///
/// Global or Billing admin. Applies from now on: purchases and trials that exist are not touched.
#[utoipa::path(
    put,
    path = "/policies/{policyId}/products/{productId}",
    operation_id = "setProductPolicy",
    tag = "Purchase policy",
    params(
        ("policyId" = String, Path, description = "AllowSelfServicePurchase"),
        ("productId" = String, Path, description = "The product's 12-character productId, e.g. CFQ7TTC0LH18."),
    ),
    request_body = ProductBody,
    responses(
        (status = 200, description = "OK", body = ProductPolicy),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn set_product(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs((policy_id, product_id)): PathArgs<(String, String)>,
    Json(body): Json<ProductBody>,
) -> Out<ProductPolicy> {
    check_policy_id(&policy_id)?;
    let given = body.policy_value.ok_or_else(|| {
        bad_request(
            "missingProperty",
            format!("policyValue is required: one of {}.", value_names()),
        )
    })?;
    let value = parse_value("policyValue", &given)?;
    Ok(axum::Json(
        app.set_product_policy(&actor, &product_id, value).await?,
    ))
}
