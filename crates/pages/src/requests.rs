//! License requests in the admin center (REQ1–REQ5).
//!
//! End users: **Request a license** (`/buy/{sku}/request`, reached from Buy a product where the
//! purchase policy blocks buying; or the organization's own process, its message and link) and
//! **My requests** (`/my/requests`). Admins: the **Requests** tab of Licenses
//! (`/licenses/requests`, Pending or Completed), **Connect to your request process**
//! (`/licenses/requests/settings`), the request pane (`/licenses/requests/{id}`: approve or deny
//! per person, **Select a product**, **Turn apps and services on or off**, **Assign licenses by
//! adding approved people to this security group**, message, **Submit**) and **Share request**.
//! Every change is the same use case as `/api/v1/me/license-requests` and
//! `/api/v1/license-requests/*`.

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::licenses::{Pick, PlanBox, date, disabled_from, plan_boxes, search_picks};
use crate::notice;
use crate::products::{product_name, refusal};
use crate::viewer::{Posted, Viewer};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::requests::{
    AssignVia, DecisionInput, DecisionOptions, Request, RequestDetail, ShareInput,
};
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::requests::{Outcome, RequestStatus, Verdict};
use seatkeeper_domain::roles::Action;
use serde::Deserialize;

/// Requests on one page of a list.
const PAGE: i64 = 50;
/// People shown by one search of a picker.
const PICKER: i64 = 10;

fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Approved => "Approved",
        Outcome::PartlyApproved => "Partly approved",
        Outcome::Denied => "Denied",
    }
}

fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Approve => "Approved",
        Verdict::Deny => "Denied",
    }
}

/// Names or e-mail addresses typed one per line or separated by commas or semicolons.
fn split_names(text: &str) -> Vec<String> {
    text.split([',', ';', '\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `picked` and the names typed in `typed`, each once.
fn people(picked: &[String], typed: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in picked
        .iter()
        .map(|p| p.trim().to_string())
        .chain(split_names(typed))
    {
        if !p.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&p)) {
            out.push(p);
        }
    }
    out
}

/// One request as a row of a list.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: String,
    pub product: String,
    pub requester: String,
    pub date: String,
    pub status: String,
    pub users: i64,
}

fn row(app: &App, r: &Request) -> RequestRow {
    RequestRow {
        id: r.id.to_string(),
        product: product_name(app, r.sku_id),
        requester: r.requester_upn.clone(),
        date: date(r.created_at),
        status: match (r.status, r.outcome) {
            (RequestStatus::Completed, Some(o)) => outcome_label(o).to_string(),
            (RequestStatus::Completed, None) => "Completed".into(),
            (RequestStatus::Pending, _) => "Pending".into(),
        },
        users: r.user_count,
    }
}

/// The paging of a list: `?page=` (1 and up).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub page: String,
}

impl ListQuery {
    fn page(&self) -> Result<i64, PageError> {
        match self.page.trim() {
            "" => Ok(1),
            p => p
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    PageError::bad_request(format!(
                        "There is no page '{p}': pages are numbered from 1."
                    ))
                }),
        }
    }
}

// ----- end users: Request a license -----

/// The organization's own request process as the Request a license page shows it.
#[derive(Debug, Clone)]
pub struct ProcessView {
    pub message: String,
    pub documentation_url: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "requests_new.html")]
pub struct NewRequestPage {
    pub frame: Frame,
    pub sku: String,
    pub product: String,
    /// Shown instead of the form while the organization uses its own process.
    pub process: Option<ProcessView>,
    /// Colleagues picked from the search (user names).
    pub picked: Vec<Pick>,
    /// Colleagues typed (names or e-mail addresses).
    pub colleagues: String,
    pub note: String,
    /// A refusal, in the API's words.
    pub error: Option<String>,
    /// The open request a second request names.
    pub open_request: Option<String>,
    /// The colleague search's text and, when it ran, its results (the form without JavaScript).
    pub q: String,
    pub results: Vec<Pick>,
    pub searched: bool,
}

/// The Request a license form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct NewRequestForm {
    /// Colleagues picked in the search (user names).
    #[serde(default)]
    pub colleague: Vec<String>,
    /// Colleagues typed: user names or e-mail addresses, one per line or comma separated.
    #[serde(default)]
    pub colleagues: String,
    #[serde(default)]
    pub note: String,
    /// The colleague search's text.
    #[serde(default)]
    pub q: String,
    /// Present when the Search button sent the form (search, do not submit).
    #[serde(default)]
    pub search: Option<String>,
}

impl NewRequestForm {
    /// The form's GET address with what was typed and picked (never the CSRF token).
    fn search_path(&self, sku: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("q", self.q.trim());
        for c in people(&self.colleague, "") {
            q.append_pair("colleague", &c);
        }
        q.append_pair("colleagues", &self.colleagues);
        q.append_pair("note", &self.note);
        format!("/buy/{sku}/request?{}", q.finish())
    }
}

fn picks(names: &[String]) -> Vec<Pick> {
    names
        .iter()
        .map(|u| Pick {
            upn: u.clone(),
            name: u.clone(),
            picked: true,
        })
        .collect()
}

async fn process_view(app: &App, viewer: &Viewer) -> Result<Option<ProcessView>, PageError> {
    let p = app.request_process(&viewer.actor).await?;
    Ok(p.use_organization_process.then(|| ProcessView {
        message: p.message.unwrap_or_default(),
        documentation_url: p.documentation_url,
    }))
}

fn requested_product<'c>(
    catalog: &'c seatkeeper_domain::catalog::Catalog,
    sku: &str,
) -> Result<&'c seatkeeper_domain::catalog::Product, PageError> {
    catalog.find_product(sku).ok_or_else(|| {
        PageError::not_found(format!(
            "There is no product '{sku}'. Pick one on Buy a product."
        ))
    })
}

fn signed_in_user(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.actor.user_id.is_none() {
        return Err(PageError::forbidden(
            "Only a signed-in user can request a license for themselves.",
        ));
    }
    Ok(())
}

/// `GET /buy/{sku}/request`: the Request a license form, or the organization's own process;
/// `?q=` searches colleagues (without JavaScript the Search button's post is sent here, with
/// the picked colleagues and the note, so they stay).
pub async fn new_form(
    State(app): State<App>,
    viewer: Viewer,
    Path(sku): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, PageError> {
    signed_in_user(&viewer)?;
    let form: NewRequestForm = serde_html_form::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| PageError::bad_request(format!("The search could not be read: {e}.")))?;
    let catalog = app.catalog();
    let p = requested_product(&catalog, &sku)?;
    let picked = people(&form.colleague, "");
    let q = form.q.trim();
    // A form that could only be refused is not shown: the refusal is, in its words (a Guest
    // is refused before anything else); the organization's own process shows its message.
    let process = match app.check_may_request(&viewer.actor, p.sku_id).await {
        Ok(()) => None,
        Err(AppError::ConflictWith {
            code: "OrganizationRequestProcess",
            ..
        }) => process_view(&app, &viewer).await?,
        Err(e) => return Err(e.into()),
    };
    Ok(NewRequestPage {
        frame: viewer.frame("Request a license", Nav::Buy),
        sku: p.sku_id.to_string(),
        product: p.name.clone(),
        process,
        results: colleague_picks(&app, &viewer, q, &picked).await?,
        searched: !q.is_empty(),
        q: q.to_string(),
        picked: picks(&picked),
        colleagues: form.colleagues.clone(),
        note: form.note.clone(),
        error: None,
        open_request: None,
    }
    .into_response())
}

/// Members whose name starts with `q` that may be named on a request: not the viewer, not
/// those already picked.
async fn colleague_picks(
    app: &App,
    viewer: &Viewer,
    q: &str,
    picked: &[String],
) -> Result<Vec<Pick>, PageError> {
    if q.is_empty() {
        return Ok(Vec::new());
    }
    Ok(app
        .find_colleagues(&viewer.actor, q, PICKER + 1 + picked.len() as i64)
        .await?
        .into_iter()
        .filter(|u| Some(u.id) != viewer.actor.user_id)
        .filter(|u| !picked.iter().any(|p| p.eq_ignore_ascii_case(&u.upn)))
        .take(PICKER as usize)
        .map(|u| Pick {
            upn: u.upn,
            name: u.display_name,
            picked: false,
        })
        .collect())
}

/// `POST /buy/{sku}/request`: submits the request (REQ1); then My requests shows it.
pub async fn submit(
    State(app): State<App>,
    Path(sku): Path<String>,
    Posted { viewer, form }: Posted<NewRequestForm>,
) -> Result<Response, PageError> {
    signed_in_user(&viewer)?;
    let catalog = app.catalog();
    let p = requested_product(&catalog, &sku)?;
    if form.search.is_some() {
        return Ok(
            axum::response::Redirect::to(&form.search_path(&p.sku_id.to_string())).into_response(),
        );
    }
    let others = people(&form.colleague, "");
    let typed = split_names(&form.colleagues);
    let all: Vec<String> = others.iter().cloned().chain(typed).collect();
    let note = Some(form.note.as_str()).filter(|n| !n.trim().is_empty());
    match app
        .submit_request(&viewer.actor, p.sku_id, &all, note)
        .await
    {
        Ok(d) => {
            let n = d.users.len();
            Ok(notice::redirect(
                "/my/requests",
                &format!(
                    "You requested {} for {}. Everyone on the request gets an e-mail when your admin decides.",
                    p.name,
                    if n == 1 {
                        "yourself".to_string()
                    } else {
                        format!("{n} people")
                    }
                ),
                false,
            ))
        }
        Err(e) => {
            let open_request = match &e {
                AppError::ConflictWith {
                    code: "RequestAlreadyOpen",
                    detail,
                    ..
                } => detail
                    .get("requestId")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                _ => None,
            };
            let (status, message) = refusal(e)?;
            let page = NewRequestPage {
                frame: viewer.frame("Request a license", Nav::Buy),
                sku: p.sku_id.to_string(),
                product: p.name.clone(),
                process: process_view(&app, &viewer).await?,
                picked: picks(&others),
                colleagues: form.colleagues.clone(),
                note: form.note.clone(),
                error: Some(message),
                open_request,
                q: String::new(),
                results: Vec::new(),
                searched: false,
            };
            Ok((status, page).into_response())
        }
    }
}

/// A picker's search results (htmx): check boxes named `field` that move into the list `into`.
#[derive(Template, WebTemplate)]
#[template(path = "requests_people.html")]
pub struct PeopleResults {
    pub q: String,
    pub results: Vec<Pick>,
    pub searched: bool,
    pub field: &'static str,
    pub into: &'static str,
}

/// A picker's search text.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

/// `GET /my/requests/colleagues?q=`: Members whose name starts with the text (htmx).
pub async fn colleagues(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    signed_in_user(&viewer)?;
    let q = q.q.trim().to_string();
    let found = app.find_colleagues(&viewer.actor, &q, PICKER).await?;
    Ok(PeopleResults {
        searched: !q.is_empty(),
        results: found
            .into_iter()
            .filter(|u| Some(u.id) != viewer.actor.user_id)
            .map(|u| Pick {
                upn: u.upn,
                name: u.display_name,
                picked: false,
            })
            .collect(),
        q,
        field: "colleague",
        into: "picked-colleagues",
    }
    .into_response())
}

// ----- lists -----

#[derive(Template, WebTemplate)]
#[template(path = "requests_mine.html")]
pub struct MyRequestsPage {
    pub frame: Frame,
    pub rows: Vec<RequestRow>,
    pub page: i64,
    pub next: Option<String>,
}

/// `GET /my/requests`: the signed-in user's own requests, newest first.
pub async fn mine(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    signed_in_user(&viewer)?;
    let page = q.page()?;
    let p = app
        .my_requests(&viewer.actor, PAGE, (page - 1) * PAGE)
        .await?;
    Ok(MyRequestsPage {
        frame: viewer.frame("My requests", Nav::MyRequests),
        rows: p.requests.iter().map(|r| row(&app, r)).collect(),
        page,
        next: (page * PAGE < p.total).then(|| format!("/my/requests?page={}", page + 1)),
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "requests_list.html")]
pub struct RequestsPage {
    pub frame: Frame,
    pub rows: Vec<RequestRow>,
    /// "pending", "completed" or "" (all).
    pub status: String,
    pub page: i64,
    pub next: Option<String>,
    /// Whether the organization uses its own request process (the banner).
    pub own_process: bool,
}

/// `GET /licenses/requests?status=pending|completed`: the organization's requests, newest
/// first, 50 a page.
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let (status, key) = match q.status.trim() {
        "" | "pending" => (Some(RequestStatus::Pending), "pending"),
        "completed" => (Some(RequestStatus::Completed), "completed"),
        "all" => (None, "all"),
        other => {
            return Err(PageError::bad_request(format!(
                "There is no filter '{other}': use status=pending or status=completed."
            )));
        }
    };
    let page = q.page()?;
    let p = app
        .list_requests(&viewer.actor, status, PAGE, (page - 1) * PAGE)
        .await?;
    let own_process = app
        .request_process(&viewer.actor)
        .await?
        .use_organization_process;
    Ok(RequestsPage {
        frame: viewer.frame("Requests", Nav::Licenses),
        rows: p.requests.iter().map(|r| row(&app, r)).collect(),
        status: key.to_string(),
        page,
        next: (page * PAGE < p.total)
            .then(|| format!("/licenses/requests?status={key}&page={}", page + 1)),
        own_process,
    }
    .into_response())
}

// ----- Connect to your request process -----

#[derive(Template, WebTemplate)]
#[template(path = "requests_settings.html")]
pub struct SettingsPage {
    pub frame: Frame,
    pub use_org: bool,
    pub message: String,
    pub documentation_url: String,
    pub link_expiry_days: String,
    pub retention_months: String,
    /// Whether the viewer may change them (else the form is read-only).
    pub can_manage: bool,
    pub error: Option<String>,
}

/// The settings form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub use_organization_process: Option<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub documentation_url: String,
    #[serde(default)]
    pub link_expiry_days: String,
    #[serde(default)]
    pub retention_months: String,
}

/// `GET /licenses/requests/settings`: Connect to your request process.
pub async fn settings(State(app): State<App>, viewer: Viewer) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let s = app.request_settings(&viewer.actor).await?;
    Ok(SettingsPage {
        frame: viewer.frame("Connect to your request process", Nav::Licenses),
        use_org: s.use_organization_process,
        message: s.message.unwrap_or_default(),
        documentation_url: s.documentation_url.unwrap_or_default(),
        link_expiry_days: s.link_expiry_days.to_string(),
        retention_months: s.retention_months.to_string(),
        can_manage: viewer.can(Action::ManageRequests),
        error: None,
    }
    .into_response())
}

fn whole(field: &str, text: &str) -> Result<i64, AppError> {
    text.trim().parse::<i64>().map_err(|_| {
        AppError::invalid(
            "invalidNumber",
            format!("{field} must be a whole number; '{}' is not.", text.trim()),
        )
    })
}

/// `POST /licenses/requests/settings`: saves the request process settings (REQ2).
pub async fn save_settings(
    State(app): State<App>,
    Posted { viewer, form }: Posted<SettingsForm>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let result = async {
        let mut s = app.request_settings(&viewer.actor).await?;
        s.use_organization_process = form.use_organization_process.is_some();
        s.message = Some(form.message.clone());
        s.documentation_url = Some(form.documentation_url.clone());
        s.link_expiry_days = whole("Link expiry (days)", &form.link_expiry_days)?;
        s.retention_months = whole("Keep requests (months)", &form.retention_months)?;
        app.set_request_settings(&viewer.actor, s).await
    }
    .await;
    match result {
        Ok(s) => Ok(notice::redirect(
            "/licenses/requests",
            if s.use_organization_process {
                "Saved: users now see your organization's request process instead of the request form."
            } else {
                "Saved: users can request licenses here."
            },
            false,
        )),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let page = SettingsPage {
                frame: viewer.frame("Connect to your request process", Nav::Licenses),
                use_org: form.use_organization_process.is_some(),
                message: form.message,
                documentation_url: form.documentation_url,
                link_expiry_days: form.link_expiry_days,
                retention_months: form.retention_months,
                can_manage: viewer.can(Action::ManageRequests),
                error: Some(message),
            };
            Ok((status, page).into_response())
        }
    }
}

// ----- the request pane -----

/// A user on the request as the pane shows them.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub upn: String,
    pub name: String,
    /// Their current licenses' product names.
    pub licenses: Vec<String>,
    /// The decision on them, once made.
    pub verdict: Option<&'static str>,
    /// What the form chose for them: "approve", "deny" or "".
    pub chosen: String,
}

/// A recommendation (or a share still waiting for one).
#[derive(Debug, Clone)]
pub struct RecommendationRow {
    pub who: String,
    /// "Recommends approving", "Recommends denying", or "No answer yet".
    pub what: String,
    pub comment: String,
    pub when: String,
    pub shared_by: String,
}

/// A product the admin can select, with its free licenses.
#[derive(Debug, Clone)]
pub struct ProductChoice {
    pub sku: String,
    pub label: String,
    pub selected: bool,
}

/// A group the admin can choose.
#[derive(Debug, Clone)]
pub struct GroupChoice {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

/// The decision as the completed request shows it.
#[derive(Debug, Clone)]
pub struct DecisionView {
    pub outcome: String,
    pub by: String,
    pub when: String,
    pub product: String,
    pub group: Option<String>,
    pub message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "requests_pane.html")]
pub struct PanePage {
    pub frame: Frame,
    pub id: String,
    pub product: String,
    pub requester: String,
    pub date: String,
    pub status: String,
    pub note: String,
    pub users: Vec<UserRow>,
    pub recommendations: Vec<RecommendationRow>,
    pub decision: Option<DecisionView>,
    /// Whether the decision form and Share request are shown (a Pending request, and a role
    /// that may decide).
    pub can_decide: bool,
    /// Whether this is the admin's pane (else the requester's own view).
    pub admin: bool,
    pub products: Vec<ProductChoice>,
    pub groups: Vec<GroupChoice>,
    pub plans: Vec<PlanBox>,
    /// The skuId of the product whose apps and services `plans` are.
    pub plans_for: String,
    pub message: String,
    pub error: Option<String>,
}

impl PanePage {
    /// Whether some app or service is turned off (the section then starts open).
    pub fn some_off(&self) -> bool {
        self.plans.iter().any(|p| !p.on)
    }
}

/// The decision form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    /// One per user: `approve:{id}` or `deny:{id}` (empty when not chosen).
    #[serde(default)]
    pub verdict: Vec<String>,
    #[serde(default)]
    pub sku: String,
    /// A security group's id, or empty to assign directly.
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub plan_on: Vec<String>,
    #[serde(default)]
    pub plans_shown: Option<String>,
    /// The skuId whose apps and services the switches showed.
    #[serde(default)]
    pub plans_for: String,
    #[serde(default)]
    pub message: String,
}

fn pane(
    app: &App,
    viewer: &Viewer,
    d: &RequestDetail,
    options: Option<&DecisionOptions>,
    form: Option<&DecisionForm>,
    error: Option<String>,
) -> PanePage {
    let catalog = app.catalog();
    let r = &d.request;
    let admin = viewer.is_admin();
    let can_decide =
        admin && r.status == RequestStatus::Pending && viewer.can(Action::ManageRequests);
    let chosen = |id: &str| -> String {
        form.and_then(|f| {
            f.verdict.iter().find_map(|v| {
                v.split_once(':')
                    .filter(|(_, u)| *u == id)
                    .map(|(w, _)| w.to_string())
            })
        })
        .unwrap_or_default()
    };
    let users = d
        .users
        .iter()
        .map(|u| {
            let id = u.user_id.to_string();
            UserRow {
                chosen: chosen(&id),
                upn: u.upn.clone(),
                name: u
                    .user
                    .as_ref()
                    .map(|x| x.display_name.clone())
                    .unwrap_or_else(|| format!("{} (deleted)", u.upn)),
                licenses: u
                    .licenses
                    .iter()
                    .map(|a| product_name(app, a.sku_id))
                    .collect(),
                verdict: u.verdict.map(verdict_label),
                id,
            }
        })
        .collect();
    let recommendations = d
        .links
        .iter()
        .map(|l| RecommendationRow {
            who: l.recipient_upn.clone(),
            what: match l.verdict {
                Some(Verdict::Approve) => "Recommends approving".into(),
                Some(Verdict::Deny) => "Recommends denying".into(),
                None => "No answer yet".into(),
            },
            comment: l.comment.clone().unwrap_or_default(),
            when: l
                .used_at
                .map(date)
                .unwrap_or_else(|| format!("shared {}", date(l.shared_at))),
            shared_by: l.shared_by.clone(),
        })
        .collect();
    let decision = (r.status == RequestStatus::Completed).then(|| DecisionView {
        outcome: r.outcome.map(outcome_label).unwrap_or("Completed").into(),
        by: r.decided_by.clone().unwrap_or_default(),
        when: r.decided_at.map(date).unwrap_or_default(),
        product: r
            .decision_sku_id
            .map(|s| product_name(app, s))
            .unwrap_or_default(),
        group: d.group.as_ref().map(|g| g.display_name.clone()),
        message: r.decision_message.clone().unwrap_or_default(),
    });
    let picked_sku = form.map(|f| f.sku.clone()).unwrap_or_default();
    let picked_group = form.map(|f| f.group.clone()).unwrap_or_default();
    let products: Vec<ProductChoice> = options
        .map(|o| {
            o.products
                .iter()
                .map(|(p, free)| ProductChoice {
                    sku: p.sku_id.to_string(),
                    label: format!(
                        "{} ({} free license{})",
                        p.name,
                        free,
                        if *free == 1 { "" } else { "s" }
                    ),
                    selected: picked_sku == p.sku_id.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let groups = options
        .map(|o| {
            o.groups
                .iter()
                .map(|(g, sku)| GroupChoice {
                    id: g.id.to_string(),
                    label: format!("{} (carries {})", g.display_name, catalog.part_number(*sku)),
                    selected: picked_group == g.id.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    // The switches are those of the product that serves: the one picked, else the first
    // offered (what the select shows), else the requested one.
    let shown = products
        .iter()
        .find(|p| p.selected)
        .or(products.first())
        .and_then(|p| catalog.find_product(&p.sku))
        .or(catalog.product(r.sku_id));
    let plans_for = shown.map(|p| p.sku_id.to_string()).unwrap_or_default();
    let plans = match shown {
        Some(p) => {
            let off = match form {
                Some(f) if f.plans_shown.is_some() && f.plans_for == plans_for => {
                    disabled_from(p, &f.plan_on)
                }
                _ => Vec::new(),
            };
            plan_boxes(&catalog, p, &off)
        }
        None => Vec::new(),
    };
    PanePage {
        frame: viewer.frame(
            "License request",
            if admin {
                Nav::Licenses
            } else {
                Nav::MyRequests
            },
        ),
        id: r.id.to_string(),
        product: product_name(app, r.sku_id),
        requester: r.requester_upn.clone(),
        date: date(r.created_at),
        status: row(app, r).status,
        note: r.note.clone().unwrap_or_default(),
        users,
        recommendations,
        decision,
        can_decide,
        admin,
        products,
        groups,
        plans,
        plans_for,
        message: form.map(|f| f.message.clone()).unwrap_or_default(),
        error,
    }
}

async fn pane_page(
    app: &App,
    viewer: &Viewer,
    id: &str,
    form: Option<&DecisionForm>,
    error: Option<String>,
) -> Result<PanePage, PageError> {
    let d = app.get_request(&viewer.actor, id).await?;
    let options = if viewer.is_admin() && d.request.status == RequestStatus::Pending {
        Some(app.decision_options(&viewer.actor, id).await?)
    } else {
        None
    };
    Ok(pane(app, viewer, &d, options.as_ref(), form, error))
}

/// `GET /licenses/requests/{id}`: the request pane. A requester without an admin role is sent
/// to their own view of it (`/my/requests/{id}`), where another's request is a 404.
pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    if !viewer.is_admin() && viewer.actor.user_id.is_some() {
        let rid = seatkeeper_app::requests::parse_id(&id)?;
        return Ok(axum::response::Redirect::to(&format!("/my/requests/{rid}")).into_response());
    }
    viewer.require_admin()?;
    Ok(pane_page(&app, &viewer, &id, None, None)
        .await?
        .into_response())
}

/// `GET /my/requests/{id}`: the requester's own request.
pub async fn show_mine(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    signed_in_user(&viewer)?;
    let none = || {
        PageError::not_found(format!(
            "You have no license request '{id}': see My requests."
        ))
    };
    let d = match app.get_request(&viewer.actor, &id).await {
        Err(AppError::NotFound(_)) => return Err(none()),
        other => other?,
    };
    if Some(d.request.requester_id) != viewer.actor.user_id {
        return Err(none());
    }
    let mut page = pane(&app, &viewer, &d, None, None, None);
    page.admin = false;
    page.can_decide = false;
    page.frame = viewer.frame("License request", Nav::MyRequests);
    Ok(page.into_response())
}

/// `POST /licenses/requests/{id}/decision`: approves and denies the users on the request
/// (REQ4).
pub async fn decide(
    State(app): State<App>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<DecisionForm>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let mut approve = Vec::new();
    let mut deny = Vec::new();
    for v in &form.verdict {
        match v.split_once(':') {
            Some(("approve", u)) => approve.push(u.to_string()),
            Some(("deny", u)) => deny.push(u.to_string()),
            _ => {}
        }
    }
    let catalog = app.catalog();
    let group = form.group.trim();
    let sku = match form.sku.trim() {
        "" => None,
        s => match catalog.find_product(s) {
            Some(p) => Some(p.sku_id),
            None => {
                let message = format!(
                    "There is no product '{s}': under Select a product, choose one of those listed."
                );
                let page = pane_page(&app, &viewer, &id, Some(&form), Some(message)).await?;
                return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
            }
        },
    };
    let d = app.get_request(&viewer.actor, &id).await?;
    // The switches count only for the product they showed: after picking another product,
    // its own switches are shown to check first.
    let chosen = sku.unwrap_or(d.request.sku_id);
    let disabled = match (
        group.is_empty(),
        form.plans_shown.is_some(),
        catalog.product(chosen),
    ) {
        (true, true, Some(p)) if form.plans_for == chosen.to_string() => {
            disabled_from(p, &form.plan_on)
        }
        (true, true, Some(p)) => {
            let message = format!(
                "You picked {}: check which of its apps and services to turn on, then submit again.",
                p.name
            );
            let page = pane_page(&app, &viewer, &id, Some(&form), Some(message)).await?;
            return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
        }
        _ => Vec::new(),
    };
    let input = DecisionInput {
        approve,
        deny,
        sku_id: if group.is_empty() { sku } else { None },
        disabled_plans: disabled,
        via: if group.is_empty() {
            AssignVia::Direct
        } else {
            AssignVia::Group(group.to_string())
        },
        message: Some(form.message.clone()).filter(|m| !m.trim().is_empty()),
    };
    match app.decide_request(&viewer.actor, &id, &input).await {
        Ok(d) => {
            let outcome = d.request.outcome.map(outcome_label).unwrap_or("Completed");
            Ok(notice::redirect(
                &format!("/licenses/requests/{}", d.request.id),
                &format!(
                    "The request for {} was decided: {}. Everyone on it gets an e-mail.{}",
                    product_name(&app, d.request.sku_id),
                    outcome.to_lowercase(),
                    d.notices
                        .iter()
                        .map(|n| format!(" {n}"))
                        .collect::<String>()
                ),
                false,
            ))
        }
        Err(e) => {
            let (status, message) = refusal(e)?;
            let page = pane_page(&app, &viewer, &id, Some(&form), Some(message)).await?;
            Ok((status, page).into_response())
        }
    }
}

// ----- Share request -----

#[derive(Template, WebTemplate)]
#[template(path = "requests_share.html")]
pub struct SharePage {
    pub frame: Frame,
    pub id: String,
    pub product: String,
    pub requester: String,
    pub picked: Vec<Pick>,
    pub recipients: String,
    pub subject: String,
    pub message: String,
    pub error: Option<String>,
    /// The people search's text and, when it ran, its results (the form without JavaScript).
    pub q: String,
    pub results: Vec<Pick>,
    pub searched: bool,
}

/// The Share request form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct ShareForm {
    /// Picked in the search (user names).
    #[serde(default)]
    pub recipient: Vec<String>,
    /// Typed: names or e-mail addresses, one per line or comma separated.
    #[serde(default)]
    pub recipients: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub message: String,
    /// The people search's text.
    #[serde(default)]
    pub q: String,
    /// Present when the Search button sent the form (search, do not send).
    #[serde(default)]
    pub search: Option<String>,
}

impl ShareForm {
    /// The form's GET address with what was typed and picked (never the CSRF token).
    fn search_path(&self, id: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("q", self.q.trim());
        for r in people(&self.recipient, "") {
            q.append_pair("recipient", &r);
        }
        q.append_pair("recipients", &self.recipients);
        q.append_pair("subject", &self.subject);
        q.append_pair("message", &self.message);
        format!("/licenses/requests/{id}/share?{}", q.finish())
    }
}

fn require_manage(viewer: &Viewer) -> Result<(), PageError> {
    viewer.require_admin()?;
    viewer.actor.require(Action::ManageRequests)?;
    Ok(())
}

/// `GET /licenses/requests/{id}/share`: the Share request form; `?q=` searches people
/// (without JavaScript the Search button's post is sent here, with what was typed and picked).
pub async fn share_form(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, PageError> {
    require_manage(&viewer)?;
    let form: ShareForm = serde_html_form::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| PageError::bad_request(format!("The search could not be read: {e}.")))?;
    let d = app.get_request(&viewer.actor, &id).await?;
    let picked = people(&form.recipient, "");
    let q = form.q.trim();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        search_picks(&app, &viewer, q, &picked).await?
    };
    Ok(SharePage {
        frame: viewer.frame("Share request", Nav::Licenses),
        id: d.request.id.to_string(),
        product: product_name(&app, d.request.sku_id),
        requester: d.request.requester_upn.clone(),
        picked: picks(&picked),
        recipients: form.recipients,
        subject: form.subject,
        message: form.message,
        error: None,
        results,
        searched: !q.is_empty(),
        q: q.to_string(),
    }
    .into_response())
}

/// `GET /licenses/requests/{id}/share/search?q=`: users to share with (htmx).
pub async fn share_search(
    State(app): State<App>,
    viewer: Viewer,
    Path(_id): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    require_manage(&viewer)?;
    let q = q.q.trim().to_string();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        search_picks(&app, &viewer, &q, &[]).await?
    };
    Ok(PeopleResults {
        searched: !q.is_empty(),
        results,
        q,
        field: "recipient",
        into: "picked-recipients",
    }
    .into_response())
}

/// `POST /licenses/requests/{id}/share`: e-mails the request for a recommendation (REQ5).
pub async fn share(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Posted { viewer, form }: Posted<ShareForm>,
) -> Result<Response, PageError> {
    require_manage(&viewer)?;
    if form.search.is_some() {
        let rid = seatkeeper_app::requests::parse_id(&id)?;
        return Ok(
            axum::response::Redirect::to(&form.search_path(&rid.to_string())).into_response(),
        );
    }
    let recipients = people(&form.recipient, &form.recipients);
    let input = ShareInput {
        recipients: recipients.clone(),
        subject: Some(form.subject.clone()),
        message: Some(form.message.clone()),
        base_url: app
            .config
            .link_base(headers.get(header::HOST).and_then(|h| h.to_str().ok())),
    };
    match app.share_request(&viewer.actor, &id, &input).await {
        Ok(d) => Ok(notice::redirect(
            &format!("/licenses/requests/{}", d.request.id),
            &format!(
                "The request was shared with {}. They can recommend approving or denying it from the e-mail.",
                recipients.join(", ")
            ),
            false,
        )),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let d = app.get_request(&viewer.actor, &id).await?;
            let page = SharePage {
                frame: viewer.frame("Share request", Nav::Licenses),
                id: d.request.id.to_string(),
                product: product_name(&app, d.request.sku_id),
                requester: d.request.requester_upn.clone(),
                picked: picks(&form.recipient),
                recipients: form.recipients,
                subject: form.subject,
                message: form.message,
                error: Some(message),
                q: String::new(),
                results: Vec::new(),
                searched: false,
            };
            Ok((status, page).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_on_lines_and_commas() {
        assert_eq!(
            people(
                &["a@x.com".into()],
                "b@x.com, c@x.com\nA@x.com;\n\n d@x.com "
            ),
            vec!["a@x.com", "b@x.com", "c@x.com", "d@x.com"]
        );
    }
}
