//! The audit log: who changed what, when.

use crate::{TenantId, Time, UserId};

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Increasing number of the entry.
    pub id: i64,
    /// The tenant.
    pub tenant_id: TenantId,
    /// When the change happened.
    pub at: Time,
    /// The user who made the change, if a user did.
    pub actor_id: Option<UserId>,
    /// Who, as a person reads it: a UPN, "system" or "cli".
    pub actor: String,
    /// Dotted verb, e.g. `license.assign`, `subscription.cancel`.
    pub action: String,
    /// What kind of thing changed (`user`, `subscription`, ...).
    pub target_type: String,
    /// The id of what changed.
    pub target_id: String,
    /// One line saying what happened.
    pub summary: String,
    /// The changed thing before, as JSON.
    pub before: Option<String>,
    /// The changed thing after, as JSON.
    pub after: Option<String>,
}

/// Which audit entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Prefix of the action (`license.` matches every license action).
    pub action: Option<String>,
    /// The actor, ignoring case.
    pub actor: Option<String>,
    /// The id of what changed.
    pub target_id: Option<String>,
    /// Entries at or after this time.
    pub since: Option<Time>,
    /// Entries before this time.
    pub until: Option<Time>,
    /// Entries with an id below this (paging backwards from the newest).
    pub before_id: Option<i64>,
    /// At most this many entries.
    pub limit: i64,
}
