//! The audit log (AUD1): every change, newest first, filtered by date range, actor, action and
//! target, 50 a page, and exported as CSV with the same filters (the one CSV writer of the audit
//! log, shared with `GET /api/v1/audit.csv`). Nothing here changes an entry; nothing can.

use crate::error::PageError;
use crate::frame::{Frame, Nav};
use crate::viewer::Viewer;
use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use seatkeeper_app::App;
use seatkeeper_domain::Time;
use seatkeeper_domain::audit::{AuditAction, AuditQuery};
use seatkeeper_domain::lifecycle::utc;
use serde::Deserialize;

/// Entries on a page.
pub const PAGE: i64 = 50;

/// The filters as the form sends them (and the links carry them).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filters {
    /// First day (YYYY-MM-DD, UTC), inclusive.
    #[serde(default)]
    pub from: String,
    /// Last day (YYYY-MM-DD, UTC), inclusive.
    #[serde(default)]
    pub to: String,
    /// The start of who acted: a user name, "operator" or "system".
    #[serde(default)]
    pub actor: String,
    /// The start of the action, e.g. `group.` or `subscription.cancel`.
    #[serde(default)]
    pub action: String,
    /// What changed: an id, a user name, display name or group name.
    #[serde(default)]
    pub target: String,
    /// Entries older than this entry id (the next page).
    #[serde(default)]
    pub before: String,
}

fn day(field: &str, v: &str) -> Result<Option<Time>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| format!("{field} '{v}' is not a date: use the form 2026-11-30."))
}

fn text(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Filters {
    /// The query for these filters, or the words saying which field to fix.
    fn query(&self) -> Result<AuditQuery, String> {
        let since = day("From", &self.from)?;
        let until = day("To", &self.to)?.map(|t| t + Duration::days(1));
        if let (Some(s), Some(u)) = (since, until)
            && u <= s
        {
            return Err(
                "The date range ends before it starts: make To the same day as From or later."
                    .into(),
            );
        }
        let before_id = match self.before.trim() {
            "" => None,
            b => Some(b.parse::<i64>().map_err(|_| {
                "The page link is not valid; start again from the first page.".to_string()
            })?),
        };
        Ok(AuditQuery {
            action: text(&self.action)
                .map(|a| AuditAction::matching(&a))
                .transpose()
                .map_err(|e| e.to_string())?,
            actor: text(&self.actor),
            target_id: text(&self.target),
            since,
            until,
            before_id,
            limit: PAGE + 1,
        })
    }

    /// The filters as a query string (without the page), for links.
    pub fn link(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("from", &self.from),
            ("to", &self.to),
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
        ] {
            if !v.trim().is_empty() {
                s.append_pair(k, v.trim());
            }
        }
        s.finish()
    }

    /// Whether any filter is set.
    pub fn any(&self) -> bool {
        !self.link().is_empty()
    }

    /// A link to these filters with one changed (a click on an actor or a target filters by it).
    pub fn with(&self, key: &str, value: &str) -> String {
        let mut f = self.clone();
        match key {
            "actor" => f.actor = value.to_string(),
            "action" => f.action = value.to_string(),
            _ => f.target = value.to_string(),
        }
        format!("/audit?{}", f.link())
    }
}

/// One entry as the page shows it.
pub struct Row {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub summary: String,
    pub before: String,
    pub after: String,
    /// The client address a sign-in came from ("" when the entry has none).
    pub client: String,
}

/// The `ip` an entry's details carry (sign-ins and failed sign-ins record it).
fn client_address(after: Option<&str>) -> String {
    after
        .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
        .and_then(|v| v.get("ip").and_then(|ip| ip.as_str().map(str::to_string)))
        .unwrap_or_default()
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub frame: Frame,
    pub filters: Filters,
    pub rows: Vec<Row>,
    pub next: Option<String>,
    pub first_page: bool,
    pub error: Option<String>,
}

impl AuditPage {
    /// Every action, offered as the Action field's suggestions.
    pub fn actions(&self) -> Vec<&'static str> {
        AuditAction::ALL.iter().map(|a| a.as_str()).collect()
    }

    /// The pager's link to the first page (None on the first page).
    pub fn first_link(&self) -> Option<String> {
        (!self.first_page).then(|| format!("/audit?{}", self.filters.link()))
    }

    /// The export link: the same filters, every page.
    pub fn export_link(&self) -> String {
        format!("/audit/export?{}", self.filters.link())
    }
}

/// `GET /audit`: the filtered log, newest first, 50 a page.
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let frame = viewer.frame("Audit log", Nav::Audit);
    let q = match filters.query() {
        Ok(q) => q,
        Err(message) => {
            let page = AuditPage {
                frame,
                filters,
                rows: vec![],
                next: None,
                first_page: true,
                error: Some(message),
            };
            return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    let mut entries = app.audit_log(&viewer.actor, &q).await?;
    let more = entries.len() as i64 > PAGE;
    entries.truncate(PAGE as usize);
    let next = match (more, entries.last()) {
        (true, Some(last)) => Some(format!("/audit?{}&before={}", filters.link(), last.id)),
        _ => None,
    };
    let rows = entries
        .iter()
        .map(|e| Row {
            at: utc(e.at),
            actor: e.actor.clone(),
            action: e.action.as_str().to_string(),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            summary: e.summary.clone(),
            before: e.before.clone().unwrap_or_default(),
            after: e.after.clone().unwrap_or_default(),
            client: client_address(e.after.as_deref()),
        })
        .collect();
    Ok(AuditPage {
        frame,
        first_page: q.before_id.is_none(),
        filters,
        rows,
        next,
        error: None,
    }
    .into_response())
}

/// `GET /audit/export`: the filtered log as CSV (every page), downloaded as `audit-log.csv`.
pub async fn export(
    State(app): State<App>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    viewer.require_admin()?;
    let q = filters.query().map_err(PageError::bad_request)?;
    let stream = app.audit_csv(&viewer.actor, &q).await?;
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
