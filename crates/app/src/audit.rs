//! Appending to the audit log, inside the transaction of the change.

use crate::{Actor, AppResult};
use seatkeeper_domain::Time;
use seatkeeper_domain::audit::{AuditAction, AuditEntry, AuditQuery};
use seatkeeper_store::{Conn, audit};

/// Records one change. `before` and `after` are JSON snapshots of what changed.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    conn: &mut Conn,
    actor: &Actor,
    at: Time,
    action: AuditAction,
    target_type: &str,
    target_id: impl ToString,
    summary: impl Into<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> AppResult<()> {
    let e = entry(
        actor,
        at,
        action,
        target_type,
        target_id,
        summary,
        before,
        after,
    );
    audit::append(conn, &e).await?;
    Ok(())
}

/// The entry [`record`] appends, to append later with others
/// ([`seatkeeper_store::audit::append_many`]).
#[allow(clippy::too_many_arguments)]
pub fn entry(
    actor: &Actor,
    at: Time,
    action: AuditAction,
    target_type: &str,
    target_id: impl ToString,
    summary: impl Into<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> AuditEntry {
    AuditEntry {
        id: 0,
        tenant_id: actor.tenant_id,
        at,
        actor_id: actor.user_id,
        actor: actor.name.clone(),
        action,
        target_type: target_type.to_string(),
        target_id: target_id.to_string(),
        summary: summary.into(),
        before: before.map(|v| v.to_string()),
        after: after.map(|v| v.to_string()),
    }
}

/// One change of many recorded together by [`record_many`].
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub action: AuditAction,
    pub target_type: &'static str,
    pub target_id: String,
    pub summary: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Records many changes by one actor at one time, in a few statements.
pub async fn record_many(
    conn: &mut Conn,
    actor: &Actor,
    at: Time,
    entries: &[NewEntry],
) -> AppResult<()> {
    let rows: Vec<seatkeeper_domain::audit::AuditEntry> = entries
        .iter()
        .map(|e| seatkeeper_domain::audit::AuditEntry {
            id: 0,
            tenant_id: actor.tenant_id,
            at,
            actor_id: actor.user_id,
            actor: actor.name.clone(),
            action: e.action,
            target_type: e.target_type.to_string(),
            target_id: e.target_id.clone(),
            summary: e.summary.clone(),
            before: e.before.as_ref().map(|v| v.to_string()),
            after: e.after.as_ref().map(|v| v.to_string()),
        })
        .collect();
    audit::append_many(conn, &rows).await?;
    Ok(())
}

/// How many entries the CSV export reads at a time.
pub const EXPORT_PAGE: i64 = 1000;

/// Audit entries as CSV rows (with the header row first when `header_row`): the one writer of
/// the audit log's CSV, for the REST export and the Audit log page.
pub fn csv_rows(entries: &[AuditEntry], header_row: bool) -> std::io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(entries.len() * 400 + 128));
    let io = |e: csv::Error| std::io::Error::other(e.to_string());
    if header_row {
        w.write_record(crate::export::AUDIT_CSV_COLUMNS)
            .map_err(io)?;
    }
    for e in entries {
        w.write_record(crate::export::audit_csv_record(e))
            .map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// The chunks of an audit CSV export, to stream as a response body.
pub type CsvStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send>>;

impl crate::App {
    /// The audit log as CSV, newest first, with `q`'s filters (its `limit` and `before_id` are
    /// ignored): the header row, then every matching entry, read [`EXPORT_PAGE`] at a time as
    /// the stream is consumed. The first page is read here, so a refusal (no admin role) or a
    /// database failure is an error before anything is sent.
    pub async fn audit_csv(&self, actor: &Actor, q: &AuditQuery) -> AppResult<CsvStream> {
        let mut q = q.clone();
        q.limit = EXPORT_PAGE;
        q.before_id = None;
        let first = self.audit_log(actor, &q).await?;
        let stream = futures_util::stream::unfold(
            (Some(first), self.clone(), actor.clone(), q, true),
            |(state, app, actor, mut q, header_row)| async move {
                let entries = state?;
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
        Ok(Box::pin(stream))
    }
}

/// What a deletion left in the audit log: the kind of thing (`user`, `group`) and its display
/// name, to say in words what another tab deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// `user` or `group`.
    pub kind: String,
    /// Its display name when it was deleted.
    pub name: String,
}

impl crate::App {
    /// The user or group with id `key` that was deleted, by the latest deletion the audit log
    /// recorded; `None` when it never existed (or `key` is no id). Needs only the right to
    /// read, like the pages that name it.
    pub async fn deleted(&self, actor: &Actor, key: &str) -> AppResult<Option<Deleted>> {
        let q = AuditQuery {
            action: Some(vec![AuditAction::UserDelete, AuditAction::GroupDelete]),
            target_id: Some(key.to_string()),
            limit: 1,
            ..Default::default()
        };
        let found = self.audit_log(actor, &q).await?;
        Ok(found.into_iter().next().map(|e| {
            let name = e
                .before
                .as_deref()
                .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
                .and_then(|v| v.get("displayName")?.as_str().map(str::to_string))
                .unwrap_or_else(|| key.to_string());
            Deleted {
                kind: e.target_type,
                name,
            }
        }))
    }
}
