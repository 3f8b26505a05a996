//! **Upload users (CSV)** from Active users: the same import as `seatkeeper users import`
//! ([`App::read_users_csv`], [`App::existing_upns`], [`App::import_users_batch`]). The file is
//! checked whole first; any bad row is listed by line and nothing is imported. A good file is
//! imported by a background task of the server, a batch per transaction, while the page polls
//! its progress (processed / total).
//!
//! Progress is kept in this process's memory, keyed by a random id that only the organization
//! that started the import can read. A restart forgets it: the batches written before the
//! restart stay, the rest is not imported, and the progress page says the import is unknown
//! (importing the file again with "Update users who already exist" finishes it).

use crate::csrf;
use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::viewer::Viewer;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use seatkeeper_app::import::{MAX_CSV_BYTES, MAX_CSV_ROWS};
use seatkeeper_app::{Actor, App};
use seatkeeper_domain::TenantId;
use seatkeeper_domain::roles::Action;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Users written per transaction, as the CLI does.
const BATCH: usize = 500;
/// Problems listed on the page before "and K more".
const MAX_LISTED: usize = 50;
/// How long a finished import's outcome stays readable.
const KEEP_FINISHED: Duration = Duration::from_secs(3600);

/// One import's progress.
#[derive(Debug, Clone)]
struct Job {
    tenant: TenantId,
    total: usize,
    processed: usize,
    created: usize,
    updated: usize,
    unchanged: usize,
    /// Why the import stopped, when it did.
    error: Option<String>,
    finished: Option<Instant>,
}

static JOBS: LazyLock<Mutex<HashMap<String, Job>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn with_jobs<T>(f: impl FnOnce(&mut HashMap<String, Job>) -> T) -> T {
    let mut jobs = JOBS.lock().unwrap_or_else(|p| p.into_inner());
    jobs.retain(|_, j| j.finished.is_none_or(|t| t.elapsed() < KEEP_FINISHED));
    f(&mut jobs)
}

/// The import routes: `/users/import` (form and upload), `/users/import/{id}` (progress page)
/// and `/users/import/{id}/status` (the part of it that htmx polls).
pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/users/import",
            get(form)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_CSV_BYTES + 64 * 1024)),
        )
        .route("/users/import/{id}", get(progress))
        .route("/users/import/{id}/status", get(status))
}

#[derive(Template, WebTemplate)]
#[template(path = "users_import.html")]
pub struct FormPage {
    pub frame: Frame,
    pub max_mb: usize,
    pub max_rows: usize,
    pub update_existing: bool,
    /// A problem with the file as a whole.
    pub error: Option<String>,
    /// Problems by line.
    /// (line, column, what to fix).
    pub problems: Vec<(u64, &'static str, String)>,
    /// Problems not listed.
    pub more: usize,
}

fn form_page(viewer: &Viewer) -> FormPage {
    FormPage {
        frame: viewer.frame("Upload users (CSV)", Nav::Users),
        max_mb: MAX_CSV_BYTES / (1024 * 1024),
        max_rows: MAX_CSV_ROWS,
        update_existing: false,
        error: None,
        problems: vec![],
        more: 0,
    }
}

fn require_manage(viewer: &Viewer) -> Result<(), PageError> {
    viewer.require_admin()?;
    if viewer.can(Action::ManageDirectory) {
        Ok(())
    } else {
        Err(PageError::forbidden(
            "Uploading users needs the User admin or Global admin role.",
        ))
    }
}

/// `GET /users/import`: the upload form.
pub async fn form(viewer: Viewer) -> Result<Response, PageError> {
    require_manage(&viewer)?;
    Ok(form_page(&viewer).into_response())
}

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    csrf: Option<String>,
    file: Option<Vec<u8>>,
    update_existing: bool,
}

/// Reads the form's fields in order. A refusal (a file over the limit, a broken upload) keeps
/// what was read before it, so that the CSRF token, which the form sends first, is still
/// checked and the person gets the refusal's words rather than an "expired form".
async fn read_upload(m: Multipart) -> (Upload, Result<(), String>) {
    let mut up = Upload::default();
    let result = read_fields(m, &mut up).await;
    (up, result)
}

async fn read_fields(mut m: Multipart, up: &mut Upload) -> Result<(), String> {
    let too_large = || {
        format!(
            "The file is larger than {} MB: split it into smaller files and upload each.",
            MAX_CSV_BYTES / (1024 * 1024)
        )
    };
    loop {
        let field = match m.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => {
                return Err(
                    "The upload could not be read: choose the file and upload it again.".into(),
                );
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => {
                return Err(
                    "The upload could not be read: choose the file and upload it again.".into(),
                );
            }
        };
        match name.as_str() {
            csrf::FIELD => up.csrf = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "file" => {
                if bytes.len() > MAX_CSV_BYTES {
                    return Err(too_large());
                }
                up.file = Some(bytes.to_vec());
            }
            "update_existing" => up.update_existing = true,
            _ => {}
        }
    }
    Ok(())
}

/// `POST /users/import` (multipart): checks the whole file; lists every bad row and imports
/// nothing, or starts the import and shows its progress.
pub async fn upload(
    viewer: Viewer,
    headers: HeaderMap,
    State(app): State<App>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let (up, read) = read_upload(multipart).await;
    if !csrf::matches(&viewer.csrf, &headers, up.csrf.as_deref()) {
        return Err(PageError::forbidden(csrf::REFUSED));
    }
    require_manage(&viewer)?;
    let mut page = form_page(&viewer);
    let refuse = |mut page: FormPage, msg: String| {
        page.error = Some(msg);
        (StatusCode::BAD_REQUEST, page).into_response()
    };
    if let Err(msg) = read {
        return Ok(refuse(page, msg));
    }
    page.update_existing = up.update_existing;
    let Some(data) = up.file.filter(|d| !d.is_empty()) else {
        return Ok(refuse(
            page,
            "Choose a CSV file of users to upload (the file was empty or missing).".into(),
        ));
    };
    let parsed = match app.read_users_csv(&viewer.actor, &data) {
        Ok(p) => p,
        Err(e) => return Ok(refuse(page, format!("The file was not imported: {e}."))),
    };
    let count = parsed.rows.len() + parsed.problems.len();
    if count > MAX_CSV_ROWS {
        return Ok(refuse(
            page,
            format!(
                "The file has {count} users; upload at most {MAX_CSV_ROWS} at a time (split the file)."
            ),
        ));
    }
    let mut problems = parsed.problems;
    if !up.update_existing {
        let upns: Vec<String> = parsed
            .rows
            .iter()
            .filter_map(|r| r.input.user_principal_name.clone())
            .collect();
        let existing = app.existing_upns(&viewer.actor, &upns).await?;
        for r in &parsed.rows {
            let upn = r.input.user_principal_name.clone().unwrap_or_default();
            if existing.contains(&upn.to_lowercase()) {
                problems.push((
                    r.line,
                    format!(
                        "user {upn} already exists; tick \u{201c}Update users who already exist\u{201d} to update existing users"
                    ),
                ));
            }
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|(line, _)| *line);
        let n = problems.len();
        let words = seatkeeper_app::import::problems_in_words(&problems);
        page.more = n.saturating_sub(MAX_LISTED);
        problems.truncate(MAX_LISTED);
        page.problems = problems
            .into_iter()
            .map(|(line, p)| (line, seatkeeper_app::import::problem_column(&p), p))
            .collect();
        return Ok(refuse(
            page,
            format!(
                "{words}; nothing was imported. Fix {} and upload the file again.",
                if n == 1 { "it" } else { "them" },
            ),
        ));
    }
    if parsed.rows.is_empty() {
        return Ok(refuse(
            page,
            "The file has a header but no users: add one row per user.".into(),
        ));
    }
    let id = seatkeeper_app::auth::random_secret("imp_");
    let inputs: Vec<_> = parsed.rows.into_iter().map(|r| (r.line, r.input)).collect();
    with_jobs(|jobs| {
        jobs.insert(
            id.clone(),
            Job {
                tenant: viewer.actor.tenant_id,
                total: inputs.len(),
                processed: 0,
                created: 0,
                updated: 0,
                unchanged: 0,
                error: None,
                finished: None,
            },
        )
    });
    tokio::spawn(run(
        app,
        viewer.actor.clone(),
        id.clone(),
        inputs,
        up.update_existing,
    ));
    Ok(Redirect::to(&format!("/users/import/{id}")).into_response())
}

/// Writes the checked rows a batch per transaction, recording progress after each.
async fn run(
    app: App,
    actor: Actor,
    id: String,
    rows: Vec<(u64, seatkeeper_app::directory::UserInput)>,
    update_existing: bool,
) {
    for batch in rows.chunks(BATCH) {
        let inputs: Vec<_> = batch.iter().map(|(_, i)| i.clone()).collect();
        let result = app
            .import_users_batch(&actor, &inputs, update_existing)
            .await;
        let stop = with_jobs(|jobs| {
            let Some(job) = jobs.get_mut(&id) else {
                return true;
            };
            match &result {
                Ok(o) => {
                    job.processed += batch.len();
                    job.created += o.created;
                    job.updated += o.updated;
                    job.unchanged += o.unchanged;
                    false
                }
                Err(e) => {
                    let first = batch.first().map(|r| r.0).unwrap_or(0);
                    let last = batch.last().map(|r| r.0).unwrap_or(0);
                    job.error = Some(format!(
                        "Lines {first} to {last} were not imported: {e}{}",
                        if job.processed > 0 {
                            format!(
                                " The {} users before line {first} were imported; upload the file again with \u{201c}Update users who already exist\u{201d} ticked to finish.",
                                job.processed
                            )
                        } else {
                            String::new()
                        }
                    ));
                    job.finished = Some(Instant::now());
                    true
                }
            }
        });
        if stop {
            return;
        }
    }
    with_jobs(|jobs| {
        if let Some(job) = jobs.get_mut(&id) {
            job.finished = Some(Instant::now());
        }
    });
}

#[derive(Template, WebTemplate)]
#[template(path = "users_import_status.html")]
pub struct StatusPart {
    pub id: String,
    pub total: usize,
    pub processed: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub error: Option<String>,
    pub done: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "users_import_job.html")]
pub struct ProgressPage {
    pub frame: Frame,
    pub id: String,
    pub total: usize,
    pub processed: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub error: Option<String>,
    pub done: bool,
}

fn status_of(viewer: &Viewer, id: &str) -> Result<StatusPart, PageError> {
    require_manage(viewer)?;
    let job = with_jobs(|jobs| jobs.get(id).cloned())
        .filter(|j| j.tenant == viewer.actor.tenant_id)
        .ok_or_else(|| {
            PageError::not_found(
                "This import is not known: it finished more than an hour ago, or the server restarted while it ran (the users imported until then were kept). Check Active users, and upload the file again with \u{201c}Update users who already exist\u{201d} ticked if some are missing.",
            )
        })?;
    Ok(StatusPart {
        id: id.to_string(),
        total: job.total,
        processed: job.processed,
        created: job.created,
        updated: job.updated,
        unchanged: job.unchanged,
        done: job.finished.is_some(),
        error: job.error,
    })
}

/// `GET /users/import/{id}`: the import's progress page.
pub async fn progress(viewer: Viewer, Path(id): Path<String>) -> Result<Response, PageError> {
    let s = status_of(&viewer, &id)?;
    Ok(ProgressPage {
        frame: viewer.frame("Upload users (CSV)", Nav::Users),
        id: s.id,
        total: s.total,
        processed: s.processed,
        created: s.created,
        updated: s.updated,
        unchanged: s.unchanged,
        error: s.error,
        done: s.done,
    }
    .into_response())
}

/// `GET /users/import/{id}/status`: the progress alone, polled by the page (htmx).
pub async fn status(viewer: Viewer, Path(id): Path<String>) -> Result<Response, PageError> {
    Ok(status_of(&viewer, &id)?.into_response())
}
