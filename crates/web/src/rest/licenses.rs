//! Licenses (L1–L4, L7): the Licenses page, a product's users and their CSV export, assigning
//! and unassigning, one user's licenses, and bulk changes.

use super::model::{
    ProductLicenses, ProductLicensesList, ProductUser, ProductUserPage, UserLicenses,
    UserLicensesList,
};
use super::support::{
    Params, PathArgs, cell, enc, objects, objects_opt, plan_split, plans, product_in_body,
    product_in_path, sources, ts,
};
use super::{BadRequest, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_app::group_licensing::NamedSources;
use seatkeeper_app::licenses::{BulkMode, LicenseSpec};
use seatkeeper_domain::UserId;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::catalog::Catalog;
use seatkeeper_domain::directory::User;
use seatkeeper_domain::kinds::Origin as DomainOrigin;
use serde::Deserialize;
use utoipa::ToSchema;

type Out<T> = ApiResult<axum::Json<T>>;

/// Users per page of the product's user list; the CSV export reads pages of this size too.
const DEFAULT_TOP: i64 = 100;
const MAX_TOP: i64 = 1000;
const EXPORT_PAGE: i64 = 1000;

/// Licenses page: one row per product
#[utoipa::path(
    get,
    path = "/licenses",
    operation_id = "listLicenses",
    tag = "Licenses",
    params(("origin" = Option<super::model::Origin>, Query, description = "admin (default): the central pools. self-service: users' own purchases, one row per product summing them, with the users grouped by purchaser (purchases and purchasers).")),
    responses(
        (status = 200, description = "OK", body = ProductLicensesList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn page(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> Out<ProductLicensesList> {
    params.allow(&["origin"])?;
    if super::subscriptions::origin_param(&params)? == Some(DomainOrigin::SelfService) {
        let rows = app.self_service_licenses(&actor).await?;
        return Ok(axum::Json(ProductLicensesList {
            value: rows.iter().map(ProductLicenses::from).collect(),
        }));
    }
    let rows = app.licenses_page(&actor).await?;
    Ok(axum::Json(ProductLicensesList {
        value: rows.iter().map(ProductLicenses::from).collect(),
    }))
}

/// Users holding a product
#[utoipa::path(
    get,
    path = "/licenses/{sku}/users",
    operation_id = "listProductUsers",
    tag = "Licenses",
    params(
        ("sku" = String, Path, description = "The product's skuId (GUID) or skuPartNumber."),
        ("top" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)."),
        ("after" = Option<String>, Query, format = Uuid, description = "Continue after this user id (taken from nextLink)."),
        ("search" = Option<String>, Query, min_length = 1, pattern = "\\S", description = "Only users with a word of their displayName, or their userPrincipalName or mail, starting with this (case-insensitive). Users are listed in displayName order, ignoring case. Not empty: leave it out to list everyone."),
    ),
    responses(
        (status = 200, description = "OK", body = ProductUserPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn users(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(sku): PathArgs<String>,
    params: Params,
) -> Out<ProductUserPage> {
    params.allow(&["top", "after", "search"])?;
    let catalog = app.catalog();
    let product = product_in_path(&catalog, &sku)?;
    let top = params.int("top", 1, MAX_TOP)?.unwrap_or(DEFAULT_TOP);
    let after = match params.value("after")? {
        None => None,
        Some(a) => Some(UserId::parse(a).ok_or_else(|| {
            bad_request(
                "invalidParameter",
                format!("after '{a}' is not a user id; use the nextLink of the previous page."),
            )
        })?),
    };
    let search = params.value("search")?.map(str::to_string);
    let rows = app
        .product_users(&actor, product.sku_id, search.as_deref(), after, top + 1)
        .await?;
    let more = rows.len() as i64 > top;
    let page = &rows[..rows.len().min(top as usize)];
    let next = match (more, page.last()) {
        (true, Some((u, _))) => Some(format!(
            "/api/v1/licenses/{}/users?top={top}&after={}{}",
            product.sku_id,
            enc(&u.id.to_string()),
            search
                .as_deref()
                .map(|s| format!("&search={}", enc(s)))
                .unwrap_or_default()
        )),
        _ => None,
    };
    let ids: Vec<UserId> = page.iter().map(|(u, _)| u.id).collect();
    let groups = app.named_license_sources(&actor, &ids).await?;
    Ok(axum::Json(ProductUserPage {
        value: page
            .iter()
            .map(|(u, a)| ProductUser::new(&catalog, u, a, &groups))
            .collect(),
        next_link: next,
    }))
}

fn csv_rows(
    catalog: &Catalog,
    rows: &[(User, Assignment)],
    groups: &NamedSources,
    header_row: bool,
) -> Result<Bytes, std::io::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160 + 128));
    let io = |e: csv::Error| std::io::Error::other(e.to_string());
    if header_row {
        w.write_record([
            "userPrincipalName",
            "displayName",
            "enabledPlans",
            "disabledPlans",
            "sources",
            "assignedDateTime",
        ])
        .map_err(io)?;
    }
    for (u, a) in rows {
        let (enabled, disabled) = plan_split(catalog, a);
        let names = |p: &[seatkeeper_domain::PlanId]| {
            p.iter()
                .map(|x| catalog.plan_name(*x))
                .collect::<Vec<_>>()
                .join("; ")
        };
        w.write_record([
            cell(&u.upn),
            cell(&u.display_name),
            names(&enabled),
            names(&disabled),
            sources(a, groups).join("; "),
            ts(a.assigned_at),
        ])
        .map_err(io)?;
    }
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

enum Export {
    First(Vec<(User, Assignment)>),
    After(UserId),
    Done,
}

/// Export a product's users as CSV
///
/// Columns: userPrincipalName, displayName, enabledPlans, disabledPlans, sources,
/// assignedDateTime (plan names separated by '; '). Every user, streamed.
#[utoipa::path(
    get,
    path = "/licenses/{sku}/users.csv",
    operation_id = "exportProductUsers",
    tag = "Licenses",
    params(("sku" = String, Path, description = "The product's skuId (GUID) or skuPartNumber.")),
    responses(
        (status = 200, description = "CSV (UTF-8, header row first), sent as an attachment.",
            content_type = "text/csv", body = String,
            headers(("Content-Disposition" = String, description = "attachment; filename=..."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn users_csv(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(sku): PathArgs<String>,
    params: Params,
) -> ApiResult<Response> {
    params.allow(&[])?;
    product_users_csv(app, actor, &sku).await
}

/// Export the users of a product's self-service purchases (CSV)
///
/// One row per user holding a license of a self-service purchase of the product, with the
/// purchaser and the subscription. Read by admins.
#[utoipa::path(
    get,
    path = "/licenses/{sku}/self-service-users.csv",
    operation_id = "exportSelfServiceUsers",
    tag = "Self-service",
    params(("sku" = String, Path, description = "The product's skuId (GUID) or skuPartNumber.")),
    responses(
        (status = 200, description = "CSV (UTF-8, header row first), sent as an attachment.",
            content_type = "text/csv", body = String,
            headers(("Content-Disposition" = String, description = "attachment; filename=..."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn self_service_users_csv(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(sku): PathArgs<String>,
    params: Params,
) -> ApiResult<Response> {
    params.allow(&[])?;
    let catalog = app.catalog();
    let product = product_in_path(&catalog, &sku)?;
    let body = app.self_service_users_csv(&actor, product.sku_id).await?;
    let filename = format!(
        "{}-self-service-users.csv",
        product.sku_part_number.replace('"', "")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /licenses/{sku}/users.csv` of the web admin center (**Export users** on a product's
/// page): the same file as the REST export, for the signed-in viewer; refusals are our error
/// pages.
pub async fn page_users_csv(
    State(app): State<App>,
    viewer: seatkeeper_pages::Viewer,
    axum::extract::Path(sku): axum::extract::Path<String>,
) -> Response {
    if let Err(e) = viewer.require_admin() {
        return e.into_response();
    }
    match product_users_csv(app, viewer.actor, &sku).await {
        Ok(r) => r,
        Err(e) => seatkeeper_pages::PageError::from(e.0).into_response(),
    }
}

/// A product's users as a CSV attachment, streamed a page at a time.
async fn product_users_csv(
    app: App,
    actor: seatkeeper_app::Actor,
    sku: &str,
) -> ApiResult<Response> {
    let catalog = app.catalog();
    let product = product_in_path(&catalog, sku)?;
    let sku_id = product.sku_id;
    let filename = format!("{}-users.csv", product.sku_part_number.replace('"', ""));
    // The first page is read before answering, so that a refusal is a proper error response.
    let first = app
        .product_users(&actor, sku_id, None, None, EXPORT_PAGE)
        .await?;
    let stream = futures_util::stream::unfold(
        (Export::First(first), app, actor, true),
        move |(state, app, actor, header_row)| async move {
            let rows = match state {
                Export::Done => return None,
                Export::First(rows) => rows,
                Export::After(after) => {
                    match app
                        .product_users(&actor, sku_id, None, Some(after), EXPORT_PAGE)
                        .await
                    {
                        Ok(rows) => rows,
                        Err(e) => {
                            tracing::error!("CSV export of {sku_id} stopped: {e}");
                            return Some((
                                Err(std::io::Error::other(e.to_string())),
                                (Export::Done, app, actor, false),
                            ));
                        }
                    }
                }
            };
            let next = match rows.last() {
                Some((u, _)) if rows.len() as i64 >= EXPORT_PAGE => Export::After(u.id),
                _ => Export::Done,
            };
            let ids: Vec<UserId> = rows.iter().map(|(u, _)| u.id).collect();
            let groups = match app.named_license_sources(&actor, &ids).await {
                Ok(g) => g,
                Err(e) => {
                    tracing::error!("CSV export of {sku_id} stopped: {e}");
                    return Some((
                        Err(std::io::Error::other(e.to_string())),
                        (Export::Done, app, actor, false),
                    ));
                }
            };
            let chunk = csv_rows(&app.catalog(), &rows, &groups, header_row);
            Some((chunk, (next, app, actor, false)))
        },
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Who gets a product, and which of its service plans are off.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = AssignRequest)]
pub struct AssignBody {
    /// Users by id (GUID) or userPrincipalName.
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 20)]
    users: Vec<String>,
    /// Service plans to turn off, by GUID or name (servicePlanName, case-insensitive).
    #[serde(default)]
    disabled_plans: Vec<String>,
}

/// The users a change was about with their licenses and each license's sources.
async fn results(
    app: &App,
    actor: &seatkeeper_app::Actor,
    catalog: &Catalog,
    out: &[(User, Vec<Assignment>)],
) -> ApiResult<UserLicensesList> {
    let ids: Vec<UserId> = out.iter().map(|(u, _)| u.id).collect();
    let groups = app.named_license_sources(actor, &ids).await?;
    Ok(UserLicensesList {
        value: out
            .iter()
            .map(|(u, l)| UserLicenses::new(catalog, u, l, &groups))
            .collect(),
    })
}

/// One user's licenses with each license's sources.
async fn one_user(
    app: &App,
    actor: &seatkeeper_app::Actor,
    catalog: &Catalog,
    u: &User,
    list: &[Assignment],
) -> ApiResult<axum::Json<UserLicenses>> {
    let groups = app.named_license_sources(actor, &[u.id]).await?;
    Ok(axum::Json(UserLicenses::new(catalog, u, list, &groups)))
}

/// Assign a product to up to 20 users
///
/// All or nothing: if any user cannot get it (usage location, available licenses, plan rules,
/// guests), nothing changes and the error names each user and the reason (details). A user who
/// already holds the product gets the given disabled plans.
#[utoipa::path(
    post,
    path = "/licenses/{sku}/assign",
    operation_id = "assignProduct",
    tag = "Licenses",
    params(("sku" = String, Path, description = "The product's skuId (GUID) or skuPartNumber.")),
    request_body = AssignBody,
    responses(
        (status = 200, description = "OK", body = UserLicensesList),
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
    PathArgs(sku): PathArgs<String>,
    Json(body): Json<AssignBody>,
) -> Out<UserLicensesList> {
    let catalog = app.catalog();
    let product = product_in_path(&catalog, &sku)?;
    let disabled = plans(&catalog, product, &body.disabled_plans)?;
    let out = app
        .assign_product(&actor, product.sku_id, &body.users, &disabled)
        .await?;
    Ok(axum::Json(results(&app, &actor, &catalog, &out).await?))
}

/// The users a product is removed from.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = UsersRequest)]
pub struct UsersBody {
    /// Users by id (GUID) or userPrincipalName.
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 20)]
    users: Vec<String>,
}

/// Remove a product from users
#[utoipa::path(
    post,
    path = "/licenses/{sku}/unassign",
    operation_id = "unassignProduct",
    tag = "Licenses",
    params(("sku" = String, Path, description = "The product's skuId (GUID) or skuPartNumber.")),
    request_body = UsersBody,
    responses(
        (status = 200, description = "OK", body = UserLicensesList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn unassign(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(sku): PathArgs<String>,
    Json(body): Json<UsersBody>,
) -> Out<UserLicensesList> {
    let catalog = app.catalog();
    let product = product_in_path(&catalog, &sku)?;
    let out = app
        .unassign_product(&actor, product.sku_id, &body.users)
        .await?;
    Ok(axum::Json(results(&app, &actor, &catalog, &out).await?))
}

/// One license: a product and which of its service plans are off.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = LicenseInput)]
pub struct LicenseIn {
    /// The product's skuId (GUID) or skuPartNumber.
    #[schema(required = true, nullable = false, min_length = 1)]
    sku_id: Option<String>,
    /// Service plans to turn off, by GUID or name (servicePlanName, case-insensitive).
    #[serde(default)]
    disabled_plans: Vec<String>,
}

pub(super) fn specs(catalog: &Catalog, given: &[LicenseIn]) -> ApiResult<Vec<LicenseSpec>> {
    let mut out: Vec<LicenseSpec> = Vec::with_capacity(given.len());
    for l in given {
        let product = product_in_body(catalog, "skuId", l.sku_id.as_deref().unwrap_or(""))?;
        out.push(LicenseSpec {
            sku_id: product.sku_id,
            disabled_plans: plans(catalog, product, &l.disabled_plans)?,
        });
    }
    Ok(out)
}

/// A change to several users' licenses.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = BulkRequest)]
pub struct BulkBody {
    #[schema(required = true, nullable = false, value_type = super::model::BulkModeName)]
    mode: Option<String>,
    /// Users by id (GUID) or userPrincipalName.
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 20)]
    users: Vec<String>,
    /// Required for assignMore and replace; leave out (or empty) for unassignAll.
    #[serde(default, deserialize_with = "objects")]
    licenses: Vec<LicenseIn>,
}

/// Assign more, replace or unassign all for several users
///
/// All or nothing for up to 20 users.
#[utoipa::path(
    post,
    path = "/licenses/bulk",
    operation_id = "bulkLicenses",
    tag = "Licenses",
    request_body = BulkBody,
    responses(
        (status = 200, description = "OK", body = UserLicensesList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn bulk(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<BulkBody>,
) -> Out<UserLicensesList> {
    let modes = "\"assignMore\" (keep existing licenses, add these), \"replace\" (remove existing licenses, assign these) or \"unassignAll\"";
    let mode = match body.mode.as_deref() {
        None => {
            return Err(bad_request(
                "missingProperty",
                format!("mode is required: {modes}."),
            ));
        }
        Some(m) => BulkMode::parse(m).ok_or_else(|| {
            bad_request(
                "invalidMode",
                format!("mode '{m}' is not valid: use {modes}."),
            )
        })?,
    };
    let catalog = app.catalog();
    let licenses = specs(&catalog, &body.licenses)?;
    let out = app.bulk(&actor, mode, &body.users, licenses).await?;
    Ok(axum::Json(results(&app, &actor, &catalog, &out).await?))
}

/// A user's licenses
///
/// Admins read anyone's; a user may read their own.
#[utoipa::path(
    get,
    path = "/users/{id}/licenses",
    operation_id = "getUserLicenses",
    tag = "Licenses",
    params(("id" = String, Path, description = "The user's id (GUID) or userPrincipalName.")),
    responses(
        (status = 200, description = "OK", body = UserLicenses),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn user_licenses(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> Out<UserLicenses> {
    let (u, list) = app.user_licenses(&actor, &id).await?;
    one_user(&app, &actor, &app.catalog(), &u, &list).await
}

/// Every license one user should hold.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = SetLicensesRequest)]
pub struct SetLicensesBody {
    /// Every license the user should hold; [] removes all.
    #[serde(default, deserialize_with = "objects_opt")]
    #[schema(required = true, nullable = false)]
    licenses: Option<Vec<LicenseIn>>,
}

/// Set exactly which licenses a user holds
///
/// Products not listed are removed; listed ones are assigned or get the given disabled plans.
#[utoipa::path(
    put,
    path = "/users/{id}/licenses",
    operation_id = "setUserLicenses",
    tag = "Licenses",
    params(("id" = String, Path, description = "The user's id (GUID) or userPrincipalName.")),
    request_body = SetLicensesBody,
    responses(
        (status = 200, description = "OK", body = UserLicenses),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn set_user_licenses(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<SetLicensesBody>,
) -> Out<UserLicenses> {
    let given = body.licenses.ok_or_else(|| {
        bad_request(
            "missingProperty",
            "licenses is required: the complete list [{\"skuId\": ..., \"disabledPlans\": [...]}] the user should hold ([] removes every license).",
        )
    })?;
    let catalog = app.catalog();
    let licenses = specs(&catalog, &given)?;
    let (u, list) = app.set_user_licenses(&actor, &id, licenses).await?;
    one_user(&app, &actor, &catalog, &u, &list).await
}

/// The service plans to turn off in one license.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = PlansRequest)]
pub struct PlansBody {
    /// The plans to turn off, by GUID or name (servicePlanName, case-insensitive); [] turns
    /// every plan on.
    #[schema(required = true, nullable = false)]
    disabled_plans: Option<Vec<String>>,
}

/// Change which service plans are off in one user's license
///
/// 404 if the user does not hold the product.
#[utoipa::path(
    patch,
    path = "/users/{id}/licenses/{sku}",
    operation_id = "changeLicensePlans",
    tag = "Licenses",
    params(
        ("id" = String, Path, description = "The user's id (GUID) or userPrincipalName."),
        ("sku" = String, Path, description = "The product's skuId (GUID) or skuPartNumber."),
    ),
    request_body = PlansBody,
    responses(
        (status = 200, description = "OK", body = UserLicenses),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn change_plans(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs((id, sku)): PathArgs<(String, String)>,
    Json(body): Json<PlansBody>,
) -> Out<UserLicenses> {
    let given = body.disabled_plans.ok_or_else(|| {
        bad_request(
            "missingProperty",
            "disabledPlans is required: the service plans (GUIDs or names) to turn off; [] turns every plan on.",
        )
    })?;
    let catalog = app.catalog();
    let product = product_in_path(&catalog, &sku)?;
    let disabled = plans(&catalog, product, &given)?;
    let (u, list) = app
        .change_plans(&actor, &id, product.sku_id, disabled)
        .await?;
    one_user(&app, &actor, &catalog, &u, &list).await
}
