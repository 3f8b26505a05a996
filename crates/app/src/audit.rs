//! Appending to the audit log, inside the transaction of the change.

use crate::{Actor, AppResult};
use seatkeeper_domain::Time;
use seatkeeper_store::{Conn, audit};

/// Records one change. `before` and `after` are JSON snapshots of what changed.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    conn: &mut Conn,
    actor: &Actor,
    at: Time,
    action: &str,
    target_type: &str,
    target_id: impl ToString,
    summary: impl Into<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> AppResult<()> {
    audit::append(
        conn,
        &audit::Entry {
            id: 0,
            tenant_id: actor.tenant_id,
            at,
            actor_id: actor.user_id,
            actor: actor.name.clone(),
            action: action.to_string(),
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
