//! Groups (DIR1): the list (paging, search by name), create a group, and a group's page with
//! its members: add by searching users as one types (htmx; without JavaScript the search is a
//! plain form), remove; its Licenses ([`crate::group_licenses`]). The same use cases as
//! `/v1.0/groups`.

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::notice;
use crate::products::refusal;
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_app::directory::Joining;
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::{GroupId, UserId};
use serde::Deserialize;

/// Rows on a page.
pub const PAGE: i64 = 50;
/// Users a search offers.
pub const SEARCH_LIMIT: i64 = 10;

/// A group as the list shows it.
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// A user as the members list and the search show them.
pub struct Person {
    pub id: String,
    pub name: String,
    pub upn: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Group names that start with this.
    #[serde(default)]
    pub q: String,
    /// The last group id of the previous page.
    #[serde(default)]
    pub after: String,
}

/// The Create group form's values and refusal.
#[derive(Default)]
pub struct CreateForm {
    pub name: String,
    pub description: String,
    pub error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "groups.html")]
pub struct GroupsPage {
    pub frame: Frame,
    pub q: String,
    pub total: i64,
    pub rows: Vec<GroupRow>,
    /// The next page's link, if there is one.
    pub next: Option<String>,
    pub first_page: bool,
    pub can_manage: bool,
    /// Whether Assign licenses is offered for the selected groups.
    pub can_assign: bool,
    pub create: CreateForm,
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn groups_page(
    viewer: &Viewer,
    app: &App,
    q: &ListQuery,
    create: CreateForm,
) -> Result<GroupsPage, PageError> {
    viewer.require_admin()?;
    let after = match q.after.trim() {
        "" => None,
        a => Some(GroupId::parse(a).ok_or_else(|| {
            PageError::bad_request("The page link is not valid; start again from the first page.")
        })?),
    };
    let prefix = Some(q.q.trim()).filter(|p| !p.is_empty());
    let mut found = app
        .list_groups(&viewer.actor, prefix, after, PAGE + 1)
        .await?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let next = match (more, found.last()) {
        (true, Some(last)) => Some(format!("/groups?q={}&after={}", enc(q.q.trim()), last.id)),
        _ => None,
    };
    Ok(GroupsPage {
        frame: viewer.frame("Groups", Nav::Groups),
        q: q.q.trim().to_string(),
        total: app.count_groups(&viewer.actor).await?,
        rows: found
            .iter()
            .map(|g| GroupRow {
                id: g.id.to_string(),
                name: g.display_name.clone(),
                description: g.description.clone().unwrap_or_default(),
            })
            .collect(),
        next,
        first_page: after.is_none(),
        can_manage: viewer.can(Action::ManageDirectory),
        can_assign: viewer.can(Action::AssignLicenses),
        create,
    })
}

/// `GET /groups`: the groups, 50 a page.
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<GroupsPage, PageError> {
    groups_page(&viewer, &app, &q, CreateForm::default()).await
}

#[derive(Debug, Deserialize)]
pub struct CreateInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// `POST /groups`: creates a group, then shows it.
pub async fn create(
    State(app): State<App>,
    Posted { viewer, form }: Posted<CreateInput>,
) -> Result<Response, PageError> {
    let description = Some(form.description.trim().to_string()).filter(|d| !d.is_empty());
    match app
        .create_group(&viewer.actor, &form.name, description, None)
        .await
    {
        Ok(g) => Ok(notice::redirect(
            &format!("/groups/{}", g.id),
            &format!(
                "Group '{}' was created. Add its members below.",
                g.display_name
            ),
            false,
        )),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let page = groups_page(
                &viewer,
                &app,
                &ListQuery::default(),
                CreateForm {
                    name: form.name,
                    description: form.description,
                    error: Some(message),
                },
            )
            .await?;
            Ok((status, page).into_response())
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct GroupQuery {
    /// Users to offer as new members: display names or user names that start with this.
    #[serde(default)]
    pub q: String,
    /// The last member id of the previous page.
    #[serde(default)]
    pub after: String,
}

/// The search results alone (`groups_candidates.html`, also included in the group's page).
#[derive(Template, WebTemplate)]
#[template(path = "groups_candidates.html")]
pub struct CandidatesPart {
    pub candidates: Candidates,
}

/// The users a search offers, with whether each can be added.
pub struct Candidates {
    pub group_id: String,
    pub csrf: String,
    pub q: String,
    pub people: Vec<(Person, Joining)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "groups_group.html")]
pub struct GroupPage {
    pub frame: Frame,
    pub id: String,
    pub name: String,
    pub description: String,
    pub members: Vec<Person>,
    pub next: Option<String>,
    pub first_page: bool,
    pub can_manage: bool,
    pub candidates: Candidates,
    pub error: Option<String>,
    /// The group's products (Licenses).
    pub products: Vec<crate::group_licenses::GroupProduct>,
    /// The processing state of its licenses.
    pub status: crate::group_licenses::Status,
    pub can_assign: bool,
}

impl GroupsPage {
    /// The pager's link to the first page (None on the first page).
    pub fn first_link(&self) -> Option<String> {
        (!self.first_page).then(|| {
            if self.q.is_empty() {
                "/groups".to_string()
            } else {
                let q: String = form_urlencoded::byte_serialize(self.q.as_bytes()).collect();
                format!("/groups?q={q}")
            }
        })
    }
}

impl GroupPage {
    /// The pager's link to the first page (None on the first page).
    pub fn first_link(&self) -> Option<String> {
        (!self.first_page).then(|| format!("/groups/{}", self.id))
    }
}

fn person(id: UserId, name: &str, upn: &str) -> Person {
    Person {
        id: id.to_string(),
        name: name.to_string(),
        upn: upn.to_string(),
    }
}

async fn candidates(
    viewer: &Viewer,
    app: &App,
    group: GroupId,
    q: &str,
) -> Result<Candidates, PageError> {
    let found = app
        .search_users_for_group(&viewer.actor, &group.to_string(), q, SEARCH_LIMIT)
        .await?;
    Ok(Candidates {
        group_id: group.to_string(),
        csrf: viewer.csrf.clone(),
        q: q.trim().to_string(),
        people: found
            .into_iter()
            .map(|(u, joining)| (person(u.id, &u.display_name, &u.upn), joining))
            .collect(),
    })
}

async fn group_page(
    viewer: &Viewer,
    app: &App,
    id: &str,
    q: &GroupQuery,
    error: Option<String>,
) -> Result<GroupPage, PageError> {
    viewer.require_admin()?;
    let g = app.get_group(&viewer.actor, id).await?;
    let after = match q.after.trim() {
        "" => None,
        a => Some(UserId::parse(a).ok_or_else(|| {
            PageError::bad_request("The page link is not valid; start again from the first page.")
        })?),
    };
    let mut members = app
        .group_members(&viewer.actor, &g.id.to_string(), after, PAGE + 1)
        .await?;
    let more = members.len() as i64 > PAGE;
    members.truncate(PAGE as usize);
    let next = match (more, members.last()) {
        (true, Some(last)) => Some(format!("/groups/{}?after={}", g.id, last.id)),
        _ => None,
    };
    let can_manage = viewer.can(Action::ManageDirectory);
    let candidates = if can_manage {
        candidates(viewer, app, g.id, &q.q).await?
    } else {
        Candidates {
            group_id: g.id.to_string(),
            csrf: viewer.csrf.clone(),
            q: String::new(),
            people: vec![],
        }
    };
    let licenses = crate::group_licenses::section(app, viewer, g.id).await?;
    Ok(GroupPage {
        frame: viewer.frame(g.display_name.clone(), Nav::Groups),
        id: g.id.to_string(),
        name: g.display_name.clone(),
        description: g.description.clone().unwrap_or_default(),
        members: members
            .iter()
            .map(|u| person(u.id, &u.display_name, &u.upn))
            .collect(),
        next,
        first_page: after.is_none(),
        can_manage,
        candidates,
        error,
        products: licenses.products,
        status: licenses.status,
        can_assign: licenses.can_assign,
    })
}

/// `GET /groups/{id}`: a group and its members, 50 a page; `?q=` lists users to add.
pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<GroupQuery>,
) -> Result<GroupPage, PageError> {
    group_page(&viewer, &app, &id, &q, None).await
}

/// `GET /groups/{id}/candidates?q=`: the search results alone, for htmx as one types.
pub async fn search(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<GroupQuery>,
) -> Result<CandidatesPart, PageError> {
    viewer.require_admin()?;
    let g = app.get_group(&viewer.actor, &id).await?;
    if !viewer.can(Action::ManageDirectory) {
        return Err(PageError::forbidden(
            "Adding members needs the Global or User admin role.",
        ));
    }
    Ok(CandidatesPart {
        candidates: candidates(&viewer, &app, g.id, &q.q).await?,
    })
}

#[derive(Debug, Deserialize)]
pub struct MemberInput {
    #[serde(default)]
    pub user: String,
}

async fn member_refused(
    app: &App,
    viewer: &Viewer,
    id: &str,
    e: seatkeeper_app::AppError,
) -> Result<Response, PageError> {
    let (status, message) = refusal(e)?;
    let page = group_page(viewer, app, id, &GroupQuery::default(), Some(message)).await?;
    Ok((status, page).into_response())
}

fn who(app_user: Option<(String, String)>, fallback: &str) -> String {
    app_user
        .map(|(name, upn)| format!("{name} ({upn})"))
        .unwrap_or_else(|| fallback.to_string())
}

/// `POST /groups/{id}/members`: adds the user `user` (id or user name).
pub async fn add_member(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<MemberInput>,
) -> Result<Response, PageError> {
    if form.user.trim().is_empty() {
        let page = group_page(
            &viewer,
            &app,
            &id,
            &GroupQuery::default(),
            Some("Search for a user, then choose Add beside them.".into()),
        )
        .await?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    match app.add_group_member(&viewer.actor, &id, &form.user).await {
        Ok(()) => {
            let u = app
                .get_user(&viewer.actor, &form.user)
                .await
                .ok()
                .map(|u| (u.display_name, u.upn));
            let g = app.get_group(&viewer.actor, &id).await?;
            Ok(notice::redirect(
                &format!("/groups/{}", g.id),
                &format!("{} was added to {}.", who(u, &form.user), g.display_name),
                false,
            ))
        }
        Err(e) => member_refused(&app, &viewer, &id, e).await,
    }
}

/// `POST /groups/{id}/members/remove`: removes the member `user`.
pub async fn remove_member(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<MemberInput>,
) -> Result<Response, PageError> {
    let u = app
        .get_user(&viewer.actor, &form.user)
        .await
        .ok()
        .map(|u| (u.display_name, u.upn));
    match app
        .remove_group_member(&viewer.actor, &id, &form.user)
        .await
    {
        Ok(()) => {
            let g = app.get_group(&viewer.actor, &id).await?;
            Ok(notice::redirect(
                &format!("/groups/{}", g.id),
                &format!(
                    "{} was removed from {}.",
                    who(u, &form.user),
                    g.display_name
                ),
                false,
            ))
        }
        Err(e) => member_refused(&app, &viewer, &id, e).await,
    }
}
