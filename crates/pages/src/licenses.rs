//! The Licenses pages (seed 002): one row per product summed over the central pool; a
//! product's users (search, paging), **Assign licenses** to up to 20 users with apps and services
//! turned on or off, **Unassign licenses**, one user's apps and services of the product, and
//! **Export users** (CSV, served by the web crate with the REST export's writer).

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::notice;
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::licenses::ProductLicenses;
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::catalog::{AppliesTo, Catalog, Product};
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::{PlanId, SkuId, Time, UserId};
use serde::Deserialize;

/// Users per page of a product's user list.
pub const PAGE: i64 = 50;
/// Users shown by one search of the people picker.
pub const PICKER: i64 = 10;

/// A date as the pages show it: "29 Nov 2026".
pub fn date(t: Time) -> String {
    t.format("%-d %b %Y").to_string()
}

/// The product named in a path (skuId or skuPartNumber); unknown ones are our 404.
pub fn product<'c>(catalog: &'c Catalog, key: &str) -> Result<&'c Product, PageError> {
    catalog.find_product(key).ok_or_else(|| {
        PageError::not_found(format!(
            "There is no product '{key}'. Pick one on the Licenses page."
        ))
    })
}

/// The status a refused form is shown again with, or `None` for a refusal that is a whole
/// page (not allowed, not signed in, a failure of the server).
fn form_status(e: &AppError) -> Option<StatusCode> {
    match e {
        AppError::Domain(_) | AppError::Invalid { .. } => Some(StatusCode::BAD_REQUEST),
        AppError::Conflict { .. } | AppError::ConflictWith { .. } => Some(StatusCode::CONFLICT),
        AppError::NotFound(_) if !crate::error::is_gone(e) => Some(StatusCode::NOT_FOUND),
        _ => None,
    }
}

/// One service plan of a product as a check box (on = checked).
#[derive(Debug, Clone)]
pub struct PlanBox {
    pub id: String,
    pub label: String,
    pub name: String,
    pub on: bool,
}

/// The product's plans, on unless in `disabled`.
pub(crate) fn plan_boxes(catalog: &Catalog, p: &Product, disabled: &[PlanId]) -> Vec<PlanBox> {
    p.plans
        .iter()
        .map(|id| {
            let plan = catalog.plan(*id);
            PlanBox {
                id: id.to_string(),
                label: plan
                    .map(|x| x.display_name.clone())
                    .unwrap_or_else(|| id.to_string()),
                name: catalog.plan_name(*id),
                on: !disabled.contains(id),
            }
        })
        .collect()
}

/// The plans a form turned off: the product's plans whose box was not checked.
pub(crate) fn disabled_from(p: &Product, on: &[String]) -> Vec<PlanId> {
    p.plans
        .iter()
        .filter(|id| {
            !on.iter()
                .any(|o| o.trim().eq_ignore_ascii_case(&id.to_string()))
        })
        .copied()
        .collect()
}

// ----- the Licenses page -----

#[derive(Template, WebTemplate)]
#[template(path = "licenses_list.html")]
pub struct LicensesPage {
    pub frame: Frame,
    pub rows: Vec<ProductLicenses>,
}

/// The origin filter of Licenses and Your products: all (central) or `self-service`.
#[derive(Debug, Default, Deserialize)]
pub struct OriginQuery {
    #[serde(default)]
    pub origin: String,
}

impl OriginQuery {
    /// Whether the Self-service filter is chosen; another value is refused, naming the one.
    pub fn self_service(&self) -> Result<bool, PageError> {
        match self.origin.trim() {
            "" => Ok(false),
            "self-service" => Ok(true),
            other => Err(PageError::bad_request(format!(
                "There is no filter '{other}': use origin=self-service, or no filter."
            ))),
        }
    }
}

/// `GET /licenses`: one row per product, available and "assigned of total";
/// `?origin=self-service`: the products bought by users (see [`crate::selfservice`]).
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<OriginQuery>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    if q.self_service()? {
        return crate::selfservice::licenses_page(&app, &viewer).await;
    }
    let rows = app.licenses_page(&viewer.actor).await?;
    Ok(LicensesPage {
        frame: viewer.frame("Licenses", Nav::Licenses),
        rows,
    }
    .into_response())
}

// ----- a product's page -----

/// One holder of the product, as a row of its user list.
#[derive(Debug, Clone)]
pub struct HolderRow {
    pub id: String,
    pub upn: String,
    pub name: String,
    /// Apps and services on, of the product's.
    pub on: usize,
    pub total: usize,
    pub assigned: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "licenses_product.html")]
pub struct ProductPage {
    pub frame: Frame,
    pub sku: String,
    pub name: String,
    pub part: String,
    pub available: i64,
    pub assigned: i64,
    pub total: i64,
    pub search: String,
    pub rows: Vec<HolderRow>,
    /// The next page's `after` (a user id), if there is one.
    pub next: Option<String>,
    /// Whether this is a later page (a link back to the first).
    pub later: bool,
    /// Whether the viewer may assign and unassign (shows the buttons and check boxes).
    pub can_assign: bool,
    /// Whether the product is assigned to users (not to the whole organization).
    pub for_users: bool,
    /// Whether the product has licenses to give (an Active or Expired subscription).
    pub givable: bool,
}

impl ProductPage {
    /// The query string of the next page.
    pub fn next_query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !self.search.is_empty() {
            s.append_pair("search", &self.search);
        }
        if let Some(n) = &self.next {
            s.append_pair("after", n);
        }
        s.finish()
    }

    /// The query string of the first page (the search kept).
    pub fn first_query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !self.search.is_empty() {
            s.append_pair("search", &self.search);
        }
        s.finish()
    }
}

#[derive(Debug, Deserialize)]
pub struct ProductQuery {
    #[serde(default)]
    pub search: String,
    #[serde(default)]
    pub after: String,
}

/// `GET /licenses/{sku}`: the product's users, 50 a page, searchable by name.
pub async fn product_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(sku): Path<String>,
    Query(q): Query<ProductQuery>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let catalog = app.catalog();
    let p = product(&catalog, &sku)?;
    let after = match q.after.trim() {
        "" => None,
        a => Some(UserId::parse(a).ok_or_else(|| {
            PageError::bad_request("That page link is not valid: go back to the first page.")
        })?),
    };
    let search = q.search.trim().to_string();
    let mut list = app
        .product_users(
            &viewer.actor,
            p.sku_id,
            Some(search.as_str()).filter(|s| !s.is_empty()),
            after,
            PAGE + 1,
        )
        .await?;
    let more = list.len() as i64 > PAGE;
    list.truncate(PAGE as usize);
    let row = app
        .licenses_page(&viewer.actor)
        .await?
        .into_iter()
        .find(|r| r.sku_id == p.sku_id);
    let rows: Vec<HolderRow> = list
        .iter()
        .map(|(u, a)| HolderRow {
            id: u.id.to_string(),
            upn: u.upn.clone(),
            name: u.display_name.clone(),
            on: p
                .plans
                .iter()
                .filter(|x| !a.disabled_plans.contains(x))
                .count(),
            total: p.plans.len(),
            assigned: date(a.assigned_at),
        })
        .collect();
    let next = if more {
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(ProductPage {
        frame: viewer.frame(p.name.clone(), Nav::Licenses),
        sku: p.sku_id.to_string(),
        name: p.name.clone(),
        part: p.sku_part_number.clone(),
        available: row.as_ref().map(|r| r.available).unwrap_or(0),
        assigned: row.as_ref().map(|r| r.assigned).unwrap_or(0),
        total: row.as_ref().map(|r| r.total).unwrap_or(0),
        search,
        rows,
        next,
        later: after.is_some(),
        can_assign: viewer.can(Action::AssignLicenses),
        for_users: p.applies_to == AppliesTo::User,
        givable: row.as_ref().is_some_and(|r| r.has_licenses_to_give()),
    }
    .into_response())
}

// ----- Assign licenses -----

/// A user picked (or offered) in the people picker.
#[derive(Debug, Clone)]
pub struct Pick {
    /// The user's userPrincipalName (what the form sends).
    pub upn: String,
    pub name: String,
    pub picked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "licenses_assign.html")]
pub struct AssignPage {
    pub frame: Frame,
    pub sku: String,
    pub name: String,
    pub available: i64,
    pub q: String,
    /// Users picked so far (checked).
    pub picked: Vec<Pick>,
    /// The search's results, without those picked.
    pub results: Vec<Pick>,
    pub searched: bool,
    pub plans: Vec<PlanBox>,
    pub error: Option<String>,
}

impl AssignPage {
    /// Whether some app or service is turned off (the section then starts open).
    pub fn some_off(&self) -> bool {
        self.plans.iter().any(|p| !p.on)
    }
}

/// The picker's results alone (htmx live search).
#[derive(Template, WebTemplate)]
#[template(path = "licenses_picker.html")]
pub struct PickerResults {
    pub q: String,
    pub results: Vec<Pick>,
    pub searched: bool,
}

/// The assign form as sent: by Assign (POST), by Search (POST with `search`, answered by a
/// redirect to the form's GET address, so the CSRF token never lands in a URL), or as that GET.
#[derive(Debug, Default, Deserialize)]
pub struct AssignForm {
    /// Users picked, by userPrincipalName.
    #[serde(default)]
    pub user: Vec<String>,
    /// Service plans left on.
    #[serde(default)]
    pub plan_on: Vec<String>,
    /// Present when the plan check boxes were on the form (none checked = all off).
    #[serde(default)]
    pub plans_shown: Option<String>,
    /// The picker's search text.
    #[serde(default)]
    pub q: String,
    /// Present when the Search button sent the form (search, do not assign).
    #[serde(default)]
    pub search: Option<String>,
}

impl AssignForm {
    /// The form's GET address (search text, picks and plans; never the CSRF token).
    fn search_path(&self, sku: SkuId) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("q", self.q.trim());
        for u in self.picked() {
            q.append_pair("user", &u);
        }
        if let Some(shown) = &self.plans_shown {
            q.append_pair("plans_shown", shown);
            for p in &self.plan_on {
                q.append_pair("plan_on", p);
            }
        }
        format!("/licenses/{sku}/assign?{}", q.finish())
    }

    fn picked(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for u in self.user.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(u)) {
                out.push(u.to_string());
            }
        }
        out
    }

    fn disabled(&self, p: &Product) -> Vec<PlanId> {
        if self.plans_shown.is_none() {
            return Vec::new();
        }
        disabled_from(p, &self.plan_on)
    }
}

pub(crate) async fn search_picks(
    app: &App,
    viewer: &Viewer,
    q: &str,
    picked: &[String],
) -> Result<Vec<Pick>, PageError> {
    Ok(app
        .find_users(&viewer.actor, q, PICKER + picked.len() as i64)
        .await?
        .into_iter()
        .filter(|u| !picked.iter().any(|p| p.eq_ignore_ascii_case(&u.upn)))
        .take(PICKER as usize)
        .map(|u| Pick {
            upn: u.upn.clone(),
            name: u.display_name.clone(),
            picked: false,
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn assign_page(
    app: &App,
    viewer: &Viewer,
    p: &Product,
    form: &AssignForm,
    error: Option<String>,
) -> Result<AssignPage, PageError> {
    let catalog = app.catalog();
    let picked_upns = form.picked();
    let mut picked = Vec::with_capacity(picked_upns.len());
    for upn in &picked_upns {
        // A picked user who no longer exists is shown by name as sent (the refusal says why).
        let name = match app.get_user(&viewer.actor, upn).await {
            Ok(u) => u.display_name,
            Err(_) => upn.clone(),
        };
        picked.push(Pick {
            upn: upn.clone(),
            name,
            picked: true,
        });
    }
    let q = form.q.trim().to_string();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        search_picks(app, viewer, &q, &picked_upns).await?
    };
    let available = app
        .licenses_page(&viewer.actor)
        .await?
        .into_iter()
        .find(|r| r.sku_id == p.sku_id)
        .map(|r| r.available)
        .unwrap_or(0);
    Ok(AssignPage {
        frame: viewer.frame(format!("Assign licenses: {}", p.name), Nav::Licenses),
        sku: p.sku_id.to_string(),
        name: p.name.clone(),
        available,
        searched: !q.is_empty(),
        q,
        picked,
        results,
        plans: plan_boxes(&catalog, p, &form.disabled(p)),
        error,
    })
}

fn require_assign(viewer: &Viewer) -> Result<(), PageError> {
    viewer.require_admin()?;
    viewer.actor.require(Action::AssignLicenses)?;
    Ok(())
}

/// The assign form as its GET address carries it (repeated `user` and `plan_on` fields).
fn assign_query(raw: Option<&str>) -> Result<AssignForm, PageError> {
    serde_html_form::from_str(raw.unwrap_or(""))
        .map_err(|e| PageError::bad_request(format!("The search could not be read: {e}.")))
}

/// `GET /licenses/{sku}/assign`: the Assign licenses form; `?q=` searches users (without
/// JavaScript the Search button's post is sent here, with the picked users, so they stay picked).
pub async fn assign_form(
    State(app): State<App>,
    viewer: Viewer,
    Path(sku): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, PageError> {
    require_assign(&viewer)?;
    let form = assign_query(raw.as_deref())?;
    let catalog = app.catalog();
    let p = product(&catalog, &sku)?;
    let givable = app
        .licenses_page(&viewer.actor)
        .await?
        .iter()
        .any(|r| r.sku_id == p.sku_id && r.has_licenses_to_give());
    if !givable {
        return Err(PageError::Status {
            status: axum::http::StatusCode::CONFLICT,
            message: format!(
                "{} has no licenses to assign: none of its subscriptions is active. Buy licenses or reactivate a subscription in Your products.",
                p.name
            ),
        });
    }
    Ok(assign_page(&app, &viewer, p, &form, None)
        .await?
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

/// `GET /licenses/{sku}/assign/search?q=`: the picker's results alone (htmx, as one types).
pub async fn assign_search(
    State(app): State<App>,
    viewer: Viewer,
    Path(sku): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, PageError> {
    require_assign(&viewer)?;
    let form = assign_query(raw.as_deref())?;
    let catalog = app.catalog();
    product(&catalog, &sku)?;
    let q = form.q.trim().to_string();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        search_picks(&app, &viewer, &q, &form.picked()).await?
    };
    Ok(PickerResults {
        searched: !q.is_empty(),
        q,
        results,
    }
    .into_response())
}

fn users_word(n: usize) -> String {
    if n == 1 {
        "1 user was".to_string()
    } else {
        format!("{n} users were")
    }
}

/// `POST /licenses/{sku}/assign`: assigns the product to the picked users (up to 20) with the
/// plans turned off that were unchecked. All or nothing; a refusal is shown in the API's words.
pub async fn assign(
    State(app): State<App>,
    Path(sku): Path<String>,
    Posted { viewer, form }: Posted<AssignForm>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let catalog = app.catalog();
    let p = product(&catalog, &sku)?;
    if form.search.is_some() {
        return Ok(axum::response::Redirect::to(&form.search_path(p.sku_id)).into_response());
    }
    let users = form.picked();
    let result = if users.is_empty() {
        Err(AppError::invalid(
            "noUsers",
            "Pick at least one user: type a name in Search users and check the user.",
        ))
    } else {
        app.assign_product(&viewer.actor, p.sku_id, &users, &form.disabled(p))
            .await
            .map(|_| ())
    };
    match result {
        Ok(()) => Ok(notice::redirect(
            &format!("/licenses/{}", p.sku_id),
            &format!("{} assigned {}.", users_word(users.len()), p.name),
            false,
        )),
        Err(e) => match form_status(&e) {
            Some(status) => {
                // Shown again as sent, without the search (its results were picked or not).
                let form = AssignForm {
                    q: String::new(),
                    ..form
                };
                let page = assign_page(
                    &app,
                    &viewer,
                    p,
                    &form,
                    Some(crate::error::refusal_text(&app.catalog(), &e)),
                )
                .await?;
                Ok((status, page).into_response())
            }
            None => Err(e.into()),
        },
    }
}

// ----- Unassign licenses -----

#[derive(Debug, Default, Deserialize)]
pub struct UnassignForm {
    /// Users selected, by userPrincipalName.
    #[serde(default)]
    pub user: Vec<String>,
    /// Set by the confirmation page's button.
    #[serde(default)]
    pub confirmed: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "licenses_unassign.html")]
pub struct UnassignPage {
    pub frame: Frame,
    pub sku: String,
    pub name: String,
    pub users: Vec<Pick>,
    pub error: Option<String>,
}

/// `POST /licenses/{sku}/unassign`: first asks (a page listing the users), then, confirmed,
/// removes the product from the selected users. All or nothing.
pub async fn unassign(
    State(app): State<App>,
    Path(sku): Path<String>,
    Posted { viewer, form }: Posted<UnassignForm>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let catalog = app.catalog();
    let p = product(&catalog, &sku)?;
    let mut users: Vec<String> = Vec::new();
    for u in form.user.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
        if !users.iter().any(|o| o.eq_ignore_ascii_case(u)) {
            users.push(u.to_string());
        }
    }
    if users.is_empty() {
        return Ok(notice::redirect(
            &format!("/licenses/{}", p.sku_id),
            "Select the users to unassign first: check the box beside each name.",
            true,
        ));
    }
    let ask = |error: Option<String>, users: &[String]| {
        let users = users.to_vec();
        let app = app.clone();
        let viewer = viewer.clone();
        async move {
            let mut picks = Vec::with_capacity(users.len());
            for upn in users {
                let name = match app.get_user(&viewer.actor, &upn).await {
                    Ok(u) => u.display_name,
                    Err(_) => upn.clone(),
                };
                picks.push(Pick {
                    upn,
                    name,
                    picked: true,
                });
            }
            UnassignPage {
                frame: viewer.frame(format!("Unassign licenses: {}", p.name), Nav::Licenses),
                sku: p.sku_id.to_string(),
                name: p.name.clone(),
                users: picks,
                error,
            }
        }
    };
    if form.confirmed.is_none() {
        viewer.actor.require(Action::AssignLicenses)?;
        return Ok(ask(None, &users).await.into_response());
    }
    match app.unassign_product(&viewer.actor, p.sku_id, &users).await {
        Ok(_) => Ok(notice::redirect(
            &format!("/licenses/{}", p.sku_id),
            &format!(
                "{} unassigned {}; {}",
                users_word(users.len()),
                p.name,
                notice::available_again(users.len())
            ),
            false,
        )),
        Err(e) => match form_status(&e) {
            Some(status) => Ok((
                status,
                ask(Some(crate::error::refusal_text(&app.catalog(), &e)), &users).await,
            )
                .into_response()),
            None => Err(e.into()),
        },
    }
}

// ----- one user's apps and services of the product -----

#[derive(Template, WebTemplate)]
#[template(path = "licenses_user.html")]
pub struct UserPlansPage {
    pub frame: Frame,
    pub sku: String,
    pub product: String,
    pub user_id: String,
    pub upn: String,
    pub name: String,
    pub plans: Vec<PlanBox>,
    pub can_assign: bool,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PlansForm {
    #[serde(default)]
    pub plan_on: Vec<String>,
}

async fn user_plans_page(
    app: &App,
    viewer: &Viewer,
    p: &Product,
    user: &str,
    shown: Option<Vec<PlanId>>,
    error: Option<String>,
) -> Result<UserPlansPage, PageError> {
    let (u, held) = app.user_licenses(&viewer.actor, user).await?;
    let a = held.iter().find(|a| a.sku_id == p.sku_id).ok_or_else(|| {
        PageError::not_found(format!(
            "{} does not hold {}. Assign it first on the product's page.",
            u.upn, p.name
        ))
    })?;
    let disabled = shown.unwrap_or_else(|| a.disabled_plans.clone());
    Ok(UserPlansPage {
        frame: viewer.frame(format!("{}: {}", u.display_name, p.name), Nav::Licenses),
        sku: p.sku_id.to_string(),
        product: p.name.clone(),
        user_id: u.id.to_string(),
        upn: u.upn.clone(),
        name: u.display_name.clone(),
        plans: plan_boxes(&app.catalog(), p, &disabled),
        can_assign: viewer.can(Action::AssignLicenses),
        error,
    })
}

/// `GET /licenses/{sku}/users/{user}`: the user's apps and services of this product.
pub async fn user_plans(
    State(app): State<App>,
    viewer: Viewer,
    Path((sku, user)): Path<(String, String)>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let catalog = app.catalog();
    let p = product(&catalog, &sku)?;
    Ok(user_plans_page(&app, &viewer, p, &user, None, None)
        .await?
        .into_response())
}

/// `POST /licenses/{sku}/users/{user}`: **Save** the apps and services that are on.
pub async fn save_user_plans(
    State(app): State<App>,
    Path((sku, user)): Path<(String, String)>,
    Posted { viewer, form }: Posted<PlansForm>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let catalog = app.catalog();
    let p = product(&catalog, &sku)?;
    let disabled = disabled_from(p, &form.plan_on);
    match app
        .change_plans(&viewer.actor, &user, p.sku_id, disabled.clone())
        .await
    {
        Ok((u, _)) => Ok(notice::redirect(
            &format!("/licenses/{}", p.sku_id),
            &format!(
                "Apps and services of {} in {} were saved.",
                u.display_name, p.name
            ),
            false,
        )),
        Err(e) => match form_status(&e) {
            Some(status) => {
                let page = user_plans_page(
                    &app,
                    &viewer,
                    p,
                    &user,
                    Some(disabled),
                    Some(crate::error::refusal_text(&app.catalog(), &e)),
                )
                .await?;
                Ok((status, page).into_response())
            }
            None => Err(e.into()),
        },
    }
}
