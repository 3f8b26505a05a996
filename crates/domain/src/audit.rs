//! The audit log: who changed what, when.

use crate::{TenantId, Time, UserId};

pub use crate::kinds::AuditAction;

/// An action filter that matches no audit action; its text says which ones exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "action '{0}' matches no audit action: give one of {list} or the start of one, such as 'license.'.",
    list = AuditAction::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
)]
pub struct UnknownAction(pub String);

impl AuditAction {
    /// The actions a filter selects: those whose text starts with `prefix`, ignoring case
    /// (`license.` selects every license action, an empty prefix all of them).
    pub fn matching(prefix: &str) -> Result<Vec<AuditAction>, UnknownAction> {
        let wanted = prefix.trim().to_lowercase();
        let found: Vec<AuditAction> = AuditAction::ALL
            .iter()
            .copied()
            .filter(|a| a.as_str().starts_with(&wanted))
            .collect();
        if found.is_empty() {
            Err(UnknownAction(prefix.trim().to_string()))
        } else {
            Ok(found)
        }
    }
}

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
    /// What happened, e.g. `license.assign`, `subscription.cancel`.
    pub action: AuditAction,
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
    /// Only these actions (see [`AuditAction::matching`]).
    pub action: Option<Vec<AuditAction>>,
    /// The start of the actor as the log shows it (a user name, `operator`, `system`),
    /// ignoring case.
    pub actor: Option<String>,
    /// What changed: its id, or a user's user name or display name, or a group's name.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_selects_the_actions_it_starts() {
        assert_eq!(
            AuditAction::matching(" License.un"),
            Ok(vec![AuditAction::LicenseUnassign])
        );
        assert_eq!(
            AuditAction::matching("group.member.").map(|v| v.len()),
            Ok(2)
        );
        assert_eq!(
            AuditAction::matching("").map(|v| v.len()),
            Ok(AuditAction::ALL.len())
        );
        let e = AuditAction::matching("bogus").unwrap_err().to_string();
        assert!(
            e.starts_with("action 'bogus' matches no audit action: give one of user.create, "),
            "{e}"
        );
        let last = AuditAction::ALL
            .last()
            .map(|a| a.as_str())
            .unwrap_or_default();
        assert!(e.contains("clock.set, "), "{e}");
        assert!(e.contains(&format!("{last} or the start of one")), "{e}");
    }
}
