//! Appending to the audit log, inside the transaction of the change.

use crate::{Actor, AppResult};
use seatkeeper_domain::Time;
use seatkeeper_domain::audit::AuditAction;
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
    audit::append(
        conn,
        &seatkeeper_domain::audit::AuditEntry {
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
        },
    )
    .await?;
    Ok(())
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
