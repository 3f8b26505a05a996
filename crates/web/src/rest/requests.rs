//! License requests (REQ1–REQ6): end users submit and follow their own; admins list, open,
//! decide and share them, and set the organization's request process, link expiry and
//! retention.

use super::support::{Params, PathArgs, plans, product_in_body};
use super::{
    BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::error::{ApiError, ApiResult, bad_request};
use crate::extract::{Auth, Json, JsonError};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::requests::{AssignVia, DecisionInput, RequestDetail, RequestPage, ShareInput};
use seatkeeper_app::views::{
    DecisionOptionsView, LicenseRequest, LicenseRequestList, LicenseRequestSummary, RequestSettings,
};
use seatkeeper_app::{Actor, App};
use seatkeeper_domain::catalog::Catalog;
use seatkeeper_domain::requests::RequestStatus;
use seatkeeper_domain::roles::Action;

use serde::Deserialize;
use utoipa::ToSchema;

type Out<T> = ApiResult<axum::Json<T>>;

fn page(
    catalog: &Catalog,
    p: RequestPage,
    path: &str,
    status: Option<&str>,
    top: i64,
    skip: i64,
) -> LicenseRequestList {
    let next = skip + top;
    LicenseRequestList {
        value: p
            .requests
            .iter()
            .map(|r| LicenseRequestSummary::new(catalog, r))
            .collect(),
        count: p.total,
        next_link: (next < p.total).then(|| match status {
            Some(s) => format!("/api/v1{path}?status={s}&top={top}&skip={next}"),
            None => format!("/api/v1{path}?top={top}&skip={next}"),
        }),
    }
}

fn paging(params: &Params) -> ApiResult<(i64, i64)> {
    Ok((
        params.int("top", 1, 200)?.unwrap_or(50),
        params.int("skip", 0, 1_000_000_000)?.unwrap_or(0),
    ))
}

fn created(app: &App, d: &RequestDetail) -> Response {
    (
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/license-requests/{}", d.request.id),
        )],
        axum::Json(LicenseRequest::new(&app.catalog(), d)),
    )
        .into_response()
}

/// What to request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = LicenseRequestSubmit)]
pub struct SubmitBody {
    /// The product's skuId (GUID) or skuPartNumber.
    #[schema(required = true, nullable = false, min_length = 1)]
    sku_id: Option<String>,
    /// Colleagues who need it too: ids or user principal names of Members of the
    /// organization (at most 19).
    /// null is the same as none.
    #[serde(default)]
    #[schema(max_items = 19)]
    other_user_ids: Option<Vec<String>>,
    /// A note for the admin (at most 2000 characters).
    #[schema(max_length = 2000)]
    note: Option<String>,
}

/// Request a license
///
/// When the organization's purchase policy stops the signed-in user from buying a product
/// (Disabled, or only trials without a payment method), they request it instead, for
/// themselves and colleagues, with an optional note. Refusals carry a code: PurchaseAllowed
/// (409: buy it instead), OrganizationRequestProcess (409: the organization's own process is
/// on; `details[0]` carries its `message` and `documentationUrl`), RequestAlreadyOpen (409;
/// `details[0].requestId`), invalidUsers (400: each colleague that is not a Member, named),
/// forbidden (403: Guests).
#[utoipa::path(
    post,
    path = "/me/license-requests",
    operation_id = "submitLicenseRequest",
    tag = "License requests",
    request_body = SubmitBody,
    responses(
        (status = 201, description = "Submitted: Pending.", body = LicenseRequest,
            headers(("Location" = String, description = "/api/v1/license-requests/{id}"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn submit(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<SubmitBody>,
) -> ApiResult<Response> {
    let catalog = app.catalog();
    let product = product_in_body(&catalog, "skuId", body.sku_id.as_deref().unwrap_or(""))?;
    let d = app
        .submit_request(
            &actor,
            product.sku_id,
            body.other_user_ids.as_deref().unwrap_or_default(),
            body.note.as_deref(),
        )
        .await?;
    Ok(created(&app, &d))
}

/// Your own license requests
///
/// The signed-in user's requests, newest first, with their status and outcome.
#[utoipa::path(
    get,
    path = "/me/license-requests",
    operation_id = "listMyLicenseRequests",
    tag = "License requests",
    params(
        ("top" = Option<i64>, Query, minimum = 1, maximum = 200, description = "Page size, 1 to 200 (default 50)."),
        ("skip" = Option<i64>, Query, minimum = 0, maximum = 1_000_000_000, description = "How many to skip."),
    ),
    responses(
        (status = 200, description = "OK", body = LicenseRequestList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn mine(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> Out<LicenseRequestList> {
    params.allow(&["top", "skip"])?;
    let (top, skip) = paging(&params)?;
    let p = app.my_requests(&actor, top, skip).await?;
    Ok(axum::Json(page(
        &app.catalog(),
        p,
        "/me/license-requests",
        None,
        top,
        skip,
    )))
}

/// List license requests
///
/// The organization's requests, newest first: product, requester, date requested, status, how
/// many users. Global reader and up.
#[utoipa::path(
    get,
    path = "/license-requests",
    operation_id = "listLicenseRequests",
    tag = "License requests",
    params(
        ("status" = Option<String>, Query, description = "pending or completed (default: both)."),
        ("top" = Option<i64>, Query, minimum = 1, maximum = 200, description = "Page size, 1 to 200 (default 50)."),
        ("skip" = Option<i64>, Query, minimum = 0, maximum = 1_000_000_000, description = "How many to skip."),
    ),
    responses(
        (status = 200, description = "OK", body = LicenseRequestList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> Out<LicenseRequestList> {
    params.allow(&["status", "top", "skip"])?;
    let (top, skip) = paging(&params)?;
    let status = match params.value("status")? {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("pending") => Some(RequestStatus::Pending),
        Some(s) if s.eq_ignore_ascii_case("completed") => Some(RequestStatus::Completed),
        Some(s) => {
            return Err(bad_request(
                "invalidStatus",
                format!("status '{s}' is not one of: pending, completed."),
            ));
        }
    };
    let p = app.list_requests(&actor, status, top, skip).await?;
    let word = status.map(|s| {
        if s == RequestStatus::Pending {
            "pending"
        } else {
            "completed"
        }
    });
    Ok(axum::Json(page(
        &app.catalog(),
        p,
        "/license-requests",
        word,
        top,
        skip,
    )))
}

/// Open a license request
///
/// Every user on the request with their current licenses, the recommendations of the people it
/// was shared with, and the decision. Admins see any; a requester sees their own.
#[utoipa::path(
    get,
    path = "/license-requests/{id}",
    operation_id = "getLicenseRequest",
    tag = "License requests",
    params(("id" = String, Path, description = "The request's id (GUID).")),
    responses(
        (status = 200, description = "OK", body = LicenseRequest),
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
) -> Out<LicenseRequest> {
    let d = app.get_request(&actor, &id).await?;
    Ok(axum::Json(LicenseRequest::new(&app.catalog(), &d)))
}

/// What a decision can choose from
///
/// The products the organization holds that can serve the request (any that includes every
/// plan of the requested one), with their free licenses and plans, and the security groups
/// that carry one of them. Global reader and up.
#[utoipa::path(
    get,
    path = "/license-requests/{id}/decision-options",
    operation_id = "getLicenseRequestDecisionOptions",
    tag = "License requests",
    params(("id" = String, Path, description = "The request's id (GUID).")),
    responses(
        (status = 200, description = "OK", body = DecisionOptionsView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn options(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> Out<DecisionOptionsView> {
    let o = app.decision_options(&actor, &id).await?;
    Ok(axum::Json(DecisionOptionsView::new(&app.catalog(), &o)))
}

/// Assign through a security group.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ViaGroup {
    /// The security group's id (GUID).
    #[schema(min_length = 1)]
    group_id: String,
}

/// "direct", or a security group to add the approved users to.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AssignViaBody {
    /// `direct`.
    Word(String),
    Group(ViaGroup),
}

/// The decision.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = LicenseRequestDecision)]
pub struct DecideBody {
    /// Users to approve (ids or user principal names). With `deny`, every user on the request
    /// exactly once; the two lists together name at most 1,000. null is the same as none.
    #[serde(default)]
    approve: Option<Vec<String>>,
    /// Users to deny; null is the same as none.
    #[serde(default)]
    deny: Option<Vec<String>>,
    /// The product to license with (skuId or skuPartNumber): needed when the organization
    /// holds more than one that serves the request (any that includes every plan of it).
    sku_id: Option<String>,
    /// Apps and services (plan GUIDs or names) to turn off; direct assignment only. null is
    /// the same as none.
    #[serde(default)]
    disabled_plans: Option<Vec<String>>,
    /// `"direct"` (default) or `{"groupId": …}`: add the approved users to that security
    /// group, which must carry a product that serves the request.
    assign_via: Option<AssignViaBody>,
    /// Sent to every user on the request instead of the default text (at most 2000
    /// characters).
    #[schema(max_length = 2000)]
    message: Option<String>,
}

/// Approve or deny a license request
///
/// Per user: approve some, deny the rest. Approval passes every check of a direct assignment,
/// all or nothing (the error names who and why; nothing changes), or adds the approved users
/// to a security group that carries the license. Each user on the request is e-mailed. The
/// request becomes Completed. Through a group, the approved users' group licenses are
/// processed before the answer: a user the group cannot license refuses the whole decision.
/// Codes: RequestAlreadyDecided (409), chooseProduct, productDoesNotServe,
/// groupCarriesNoProduct, notSecurityGroup, undecidedUsers, usersInBothLists,
/// usersNotOnRequest, tooManyUsers (400), notEnoughLicenses, noProductToAssign,
/// mutuallyExclusivePlans, planDependency, usageLocationMissing (409: through a group, naming
/// who and why), usersDeleted (409: approved users deleted since the request, named; deny
/// them instead).
/// Approved users who hold the product already take no license: `notices` says so.
#[utoipa::path(
    post,
    path = "/license-requests/{id}/decision",
    operation_id = "decideLicenseRequest",
    tag = "License requests",
    params(("id" = String, Path, description = "The request's id (GUID).")),
    request_body = DecideBody,
    responses(
        (status = 200, description = "Decided: Completed.", body = LicenseRequest),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn decide(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    body: Result<Json<DecideBody>, JsonError>,
) -> Response {
    // Who may decide comes first: a Global reader's bad body is a 403, not a 400.
    if let Err(e) = actor.require(Action::ManageRequests) {
        return ApiError(e).into_response();
    }
    match body {
        Err(e) => e.into_response(),
        Ok(Json(body)) => decide_with(app, actor, id, body).await.into_response(),
    }
}

async fn decide_with(app: App, actor: Actor, id: String, body: DecideBody) -> Out<LicenseRequest> {
    let catalog = app.catalog();
    let approve = body.approve.unwrap_or_default();
    let deny = body.deny.unwrap_or_default();
    let disabled_plans = body.disabled_plans.unwrap_or_default();
    let sku = match body.sku_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(product_in_body(&catalog, "skuId", s)?),
    };
    let via = match body.assign_via {
        None => AssignVia::Direct,
        Some(AssignViaBody::Word(w)) if w.trim().eq_ignore_ascii_case("direct") => {
            AssignVia::Direct
        }
        Some(AssignViaBody::Word(w)) => {
            return Err(bad_request(
                "invalidAssignVia",
                format!("assignVia '{w}' is not \"direct\" or {{\"groupId\": \"…\"}}."),
            ));
        }
        Some(AssignViaBody::Group(g)) => AssignVia::Group(g.group_id),
    };
    let disabled = match (sku, disabled_plans.is_empty()) {
        (_, true) => Vec::new(),
        (Some(p), false) => plans(&catalog, p, &disabled_plans)?,
        (None, false) => {
            let d = app.get_request(&actor, &id).await?;
            let p = catalog.product(d.request.sku_id).ok_or_else(|| {
                bad_request(
                    "unknownProduct",
                    "The requested product is no longer in the catalog: choose one with skuId.",
                )
            })?;
            plans(&catalog, p, &disabled_plans)?
        }
    };
    let d = app
        .decide_request(
            &actor,
            &id,
            &DecisionInput {
                approve,
                deny,
                sku_id: sku.map(|p| p.sku_id),
                disabled_plans: disabled,
                via,
                message: body.message,
            },
        )
        .await?;
    Ok(axum::Json(LicenseRequest::new(&catalog, &d)))
}

/// Whom to share with.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = LicenseRequestShare)]
pub struct ShareBody {
    /// E-mail addresses (or user principal names) of users of the organization, 1 to 20.
    #[schema(min_items = 1, max_items = 20)]
    recipients: Vec<String>,
    /// The e-mail's subject (default: the product and the requester).
    #[schema(max_length = 2000)]
    subject: Option<String>,
    /// A message to the recipients.
    #[schema(max_length = 2000)]
    message: Option<String>,
}

/// The server's address for links in e-mail (see [`seatkeeper_app::Config::link_base`]).
fn base_url(app: &App, headers: &HeaderMap) -> String {
    app.config
        .link_base(headers.get(header::HOST).and_then(|h| h.to_str().ok()))
}

/// Share a license request for a recommendation
///
/// E-mails one request to people of the organization who may decide on it. Each gets signed
/// links, bound to this request and to them, single-use and expiring (linkExpiryDays), to a
/// page that needs no sign-in where they recommend approving or denying it with a comment.
/// An address that is no user of the organization refuses the share (400
/// unknownRecipients); nothing is sent. A decided request cannot be shared (409).
#[utoipa::path(
    post,
    path = "/license-requests/{id}/share",
    operation_id = "shareLicenseRequest",
    tag = "License requests",
    params(("id" = String, Path, description = "The request's id (GUID).")),
    request_body = ShareBody,
    responses(
        (status = 200, description = "Shared.", body = LicenseRequest),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn share(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    headers: HeaderMap,
    Json(body): Json<ShareBody>,
) -> Out<LicenseRequest> {
    let d = app
        .share_request(
            &actor,
            &id,
            &ShareInput {
                recipients: body.recipients,
                subject: body.subject,
                message: body.message,
                base_url: base_url(&app, &headers),
            },
        )
        .await?;
    Ok(axum::Json(LicenseRequest::new(&app.catalog(), &d)))
}

/// Changes to the settings; what is left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = RequestSettingsUpdate)]
pub struct SettingsBody {
    use_organization_process: Option<bool>,
    /// What users see instead of the request form; required when turning the process on.
    #[schema(max_length = 2000)]
    message: Option<String>,
    /// An http(s) link to the organization's policy or documentation ("" removes it).
    #[schema(max_length = 2000)]
    documentation_url: Option<String>,
    #[schema(minimum = 1, maximum = 90)]
    link_expiry_days: Option<i64>,
    #[schema(minimum = 1, maximum = 120)]
    retention_months: Option<i64>,
}

/// License request settings
///
/// Whether the organization uses its own request process (with the message and link users
/// see), how long share links work and how long requests are kept. Global reader and up.
#[utoipa::path(
    get,
    path = "/settings/license-requests",
    operation_id = "getLicenseRequestSettings",
    tag = "License requests",
    responses(
        (status = 200, description = "OK", body = RequestSettings),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn settings(State(app): State<App>, Auth(actor): Auth) -> Out<RequestSettings> {
    Ok(axum::Json(app.request_settings(&actor).await?.into()))
}

/// Change the license request settings
///
/// Global, License or User admin. Turning the organization's own process on needs a message;
/// requests made before stay listed and can still be decided; turning it off restores
/// requests.
#[utoipa::path(
    put,
    path = "/settings/license-requests",
    operation_id = "setLicenseRequestSettings",
    tag = "License requests",
    request_body = SettingsBody,
    responses(
        (status = 200, description = "Saved.", body = RequestSettings),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn set_settings(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<SettingsBody>,
) -> Out<RequestSettings> {
    let mut s = app.request_settings(&actor).await?;
    if let Some(v) = body.use_organization_process {
        s.use_organization_process = v;
    }
    if let Some(m) = body.message {
        s.message = Some(m);
    }
    if let Some(u) = body.documentation_url {
        s.documentation_url = Some(u);
    }
    if let Some(d) = body.link_expiry_days {
        s.link_expiry_days = d;
    }
    if let Some(m) = body.retention_months {
        s.retention_months = m;
    }
    Ok(axum::Json(
        app.set_request_settings(&actor, s).await?.into(),
    ))
}
