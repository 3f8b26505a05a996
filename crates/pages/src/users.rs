//! Active users: the list (search, filter, paging), **Add a user** (with licenses at once),
//! **Manage product licenses** for selected users (Assign more, Replace, Unassign all), and a
//! user's page with **Licenses and apps**, usage location and **Delete user**.
//!
//! Every change goes through the same use cases as the APIs: [`App::add_user_with_licenses`],
//! [`App::bulk`], [`App::set_user_licenses`], [`App::update_user`], [`App::delete_user`].

use crate::confirm::{self, ConfirmPage};
use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::notice;
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::active_users::{UserKind, UserQuery};
use seatkeeper_app::directory::UserInput;
use seatkeeper_app::licenses::{BulkMode, LicenseSpec};
use seatkeeper_app::{Actor, App, AppError};
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::{MAX_BATCH_USERS, PlanId, SkuId, UserId};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Users per page.
pub const PAGE: i64 = 50;

/// One row of the users table.
pub struct UserRow {
    pub id: String,
    pub display_name: String,
    pub upn: String,
    pub guest: bool,
    pub location: String,
    /// The products held, by name, comma-separated ("Unlicensed" when none).
    pub licenses: String,
    /// Whether the row's box is ticked (on the Manage product licenses page).
    pub selected: bool,
    /// How many licenses the user holds.
    pub held: usize,
}

/// A product offered on a form: a box for the product and one per service plan.
pub struct ProductChoice {
    pub sku: String,
    pub name: String,
    pub available: i64,
    pub total: i64,
    /// Whether the box is ticked.
    pub checked: bool,
    pub plans: Vec<PlanChoice>,
    /// Where a held license comes from: "Direct", "Inherited from Sales" ("" when not held).
    pub sources: String,
    /// Held only through groups: the user's page offers no control to remove it.
    pub inherited_only: bool,
    /// Groups that could not give it to the user, with why ("Sales: Not enough licenses…").
    pub source_errors: Vec<String>,
}

/// One service plan of a [`ProductChoice`]: on (ticked) or off.
pub struct PlanChoice {
    /// `sku:plan`, the value the form sends for a plan that is on.
    pub value: String,
    pub name: String,
    pub on: bool,
    /// A unique element id for its label.
    pub dom_id: String,
}

fn product_names(app: &App, skus: impl Iterator<Item = SkuId>) -> String {
    let catalog = app.catalog();
    let names: Vec<String> = skus
        .map(|s| {
            catalog
                .product(s)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| s.to_string())
        })
        .collect();
    names.join(", ")
}

/// The products a form offers: those the organization has licenses for (per user), with the
/// boxes ticked as `held` says (sku → plans off).
pub(crate) async fn product_choices(
    app: &App,
    actor: &Actor,
    held: &BTreeMap<SkuId, Vec<PlanId>>,
    form_id: &str,
) -> Result<Vec<ProductChoice>, PageError> {
    let catalog = app.catalog();
    let rows = app.licenses_page(actor).await?;
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |sku: SkuId, available: i64, total: i64| {
        let Some(p) = catalog.product(sku) else {
            return;
        };
        if !seen.insert(sku) {
            return;
        }
        let off = held.get(&sku);
        let plans = p
            .plans
            .iter()
            .map(|plan| PlanChoice {
                value: format!("{sku}:{plan}"),
                name: catalog
                    .plan(*plan)
                    .map(|x| x.display_name.clone())
                    .unwrap_or_else(|| plan.to_string()),
                on: off.is_none_or(|off| !off.contains(plan)),
                dom_id: format!("{form_id}-{sku}-{plan}"),
            })
            .collect();
        out.push(ProductChoice {
            sku: sku.to_string(),
            name: p.name.clone(),
            available,
            total,
            checked: off.is_some(),
            plans,
            sources: String::new(),
            inherited_only: false,
            source_errors: Vec::new(),
        });
    };
    // Offered: the products with licenses to give, and those the user holds (to remove them).
    for r in rows.iter().filter(|r| {
        r.applies_to == "User" && (r.has_licenses_to_give() || held.contains_key(&r.sku_id))
    }) {
        push(r.sku_id, r.available, r.total);
    }
    for sku in held.keys() {
        push(*sku, 0, 0);
    }
    Ok(out)
}

/// Product and plan boxes as a form sends them.
#[derive(Debug, Deserialize, Default)]
pub struct LicenseFields {
    #[serde(default)]
    pub sku: Vec<String>,
    /// `sku:plan` of each plan that is on.
    #[serde(default)]
    pub plan: Vec<String>,
}

impl LicenseFields {
    /// The licenses the boxes ask for: each ticked product, with the plans left unticked off.
    pub(crate) fn specs(&self, app: &App) -> Result<Vec<LicenseSpec>, String> {
        let catalog = app.catalog();
        let on: BTreeSet<&str> = self.plan.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        for s in &self.sku {
            let sku = SkuId::parse(s)
                .ok_or_else(|| format!("'{s}' is not a product: pick products from the list."))?;
            let product = catalog
                .product(sku)
                .ok_or_else(|| format!("'{s}' is not a product: pick products from the list."))?;
            let disabled = product
                .plans
                .iter()
                .filter(|p| !on.contains(format!("{sku}:{p}").as_str()))
                .copied()
                .collect();
            out.push(LicenseSpec {
                sku_id: sku,
                disabled_plans: disabled,
            });
        }
        Ok(out)
    }

    /// The boxes as a map (sku → plans off), to render the form again as it was sent.
    pub(crate) fn as_held(&self, app: &App) -> BTreeMap<SkuId, Vec<PlanId>> {
        self.specs(app)
            .unwrap_or_default()
            .into_iter()
            .map(|l| (l.sku_id, l.disabled_plans))
            .collect()
    }
}

fn refusal(e: &AppError) -> StatusCode {
    match e {
        AppError::Conflict { .. } => StatusCode::CONFLICT,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Whether an error is the user's to fix (shown on the form) rather than the server's.
fn is_refusal(e: &AppError) -> bool {
    !crate::error::is_gone(e)
        && matches!(
            e,
            AppError::Conflict { .. }
                | AppError::Forbidden(_)
                | AppError::NotFound(_)
                | AppError::Invalid { .. }
                | AppError::Domain(_)
        )
}

/// A refusal to show on the form (status and the API's words), or a failure of the server.
type Shown = Result<(StatusCode, String), AppError>;

fn shown(app: &App, e: AppError) -> Shown {
    if is_refusal(&e) {
        Ok((refusal(&e), crate::error::refusal_text(&app.catalog(), &e)))
    } else {
        Err(e)
    }
}

// ----- the list -----

#[derive(Template, WebTemplate)]
#[template(path = "users_list.html")]
pub struct ListPage {
    pub frame: Frame,
    pub q: String,
    pub filter: &'static str,
    pub rows: Vec<UserRow>,
    pub total: Option<i64>,
    /// Whether the organization has more users than `total` (it is counted up to 1,000).
    pub more_than_total: bool,
    /// The query string of the next page, if any.
    pub next: Option<String>,
    /// Whether this is not the first page.
    pub paged: bool,
    pub can_manage_users: bool,
    pub can_assign: bool,
    /// The most users Manage product licenses takes at one time.
    pub max_selected: usize,
}

impl ListPage {
    /// A number with thousands separators (1,000).
    pub fn thousands(&self, n: &i64) -> String {
        let n = *n;
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    }

    /// The filter choices: (value, label, current).
    pub fn filters(&self) -> Vec<(&'static str, &'static str, bool)> {
        [
            ("all", "All users"),
            ("licensed", "Licensed users"),
            ("unlicensed", "Unlicensed users"),
            ("guests", "Guest users"),
        ]
        .into_iter()
        .map(|(v, l)| (v, l, v == self.filter))
        .collect()
    }
}

/// The list's query string.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub filter: String,
    #[serde(default)]
    pub after: String,
}

/// `GET /users`: the Active users page.
pub async fn list(
    viewer: Viewer,
    State(app): State<App>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let kind = UserKind::parse(&q.filter).ok_or_else(|| {
        PageError::bad_request(format!(
            "Filter '{}' is not known: use all, licensed, unlicensed or guests.",
            q.filter
        ))
    })?;
    let after = if q.after.trim().is_empty() {
        None
    } else {
        Some(UserId::parse(&q.after).ok_or_else(|| {
            PageError::bad_request("The page link is not valid: start again from the first page.")
        })?)
    };
    let page = app
        .active_users(
            &viewer.actor,
            &UserQuery {
                search: Some(q.q.clone()),
                kind,
                after,
                limit: PAGE,
            },
        )
        .await?;
    let rows = page
        .users
        .iter()
        .map(|(u, held)| UserRow {
            id: u.id.to_string(),
            display_name: u.display_name.clone(),
            upn: u.upn.clone(),
            guest: u.is_guest(),
            location: u.usage_location.clone().unwrap_or_default(),
            licenses: if held.is_empty() {
                "Unlicensed".into()
            } else {
                product_names(&app, held.iter().map(|a| a.sku_id))
            },
            selected: false,
            held: held.len(),
        })
        .collect();
    let next = page.next.map(|id| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q.q)
            .append_pair("filter", kind.as_str())
            .append_pair("after", &id.to_string())
            .finish()
    });
    Ok(ListPage {
        frame: viewer.frame("Active users", Nav::Users),
        q: q.q.clone(),
        filter: kind.as_str(),
        rows,
        total: page.total,
        more_than_total: page.more_than_total,
        next,
        paged: after.is_some(),
        can_manage_users: viewer.can(Action::ManageDirectory),
        can_assign: viewer.can(Action::AssignLicenses),
        max_selected: MAX_BATCH_USERS,
    }
    .into_response())
}

// ----- add a user -----

#[derive(Template, WebTemplate)]
#[template(path = "users_new.html")]
pub struct NewPage {
    pub frame: Frame,
    pub display_name: String,
    pub upn: String,
    pub location: String,
    pub products: Vec<ProductChoice>,
    pub can_assign: bool,
    pub error: Option<String>,
}

/// `GET /users/new`: the Add a user form.
pub async fn new_form(viewer: Viewer, State(app): State<App>) -> Result<Response, PageError> {
    viewer.require_admin()?;
    if !viewer.can(Action::ManageDirectory) {
        return Err(PageError::forbidden(
            "Adding users needs the User admin or Global admin role.",
        ));
    }
    let products = if viewer.can(Action::AssignLicenses) {
        product_choices(&app, &viewer.actor, &BTreeMap::new(), "new").await?
    } else {
        vec![]
    };
    Ok(NewPage {
        frame: viewer.frame("Add a user", Nav::Users),
        display_name: String::new(),
        upn: String::new(),
        location: String::new(),
        products,
        can_assign: viewer.can(Action::AssignLicenses),
        error: None,
    }
    .into_response())
}

/// The Add a user form.
#[derive(Debug, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub user_name: String,
    #[serde(default)]
    pub usage_location: String,
    #[serde(default)]
    pub sku: Vec<String>,
    #[serde(default)]
    pub plan: Vec<String>,
}

/// `POST /users/new`: adds the user and assigns the ticked licenses at once (one transaction).
pub async fn create(
    State(app): State<App>,
    Posted { viewer, form }: Posted<NewForm>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let licenses = LicenseFields {
        sku: form.sku.clone(),
        plan: form.plan.clone(),
    };
    let result = match licenses.specs(&app) {
        Ok(specs) => {
            let input = UserInput {
                user_principal_name: Some(form.user_name.trim().to_string()),
                display_name: Some(form.display_name.clone()),
                usage_location: Some(Some(form.usage_location.clone())),
                account_enabled: Some(true),
                ..Default::default()
            };
            app.add_user_with_licenses(&viewer.actor, &input, specs)
                .await
                .map_err(|e| shown(&app, e))
        }
        Err(msg) => Err(Ok((StatusCode::BAD_REQUEST, msg))),
    };
    match result {
        Ok((u, held)) => {
            let msg = if held.is_empty() {
                format!("{} was added.", u.display_name)
            } else {
                format!(
                    "{} was added and assigned {}.",
                    u.display_name,
                    product_names(&app, held.iter().map(|a| a.sku_id))
                )
            };
            let q: String = form_urlencoded::byte_serialize(u.upn.as_bytes()).collect();
            Ok(notice::redirect(&format!("/users?q={q}"), &msg, false))
        }
        Err(Err(e)) => Err(e.into()),
        Err(Ok((status, msg))) => {
            let held = licenses.as_held(&app);
            let can_assign = viewer.can(Action::AssignLicenses);
            let products = if can_assign {
                product_choices(&app, &viewer.actor, &held, "new").await?
            } else {
                vec![]
            };
            let page = NewPage {
                frame: viewer.frame("Add a user", Nav::Users),
                display_name: form.display_name,
                upn: form.user_name,
                location: form.usage_location,
                products,
                can_assign,
                error: Some(msg),
            };
            Ok((status, page).into_response())
        }
    }
}

// ----- manage product licenses -----

#[derive(Template, WebTemplate)]
#[template(path = "users_manage.html")]
pub struct ManagePage {
    pub frame: Frame,
    /// The list's search and filter, to return to.
    pub q: String,
    pub filter: String,
    pub users: Vec<UserRow>,
    pub mode: &'static str,
    pub products: Vec<ProductChoice>,
    pub error: Option<String>,
}

impl ManagePage {
    /// The modes: (value, label, help, current).
    pub fn modes(&self) -> Vec<(&'static str, &'static str, &'static str, bool)> {
        [
            (
                "assignMore",
                "Assign more",
                "Keep existing licenses and assign more.",
            ),
            (
                "replace",
                "Replace",
                "Remove existing licenses and assign these.",
            ),
            ("unassignAll", "Unassign all", "Remove every license."),
        ]
        .into_iter()
        .map(|(v, l, h)| (v, l, h, v == self.mode))
        .collect()
    }
}

/// The users chosen on the list.
#[derive(Debug, Deserialize, Default)]
pub struct Selection {
    #[serde(default)]
    pub user: Vec<String>,
    /// The list's search and filter, to return to.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub filter: String,
}

/// The list's address with this search and filter.
fn list_path(q: &str, filter: &str) -> String {
    if q.is_empty() && filter.is_empty() {
        return "/users".into();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", q)
        .append_pair(
            "filter",
            UserKind::parse(filter).unwrap_or_default().as_str(),
        )
        .finish();
    format!("/users?{query}")
}

fn mode_word(m: BulkMode) -> &'static str {
    match m {
        BulkMode::AssignMore => "assignMore",
        BulkMode::Replace => "replace",
        BulkMode::UnassignAll => "unassignAll",
    }
}

async fn selected_rows(
    app: &App,
    actor: &Actor,
    keys: &[String],
) -> Result<Vec<UserRow>, PageError> {
    let mut rows = Vec::with_capacity(keys.len());
    for k in keys {
        let (u, held) = app.user_licenses(actor, k).await?;
        rows.push(UserRow {
            id: u.id.to_string(),
            display_name: u.display_name.clone(),
            upn: u.upn.clone(),
            guest: u.is_guest(),
            location: u.usage_location.clone().unwrap_or_default(),
            licenses: if held.is_empty() {
                "Unlicensed".into()
            } else {
                product_names(app, held.iter().map(|a| a.sku_id))
            },
            selected: true,
            held: held.len(),
        });
    }
    Ok(rows)
}

/// `GET /users/manage?user=…&user=…`: Manage product licenses for the selected users.
pub async fn manage_form(
    viewer: Viewer,
    State(app): State<App>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    if !viewer.can(Action::AssignLicenses) {
        return Err(PageError::forbidden(
            "Managing licenses needs the License admin, User admin or Global admin role.",
        ));
    }
    let sel: Selection = serde_html_form::from_str(raw.as_deref().unwrap_or("")).map_err(|_| {
        PageError::bad_request(
            "The selection could not be read: select users on Active users again.",
        )
    })?;
    if sel.user.is_empty() {
        return Ok(notice::redirect(
            "/users",
            "Select one or more users first, then choose Manage product licenses.",
            true,
        ));
    }
    // Said where the users were picked, before anything is filled in (the post refuses too).
    let error = (sel.user.len() > MAX_BATCH_USERS).then(|| {
        format!(
            "You selected {} users; Manage product licenses takes at most {MAX_BATCH_USERS} at a time. Go back to Active users and select {MAX_BATCH_USERS} or fewer.",
            sel.user.len()
        )
    });
    let users = selected_rows(&app, &viewer.actor, &sel.user).await?;
    let products = product_choices(&app, &viewer.actor, &BTreeMap::new(), "manage").await?;
    Ok(ManagePage {
        frame: viewer.frame("Manage product licenses", Nav::Users),
        q: sel.q,
        filter: sel.filter,
        users,
        mode: "assignMore",
        products,
        error,
    }
    .into_response())
}

/// The Manage product licenses form.
#[derive(Debug, Deserialize)]
pub struct ManageForm {
    #[serde(default)]
    pub user: Vec<String>,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub filter: String,
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub sku: Vec<String>,
    #[serde(default)]
    pub plan: Vec<String>,
    #[serde(default)]
    pub confirmed: String,
}

/// `POST /users/manage`: Assign more, Replace or Unassign all for the selected users
/// ([`App::bulk`]; all or nothing).
pub async fn manage(
    State(app): State<App>,
    Posted { viewer, form }: Posted<ManageForm>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let licenses = LicenseFields {
        sku: form.sku.clone(),
        plan: form.plan.clone(),
    };
    let mode = BulkMode::parse(&form.mode);
    if mode == Some(BulkMode::UnassignAll)
        && !form.user.is_empty()
        && !confirm::confirmed(&form.confirmed)
    {
        return confirm_unassign_all(&app, &viewer, &form).await;
    }
    let result = match (mode, licenses.specs(&app)) {
        (None, _) => Err(Ok((
            StatusCode::BAD_REQUEST,
            "Choose Assign more, Replace or Unassign all.".to_string(),
        ))),
        (_, Err(msg)) => Err(Ok((StatusCode::BAD_REQUEST, msg))),
        (Some(mode), Ok(specs)) => {
            let specs = if mode == BulkMode::UnassignAll {
                vec![]
            } else {
                specs
            };
            app.bulk(&viewer.actor, mode, &form.user, specs)
                .await
                .map(|done| (mode, done))
                .map_err(|e| shown(&app, e))
        }
    };
    match result {
        Ok((mode, done)) => {
            let n = done.len();
            let who = if n == 1 {
                "1 user".to_string()
            } else {
                format!("{n} users")
            };
            let msg = match mode {
                BulkMode::UnassignAll => format!("Every license was removed from {who}."),
                BulkMode::Replace => format!(
                    "The licenses of {who} were replaced with {}.",
                    product_names(
                        &app,
                        licenses
                            .specs(&app)
                            .unwrap_or_default()
                            .iter()
                            .map(|l| l.sku_id)
                    )
                ),
                BulkMode::AssignMore => format!(
                    "{who} {} assigned {}.",
                    if n == 1 { "was" } else { "were" },
                    product_names(
                        &app,
                        licenses
                            .specs(&app)
                            .unwrap_or_default()
                            .iter()
                            .map(|l| l.sku_id)
                    )
                ),
            };
            Ok(notice::redirect(
                &list_path(&form.q, &form.filter),
                &msg,
                false,
            ))
        }
        Err(Err(e)) => Err(e.into()),
        Err(Ok((status, msg))) => {
            let users = selected_rows(&app, &viewer.actor, &form.user).await?;
            let held = licenses.as_held(&app);
            let products = product_choices(&app, &viewer.actor, &held, "manage").await?;
            let page = ManagePage {
                frame: viewer.frame("Manage product licenses", Nav::Users),
                q: form.q.clone(),
                filter: form.filter.clone(),
                users,
                mode: mode.map(mode_word).unwrap_or("assignMore"),
                products,
                error: Some(msg),
            };
            Ok((status, page).into_response())
        }
    }
}

/// The page that asks before **Unassign all** removes every license of the selected users.
async fn confirm_unassign_all(
    app: &App,
    viewer: &Viewer,
    form: &ManageForm,
) -> Result<Response, PageError> {
    let users = selected_rows(app, &viewer.actor, &form.user).await?;
    let total: usize = users.iter().map(|u| u.held).sum();
    let licenses = |n: usize| {
        if n == 1 {
            "1 license".to_string()
        } else {
            format!("{n} licenses")
        }
    };
    let question = match users.as_slice() {
        [u] if u.held == 0 => format!("Remove all licenses from {}?", u.display_name),
        [u] => format!("Remove all {} from {}?", licenses(u.held), u.display_name),
        _ => format!("Remove all {} from {} users?", licenses(total), users.len()),
    };
    let mut details: Vec<String> = users
        .iter()
        .map(|u| format!("{} ({}): {}.", u.display_name, u.upn, u.licenses))
        .collect();
    details.push("They lose the apps and services of these products at once.".into());
    let mut fields: Vec<(String, String)> = form
        .user
        .iter()
        .map(|u| ("user".to_string(), u.clone()))
        .collect();
    fields.push(("q".into(), form.q.clone()));
    fields.push(("filter".into(), form.filter.clone()));
    fields.push(("mode".into(), "unassignAll".into()));
    let mut back = form_urlencoded::Serializer::new(String::new());
    for u in &form.user {
        back.append_pair("user", u);
    }
    back.append_pair("q", &form.q)
        .append_pair("filter", &form.filter);
    Ok(ConfirmPage {
        frame: viewer.frame("Unassign all", Nav::Users),
        question,
        details,
        action: "/users/manage".into(),
        fields,
        confirm_label: "Unassign all".into(),
        back: format!("/users/manage?{}", back.finish()),
        back_label: "Cancel".into(),
    }
    .into_response())
}

// ----- one user -----

#[derive(Template, WebTemplate)]
#[template(path = "users_show.html")]
pub struct ShowPage {
    pub frame: Frame,
    pub id: String,
    pub display_name: String,
    pub upn: String,
    pub user_type: String,
    pub location: String,
    pub enabled: bool,
    pub products: Vec<ProductChoice>,
    /// The held products, by name ("" when none).
    pub licenses: String,
    pub license_count: usize,
    pub can_assign: bool,
    pub can_locate: bool,
    pub can_delete: bool,
    /// A refusal of the licenses form.
    pub error: Option<String>,
    /// A refusal of the usage location form.
    pub location_error: Option<String>,
}

/// What to show again on a refused form.
#[derive(Default)]
struct Again {
    held: Option<BTreeMap<SkuId, Vec<PlanId>>>,
    location: Option<String>,
    error: Option<String>,
    location_error: Option<String>,
}

async fn show_page(
    app: &App,
    viewer: &Viewer,
    key: &str,
    again: Again,
) -> Result<ShowPage, PageError> {
    let (u, held) = app.user_licenses(&viewer.actor, key).await?;
    // The form holds the direct licenses (with the plans the user's own assignment turns
    // off); what groups give is shown beside them and cannot be removed here.
    let current: BTreeMap<SkuId, Vec<PlanId>> = held
        .iter()
        .filter(|a| a.direct)
        .map(|a| (a.sku_id, a.direct_disabled_plans.clone()))
        .collect();
    let shown = again.held.unwrap_or(current);
    let mut products = product_choices(app, &viewer.actor, &shown, "lic").await?;
    with_sources(app, viewer, u.id, &held, &mut products).await?;
    Ok(ShowPage {
        frame: viewer.frame(u.display_name.clone(), Nav::Users),
        id: u.id.to_string(),
        display_name: u.display_name.clone(),
        upn: u.upn.clone(),
        user_type: u.user_type.to_string(),
        location: again
            .location
            .unwrap_or_else(|| u.usage_location.clone().unwrap_or_default()),
        enabled: u.account_enabled,
        products,
        licenses: product_names(app, held.iter().map(|a| a.sku_id)),
        license_count: held.len(),
        can_assign: viewer.can(Action::AssignLicenses),
        can_locate: viewer.can(Action::SetUsageLocation),
        can_delete: viewer.can(Action::ManageDirectory),
        error: again.error,
        location_error: again.location_error,
    })
}

/// Adds to the products offered where each held license comes from (L6): "Direct",
/// "Inherited from Sales"; a license only groups give is shown without a control, with the
/// plans it has; a group that could not give its products is named with why.
async fn with_sources(
    app: &App,
    viewer: &Viewer,
    user: UserId,
    held: &[seatkeeper_domain::assignment::Assignment],
    products: &mut Vec<ProductChoice>,
) -> Result<(), PageError> {
    let sources = app.named_license_sources(&viewer.actor, &[user]).await?;
    if sources.is_empty() {
        for p in products.iter_mut() {
            if held.iter().any(|a| a.sku_id.to_string() == p.sku) {
                p.sources = "Direct".into();
            }
        }
        return Ok(());
    }
    let catalog = app.catalog();
    for a in held {
        let sku = a.sku_id.to_string();
        if !products.iter().any(|p| p.sku == sku) {
            let Some(p) = catalog.product(a.sku_id) else {
                continue;
            };
            products.push(ProductChoice {
                sku: sku.clone(),
                name: p.name.clone(),
                available: 0,
                total: 0,
                checked: false,
                plans: Vec::new(),
                sources: String::new(),
                inherited_only: false,
                source_errors: Vec::new(),
            });
        }
        let Some(p) = products.iter_mut().find(|p| p.sku == sku) else {
            continue;
        };
        let mut words: Vec<String> = Vec::new();
        if a.direct {
            words.push("Direct".into());
        }
        for s in sources
            .of(user, a.sku_id)
            .iter()
            .filter(|s| s.source.state == "Active")
        {
            words.push(format!("Inherited from {}", s.group_name));
        }
        p.sources = words.join(", ");
        if !a.direct {
            p.inherited_only = true;
            p.checked = true;
            if let Some(product) = catalog.product(a.sku_id) {
                p.plans = product
                    .plans
                    .iter()
                    .map(|plan| PlanChoice {
                        value: format!("{}:{plan}", a.sku_id),
                        name: catalog
                            .plan(*plan)
                            .map(|x| x.display_name.clone())
                            .unwrap_or_else(|| plan.to_string()),
                        on: !a.disabled_plans.contains(plan),
                        dom_id: format!("lic-{}-{plan}", a.sku_id),
                    })
                    .collect();
            }
        }
    }
    for named in sources.all().filter(|s| s.source.state == "Error") {
        let s = &named.source;
        let error = s
            .error
            .as_deref()
            .and_then(seatkeeper_domain::sources::SourceError::parse)
            .unwrap_or(seatkeeper_domain::sources::SourceError::Other);
        let group = &named.group_name;
        let sku = s.sku_id.to_string();
        if let Some(p) = products.iter_mut().find(|p| p.sku == sku) {
            p.source_errors
                .push(format!("Not given by {group}: {}", error.advice()));
        }
    }
    Ok(())
}

/// The user's page again after a refused form, with what was sent and the refusal.
async fn show_again(
    app: &App,
    viewer: &Viewer,
    key: &str,
    status: StatusCode,
    again: Again,
) -> Result<Response, PageError> {
    let page = show_page(app, viewer, key, again).await?;
    Ok((status, page).into_response())
}

fn user_key(id: &str) -> Result<String, PageError> {
    UserId::parse(id)
        .map(|u| u.to_string())
        .ok_or_else(|| PageError::not_found(format!("There is no user {id}.")))
}

/// `GET /users/{id}`: a user's details, **Licenses and apps**, usage location and delete.
pub async fn show(
    viewer: Viewer,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let key = user_key(&id)?;
    Ok(show_page(&app, &viewer, &key, Again::default())
        .await?
        .into_response())
}

/// `POST /users/{id}/licenses`: **Save changes** of Licenses and apps — the user ends up with
/// exactly the ticked products and plans ([`App::set_user_licenses`]).
pub async fn save_licenses(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<LicenseFields>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let key = user_key(&id)?;
    let result = match form.specs(&app) {
        Ok(specs) => app
            .set_user_licenses(&viewer.actor, &key, specs)
            .await
            .map_err(|e| shown(&app, e)),
        Err(msg) => Err(Ok((StatusCode::BAD_REQUEST, msg))),
    };
    match result {
        Ok((u, _)) => Ok(notice::redirect(
            &format!("/users/{key}"),
            &format!("The licenses and apps of {} were saved.", u.display_name),
            false,
        )),
        Err(Err(e)) => Err(e.into()),
        Err(Ok((status, msg))) => {
            let again = Again {
                held: Some(form.as_held(&app)),
                error: Some(msg),
                ..Again::default()
            };
            show_again(&app, &viewer, &key, status, again).await
        }
    }
}

/// The usage location form.
#[derive(Debug, Deserialize)]
pub struct LocationForm {
    #[serde(default)]
    pub usage_location: String,
}

/// `POST /users/{id}/location`: changes the usage location ([`App::update_user`]; a License
/// admin may do this too).
pub async fn save_location(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<LocationForm>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let key = user_key(&id)?;
    let input = UserInput {
        usage_location: Some(Some(form.usage_location.clone())),
        ..Default::default()
    };
    match app.update_user(&viewer.actor, &key, &input).await {
        Ok(u) => Ok(notice::redirect(
            &format!("/users/{key}"),
            &match &u.usage_location {
                Some(l) => format!("The usage location of {} is now {l}.", u.display_name),
                None => format!("The usage location of {} was cleared.", u.display_name),
            },
            false,
        )),
        Err(e) if is_refusal(&e) => {
            let again = Again {
                location: Some(form.usage_location),
                location_error: Some(e.to_string()),
                ..Again::default()
            };
            show_again(&app, &viewer, &key, refusal(&e), again).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A form whose only field is the confirmation.
#[derive(Debug, Deserialize, Default)]
pub struct ConfirmForm {
    #[serde(default)]
    pub confirmed: String,
}

/// `POST /users/{id}/delete`: first asks (a page saying how many licenses are freed), then, on
/// the confirming post, deletes the user and frees their licenses ([`App::delete_user`]).
pub async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<ConfirmForm>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let key = user_key(&id)?;
    let (u, held) = app.user_licenses(&viewer.actor, &key).await?;
    if !confirm::confirmed(&form.confirmed) {
        let who = format!("{} ({})", u.display_name, u.upn);
        let frees = match held.len() {
            0 => format!("{who} holds no licenses."),
            1 => format!(
                "Deleting {who} frees their 1 license: {}.",
                product_names(&app, held.iter().map(|a| a.sku_id))
            ),
            n => format!(
                "Deleting {who} frees their {n} licenses: {}.",
                product_names(&app, held.iter().map(|a| a.sku_id))
            ),
        };
        return Ok(ConfirmPage {
            frame: viewer.frame("Delete user", Nav::Users),
            question: format!("Delete {}?", u.display_name),
            details: vec![frees, "This cannot be undone.".into()],
            action: format!("/users/{key}/delete"),
            fields: vec![],
            confirm_label: "Delete user".into(),
            back: format!("/users/{key}"),
            back_label: "Cancel".into(),
        }
        .into_response());
    }
    match app.delete_user(&viewer.actor, &key).await {
        Ok(()) => {
            let msg = match held.len() {
                0 => format!("{} was deleted.", u.display_name),
                1 => format!("{} was deleted; 1 license was freed.", u.display_name),
                n => format!("{} was deleted; {n} licenses were freed.", u.display_name),
            };
            Ok(notice::redirect("/users", &msg, false))
        }
        Err(e) if is_refusal(&e) => Ok(notice::redirect(
            &format!("/users/{key}"),
            &e.to_string(),
            true,
        )),
        Err(e) => Err(e.into()),
    }
}
