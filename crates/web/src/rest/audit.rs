//! The audit log (AUD1): read and filter it, export it as CSV. There is no way to change or
//! delete an entry. And the mail outbox (MAIL2): what was sent, or is waiting.

use super::support::{Params, cell, enc, list as value_list, ts, ts_opt};
use crate::error::ApiResult;
use crate::extract::Auth;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_app::store::audit::{Entry, Query};
use serde_json::{Value, json};

const FILTERS: [&str; 5] = ["action", "actor", "targetId", "since", "until"];
const DEFAULT_TOP: i64 = 100;
const MAX_TOP: i64 = 1000;
const EXPORT_PAGE: i64 = 1000;

fn snapshot(s: &Option<String>) -> Value {
    match s {
        None => Value::Null,
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())),
    }
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "id": e.id.to_string(),
        "dateTime": ts(e.at),
        "actorId": e.actor_id.map(|a| a.to_string()),
        "actor": e.actor,
        "action": e.action,
        "targetType": e.target_type,
        "targetId": e.target_id,
        "summary": e.summary,
        "before": snapshot(&e.before),
        "after": snapshot(&e.after),
    })
}

/// The filters of the query string, and their text for the next page's link.
fn filters(params: &Params) -> ApiResult<(Query, String)> {
    let text = |k: &str| params.get(k).map(|v| v.trim().to_string());
    let q = Query {
        action: text("action"),
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

pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
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
    Ok(axum::Json(value_list(
        page.iter().map(entry_json).collect(),
        next,
    )))
}

fn csv_rows(entries: &[Entry], header_row: bool) -> Result<Bytes, std::io::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(entries.len() * 400 + 128));
    let io = |e: csv::Error| std::io::Error::other(e.to_string());
    if header_row {
        w.write_record([
            "id",
            "dateTime",
            "actor",
            "actorId",
            "action",
            "targetType",
            "targetId",
            "summary",
            "before",
            "after",
        ])
        .map_err(io)?;
    }
    for e in entries {
        w.write_record([
            e.id.to_string(),
            ts(e.at),
            cell(&e.actor),
            e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
            cell(&e.action),
            cell(&e.target_type),
            cell(&e.target_id),
            cell(&e.summary),
            e.before.clone().map(|s| cell(&s)).unwrap_or_default(),
            e.after.clone().map(|s| cell(&s)).unwrap_or_default(),
        ])
        .map_err(io)?;
    }
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// The audit log as CSV, with the same filters, newest first; read a page at a time and streamed.
pub async fn csv(State(app): State<App>, Auth(actor): Auth, params: Params) -> ApiResult<Response> {
    params.allow(&FILTERS)?;
    let (mut q, _) = filters(&params)?;
    q.limit = EXPORT_PAGE;
    let first = app.audit_log(&actor, &q).await?;
    let stream = futures_util::stream::unfold(
        (Some(first), app, actor, q, true),
        |(state, app, actor, mut q, header_row)| async move {
            let entries = match state {
                Some(e) => e,
                None => return None,
            };
            if entries.is_empty() && !header_row {
                return None;
            }
            let chunk = csv_rows(&entries, header_row);
            let next = match entries.last() {
                Some(last) if entries.len() as i64 >= EXPORT_PAGE => {
                    q.before_id = Some(last.id);
                    match app.audit_log(&actor, &q).await {
                        Ok(e) => Some(e),
                        Err(e) => {
                            tracing::error!("audit CSV export stopped: {e}");
                            return Some((
                                Err(std::io::Error::other(e.to_string())),
                                (None, app, actor, q, false),
                            ));
                        }
                    }
                }
                _ => None,
            };
            Some((chunk, (next, app, actor, q, false)))
        },
    );
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

/// The outbox, newest first.
pub async fn mail(
    State(app): State<App>,
    Auth(actor): Auth,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    params.allow(&["top"])?;
    let top = params.int("top", 1, MAX_TOP)?.unwrap_or(DEFAULT_TOP);
    let list = app.list_mail(&actor, top).await?;
    Ok(axum::Json(value_list(
        list.iter()
            .map(|m| {
                json!({
                    "id": m.id.to_string(),
                    "to": m.to,
                    "subject": m.subject,
                    "kind": m.kind,
                    "status": m.status,
                    "attempts": m.attempts,
                    "createdDateTime": ts(m.created_at),
                    "nextAttemptDateTime": if m.status == "pending" { Value::String(ts(m.next_attempt_at)) } else { Value::Null },
                    "sentDateTime": ts_opt(m.sent_at),
                    "lastError": m.last_error,
                })
            })
            .collect(),
        None,
    )))
}
