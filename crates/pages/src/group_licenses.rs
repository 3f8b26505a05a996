//! Group-based licensing pages (L6): a group's **Licenses** (its products and the apps and
//! services each turns on), **Assign licenses** to up to 20 groups at once, **Remove** a
//! product from a group (confirmed first), the processing state with live progress (htmx polls
//! a fragment every second while a job runs; without JavaScript a Refresh link), and
//! **Errors & issues** per group and for the organization, with **Reprocess** for a group and
//! for one member. The same use cases as `/v1.0/groups/{id}/assignLicense` and
//! `/api/v1/groups/{id}/licenses`.

use crate::confirm::{self, ConfirmPage};
use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::notice;
use crate::products::refusal;
use crate::users::{LicenseFields, ProductChoice, product_choices};
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_app::group_licensing::{GroupLicensing, ProcessingState};
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::{GroupId, UserId};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Groups one Assign licenses reaches at most (as the Licenses page's 20 users).
pub const MAX_GROUPS: usize = 20;
/// Members in error on a page.
pub const PAGE: i64 = 50;

/// `12345` as "12,345".
pub fn thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn members_word(n: i64) -> String {
    if n == 1 {
        "1 member".to_string()
    } else {
        format!("{} members", thousands(n))
    }
}

// ----- the processing state -----

/// The processing state alone (`groups_licenses_status.html`, also included in the group's
/// pages as `status`), for htmx polling.
#[derive(Template, WebTemplate)]
#[template(path = "groups_licenses_status.html")]
pub struct StatusPart {
    pub status: Status,
}

/// The processing state of a group's licenses.
pub struct Status {
    pub group_id: String,
    /// Whether a job is queued or running (the fragment polls itself then).
    pub running: bool,
    /// "Processing: 12,000 of 100,000 members", "All members processed", "3 members have errors".
    pub text: String,
    /// "ok", "warn" or "bad" (the badge's colour).
    pub level: &'static str,
    pub badge: &'static str,
    /// Members in error (a link to them when > 0).
    pub errors: i64,
}

/// The processing state in words.
pub fn status_of(group: GroupId, l: &GroupLicensing) -> Status {
    let job = l.job.as_ref();
    let (running, text, level, badge) = match l.state {
        ProcessingState::QueuedForProcessing => (
            true,
            format!(
                "Processing: waiting to start ({}).",
                members_word(job.map(|j| j.total).unwrap_or(0))
            ),
            "warn",
            "Queued",
        ),
        ProcessingState::ProcessingInProgress => (
            true,
            format!(
                "Processing: {} of {}",
                thousands(job.map(|j| j.processed).unwrap_or(0)),
                members_word(job.map(|j| j.total).unwrap_or(0))
            ),
            "warn",
            "Processing",
        ),
        ProcessingState::ProcessingComplete => match job {
            Some(j) if j.state == "Failed" => (
                false,
                format!(
                    "Processing stopped: {} Choose Reprocess to try again.",
                    j.message.clone().unwrap_or_default()
                ),
                "bad",
                "Failed",
            ),
            _ if l.members_with_errors > 0 => (
                false,
                if l.members_with_errors == 1 {
                    "1 member has errors.".to_string()
                } else {
                    format!("{} have errors.", members_word(l.members_with_errors))
                },
                "bad",
                "Errors",
            ),
            None if l.licenses.is_empty() => (false, String::new(), "ok", ""),
            _ => (false, "All members processed.".to_string(), "ok", "Done"),
        },
    };
    Status {
        group_id: group.to_string(),
        running,
        text,
        level,
        badge,
        errors: l.members_with_errors,
    }
}

/// `GET /groups/{id}/licenses/status`: the processing state alone (polled by htmx every second
/// while a job runs).
pub async fn status(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<StatusPart, PageError> {
    viewer.require_admin()?;
    let g = app.get_group(&viewer.actor, &id).await?;
    let l = app.group_licensing(&viewer.actor, g.id).await?;
    Ok(StatusPart {
        status: status_of(g.id, &l),
    })
}

/// A product of a group as its page lists it.
pub struct GroupProduct {
    pub sku: String,
    pub name: String,
    /// "All apps and services on" or "Off: Exchange Online, Teams".
    pub plans: String,
}

/// The group page's Licenses section.
pub struct LicensesSection {
    pub products: Vec<GroupProduct>,
    pub status: Status,
    pub can_assign: bool,
}

/// The Licenses section of a group's page.
pub async fn section(
    app: &App,
    viewer: &Viewer,
    group: GroupId,
) -> Result<LicensesSection, PageError> {
    let l = app.group_licensing(&viewer.actor, group).await?;
    let catalog = app.catalog();
    let products = l
        .licenses
        .iter()
        .map(|x| GroupProduct {
            sku: x.sku_id.to_string(),
            name: catalog
                .product(x.sku_id)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| catalog.part_number(x.sku_id)),
            plans: if x.disabled_plans.is_empty() {
                "All apps and services on".to_string()
            } else {
                format!(
                    "Off: {}",
                    x.disabled_plans
                        .iter()
                        .map(|p| catalog
                            .plan(*p)
                            .map(|d| d.display_name.clone())
                            .unwrap_or_else(|| catalog.plan_name(*p)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        })
        .collect();
    Ok(LicensesSection {
        products,
        status: status_of(group, &l),
        can_assign: viewer.can(Action::AssignLicenses),
    })
}

// ----- Assign licenses (one group or up to 20) -----

/// A group the form assigns to.
pub struct Target {
    pub id: String,
    pub name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "groups_licenses_assign.html")]
pub struct AssignPage {
    pub frame: Frame,
    pub groups: Vec<Target>,
    pub products: Vec<ProductChoice>,
    pub error: Option<String>,
    /// Where Cancel leads.
    pub back: String,
}

/// The groups and the boxes of the Assign licenses form.
#[derive(Debug, Default, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    pub group: Vec<String>,
    #[serde(default)]
    pub sku: Vec<String>,
    #[serde(default)]
    pub plan: Vec<String>,
}

impl AssignForm {
    fn groups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in self
            .group
            .iter()
            .map(|g| g.trim())
            .filter(|g| !g.is_empty())
        {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(g)) {
                out.push(g.to_string());
            }
        }
        out
    }

    fn fields(&self) -> LicenseFields {
        LicenseFields {
            sku: self.sku.clone(),
            plan: self.plan.clone(),
        }
    }
}

fn require_assign(viewer: &Viewer) -> Result<(), PageError> {
    viewer.require_admin()?;
    if !viewer.can(Action::AssignLicenses) {
        return Err(PageError::forbidden(
            "Assigning licenses needs the Global, License or User admin role.",
        ));
    }
    Ok(())
}

/// The groups a form names, checked: 1 to 20, each existing; in name order, each once.
async fn targets(app: &App, viewer: &Viewer, ids: &[String]) -> Result<Vec<Target>, PageError> {
    if ids.is_empty() {
        return Err(PageError::bad_request(
            "Select the groups first: check the box beside each group on the Groups page.",
        ));
    }
    if ids.len() > MAX_GROUPS {
        return Err(PageError::bad_request(format!(
            "You selected {} groups: assign licenses to at most {MAX_GROUPS} groups at once.",
            ids.len()
        )));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let g = app.get_group(&viewer.actor, id).await?;
        if out.iter().all(|t: &Target| t.id != g.id.to_string()) {
            out.push(Target {
                id: g.id.to_string(),
                name: g.display_name,
            });
        }
    }
    // Named in the order people read them, whatever order the list showed them in.
    out.sort_by_cached_key(|t| (t.name.to_lowercase(), t.id.clone()));
    Ok(out)
}

async fn assign_page(
    app: &App,
    viewer: &Viewer,
    groups: Vec<Target>,
    held: &BTreeMap<seatkeeper_domain::SkuId, Vec<seatkeeper_domain::PlanId>>,
    error: Option<String>,
) -> Result<AssignPage, PageError> {
    let products = product_choices(app, &viewer.actor, held, "glic").await?;
    let back = match groups.as_slice() {
        [one] => format!("/groups/{}", one.id),
        _ => "/groups".to_string(),
    };
    Ok(AssignPage {
        frame: viewer.frame("Assign licenses", Nav::Groups),
        groups,
        products,
        error,
        back,
    })
}

/// `GET /groups/licenses/assign?group=…&group=…`: the Assign licenses form for the selected
/// groups (up to 20).
pub async fn assign_form(
    State(app): State<App>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<AssignPage, PageError> {
    require_assign(&viewer)?;
    let form: AssignForm = serde_html_form::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| PageError::bad_request("The link is not valid: select groups again."))?;
    let groups = targets(&app, &viewer, &form.groups()).await?;
    assign_page(&app, &viewer, groups, &BTreeMap::new(), None).await
}

fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `POST /groups/licenses/assign`: assigns the ticked products (with the apps and services
/// left on) to each selected group, one call per group; the members are processed by jobs.
pub async fn assign(
    State(app): State<App>,
    Posted { viewer, form }: Posted<AssignForm>,
) -> Result<Response, PageError> {
    require_assign(&viewer)?;
    let groups = targets(&app, &viewer, &form.groups()).await?;
    let fields = form.fields();
    let again = |error: String, status: StatusCode| {
        let app = app.clone();
        let viewer = viewer.clone();
        let held = fields.as_held(&app);
        async move {
            let groups = targets(&app, &viewer, &form.groups()).await?;
            let page = assign_page(&app, &viewer, groups, &held, Some(error)).await?;
            Ok::<Response, PageError>((status, page).into_response())
        }
    };
    let specs = match fields.specs(&app) {
        Ok(s) if s.is_empty() => {
            return again(
                "Pick at least one product: check the box beside its name.".into(),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        Ok(s) => s,
        Err(msg) => return again(msg, StatusCode::BAD_REQUEST).await,
    };
    let catalog = app.catalog();
    let products = and_list(
        &specs
            .iter()
            .map(|s| {
                catalog
                    .product(s.sku_id)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| s.sku_id.to_string())
            })
            .collect::<Vec<_>>(),
    );
    let mut done: Vec<String> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    let mut first_refusal = None;
    for g in &groups {
        match app
            .assign_group_license(&viewer.actor, &g.id, specs.clone(), vec![])
            .await
        {
            Ok(_) => done.push(g.name.clone()),
            Err(e) => {
                let (status, message) = refusal(e)?;
                first_refusal.get_or_insert(status);
                refused.push(format!("{}: {message}", g.name));
            }
        }
    }
    if done.is_empty() {
        return again(
            refused.join(" "),
            first_refusal.unwrap_or(StatusCode::BAD_REQUEST),
        )
        .await;
    }
    let to = match groups.as_slice() {
        [one] => format!("/groups/{}", one.id),
        _ => "/groups".to_string(),
    };
    let mut message = format!(
        "{products} {} assigned to {}; the members are being processed.",
        if specs.len() == 1 { "was" } else { "were" },
        and_list(&done)
    );
    if !refused.is_empty() {
        message.push_str(&format!(" Not assigned to {}", refused.join(" ")));
    }
    Ok(notice::redirect(&to, &message, !refused.is_empty()))
}

// ----- Remove a product from a group -----

/// The Remove form: the product, and the confirmation.
#[derive(Debug, Default, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub confirmed: String,
}

/// `POST /groups/{id}/licenses/remove`: first asks, then, confirmed, removes the product from
/// the group; each member loses it unless another source keeps it.
pub async fn remove(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<RemoveForm>,
) -> Result<Response, PageError> {
    require_assign(&viewer)?;
    let g = app.get_group(&viewer.actor, &id).await?;
    let catalog = app.catalog();
    let p = crate::licenses::product(&catalog, form.sku.trim())?;
    if !confirm::confirmed(&form.confirmed) {
        return Ok(ConfirmPage {
            frame: viewer.frame("Remove licenses", Nav::Groups),
            question: format!("Remove {} from {}?", p.name, g.display_name),
            details: vec![
                format!(
                    "Every member of {} loses {} unless they hold it directly or through another group; each license freed is available again.",
                    g.display_name, p.name
                ),
                "The members are processed in the background; the group's page shows the progress.".into(),
            ],
            action: format!("/groups/{}/licenses/remove", g.id),
            fields: vec![("sku".into(), p.sku_id.to_string())],
            confirm_label: "Remove".into(),
            back: format!("/groups/{}", g.id),
            back_label: "Cancel".into(),
        }
        .into_response());
    }
    match app
        .assign_group_license(&viewer.actor, &g.id.to_string(), vec![], vec![p.sku_id])
        .await
    {
        Ok(_) => Ok(notice::redirect(
            &format!("/groups/{}", g.id),
            &format!(
                "{} was removed from {}; the members are being processed.",
                p.name, g.display_name
            ),
            false,
        )),
        Err(e) => {
            let (_, message) = refusal(e)?;
            Ok(notice::redirect(
                &format!("/groups/{}", g.id),
                &message,
                true,
            ))
        }
    }
}

// ----- Reprocess -----

/// Where to go back after a reprocess.
#[derive(Debug, Default, Deserialize)]
pub struct ReprocessForm {
    /// A member to reprocess (the per-member button).
    #[serde(default)]
    pub user: String,
}

/// `POST /groups/{id}/reprocess`: the group's members are processed again (after licenses were
/// bought or plans fixed).
pub async fn reprocess_group(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form: _ }: Posted<ReprocessForm>,
) -> Result<Response, PageError> {
    require_assign(&viewer)?;
    let g = app.get_group(&viewer.actor, &id).await?;
    match app.reprocess_group(&viewer.actor, &g.id.to_string()).await {
        Ok((g, _)) => Ok(notice::redirect(
            &format!("/groups/{}", g.id),
            &format!(
                "The members of {} are being processed again.",
                g.display_name
            ),
            false,
        )),
        Err(e) => {
            let (_, message) = refusal(e)?;
            Ok(notice::redirect(
                &format!("/groups/{}/license-errors", g.id),
                &message,
                true,
            ))
        }
    }
}

/// `POST /groups/{id}/license-errors/reprocess`: one member's licenses are processed again now.
pub async fn reprocess_member(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<ReprocessForm>,
) -> Result<Response, PageError> {
    require_assign(&viewer)?;
    let g = app.get_group(&viewer.actor, &id).await?;
    let back = format!("/groups/{}/license-errors", g.id);
    if form.user.trim().is_empty() {
        return Ok(notice::redirect(
            &back,
            "Choose Reprocess beside a member.",
            true,
        ));
    }
    match app.reprocess_user(&viewer.actor, form.user.trim()).await {
        Ok((u, r)) => Ok(notice::redirect(
            &back,
            &if r.errors > 0 {
                format!(
                    "{} was processed again and still has errors: see the advice beside them.",
                    u.display_name
                )
            } else {
                format!("{} was processed again: no errors left.", u.display_name)
            },
            r.errors > 0,
        )),
        Err(e) => {
            let (_, message) = refusal(e)?;
            Ok(notice::redirect(&back, &message, true))
        }
    }
}

// ----- Errors & issues -----

/// A member in error, as the list shows it.
pub struct ErrorRow {
    pub user_id: String,
    pub name: String,
    pub upn: String,
    pub product: String,
    /// Graph's error name.
    pub code: &'static str,
    /// What to do, in words.
    pub advice: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "groups_license_errors.html")]
pub struct GroupErrorsPage {
    pub frame: Frame,
    pub id: String,
    pub name: String,
    pub rows: Vec<ErrorRow>,
    pub next: Option<String>,
    pub first_page: bool,
    pub can_assign: bool,
    pub status: Status,
}

impl GroupErrorsPage {
    /// The pager's link to the first page (None on the first page).
    pub fn first_link(&self) -> Option<String> {
        (!self.first_page).then(|| format!("/groups/{}/license-errors", self.id))
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorsQuery {
    /// The last member id of the previous page.
    #[serde(default)]
    pub after: String,
}

/// `GET /groups/{id}/license-errors`: the members whose licenses from the group are in error,
/// with the product, the error and what to do; **Reprocess** for the group and each member.
pub async fn group_errors(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ErrorsQuery>,
) -> Result<GroupErrorsPage, PageError> {
    viewer.require_admin()?;
    let after = match q.after.trim() {
        "" => None,
        a => Some(UserId::parse(a).ok_or_else(|| {
            PageError::bad_request("The page link is not valid; start again from the first page.")
        })?),
    };
    let (g, mut found) = app
        .members_with_license_errors(&viewer.actor, &id, after, PAGE + 1)
        .await?;
    let mut users: Vec<UserId> = found.iter().map(|m| m.user.id).collect();
    users.dedup();
    let next = if users.len() as i64 > PAGE {
        let cut = users[PAGE as usize];
        found.retain(|m| m.user.id < cut);
        Some(format!(
            "/groups/{}/license-errors?after={}",
            g.id,
            users[PAGE as usize - 1]
        ))
    } else {
        None
    };
    let catalog = app.catalog();
    let l = app.group_licensing(&viewer.actor, g.id).await?;
    Ok(GroupErrorsPage {
        frame: viewer.frame(format!("Errors & issues: {}", g.display_name), Nav::Groups),
        id: g.id.to_string(),
        name: g.display_name.clone(),
        rows: found
            .iter()
            .map(|m| ErrorRow {
                user_id: m.user.id.to_string(),
                name: m.user.display_name.clone(),
                upn: m.user.upn.clone(),
                product: catalog
                    .product(m.sku_id)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| catalog.part_number(m.sku_id)),
                code: m.error.as_str(),
                advice: m.advice(),
            })
            .collect(),
        next,
        first_page: after.is_none(),
        can_assign: viewer.can(Action::AssignLicenses),
        status: status_of(g.id, &l),
    })
}

/// A group with members in error.
pub struct GroupErrors {
    pub id: String,
    pub name: String,
    pub members: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "groups_errors.html")]
pub struct ErrorsPage {
    pub frame: Frame,
    pub groups: Vec<GroupErrors>,
}

/// Groups listed on the organization's Errors & issues page at most.
const TENANT_LIST: usize = 500;

/// `GET /groups/license-errors`: the organization's groups with members in error, each
/// linking to its members.
pub async fn errors(State(app): State<App>, viewer: Viewer) -> Result<ErrorsPage, PageError> {
    viewer.require_admin()?;
    let found = app.groups_with_license_errors(&viewer.actor).await?;
    let mut groups = Vec::new();
    for (gid, n) in found.into_iter().take(TENANT_LIST) {
        let Ok(g) = app.get_group(&viewer.actor, &gid.to_string()).await else {
            continue;
        };
        groups.push(GroupErrors {
            id: g.id.to_string(),
            name: g.display_name,
            members: if n == 1 {
                "1 member has errors".to_string()
            } else {
                format!("{} have errors", members_word(n))
            },
        });
    }
    groups.sort_by_key(|a| a.name.to_lowercase());
    Ok(ErrorsPage {
        frame: viewer.frame("Errors & issues", Nav::Groups),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatkeeper_app::group_licensing::Job;
    use seatkeeper_domain::TenantId;

    fn job(state: &str, processed: i64, total: i64) -> Job {
        Job {
            id: uuid::Uuid::new_v4(),
            tenant_id: TenantId::new(),
            kind: "groupLicenses".into(),
            group_id: None,
            actor_id: None,
            actor: "admin".into(),
            state: state.into(),
            total,
            processed,
            errors: 0,
            cursor: None,
            payload: None,
            message: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
            started_at: None,
            finished_at: None,
        }
    }

    fn render(state: ProcessingState, j: Job, errors: i64) -> String {
        let l = GroupLicensing {
            licenses: Vec::new(),
            state,
            members_with_errors: errors,
            job: Some(j),
        };
        StatusPart {
            status: status_of(GroupId::new(), &l),
        }
        .render()
        .expect("renders")
    }

    #[test]
    fn a_running_job_polls_every_second_with_a_refresh_link_and_stops_when_complete() {
        let html = render(
            ProcessingState::ProcessingInProgress,
            job("Running", 12000, 100000),
            0,
        );
        assert!(
            html.contains("Processing: 12,000 of 100,000 members"),
            "{html}"
        );
        assert!(html.contains(r#"hx-trigger="every 1s""#), "{html}");
        assert!(html.contains(">Refresh</a>"), "{html}");

        let html = render(
            ProcessingState::ProcessingComplete,
            job("Completed", 100000, 100000),
            0,
        );
        assert!(html.contains("All members processed."), "{html}");
        assert!(!html.contains("hx-trigger"), "{html}");
        assert!(!html.contains("Refresh"), "{html}");

        let html = render(
            ProcessingState::ProcessingComplete,
            job("Completed", 100000, 100000),
            1234,
        );
        assert!(html.contains("1,234 members have errors."), "{html}");
        assert!(html.contains("See errors and reprocess"), "{html}");
        assert!(!html.contains("hx-trigger"), "{html}");
    }
}
