//! Licenses (L1–L4, L7): the Licenses page, a product's users and their CSV export, assigning
//! and unassigning, one user's licenses, and bulk changes.

use super::support::{
    Params, PathArgs, cell, enc, list as value_list, plan_ref, plan_split, plans, product_in_body,
    product_in_path, sources, ts, user_licenses_json,
};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_app::licenses::{BulkMode, LicenseSpec};
use seatkeeper_app::store::assignments::Assignment;
use seatkeeper_app::store::directory::User;
use seatkeeper_domain::UserId;
use seatkeeper_domain::catalog::Catalog;
use serde::Deserialize;
use serde_json::{Value, json};

type Out = ApiResult<axum::Json<Value>>;

/// Users per page of the product's user list; the CSV export reads pages of this size too.
const DEFAULT_TOP: i64 = 100;
const MAX_TOP: i64 = 1000;
const EXPORT_PAGE: i64 = 1000;

pub async fn page(State(app): State<App>, Auth(actor): Auth, params: Params) -> Out {
    params.allow(&[])?;
    let rows = app.licenses_page(&actor).await?;
    let value = rows
        .iter()
        .map(|r| {
            let mut v = json!(r);
            v["skuId"] = json!(r.sku_id.to_string());
            v
        })
        .collect();
    Ok(axum::Json(value_list(value, None)))
}

fn product_user_json(catalog: &Catalog, u: &User, a: &Assignment) -> Value {
    let (enabled, disabled) = plan_split(catalog, a);
    json!({
        "id": u.id.to_string(),
        "userPrincipalName": u.upn,
        "displayName": u.display_name,
        "userType": u.user_type,
        "accountEnabled": u.account_enabled,
        "enabledPlans": enabled.iter().map(|p| plan_ref(catalog, *p)).collect::<Vec<_>>(),
        "disabledPlans": disabled.iter().map(|p| plan_ref(catalog, *p)).collect::<Vec<_>>(),
        "sources": sources(a),
        "assignedDateTime": ts(a.assigned_at),
    })
}

pub async fn users(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(sku): PathArgs<String>,
    params: Params,
) -> Out {
    params.allow(&["top", "after"])?;
    let catalog = app.catalog();
    let product = product_in_path(&catalog, &sku)?;
    let top = params.int("top", 1, MAX_TOP)?.unwrap_or(DEFAULT_TOP);
    let after = match params.get("after") {
        None => None,
        Some(a) => Some(UserId::parse(a).ok_or_else(|| {
            bad_request(
                "invalidParameter",
                format!("after '{a}' is not a user id; use the nextLink of the previous page."),
            )
        })?),
    };
    let rows = app
        .product_users(&actor, product.sku_id, after, top + 1)
        .await?;
    let more = rows.len() as i64 > top;
    let page = &rows[..rows.len().min(top as usize)];
    let next = match (more, page.last()) {
        (true, Some((u, _))) => Some(format!(
            "/api/v1/licenses/{}/users?top={top}&after={}",
            product.sku_id,
            enc(&u.id.to_string())
        )),
        _ => None,
    };
    Ok(axum::Json(value_list(
        page.iter()
            .map(|(u, a)| product_user_json(&catalog, u, a))
            .collect(),
        next,
    )))
}

fn csv_rows(
    catalog: &Catalog,
    rows: &[(User, Assignment)],
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
            sources(a).join("; "),
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

/// L7: every user of a product as CSV, read a page at a time and streamed.
pub async fn users_csv(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(sku): PathArgs<String>,
    params: Params,
) -> ApiResult<Response> {
    params.allow(&[])?;
    let catalog = app.catalog();
    let product = product_in_path(&catalog, &sku)?;
    let sku_id = product.sku_id;
    let filename = format!("{}-users.csv", product.sku_part_number.replace('"', ""));
    // The first page is read before answering, so that a refusal is a proper error response.
    let first = app.product_users(&actor, sku_id, None, EXPORT_PAGE).await?;
    let stream = futures_util::stream::unfold(
        (Export::First(first), app, actor, true),
        move |(state, app, actor, header_row)| async move {
            let rows = match state {
                Export::Done => return None,
                Export::First(rows) => rows,
                Export::After(after) => {
                    match app
                        .product_users(&actor, sku_id, Some(after), EXPORT_PAGE)
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
            let chunk = csv_rows(&app.catalog(), &rows, header_row);
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssignBody {
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    disabled_plans: Vec<String>,
}

fn results(catalog: &Catalog, out: &[(User, Vec<Assignment>)]) -> Value {
    value_list(
        out.iter()
            .map(|(u, l)| user_licenses_json(catalog, u, l))
            .collect(),
        None,
    )
}

/// L2: one product to up to 20 users, all or nothing.
pub async fn assign(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(sku): PathArgs<String>,
    Json(body): Json<AssignBody>,
) -> Out {
    let catalog = app.catalog();
    let product = product_in_path(&catalog, &sku)?;
    let disabled = plans(&catalog, product, &body.disabled_plans)?;
    let out = app
        .assign_product(&actor, product.sku_id, &body.users, &disabled)
        .await?;
    Ok(axum::Json(results(&catalog, &out)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsersBody {
    #[serde(default)]
    users: Vec<String>,
}

/// L3: removes a product from users.
pub async fn unassign(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(sku): PathArgs<String>,
    Json(body): Json<UsersBody>,
) -> Out {
    let catalog = app.catalog();
    let product = product_in_path(&catalog, &sku)?;
    let out = app
        .unassign_product(&actor, product.sku_id, &body.users)
        .await?;
    Ok(axum::Json(results(&catalog, &out)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LicenseIn {
    sku_id: Option<String>,
    #[serde(default)]
    disabled_plans: Vec<String>,
}

fn specs(catalog: &Catalog, given: &[LicenseIn]) -> ApiResult<Vec<LicenseSpec>> {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BulkBody {
    mode: Option<String>,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    licenses: Vec<LicenseIn>,
}

/// L4 for several users: Assign more, Replace or Unassign all.
pub async fn bulk(State(app): State<App>, Auth(actor): Auth, Json(body): Json<BulkBody>) -> Out {
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
    Ok(axum::Json(results(&catalog, &out)))
}

pub async fn user_licenses(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> Out {
    let (u, list) = app.user_licenses(&actor, &id).await?;
    Ok(axum::Json(user_licenses_json(&app.catalog(), &u, &list)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetLicensesBody {
    licenses: Option<Vec<LicenseIn>>,
}

/// L4 for one user: the user ends up holding exactly these licenses.
pub async fn set_user_licenses(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<SetLicensesBody>,
) -> Out {
    let given = body.licenses.ok_or_else(|| {
        bad_request(
            "missingProperty",
            "licenses is required: the complete list [{\"skuId\": ..., \"disabledPlans\": [...]}] the user should hold ([] removes every license).",
        )
    })?;
    let catalog = app.catalog();
    let licenses = specs(&catalog, &given)?;
    let (u, list) = app.set_user_licenses(&actor, &id, licenses).await?;
    Ok(axum::Json(user_licenses_json(&catalog, &u, &list)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlansBody {
    disabled_plans: Option<Vec<String>>,
}

/// L3: changes which service plans are off in one user's license.
pub async fn change_plans(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs((id, sku)): PathArgs<(String, String)>,
    Json(body): Json<PlansBody>,
) -> Out {
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
    Ok(axum::Json(user_licenses_json(&catalog, &u, &list)))
}
