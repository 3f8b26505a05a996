//! The audit log (AUD1): read and filter it, export it as CSV. There is no way to change or
//! delete an entry. And the mail outbox (MAIL2): what was sent, or is waiting.

use super::model::{AuditEntry, AuditPage, MailList, MailMessage};
use super::support::{Params, enc, ts};
use super::{BadRequest, Forbidden, Unauthorized};
use crate::error::{ApiResult, bad_request};
use crate::extract::Auth;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_domain::audit::{AuditAction, AuditQuery};

const FILTERS: [&str; 5] = ["action", "actor", "targetId", "since", "until"];
const DEFAULT_TOP: i64 = 100;
const MAX_TOP: i64 = 1000;

/// The filters of the query string, and their text for the next page's link.
fn filters(params: &Params) -> ApiResult<(AuditQuery, String)> {
    let text = |k: &str| params.get(k).map(|v| v.trim().to_string());
    let q = AuditQuery {
        action: text("action")
            .map(|a| AuditAction::matching(&a))
            .transpose()
            .map_err(|e| bad_request("invalidParameter", e.to_string()))?,
        actor: text("actor"),
        target_id: text("targetId"),
        since: params.time("since")?,
        until: params.time("until")?,
        before_id: None,
        limit: DEFAULT_TOP,
    };
    let link: String = FILTERS
        .iter()
        .filter_map(|k| params.get(k).map(|v| format!("&{k}={}", enc(v))))
        .collect();
    Ok((q, link))
}

/// The audit log, newest first
///
/// Every change with who, what, when, before and after. Entries cannot be changed or deleted.
#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "listAudit",
    tag = "Audit",
    params(
        ("action" = Option<String>, Query, description = "Prefix of the action: `license.` matches every license action. A prefix of no action is refused (400) with the list of actions."),
        ("actor" = Option<String>, Query, description = "The start of who acted, as the log shows it (a userPrincipalName, \"operator\", \"system\"), case-insensitive: `admin` matches `admin@contoso.example`."),
        ("targetId" = Option<String>, Query, description = "What changed: its id, a user's userPrincipalName or displayName, or a group's displayName (case-insensitive)."),
        ("since" = Option<String>, Query, format = DateTime, description = "Entries at or after this time (RFC 3339)."),
        ("until" = Option<String>, Query, format = DateTime, description = "Entries before this time (RFC 3339)."),
        ("top" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)."),
        ("before" = Option<i64>, Query, minimum = 1, description = "Entries older than this entry id (taken from nextLink)."),
    ),
    responses(
        (status = 200, description = "OK", body = AuditPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> ApiResult<axum::Json<AuditPage>> {
    let mut allowed = FILTERS.to_vec();
    allowed.extend(["before", "top"]);
    params.allow(&allowed)?;
    let (mut q, link) = filters(&params)?;
    let top = params.int("top", 1, MAX_TOP)?.unwrap_or(DEFAULT_TOP);
    q.before_id = params.int("before", 1, i64::MAX)?;
    q.limit = top + 1;
    let entries = app.audit_log(&actor, &q).await?;
    let more = entries.len() as i64 > top;
    let page = &entries[..entries.len().min(top as usize)];
    let next = match (more, page.last()) {
        (true, Some(last)) => Some(format!("/api/v1/audit?top={top}&before={}{link}", last.id)),
        _ => None,
    };
    Ok(axum::Json(AuditPage {
        value: page.iter().map(AuditEntry::from).collect(),
        next_link: next,
    }))
}

/// The audit log as CSV, with the same filters
///
/// Columns: id, dateTime, actor, actorId, action, targetType, targetId, summary, before, after.
/// Newest first; read a page at a time and streamed.
#[utoipa::path(
    get,
    path = "/audit.csv",
    operation_id = "exportAudit",
    tag = "Audit",
    params(
        ("action" = Option<String>, Query, description = "Prefix of the action: `license.` matches every license action. A prefix of no action is refused (400) with the list of actions."),
        ("actor" = Option<String>, Query, description = "The start of who acted, as the log shows it (a userPrincipalName, \"operator\", \"system\"), case-insensitive: `admin` matches `admin@contoso.example`."),
        ("targetId" = Option<String>, Query, description = "What changed: its id, a user's userPrincipalName or displayName, or a group's displayName (case-insensitive)."),
        ("since" = Option<String>, Query, format = DateTime, description = "Entries at or after this time (RFC 3339)."),
        ("until" = Option<String>, Query, format = DateTime, description = "Entries before this time (RFC 3339)."),
    ),
    responses(
        (status = 200, description = "CSV (UTF-8, header row first), sent as an attachment.",
            content_type = "text/csv", body = String,
            headers(("Content-Disposition" = String, description = "attachment; filename=..."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn csv(State(app): State<App>, Auth(actor): Auth, params: Params) -> ApiResult<Response> {
    params.allow(&FILTERS)?;
    let (q, _) = filters(&params)?;
    let stream = app.audit_csv(&actor, &q).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The e-mail outbox, newest first
#[utoipa::path(
    get,
    path = "/mail",
    operation_id = "listMail",
    tag = "Mail",
    params(("top" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "How many, 1 to 1000 (default 100).")),
    responses(
        (status = 200, description = "OK", body = MailList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub async fn mail(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> ApiResult<axum::Json<MailList>> {
    params.allow(&["top"])?;
    let top = params.int("top", 1, MAX_TOP)?.unwrap_or(DEFAULT_TOP);
    let list = app.list_mail(&actor, top).await?;
    Ok(axum::Json(MailList {
        value: list
            .iter()
            .map(|m| MailMessage {
                id: m.id.to_string(),
                to: m.to.clone(),
                subject: m.subject.clone(),
                kind: m.kind.to_string(),
                status: m.status.to_string(),
                attempts: m.attempts,
                created_date_time: ts(m.created_at),
                next_attempt_date_time: (m.status
                    == seatkeeper_domain::kinds::OutboxStatus::Pending)
                    .then(|| ts(m.next_attempt_at)),
                sent_date_time: m.sent_at.map(ts),
                last_error: m.last_error.clone(),
            })
            .collect(),
    }))
}
