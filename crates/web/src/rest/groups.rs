//! Group-based licensing (L6): a group's products, their processing, members in error,
//! reprocess, and the license jobs that do the work.

use super::licenses::{LicenseIn, specs};
use super::support::{Params, PathArgs, objects_opt, product_in_body};
use super::{BadRequest, Forbidden, NotFound, TooLarge, Unauthorized, UnsupportedMediaType};
use crate::error::{ApiResult, bad_request};
use crate::extract::{Auth, Json};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::views::{
    GroupLicensesView, GroupWithErrors, GroupWithErrorsList, LicenseJobList, LicenseJobView,
    MemberLicenseError, MemberLicenseErrorPage,
};
use seatkeeper_app::{Actor, App};
use seatkeeper_domain::{GroupId, UserId};
use serde::Deserialize;
use utoipa::ToSchema;

type Out<T> = ApiResult<axum::Json<T>>;

async fn view(app: &App, actor: &Actor, group: &str) -> ApiResult<GroupLicensesView> {
    let g = app.get_group(actor, group).await?;
    let l = app.group_licensing(actor, g.id).await?;
    Ok(GroupLicensesView::new(&app.catalog(), &g, &l))
}

/// A group's products and their processing
///
/// The products assigned to the group (each member holds them with the group as a source),
/// the processing state of the latest change with its progress, and how many members are in
/// error.
#[utoipa::path(
    get,
    path = "/groups/{id}/licenses",
    operation_id = "getGroupLicenses",
    tag = "Group licensing",
    params(("id" = String, Path, description = "The group's id (GUID).")),
    responses(
        (status = 200, description = "OK", body = GroupLicensesView),
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
) -> Out<GroupLicensesView> {
    Ok(axum::Json(view(&app, &actor, &id).await?))
}

/// Products to assign to a group and to remove from it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = GroupLicensesRequest)]
pub struct ChangeBody {
    /// Products to assign (or whose disabled plans to change).
    #[serde(default, deserialize_with = "objects_opt")]
    add_licenses: Option<Vec<LicenseIn>>,
    /// Products to remove, by skuId (GUID) or skuPartNumber.
    #[serde(default)]
    remove_licenses: Vec<String>,
}

/// Assign products to a group, or remove them
///
/// The group's products change at once; its members are processed in the background by a
/// job (202): follow `job` (GET /api/v1/jobs/{id}) or `licenseProcessingState`. A member who
/// cannot get the products (too few licenses, a plan conflict, a missing dependency, no usage
/// location) is listed under license-errors and uses no license.
#[utoipa::path(
    post,
    path = "/groups/{id}/licenses",
    operation_id = "changeGroupLicenses",
    tag = "Group licensing",
    params(("id" = String, Path, description = "The group's id (GUID).")),
    request_body = ChangeBody,
    responses(
        (status = 202, description = "Accepted: the members are being processed.", body = GroupLicensesView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn change(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<ChangeBody>,
) -> ApiResult<Response> {
    let catalog = app.catalog();
    let add = specs(&catalog, body.add_licenses.as_deref().unwrap_or(&[]))?;
    let mut remove = Vec::with_capacity(body.remove_licenses.len());
    for r in &body.remove_licenses {
        remove.push(product_in_body(&catalog, "removeLicenses", r)?.sku_id);
    }
    let (g, _) = app.assign_group_license(&actor, &id, add, remove).await?;
    let v = view(&app, &actor, &g.id.to_string()).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(v)).into_response())
}

/// Process a group's members again
///
/// After licenses were bought or plans fixed: every member's licenses from the group are
/// recomputed by a job (202).
#[utoipa::path(
    post,
    path = "/groups/{id}/reprocess",
    operation_id = "reprocessGroup",
    tag = "Group licensing",
    params(("id" = String, Path, description = "The group's id (GUID).")),
    responses(
        (status = 202, description = "Accepted: the members are being processed.", body = LicenseJobView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn reprocess(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<Response> {
    let (_, job) = app.reprocess_group(&actor, &id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(LicenseJobView::new(&job))).into_response())
}

/// Members of a group in error
///
/// Each member whose licenses from this group could not be given, with the product, Graph's
/// error and what to do; 100 a page (`top` up to 999), by user id.
#[utoipa::path(
    get,
    path = "/groups/{id}/license-errors",
    operation_id = "listGroupLicenseErrors",
    tag = "Group licensing",
    params(
        ("id" = String, Path, description = "The group's id (GUID)."),
        ("top" = Option<i64>, Query, description = "Members a page, 1 to 999 (default 100)."),
        ("after" = Option<String>, Query, description = "The last user id of the previous page (from nextLink)."),
    ),
    responses(
        (status = 200, description = "OK", body = MemberLicenseErrorPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn errors(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    params: Params,
) -> Out<MemberLicenseErrorPage> {
    params.allow(&["top", "after"])?;
    let top = params.int("top", 1, 999)?.unwrap_or(100);
    let after = match params.value("after")? {
        None => None,
        Some(a) => Some(UserId::parse(a).ok_or_else(|| {
            bad_request(
                "invalidParameter",
                format!("after is '{a}': use the user id from nextLink."),
            )
        })?),
    };
    let (g, list) = app
        .members_with_license_errors(&actor, &id, after, top + 1)
        .await?;
    let mut users: Vec<UserId> = Vec::new();
    for e in &list {
        if !users.contains(&e.user.id) {
            users.push(e.user.id);
        }
    }
    let more = users.len() as i64 > top;
    users.truncate(top as usize);
    let catalog = app.catalog();
    let value: Vec<MemberLicenseError> = list
        .iter()
        .filter(|e| users.contains(&e.user.id))
        .map(|e| MemberLicenseError::new(&catalog, e))
        .collect();
    let next_link = match (more, users.last()) {
        (true, Some(last)) => Some(format!(
            "/api/v1/groups/{}/license-errors?top={top}&after={last}",
            g.id
        )),
        _ => None,
    };
    Ok(axum::Json(MemberLicenseErrorPage { value, next_link }))
}

/// Groups with members in error
///
/// The organization's Errors & issues: each group whose products some members could not get,
/// with how many.
#[utoipa::path(
    get,
    path = "/license-errors",
    operation_id = "listGroupsWithLicenseErrors",
    tag = "Group licensing",
    responses(
        (status = 200, description = "OK", body = GroupWithErrorsList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn groups_with_errors(
    State(app): State<App>,
    Auth(actor): Auth,
) -> Out<GroupWithErrorsList> {
    let mut value = Vec::new();
    for (g, n) in app.groups_with_license_errors(&actor).await? {
        if let Ok(group) = app.get_group(&actor, &g.to_string()).await {
            value.push(GroupWithErrors {
                group_id: g.to_string(),
                display_name: group.display_name,
                members_with_license_errors: n,
            });
        }
    }
    value.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(axum::Json(GroupWithErrorsList { value }))
}

/// List license jobs
///
/// Background jobs (a group's members processed or added, users imported from a file by the
/// command line), newest first: state, progress, errors and timings. `groupId` keeps one group's;
/// `top` up to 200 (default 50); `nextLink` leads to the next page.
#[utoipa::path(
    get,
    path = "/jobs",
    operation_id = "listJobs",
    tag = "Group licensing",
    params(
        ("groupId" = Option<String>, Query, description = "Only this group's jobs."),
        ("top" = Option<i64>, Query, description = "Jobs to list, 1 to 200 (default 50)."),
        ("after" = Option<String>, Query, description = "The last job of the previous page (from nextLink)."),
    ),
    responses(
        (status = 200, description = "OK", body = LicenseJobList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn jobs(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> Out<LicenseJobList> {
    params.allow(&["groupId", "top", "after"])?;
    let top = params.int("top", 1, 200)?.unwrap_or(50);
    let group = match params.value("groupId")? {
        None => None,
        Some(g) => Some(GroupId::parse(g).ok_or_else(|| {
            bad_request(
                "invalidParameter",
                format!("groupId is '{g}': use a group's id (GUID)."),
            )
        })?),
    };
    let after = match params.value("after")? {
        None => None,
        Some(a) => Some(uuid::Uuid::parse_str(a.trim()).map_err(|_| {
            bad_request(
                "invalidParameter",
                format!("after is '{a}': use the job id from nextLink."),
            )
        })?),
    };
    let mut list = app.license_jobs(&actor, group, after, top + 1).await?;
    let more = list.len() as i64 > top;
    list.truncate(top as usize);
    let next_link = match (more, list.last()) {
        (true, Some(last)) => Some(format!(
            "/api/v1/jobs?top={top}&after={}{}",
            last.id,
            group.map(|g| format!("&groupId={g}")).unwrap_or_default()
        )),
        _ => None,
    };
    Ok(axum::Json(LicenseJobList {
        value: list.iter().map(LicenseJobView::new).collect(),
        next_link,
    }))
}

/// One license job
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    operation_id = "getJob",
    tag = "Group licensing",
    params(("id" = String, Path, description = "The job's id (GUID).")),
    responses(
        (status = 200, description = "OK", body = LicenseJobView),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub async fn job(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
) -> Out<LicenseJobView> {
    Ok(axum::Json(LicenseJobView::new(
        &app.license_job(&actor, &id).await?,
    )))
}

/// The largest body `POST /api/v1/groups/{id}/members` accepts: 100,000 user principal names
/// of up to 113 characters, quoted and separated.
pub const MAX_MEMBERS_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Users to add to a group.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = GroupMembersRequest)]
pub struct MembersBody {
    /// Users by id (GUID) or userPrincipalName, up to 100,000.
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 100000)]
    members: Vec<String>,
}

/// Add many users to a group
///
/// Every name is checked first (nothing is added if one is not a user of the organization);
/// then a job adds them and gives each the group's products, a chunk at a time, with progress
/// (202 with the job). Users who are members already stay as they are.
#[utoipa::path(
    post,
    path = "/groups/{id}/members",
    operation_id = "addGroupMembers",
    tag = "Group licensing",
    params(("id" = String, Path, description = "The group's id (GUID).")),
    request_body = MembersBody,
    responses(
        (status = 202, description = "Accepted: the users are being added.", body = LicenseJobView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn add_members(
    State(app): State<App>,
    Auth(actor): Auth,
    PathArgs(id): PathArgs<String>,
    Json(body): Json<MembersBody>,
) -> ApiResult<Response> {
    let (_, job) = app.add_group_members(&actor, &id, &body.members).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(LicenseJobView::new(&job))).into_response())
}
